"""Handoff pages (server-rendered), included at the site root by mqlapp.urls."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.dashboard_page, name="dashboard"),
    path("leads/<int:pk>/", views.lead_page, name="lead"),
    path("leads/<int:pk>/<str:action>/", views.lead_action, name="lead-action"),
    path("queue/", views.queue_page, name="queue"),
    path("reapproach/", views.reapproach_page, name="reapproach"),
    path("webhooks/", views.webhooks_page, name="webhooks"),
    path("webhooks/<int:pk>/", views.webhook_page, name="webhook"),
]
