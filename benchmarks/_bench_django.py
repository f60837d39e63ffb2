"""The Django project of ``bench_integrations.py``, configured in code: settings, views, URLs.

The environment variable ``NOAIGUARD_BENCH_DJANGO`` chooses the variant: ``guarded`` puts
``noaiguard.integrations.django.NoAIGuardMiddleware`` in ``MIDDLEWARE`` (below
``SecurityMiddleware``, above ``CommonMiddleware``) with ``NOAIGUARD = {"store": {"url":
"memory:"}, ...}`` (see ``_bench_frameworks.NOAIGUARD``); ``bare`` is the same project without
that line. The app ``noaiguard.integrations.django`` is installed in both: it only registers
system checks and a management command, and costs a request nothing.

The server loads ``_bench_django:wsgi`` (gunicorn) or ``_bench_django:asgi`` (uvicorn). Under WSGI
the views are plain functions; under ASGI they are coroutines, as a project served by ASGI writes
them, so that the whole chain runs on the event loop without a hop to a thread. They serve
``_bench_frameworks.PAGE`` at ``/``, ``IMAGE`` at ``/work.png``, and the site's static files
under ``/static/``: a view that returns ``FileResponse(open(path, "rb"))`` for a file under the
static directory (Django's documented way to serve a file from a view; under gunicorn it goes
out through ``wsgi.file_wrapper``).

Under ASGI Django warns when it serves a ``FileResponse`` (a synchronous iterator, which it reads
in a thread); that is Django's own behaviour, the same with and without noaiguard. The warning
is shown once, and never made an error, whatever ``PYTHONWARNINGS`` says.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import django
from _bench_frameworks import (
    IMAGE,
    IMAGE_PATH,
    NOAIGUARD,
    PAGE,
    PAGE_PATH,
    STATIC_URL,
    static_directory,
)
from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, path

VARIANT_ENVIRONMENT = "NOAIGUARD_BENCH_DJANGO"
NOAIGUARD_MIDDLEWARE = "noaiguard.integrations.django.NoAIGuardMiddleware"

_variant = os.environ.get(VARIANT_ENVIRONMENT, "")
if _variant not in ("bare", "guarded"):
    raise RuntimeError(f"set {VARIANT_ENVIRONMENT} to bare or guarded, not {_variant!r}")

warnings.filterwarnings(
    "default", message="StreamingHttpResponse must consume synchronous iterators"
)

settings.configure(
    DEBUG=False,
    SECRET_KEY="benchmarks-only",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["noaiguard.integrations.django"],
    MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        *([NOAIGUARD_MIDDLEWARE] if _variant == "guarded" else []),
        "django.middleware.common.CommonMiddleware",
    ],
    DATABASES={},
    USE_TZ=True,
    NOAIGUARD=NOAIGUARD,
)
django.setup()

STATIC_ROOT = str(static_directory())


def _static_path(name: str) -> str:
    """The file ``name`` under the static directory, or 404 (outside it, or not a file)."""
    found = os.path.realpath(os.path.join(STATIC_ROOT, name))
    if not found.startswith(STATIC_ROOT + os.sep) or not os.path.isfile(found):
        raise Http404(name)
    return found


def page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(PAGE)


def image(request: HttpRequest) -> HttpResponse:
    return HttpResponse(IMAGE, content_type="image/png")


def static_file(request: HttpRequest, name: str) -> FileResponse:
    return FileResponse(open(_static_path(name), "rb"))


async def async_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(PAGE)


async def async_image(request: HttpRequest) -> HttpResponse:
    return HttpResponse(IMAGE, content_type="image/png")


async def async_static_file(request: HttpRequest, name: str) -> FileResponse:
    # Opening a local file takes microseconds; Django reads it in a thread (see above).
    return FileResponse(open(_static_path(name), "rb"))  # noqa: ASYNC230


#: Filled by the entry point the server loads: sync views for ``wsgi``, async ones for ``asgi``.
urlpatterns: list[URLPattern] = []
_applications: dict[str, Any] = {}


def __getattr__(name: str) -> Any:
    """``wsgi`` or ``asgi``: Django's application of that kind, made on first use."""
    if name not in ("wsgi", "asgi"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if not _applications:
        views = (
            (page, image, static_file)
            if name == "wsgi"
            else (async_page, async_image, async_static_file)
        )
        urlpatterns[:] = [
            path(PAGE_PATH.lstrip("/"), views[0]),
            path(IMAGE_PATH.lstrip("/"), views[1]),
            path(f"{STATIC_URL.strip('/')}/<path:name>", views[2]),
        ]
        if name == "wsgi":
            from django.core.wsgi import get_wsgi_application

            _applications[name] = get_wsgi_application()
        else:
            from django.core.asgi import get_asgi_application

            _applications[name] = get_asgi_application()
    if name not in _applications:
        raise AttributeError(f"{__name__} already serves {next(iter(_applications))}")
    return _applications[name]
