"""Scoring routes, included under /api/ by mqlapp.urls."""

from django.urls import path

from . import api

urlpatterns = [
    path("leads/<int:pk>/score/", api.LeadScoreView.as_view()),
    path("leads/<int:pk>/score/history/", api.LeadScoreHistoryView.as_view()),
    path("scoring/rules/", api.RuleListView.as_view()),
    path("scoring/rules/<int:pk>/", api.RuleDetailView.as_view()),
    path("scoring/rescore/", api.RescoreLatestView.as_view()),
    path("scoring/rescore/<int:pk>/", api.RescoreDetailView.as_view()),
]
