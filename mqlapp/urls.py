"""URL map, the composition root: core routes here, each app's routes included by name."""

from django.contrib import admin
from django.contrib.auth.views import LogoutView
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import health, views
from .api import views as api
from .api.export import LeadExportView

api_urls: list[URLPattern | URLResolver] = [
    path("auth/token/", api.TokenView.as_view()),
    path("users/", api.UserListView.as_view()),
    path("users/<int:pk>/", api.UserDetailView.as_view()),
    path("sources/", api.SourceListView.as_view()),
    path("leads/", api.LeadListView.as_view()),
    path("leads/export.csv", LeadExportView.as_view()),
    path("leads/<int:pk>/", api.LeadDetailView.as_view()),
    path("leads/<int:pk>/events/", api.LeadEventsView.as_view()),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema")),
    path("", include("scoring.urls")),
    path("", include("handoff.urls")),
]

urlpatterns = [
    path("v1/", include("mqlapp.ingest.urls")),
    path("api/", include(api_urls)),
    path("healthz", health.healthz),
    path("i18n/", include("django.conf.urls.i18n")),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(next_page="/login/"), name="logout"),
    path("", views.dashboard, name="dashboard"),
    path("leads/", views.leads_page, name="leads"),
    path("users/", views.users_page, name="users"),
    path("sources/", views.sources_page, name="sources"),
    path("", include("handoff.page_urls")),
    path("admin/", admin.site.urls),
]
