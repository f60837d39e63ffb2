"""The demo: a small portfolio gallery, served behind noaiguard by ``noaiguard demo``.

It is an ordinary Starlette app with HTML pages, generated images, an Atom feed and its own
robots.txt, so every signal and decision of the guard can be seen with curl.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from html import escape

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from .images import ARTWORKS, render

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;"
    "color:#222}a{color:#7a3b12}.grid{display:grid;grid-template-columns:repeat(auto-fill,"
    "minmax(14rem,1fr));gap:1rem}figure{margin:0}img{width:100%;border-radius:.4rem}"
)


def _page(title: str, body: str) -> HTMLResponse:
    html = (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)} · Mara Lind, painter</title>\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<link rel="alternate" type="application/atom+xml" href="/feed.xml">\n'
        f"<style>{_STYLE}</style>\n</head>\n<body>\n"
        '<header><a href="/">Mara Lind</a> · <a href="/about">About</a></header>\n'
        f"<main>\n<h1>{escape(title)}</h1>\n{body}\n</main>\n</body>\n</html>\n"
    )
    return HTMLResponse(html)


async def index(request: Request) -> Response:
    figures = "".join(
        f'<figure><a href="/work/{name}"><img src="/images/{name}.png" alt="{escape(title)}">'
        f"</a><figcaption>{escape(title)}</figcaption></figure>"
        for name, (title, *_) in ARTWORKS.items()
    )
    return _page("Paintings", f'<div class="grid">{figures}</div>')


async def work(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in ARTWORKS:
        return _page("Not found", "<p>No such painting.</p>")
    title = ARTWORKS[name][0]
    return _page(title, f'<img src="/images/{name}.png" alt="{escape(title)}">')


async def about(request: Request) -> Response:
    return _page(
        "About",
        "<p>Every painting here is my own work. It may not be used to train AI models.</p>",
    )


def _image_endpoint(images: dict[str, bytes]) -> Callable[[Request], Awaitable[Response]]:
    async def image(request: Request) -> Response:
        data = images.get(request.path_params["name"])
        if data is None:
            return PlainTextResponse("not found\n", status_code=404)
        return Response(
            data, media_type="image/png", headers={"cache-control": "public, max-age=3600"}
        )

    return image


async def feed(request: Request) -> Response:
    entries = "".join(
        f"<entry><title>{escape(title)}</title><id>tag:demo,2026:{name}</id>"
        f'<link href="/work/{name}"/><updated>2026-11-01T00:00:00Z</updated></entry>'
        for name, (title, *_) in ARTWORKS.items()
    )
    atom = (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>Mara Lind, painter</title><id>tag:demo,2026:feed</id>"
        f"<updated>2026-11-01T00:00:00Z</updated>{entries}</feed>\n"
    )
    return Response(atom, media_type="application/atom+xml")


async def robots(request: Request) -> Response:
    # The site's own robots.txt; noaiguard serves it merged below its AI groups.
    base = f"{request.url.scheme}://{request.url.netloc}"
    return PlainTextResponse(f"User-agent: *\nDisallow: /drafts/\n\nSitemap: {base}/sitemap.xml\n")


def create_app() -> Starlette:
    """The gallery app, without the guard (``noaiguard demo`` wraps it)."""
    images = {name: render(name) for name in ARTWORKS}
    return Starlette(
        routes=[
            Route("/", index),
            Route("/about", about),
            Route("/work/{name}", work),
            Route("/images/{name}.png", _image_endpoint(images)),
            Route("/feed.xml", feed),
            Route("/robots.txt", robots),
        ]
    )
