"""URL map: the composition root, the one place that names every app's views."""

from django.contrib import admin
from django.contrib.auth.views import LogoutView
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from handoff import api as handoff_api
from handoff import views as handoff_views
from scoring import api as scoring_api

from . import health, views
from .api import views as api
from .ingest import views as ingest

urlpatterns = [
    # Segment-compatible Tracking API
    path("v1/batch", ingest.v1_batch),
    path("v1/import", ingest.v1_batch),
    path("v1/identify", ingest.v1_identify),
    path("v1/track", ingest.v1_track),
    path("v1/page", ingest.v1_page),
    path("v1/screen", ingest.v1_screen),
    path("v1/group", ingest.v1_group),
    path("v1/alias", ingest.v1_alias),
    # API
    path("api/auth/token/", api.TokenView.as_view()),
    path("api/users/", api.UserListView.as_view()),
    path("api/users/<int:pk>/", api.UserDetailView.as_view()),
    path("api/sources/", api.SourceListView.as_view()),
    path("api/leads/", api.LeadListView.as_view()),
    path("api/leads/<int:pk>/", api.LeadDetailView.as_view()),
    path("api/leads/<int:pk>/events/", api.LeadEventsView.as_view()),
    path("api/leads/<int:pk>/score/", scoring_api.LeadScoreView.as_view()),
    path("api/leads/<int:pk>/history/", handoff_api.LeadHistoryView.as_view()),
    path("api/scoring/rules/", scoring_api.RuleListView.as_view()),
    path("api/scoring/rules/<int:pk>/", scoring_api.RuleDetailView.as_view()),
    path("api/handoff/policy/", handoff_api.PolicyView.as_view()),
    path("api/handoff/queue/", handoff_api.QueueView.as_view()),
    path("api/handoff/leads/<int:pk>/<str:action>/", handoff_api.LeadActionView.as_view()),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema")),
    # pages
    path("healthz", health.healthz),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(next_page="/login/"), name="logout"),
    path("", views.dashboard, name="dashboard"),
    path("leads/", views.leads_page, name="leads"),
    path("leads/<int:pk>/", handoff_views.lead_page, name="lead"),
    path("leads/<int:pk>/<str:action>/", handoff_views.lead_action, name="lead-action"),
    path("queue/", handoff_views.queue_page, name="queue"),
    path("admin/", admin.site.urls),
]
