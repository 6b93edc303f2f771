"""The Segment-compatible Tracking API routes (/v1/*)."""

from django.urls import path

from . import views

urlpatterns = [
    path("batch", views.v1_batch),
    path("import", views.v1_batch),
    path("identify", views.v1_identify),
    path("track", views.v1_track),
    path("page", views.v1_page),
    path("screen", views.v1_screen),
    path("group", views.v1_group),
    path("alias", views.v1_alias),
]
