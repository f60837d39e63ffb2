"""Real servers on 127.0.0.1 in a background thread, for tests written as plain functions."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from werkzeug.serving import make_server

from .contract import Reply


@contextmanager
def uvicorn_thread(app: Any, **options: Any) -> Iterator[str]:
    """``app`` (ASGI) under uvicorn on a free port; yields the base URL; stops it after."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", **options)
    server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()

    def run() -> None:
        with contextlib.suppress(SystemExit):  # uvicorn exits when the app's startup fails
            loop.run_until_complete(server.serve())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            threading.Event().wait(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        loop.close()


@contextmanager
def wsgi_thread(app: Callable[..., Any]) -> Iterator[str]:
    """``app`` (WSGI) under werkzeug's threaded HTTP server on a free port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


def http_fetch(client: httpx.Client) -> Callable[[str, str], Reply]:
    """The contract's fetch over real HTTP."""

    def fetch(path: str, user_agent: str) -> Reply:
        response = client.get(
            path, headers={"user-agent": user_agent, "accept-encoding": "identity"}
        )
        return Reply(response.status_code, dict(response.headers), response.content)

    return fetch
