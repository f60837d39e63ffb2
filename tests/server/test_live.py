"""A real uvicorn server on 127.0.0.1: streaming through the middleware, and the demo."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from noaiguard import Guard, NoAIGuardMiddleware
from tests.conftest import BROWSER_UA, GPTBOT_UA, live_server

pytestmark = [pytest.mark.anyio, pytest.mark.server]

TAG = b'<meta name="robots" content="noai, noimageai">'


def streaming_site(gate: asyncio.Event, size: int = 0) -> Starlette:
    async def slow(kind: str) -> AsyncIterator[bytes]:
        if kind == "html":
            yield b"<!doctype html><html><head><title>t</title></head><body>"
        else:
            yield b"first chunk of an image"
        await gate.wait()  # the test releases the rest once the client has seen the first part
        yield b"the rest"

    async def stream(request: Request) -> Response:
        kind = request.path_params["kind"]
        media = "text/html" if kind == "html" else "image/png"
        return StreamingResponse(slow(kind), media_type=media)

    async def big(request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            block = bytes(range(256)) * 256  # 64 KiB
            for _ in range(size // len(block)):
                yield block

        return StreamingResponse(chunks(), media_type="application/octet-stream")

    return Starlette(routes=[Route("/stream/{kind}", stream), Route("/big", big)])


@pytest.mark.parametrize("kind", ["image", "html"])
async def test_first_bytes_reach_the_client_before_the_app_finishes(
    make_guard: Callable[..., Guard], kind: str
) -> None:
    gate = asyncio.Event()
    app = NoAIGuardMiddleware(streaming_site(gate), guard=make_guard())
    async with (
        live_server(app) as url,
        httpx.AsyncClient(headers={"user-agent": BROWSER_UA}) as http,
        http.stream("GET", f"{url}/stream/{kind}") as response,
    ):
        assert response.headers["x-robots-tag"] == "noai, noimageai"
        chunks = response.aiter_raw()
        first = await asyncio.wait_for(chunks.__anext__(), timeout=5)
        assert not gate.is_set()
        gate.set()
        rest = b"".join([c async for c in chunks])
    if kind == "html":
        assert first.startswith(b"<!doctype html><html><head>" + TAG)
    else:
        assert first == b"first chunk of an image"
    assert (first + rest).endswith(b"the rest")


async def test_a_large_download_streams_through_unchanged(make_guard: Callable[..., Guard]) -> None:
    size = 64 * 1024 * 1024
    app = NoAIGuardMiddleware(streaming_site(asyncio.Event(), size), guard=make_guard())
    received = 0
    async with (
        live_server(app) as url,
        httpx.AsyncClient(headers={"user-agent": BROWSER_UA}) as http,
        http.stream("GET", f"{url}/big") as response,
    ):
        assert response.headers["x-robots-tag"] == "noai, noimageai"
        async for chunk in response.aiter_raw():
            received += len(chunk)
    assert received == size


async def test_blocked_and_allowed_over_a_real_socket(make_guard: Callable[..., Guard]) -> None:
    app = NoAIGuardMiddleware(streaming_site(asyncio.Event()), guard=make_guard())
    async with live_server(app) as url, httpx.AsyncClient() as http:
        blocked = await http.get(f"{url}/stream/image", headers={"user-agent": GPTBOT_UA})
        robots = await http.get(f"{url}/robots.txt", headers={"user-agent": GPTBOT_UA})
    assert blocked.status_code == 403
    assert robots.status_code == 200 and "User-agent: GPTBot" in robots.text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_demo_does_what_it_prints(tmp_path: Path) -> None:
    """Run `noaiguard demo` as a newcomer would and paste the three curl commands it prints."""
    port = _free_port()
    script = Path(sys.executable).parent / "noaiguard"
    demo = subprocess.Popen(
        [str(script), "demo", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        printed = []
        assert demo.stdout is not None
        for line in demo.stdout:
            printed.append(line)
            if line.startswith("Press Ctrl+C"):
                break
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        commands = [line.strip() for line in printed if line.strip().startswith("curl ")]
        assert len(commands) == 3, "".join(printed)
        outputs = [
            subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=30).stdout
            for cmd in commands
        ]
    finally:
        demo.send_signal(signal.SIGINT)
        rest, _ = demo.communicate(timeout=30)
    browser, gptbot, robots = outputs
    assert "HTTP/1.1 200 OK" in browser
    assert "x-robots-tag: noai, noimageai" in browser
    assert '<meta name="robots" content="noai, noimageai">' in browser
    assert "HTTP/1.1 403 Forbidden" in gptbot
    assert "x-robots-tag: noai, noimageai" in gptbot
    assert re.search(r"^User-agent: GPTBot$", robots, re.M)
    assert "Disallow: /drafts/" in robots and "Sitemap: " in robots
    assert demo.returncode == 0
    # The block, and curl (a known scraper library) fetching robots.txt: the evidence it read it.
    assert "2 event(s) recorded in sqlite:///./noaiguard.db" in rest
    with sqlite3.connect(tmp_path / "noaiguard.db") as db:
        rows = db.execute("SELECT agent, action, status, kind FROM events ORDER BY id").fetchall()
        (version,) = db.execute("SELECT version FROM robots_versions").fetchone()
    assert rows == [("GPTBot", "block", 403, "request"), ("curl", "allow", 200, "robots.txt")]
    assert len(version) == 64
