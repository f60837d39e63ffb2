"""The upstream site behind the proxies in ``bench_proxy.py``: a 2 KB page, a 200 KB image and an
endless source of bytes for the 1 GiB download. Served by uvicorn in a process of its own."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

PAGE = (
    b'<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
    b'<title>Estuary studies</title>\n<link rel="stylesheet" href="/site.css">\n</head>\n'
    b"<body>\n<main>\n"
    + b"<p>Oil and watercolour studies of the estuary, made on location.</p>\n" * 26
    + b"</main>\n</body>\n</html>\n"
)
IMAGE = b"\xff\xd8\xff\xe0" + random.Random(0).randbytes(200 * 1024 - 4)
_BLOCK = bytes(range(256)) * 256


async def page(request: Request) -> Response:
    return Response(PAGE, media_type="text/html; charset=utf-8")


async def image(request: Request) -> Response:
    return Response(IMAGE, media_type="image/jpeg")


async def big(request: Request) -> Response:
    size = int(request.query_params["size"])

    async def blocks() -> AsyncIterator[bytes]:
        sent = 0
        while sent < size:
            piece = _BLOCK[: size - sent]
            sent += len(piece)
            yield piece

    return StreamingResponse(blocks(), media_type="application/octet-stream")


app = Starlette(routes=[Route("/page.html", page), Route("/image.jpg", image), Route("/big", big)])
