from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator

from django.core.handlers.asgi import ASGIRequest
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.views import View

from noaiguard.integrations.django import noaiguard_exempt

from ..contract import IMAGES, PAGE, ROBOTS, STREAMED_PARTS

#: How many times each view ran (a refused request must not reach its view).
calls: dict[str, int] = {}


def _called(name: str) -> None:
    calls[name] = calls.get(name, 0) + 1


def page(request: HttpRequest) -> HttpResponse:
    _called("page")
    return HttpResponse(PAGE, content_type="text/html; charset=utf-8")


def stream(request: HttpRequest) -> StreamingHttpResponse:
    """A sync stream under WSGI, an async one under ASGI (Django buffers a sync one there)."""
    if isinstance(request, ASGIRequest):
        return astream(request)

    def parts() -> Iterator[bytes]:
        yield from STREAMED_PARTS

    return StreamingHttpResponse(parts(), content_type="text/html; charset=utf-8")


def astream(request: HttpRequest) -> StreamingHttpResponse:
    async def parts() -> AsyncIterator[bytes]:
        for part in STREAMED_PARTS:
            yield part

    return StreamingHttpResponse(parts(), content_type="text/html; charset=utf-8")


def image(request: HttpRequest, name: str) -> HttpResponse:
    _called("image")
    data = IMAGES.get(name)
    if data is None:
        return HttpResponse(status=404)
    return FileResponse(io.BytesIO(data), content_type="image/png")


def html_file(request: HttpRequest) -> FileResponse:
    response = FileResponse(io.BytesIO(PAGE), content_type="text/html; charset=utf-8")
    response["Content-Length"] = str(len(PAGE))
    return response


def verdict(request: HttpRequest) -> JsonResponse:
    decision = request.noaiguard  # type: ignore[attr-defined]
    return JsonResponse(
        {"category": str(decision.verdict.category), "action": str(decision.action)}
    )


async def async_verdict(request: HttpRequest) -> JsonResponse:
    return verdict(request)


def robots(request: HttpRequest) -> HttpResponse:
    _called("robots")
    return HttpResponse(ROBOTS, content_type="text/plain")


@noaiguard_exempt
def health(request: HttpRequest) -> HttpResponse:
    _called("health")
    return HttpResponse("ok", content_type="text/plain")


@noaiguard_exempt
class Hook(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        _called("hook")
        return HttpResponse("<html><head></head></html>", content_type="text/html")
