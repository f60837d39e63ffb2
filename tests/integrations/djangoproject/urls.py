from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("", views.page),
    path("stream", views.stream),
    path("astream", views.astream),
    path("img/<str:name>.png", views.image),
    path("file.html", views.html_file),
    path("verdict", views.verdict),
    path("async-verdict", views.async_verdict),
    path("robots.txt", views.robots),
    path("health", views.health),
    path("hook", views.Hook.as_view()),
]
