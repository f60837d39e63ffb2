"""NoAIGuardWSGI against the WSGI protocol's corners, with ``wsgiref.validate`` checking both the
app's side and the server's side of the middleware."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from wsgiref.util import FileWrapper, setup_testing_defaults
from wsgiref.validate import validator

import pytest

from noaiguard import Guard, NoAIGuardWSGI, parse_config
from noaiguard.backends.memory import MemoryEventStore

from ..conftest import BROWSER_UA, GPTBOT_UA

PAGE = b"<!doctype html><html><head><title>t</title></head><body>x</body></html>"
TAGGED = PAGE.replace(b"<head>", b'<head><meta name="robots" content="noai, noimageai">')
App = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def serve(app: App, path: str = "/", user_agent: str = BROWSER_UA, **environ: Any):
    """Call ``app`` the way a WSGI server does; (status, headers, body)."""
    env: dict[str, Any] = {"PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": ""}
    env["HTTP_USER_AGENT"] = user_agent
    env.update(environ)
    setup_testing_defaults(env)
    started: list[Any] = []
    written: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
        started[:] = [status, headers]
        return written.append

    result = app(env, start_response)
    try:
        body = b"".join([*written, *result])
    finally:
        getattr(result, "close", lambda: None)()
    status, headers = started
    return int(status[:3]), {k.lower(): v for k, v in headers}, body


def guarded(app: App, store: MemoryEventStore) -> NoAIGuardWSGI:
    return NoAIGuardWSGI(validator(app), guard=Guard(store=store))


@pytest.fixture
def store() -> MemoryEventStore:
    return MemoryEventStore()


def html_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(PAGE)))])
    return [PAGE[:20], PAGE[20:]]


def lazy_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
    """A generator: start_response runs only when the server asks for the first chunk."""
    start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(PAGE)))])
    yield PAGE[:10]
    yield PAGE[10:]


def writing_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The legacy write() callable: the page cannot be held, so it goes out untagged."""
    write = start_response("200 OK", [("Content-Type", "text/html")])
    write(PAGE)
    return []


@pytest.mark.parametrize("app", [html_app, lazy_app], ids=["list", "generator"])
def test_pages_are_tagged_with_the_right_length(app: App, store: MemoryEventStore) -> None:
    status, headers, body = serve(validator(guarded(app, store)))
    assert (status, body) == (200, TAGGED)
    assert headers["content-length"] == str(len(TAGGED))
    assert headers["x-robots-tag"] == "noai, noimageai"


def test_write_callable_still_gets_the_header(store: MemoryEventStore) -> None:
    status, headers, body = serve(validator(guarded(writing_app, store)))
    assert (status, body) == (200, PAGE)
    assert headers["x-robots-tag"] == "noai, noimageai"


def test_file_wrapper_passes_through_untouched(store: MemoryEventStore) -> None:
    image = b"\x89PNG" + bytes(range(256)) * 8
    result: list[object] = []

    def file_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "image/png")])
        wrapper = environ["wsgi.file_wrapper"](io.BytesIO(image))
        result.append(wrapper)
        return wrapper

    middleware = NoAIGuardWSGI(file_app, guard=Guard(store=store))
    env: dict[str, Any] = {"HTTP_USER_AGENT": BROWSER_UA, "wsgi.file_wrapper": FileWrapper}
    setup_testing_defaults(env)
    headers: list[Any] = []
    returned = middleware(env, lambda status, h, exc_info=None: headers.extend(h))
    assert returned is result[0]  # the server can still use sendfile
    assert ("X-Robots-Tag", "noai, noimageai") in headers


def test_refused_and_head(store: MemoryEventStore) -> None:
    app = validator(guarded(html_app, store))
    status, headers, body = serve(app, user_agent=GPTBOT_UA)
    assert (status, headers["cache-control"]) == (403, "private, no-store")
    assert b"AI" in body
    status, _, body = serve(app, user_agent=GPTBOT_UA, REQUEST_METHOD="HEAD")
    assert (status, body) == (403, b"")


def test_logged_request_is_recorded_with_its_size_when_closed(store: MemoryEventStore) -> None:
    middleware = guarded(lazy_app, store)
    serve(validator(middleware), user_agent="python-requests/2.32")
    middleware.guard.close()
    (event,) = [e for e in store.query() if e.kind == "request"]
    assert (event.action, event.status, event.bytes_sent) == ("log", 200, len(TAGGED))


def test_hostile_headers_never_break_the_app(store: MemoryEventStore) -> None:
    app = validator(guarded(html_app, store))
    for user_agent in ("\x00\xff" * 5000, "Mozilla/5.0 \u2603", ""):
        status, _, _ = serve(app, user_agent=user_agent, PATH_INFO="/%00/\xc3\xa9")
        assert status in (200, 403)
    status, _, _ = serve(app, HTTP_X_FORWARDED_FOR="not-an-ip, ::1, 1.2.3.4")
    assert status == 200


def test_app_error_after_start_reaches_the_server(store: MemoryEventStore) -> None:
    def failing(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"partial"
        raise RuntimeError("the app broke")

    middleware = NoAIGuardWSGI(failing, guard=Guard(store=store))
    with pytest.raises(RuntimeError, match="the app broke"):
        serve(middleware)


def test_metrics_are_served_on_their_path_with_the_token(store: MemoryEventStore) -> None:
    config = parse_config("metrics:\n  enabled: true\n  path: /metrics\n  token: s3cret-token\n")
    app = validator(NoAIGuardWSGI(validator(html_app), guard=Guard(config, store=store)))
    serve(app, user_agent=GPTBOT_UA)
    status, headers, _ = serve(app, "/metrics")
    assert status == 401
    assert "x-robots-tag" not in headers
    status, _, body = serve(app, "/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert status == 200
    assert b'noaiguard_requests_total{action="block",category="ai-training"} 1.0' in body
