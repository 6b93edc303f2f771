"""URL map, the composition root: core routes here, each app's routes included by name."""

from django.contrib import admin
from django.contrib.auth.views import LogoutView
from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, URLResolver, include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import health
from .console import api as console_api
from .console import privacy_api, views
from .console.export import LeadExportView
from .leads.api import ingest_views as ingest_api
from .leads.api import views as api
from .leads.ingest import public_views, sdk_settings
from .leads.ingest.views import v1_batch


@csrf_exempt  # answers 404 whatever the method; a CSRF page would be HTML
def api_not_found(request: HttpRequest, rest: str) -> JsonResponse:
    """Any other path under /api/: a JSON 404 as every API error is (not the HTML page)."""
    return JsonResponse({"error": "No such API path.", "code": "not_found"}, status=404)


api_urls: list[URLPattern | URLResolver] = [
    path("auth/token/", api.TokenView.as_view()),
    path("users/", api.UserListView.as_view()),
    path("users/<int:pk>/", api.UserDetailView.as_view()),
    path("sources/", api.SourceListView.as_view()),
    path("sources/<int:pk>/", api.SourceDetailView.as_view()),
    path("sources/<int:pk>/rotate/", api.SourceRotateView.as_view()),
    path("leads/", console_api.LeadListView.as_view()),
    path("leads/export.csv", LeadExportView.as_view(), name="leads-export"),
    path("leads/import/", ingest_api.LeadImportView.as_view()),
    path("leads/merges/", api.MergeListView.as_view()),
    path("leads/merges/<int:pk>/undo/", api.MergeUndoView.as_view()),
    path("imports/", ingest_api.ImportListView.as_view()),
    path("imports/<int:pk>/", ingest_api.ImportDetailView.as_view()),
    path("forms/", ingest_api.FormListView.as_view()),
    path("forms/<int:pk>/", ingest_api.FormDetailView.as_view()),
    path("tracking-links/", ingest_api.TrackingLinkView.as_view()),
    path("leads/<int:pk>/", console_api.LeadDetailView.as_view()),
    path("leads/<int:pk>/events/", api.LeadEventsView.as_view()),
    path("leads/<int:pk>/personal-data/", privacy_api.PersonalDataView.as_view()),
    path("leads/<int:pk>/erase/", privacy_api.EraseView.as_view()),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # the split view serves Swagger UI's start-up script as a file: no inline script (CSP)
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="api/swagger_ui.html"),
    ),
    path("", include("scoring.urls")),
    path("", include("handoff.urls")),
    re_path(r"^(?P<rest>(?s:.*))$", api_not_found),
]

urlpatterns = [
    path("v1/", include("mqlapp.leads.ingest.urls")),
    # RudderStack JavaScript SDK v3's source config (its `configUrl` pointed here)
    path("sourceConfig/", sdk_settings.rudderstack_source_config),
    # RudderStack v3 with `useBeacon: true`: /beacon/v1/batch?writeKey=<key>
    path("beacon/v1/batch", v1_batch),
    path("f/<slug:slug>/", public_views.form_post, name="form-post"),
    path("f/<slug:slug>/thanks/", public_views.form_thanks, name="form-thanks"),
    path("e/o/<str:token>.gif", public_views.email_open),
    path("e/c/<str:token>", public_views.email_click),
    path("api/", include(api_urls)),
    path("healthz", health.healthz),
    path("i18n/", include("django.conf.urls.i18n")),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(next_page="login"), name="logout"),
    path("leads/", views.leads_page, name="leads"),
    path("visitors/", views.visitors_page, name="visitors"),
    path("users/", views.users_page, name="users"),
    path("sources/", views.sources_page, name="sources"),
    path("sources/<int:pk>/", views.source_edit, name="source-edit"),
    path("sources/<int:pk>/rotate/", views.source_rotate, name="source-rotate"),
    path("", include("mqlapp.console.urls")),
    path("admin/", admin.site.urls),
]
