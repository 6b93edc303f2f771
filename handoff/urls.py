"""Handoff API routes, included under /api/ by mqlapp.urls."""

from django.urls import path

from . import api, notification_api, sim_api, webhook_api

urlpatterns = [
    path("leads/<int:pk>/history/", api.LeadHistoryView.as_view()),
    path("leads/<int:pk>/assignments/", api.LeadAssignmentsView.as_view()),
    path("handoff/policy/", api.PolicyView.as_view()),
    path("handoff/queue/", api.QueueView.as_view()),
    path("handoff/reapproach/", api.ReapproachView.as_view()),
    path("handoff/reps/", api.RepListView.as_view()),
    path("handoff/reps/<int:pk>/", api.RepDetailView.as_view()),
    path("handoff/leads/<int:pk>/<str:action>/", api.LeadActionView.as_view()),
    path("scoring/simulate/", sim_api.SimulateView.as_view()),
    path("reports/funnel/", api.FunnelView.as_view()),
    path("reports/rejections/", api.RejectionsView.as_view()),
    path("webhooks/", webhook_api.WebhookListView.as_view()),
    path("webhooks/<int:pk>/", webhook_api.WebhookDetailView.as_view()),
    path("webhooks/<int:pk>/rotate/", webhook_api.WebhookRotateView.as_view()),
    path("webhooks/<int:pk>/deliveries/", webhook_api.WebhookDeliveriesView.as_view()),
    path("webhooks/<int:pk>/test/", webhook_api.WebhookTestView.as_view()),
    path(
        "webhooks/<int:pk>/deliveries/<int:delivery_id>/resend/",
        webhook_api.WebhookDeliveryResendView.as_view(),
    ),
    path("handoff/notifications/", notification_api.FailedNotificationsView.as_view()),
    path(
        "handoff/notifications/<str:kind>/<int:pk>/retry/",
        notification_api.NotificationRetryView.as_view(),
    ),
]
