"""Handoff pages (server-rendered), included at the site root by mqlapp.urls."""

from django.urls import path

from . import pages, views

urlpatterns = [
    path("", views.dashboard_page, name="dashboard"),
    path("leads/<int:pk>/", views.lead_page, name="lead"),
    path("leads/<int:pk>/<str:action>/", views.lead_action, name="lead-action"),
    path("queue/", views.queue_page, name="queue"),
    path("reapproach/", views.reapproach_page, name="reapproach"),
    path("webhooks/", views.webhooks_page, name="webhooks"),
    path("webhooks/<int:pk>/", views.webhook_page, name="webhook"),
    path("scoring/rules/", pages.rules_page, name="rules"),
    path("scoring/rules/new/", pages.rule_form_page, name="rule-new"),
    path("scoring/rules/<int:pk>/", pages.rule_form_page, name="rule"),
    path("scoring/rules/<int:pk>/<str:action>/", pages.rule_action, name="rule-action"),
    path("policy/", pages.policy_page, name="policy"),
    path("policy/simulate/", pages.policy_simulate, name="policy-simulate"),
    path("imports/", pages.imports_page, name="imports"),
    path("imports/jobs/", pages.imports_partial, name="imports-jobs"),
]
