"""What ``bench_integrations.py`` serves: one small site, and its FastAPI and Flask apps.

Every framework serves the same site, the way a small portfolio site is made:

- ``/``, a 2 KB HTML page made in memory (the response noaiguard rewrites: ``X-Robots-Tag`` and
  the robots meta tag in its ``<head>``), which links a stylesheet, a script and four images;
- those six files, ``/static/site.css`` (5 KB), ``/static/site.js`` (5 KB) and
  ``/static/img/*.png`` (four paintings from :mod:`noaiguard.demo.images`, 38-70 KB each),
  served from files on disk by the framework's own static-file serving: FastAPI's
  ``StaticFiles`` mount, Flask's static folder (``send_file`` through gunicorn's
  ``wsgi.file_wrapper``), and in Django a view returning ``FileResponse(open(path, "rb"))``
  (``_bench_django.py``); noaiguard adds only the header to them;
- ``/work.png``, 20 KB of image bytes from memory (``image/png``: the header only).

``PAGE_VIEW`` lists what a browser fetches for one view of the page. The views do nothing else,
so what the benchmark compares is the framework's own cost per request with and without
noaiguard's.

The static files are written by :func:`write_static_files`, deterministically: the benchmark
writes them once into its temporary directory and names it in ``NOAIGUARD_BENCH_STATIC`` for
every server; a server started without it writes its own copy into a temporary directory.

The apps are made when a server asks for them, by name (``fastapi_bare``, ``fastapi_guarded``,
``flask_bare``, ``flask_guarded``), so that a server imports only its own framework and a bare
server has no guard at all. The Django project is in ``_bench_django.py``; it uses the site and
the ``NOAIGUARD`` setting from here.

Every guarded server has the same configuration: the defaults, except that events are kept in
memory and that behaviour detection's limits are out of reach. wrk is one client at thousands of
requests a second, which detection rightly blocks as a scraper after a few hundred requests; the
tracking still runs on every request, so what is measured is its cost, not the blocking.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

from noaiguard.config import (
    BehaviourConfig,
    BurstRule,
    Config,
    ImageBurstRule,
    NetworkBurstRule,
    StoreConfig,
    config_from_mapping,
)

PAGE_PATH = "/"
IMAGE_PATH = "/work.png"
STATIC_URL = "/static"
STYLESHEET = f"{STATIC_URL}/site.css"
SCRIPT = f"{STATIC_URL}/site.js"
#: The images of the page: noaiguard.demo.images artworks, name -> (width, height) in pixels,
#: sized so that each PNG is 35-80 KB.
_ARTWORKS = {"dawn": (800, 600), "tide": (640, 480), "moss": (640, 480), "ember": (640, 480)}
IMAGES = tuple(f"{STATIC_URL}/img/{name}.png" for name in _ARTWORKS)
#: What a browser fetches for one view of the page: the page, its stylesheet, script and images.
PAGE_VIEW = (PAGE_PATH, STYLESHEET, SCRIPT, *IMAGES)
#: The environment variable naming the directory of the static files (see write_static_files).
STATIC_ENVIRONMENT = "NOAIGUARD_BENCH_STATIC"

_FIGURES = "\n".join(
    f'<figure><img src="{src}" alt="Study {n}" width="640" height="480">'
    f"<figcaption>Study {n}, oil on board, {30 + n} x {40 + n} cm. Painted on location at "
    f"the estuary, {('spring', 'summer', 'autumn', 'winter')[n - 1]} tide.</figcaption></figure>"
    for n, src in enumerate(IMAGES, start=1)
)
#: The page: a doctype, a ``<head>`` with a title, the stylesheet and the script, and a body of
#: figures showing the four images; 2 KB.
PAGE = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Estuary studies · Mara Lind, painter</title>
  <meta name="description" content="Paintings and studies by Mara Lind.">
  <link rel="stylesheet" href="{STYLESHEET}">
  <script src="{SCRIPT}" defer></script>
</head>
<body>
<header><nav><a href="/">Work</a> <a href="/about">About</a> <a href="/contact">Contact</a></nav>
</header>
<main>
<h1>Estuary studies</h1>
<p>Oil and watercolour studies of the estuary, made on location between the spring and autumn
tides. Each painting is a single sitting; the series follows the light from the first frost to
the long evenings of midsummer, when the water holds the colour of the sky for hours.</p>
<div class="grid">
{_FIGURES}
</div>
<p>Originals and prints are available; write for prices. Exhibited at the Harbour Gallery,
2025, and at the Tide Mill, 2026.</p>
</main>
<footer><p>&copy; 2026 Mara Lind. All rights reserved.</p></footer>
</body>
</html>
"""
#: The image from memory: a PNG signature and 20 KB of incompressible bytes.
IMAGE = b"\x89PNG\r\n\x1a\n" + random.Random(0).randbytes(20_000 - 8)

_CSS = "".join(
    f".grid figure:nth-child({n}){{margin:{n % 7}px auto {n % 5}px;padding:{n % 3}px;"
    f"border:1px solid #{n * 397 % 4096:03x}}}\n"
    for n in range(1, 63)
)
_JS = "".join(
    f"document.querySelectorAll('figure:nth-child({n}) img')"
    f".forEach((i)=>{{i.loading='lazy';i.decoding='async';i.dataset.n={n}}});\n"
    for n in range(1, 43)
)


def write_static_files(root: Path) -> None:
    """The site's files under ``root``: the stylesheet, the script, and the four images, the same
    bytes on every call."""
    from noaiguard.demo.images import render

    (root / "img").mkdir(parents=True, exist_ok=True)
    (root / "site.css").write_text(_CSS)
    (root / "site.js").write_text(_JS)
    for name, (width, height) in _ARTWORKS.items():
        (root / "img" / f"{name}.png").write_bytes(render(name, width, height))


def static_directory() -> Path:
    """The directory of the static files: ``NOAIGUARD_BENCH_STATIC``'s, or a temporary one written
    now (and removed at exit) when the server was started without it."""
    named = os.environ.get(STATIC_ENVIRONMENT)
    if named:
        return Path(named).resolve()
    root = Path(tempfile.mkdtemp(prefix="noaiguard-bench-static-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    write_static_files(root)
    return root


_UNREACHABLE = 10**9
#: The Django setting of a guarded server, with the keys of a config file...
NOAIGUARD: dict[str, Any] = {
    "store": {"url": "memory:"},
    "behaviour": {
        "burst": {"requests": _UNREACHABLE},
        "image_burst": {"images": _UNREACHABLE},
        "network_burst": {"requests": _UNREACHABLE},
    },
}
#: ... and the same configuration as the Config the FastAPI and Flask apps are given.
CONFIG = Config(
    store=StoreConfig(url="memory:"),
    behaviour=BehaviourConfig(
        burst=BurstRule(requests=_UNREACHABLE),
        image_burst=ImageBurstRule(images=_UNREACHABLE),
        network_burst=NetworkBurstRule(requests=_UNREACHABLE),
    ),
)
if dataclasses.replace(config_from_mapping(NOAIGUARD, "NOAIGUARD"), source=CONFIG.source) != CONFIG:
    raise RuntimeError("NOAIGUARD and CONFIG must describe the same configuration")


def fastapi_app(guarded: bool) -> Any:
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse, Response
    from fastapi.staticfiles import StaticFiles

    from noaiguard import NoAIGuardMiddleware

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.mount(STATIC_URL, StaticFiles(directory=static_directory()), name="static")

    @app.get(PAGE_PATH, response_class=HTMLResponse)
    async def page() -> HTMLResponse:
        return HTMLResponse(PAGE)

    @app.get(IMAGE_PATH)
    async def image() -> Response:
        return Response(IMAGE, media_type="image/png")

    if guarded:
        app.add_middleware(NoAIGuardMiddleware, config=CONFIG)
    return app


def flask_app(guarded: bool) -> Any:
    from flask import Flask, Response

    from noaiguard import NoAIGuardWSGI

    # Flask's own static folder: send_file, through the server's wsgi.file_wrapper.
    app = Flask(__name__, static_folder=static_directory(), static_url_path=STATIC_URL)

    @app.get(PAGE_PATH)
    def page() -> str:
        return PAGE

    @app.get(IMAGE_PATH)
    def image() -> Response:
        return Response(IMAGE, mimetype="image/png")

    if guarded:
        app.wsgi_app = NoAIGuardWSGI(app.wsgi_app, config=CONFIG)  # type: ignore[method-assign]
    return app


_FACTORIES = {"fastapi": fastapi_app, "flask": flask_app}
_apps: dict[str, Any] = {}


def __getattr__(name: str) -> Any:
    """``fastapi_bare``, ``flask_guarded`` ...: the app a server names, made on first use."""
    framework, _, variant = name.partition("_")
    if framework not in _FACTORIES or variant not in ("bare", "guarded"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name not in _apps:
        _apps[name] = _FACTORIES[framework](variant == "guarded")
    return _apps[name]
