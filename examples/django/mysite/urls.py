from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

from noaiguard.integrations.django import noaiguard_exempt


def gallery(request: HttpRequest) -> HttpResponse:
    who = request.noaiguard.verdict.category if request.noaiguard else "unknown"  # type: ignore[attr-defined]
    return HttpResponse(
        f"<!doctype html><html><head><title>Gallery</title></head><body>Hello, {who}.</body></html>"
    )


def robots(request: HttpRequest) -> HttpResponse:
    """The site's own robots.txt: noaiguard merges its AI groups into it."""
    return HttpResponse("User-agent: *\nDisallow: /drafts/\n", content_type="text/plain")


@noaiguard_exempt
def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("", gallery), path("robots.txt", robots), path("health", health)]
