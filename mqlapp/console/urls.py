"""Handoff pages (server-rendered), included at the site root by mqlapp.urls."""

from django.urls import path

from . import handoff_views, pages

urlpatterns = [
    path("", handoff_views.dashboard_page, name="dashboard"),
    path("leads/<int:pk>/", handoff_views.lead_page, name="lead"),
    path("leads/<int:pk>/<str:action>/", handoff_views.lead_action, name="lead-action"),
    path("queue/", handoff_views.queue_page, name="queue"),
    path("merges/<int:pk>/undo/", handoff_views.merge_undo, name="merge-undo"),
    path("reapproach/", handoff_views.reapproach_page, name="reapproach"),
    path("webhooks/", handoff_views.webhooks_page, name="webhooks"),
    path("webhooks/<int:pk>/", handoff_views.webhook_page, name="webhook"),
    path("webhooks/<int:pk>/test/", handoff_views.webhook_test, name="webhook-test"),
    path(
        "webhooks/<int:pk>/deliveries/<int:delivery_id>/resend/",
        handoff_views.webhook_delivery_resend,
        name="webhook-delivery-resend",
    ),
    path(
        "webhooks/notifications/<str:kind>/<int:pk>/retry/",
        handoff_views.notification_retry,
        name="notification-retry",
    ),
    path("scoring/rules/", pages.rules_page, name="rules"),
    path("scoring/rules/new/", pages.rule_form_page, name="rule-new"),
    path("scoring/rules/rescore/", pages.rescore_partial, name="rules-rescore"),
    path("scoring/rules/<int:pk>/", pages.rule_form_page, name="rule"),
    path("scoring/rules/<int:pk>/<str:action>/", pages.rule_action, name="rule-action"),
    path("policy/", pages.policy_page, name="policy"),
    path("policy/simulate/", pages.policy_simulate, name="policy-simulate"),
    path("imports/", pages.imports_page, name="imports"),
    path("imports/jobs/", pages.imports_partial, name="imports-jobs"),
]
