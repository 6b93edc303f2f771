"""Handoff API routes, included under /api/ by mqlapp.urls."""

from django.urls import path

from . import api

urlpatterns = [
    path("leads/<int:pk>/history/", api.LeadHistoryView.as_view()),
    path("handoff/policy/", api.PolicyView.as_view()),
    path("handoff/queue/", api.QueueView.as_view()),
    path("handoff/leads/<int:pk>/<str:action>/", api.LeadActionView.as_view()),
]
