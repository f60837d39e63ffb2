"""The project without a robots.txt view: noaiguard's robots.txt is served alone."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [path("", views.page)]
