"""The upstream site the proxy tests stand in front of: a real Starlette app with every kind of
response a proxy must carry unchanged."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import brotli
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from noaiguard._types import ASGIApp, Receive, Scope, Send
from noaiguard.demo.images import ARTWORKS, render

PAGE = (
    b"<!doctype html><html><head><title>Gallery</title></head><body>"
    + b"".join(f'<img src="/img/{name}.png">'.encode() for name in ARTWORKS)
    + b"</body></html>"
)
GZIP_PAGE = gzip.compress(PAGE, mtime=0)
BR_PAGE = brotli.compress(PAGE)
IMAGES = {name: render(name, 120, 80) for name in ARTWORKS}
ROBOTS = b"User-agent: *\nDisallow: /drafts/\n\nSitemap: https://site.example/sitemap.xml\n"
FEED = b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title></feed>'


class SiteState:
    """What the tests change or observe: robots.txt status, chunks streamed, uploads seen."""

    def __init__(self) -> None:
        self.robots_status = 200
        self.streamed = 0
        self.stream_stopped = asyncio.Event()
        self.uploads: list[dict[str, object]] = []
        self.paths: list[str] = []  # every request that reached the site, in order
        self.edition = 1  # the number /news shows: a page that changes between requests


def create_site(state: SiteState, files: Path) -> ASGIApp:
    async def page(request: Request) -> Response:
        return HTMLResponse(PAGE)

    async def news(request: Request) -> Response:
        return HTMLResponse(PAGE.replace(b"Gallery", b"News %d" % state.edition))

    async def streamed_page(request: Request) -> Response:
        async def parts() -> AsyncIterator[bytes]:
            yield PAGE[:20]
            await asyncio.sleep(0.01)
            yield PAGE[20:]

        length = {"content-length": str(len(PAGE))} if "length" in request.query_params else {}
        return StreamingResponse(parts(), media_type="text/html", headers=length)

    async def own_tag(request: Request) -> Response:
        return HTMLResponse(PAGE, headers={"x-robots-tag": "noarchive"})

    async def image(request: Request) -> Response:
        data = IMAGES.get(request.path_params["name"])
        if data is None:
            return PlainTextResponse("no such image", status_code=404)
        etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"etag": etag})
        return Response(data, media_type="image/png", headers={"etag": etag})

    async def robots(request: Request) -> Response:
        if state.robots_status != 200:
            return PlainTextResponse("error", status_code=state.robots_status)
        return Response(ROBOTS, media_type="text/plain")

    async def feed(request: Request) -> Response:
        return Response(FEED, media_type="application/atom+xml")

    async def echo(request: Request) -> Response:
        body = await request.body()
        return JSONResponse(
            {
                "method": request.method,
                "raw_path": request.scope["raw_path"].decode("latin-1"),
                "query": request.scope["query_string"].decode("latin-1"),
                "headers": [
                    [k.decode("latin-1"), v.decode("latin-1")] for k, v in request.headers.raw
                ],
                "body": len(body),
            }
        )

    async def redirect(request: Request) -> Response:
        return RedirectResponse("/landing", status_code=302)

    async def cookies(request: Request) -> Response:
        response = PlainTextResponse("cookies")
        response.set_cookie("a", "1")
        response.set_cookie("b", "2", httponly=True)
        response.set_cookie("c", "3", path="/x")
        return response

    async def compressed(request: Request) -> Response:
        kind = request.path_params["kind"]
        body = GZIP_PAGE if kind == "gzip" else BR_PAGE
        return Response(
            body,
            media_type="text/html",
            headers={"content-encoding": kind, "vary": "accept-encoding"},
        )

    async def chunked(request: Request) -> Response:
        async def parts() -> AsyncIterator[bytes]:
            for n in range(5):
                yield f"part {n}\n".encode()

        return StreamingResponse(parts(), media_type="text/plain")

    async def big(request: Request) -> Response:
        size = int(request.query_params["size"])
        block = bytes(range(256)) * 256  # 64 KiB

        async def blocks() -> AsyncIterator[bytes]:
            sent = 0
            while sent < size:
                piece = block[: size - sent]
                sent += len(piece)
                yield piece

        return StreamingResponse(blocks(), media_type="application/octet-stream")

    async def forever(request: Request) -> Response:
        async def endless() -> AsyncIterator[bytes]:
            try:
                while True:
                    state.streamed += 1
                    yield b"x" * 65536
                    await asyncio.sleep(0)
            finally:
                state.stream_stopped.set()

        return StreamingResponse(endless(), media_type="application/octet-stream")

    async def upload(request: Request) -> Response:
        digest = hashlib.sha256()
        size = 0
        async for chunk in request.stream():
            digest.update(chunk)
            size += len(chunk)
        result = {
            "size": size,
            "sha256": digest.hexdigest(),
            "chunked": "transfer-encoding" in request.headers,
            "content_length": request.headers.get("content-length"),
        }
        state.uploads.append(result)
        return JSONResponse(result)

    async def slow(request: Request) -> Response:
        await asyncio.sleep(float(request.query_params.get("seconds", "2")))
        return PlainTextResponse("finally")

    async def download(request: Request) -> Response:
        return FileResponse(files / "download.bin")

    async def seen(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            state.paths.append(scope["path"])
        await app(scope, receive, send)

    app = Starlette(
        routes=[
            Route("/", page),
            Route("/news", news),
            Route("/streamed-page", streamed_page),
            Route("/own-tag", own_tag),
            Route("/img/{name}.png", image),
            Route("/robots.txt", robots),
            Route("/feed.xml", feed),
            Route("/echo/{rest:path}", echo, methods=["GET", "POST", "PUT", "HEAD", "DELETE"]),
            Route("/redirect", redirect),
            Route("/cookies", cookies),
            Route("/compressed/{kind}", compressed),
            Route("/chunked", chunked),
            Route("/big", big),
            Route("/forever", forever),
            Route("/upload", upload, methods=["POST", "PUT"]),
            Route("/slow", slow),
            Route("/download", download),
        ]
    )
    return seen


def json_body(response: object) -> dict[str, object]:
    return json.loads(response.content)  # type: ignore[attr-defined,no-any-return]
