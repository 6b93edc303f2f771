"""The Segment-compatible Tracking API routes (/v1/*)."""

from django.urls import path

from . import sdk_settings, views

urlpatterns = [
    path("batch", views.v1_batch),
    path("import", views.v1_batch),
    path("identify", views.v1_identify),
    path("track", views.v1_track),
    path("page", views.v1_page),
    path("screen", views.v1_screen),
    path("group", views.v1_group),
    path("alias", views.v1_alias),
    # analytics.js's short paths (the first letter of the call type; b is a batch)
    path("b", views.v1_batch),
    path("i", views.v1_identify),
    path("t", views.v1_track),
    path("p", views.v1_page),
    path("s", views.v1_screen),
    path("g", views.v1_group),
    path("a", views.v1_alias),
    # analytics.js's settings (its `cdnURL` pointed here)
    path("projects/<str:write_key>/settings", sdk_settings.segment_settings),
]
