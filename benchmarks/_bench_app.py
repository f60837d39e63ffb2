"""The app served by ``bench_middleware.py``: a small Starlette site, bare and guarded.

It is built the way a small portfolio site is: the page is rendered for each request from a
template, and its stylesheet, script and images are files served by ``StaticFiles``. ``bare`` is
the site alone; ``guarded`` is the same site with :class:`NoAIGuardMiddleware` in its default
configuration, except that events are kept in memory so that nothing is written to disk.

``PAGE_VIEW`` lists what a browser fetches for one view of the page; ``API`` is a small JSON
document made in memory, the cheapest response there is, for the worst case of a header-only path.
"""

from __future__ import annotations

import atexit
import random
import shutil
import tempfile
from pathlib import Path
from string import Template

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from noaiguard.config import (
    AgentsConfig,
    BehaviourConfig,
    BurstRule,
    Config,
    ImageBurstRule,
    NetworkBurstRule,
    StoreConfig,
)
from noaiguard.middleware import NoAIGuardMiddleware

IMAGES = [f"/static/img/work-{n}.jpg" for n in range(1, 5)]
PAGE_VIEW = ("/", "/static/site.css", "/static/site.js", *IMAGES)
API = "/api/works.json"

_PAGE = Template(
    """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>$title · Mara Lind, painter</title>
  <meta name="description" content="Paintings and studies by Mara Lind.">
  <link rel="stylesheet" href="/static/site.css">
  <script src="/static/site.js" defer></script>
</head>
<body>
<header><nav><a href="/">Work</a> <a href="/about">About</a> <a href="/contact">Contact</a></nav>
</header>
<main>
<h1>$title</h1>
<p>$intro</p>
<div class="grid">
$figures
</div>
</main>
<footer><p>&copy; $year Mara Lind. All rights reserved.</p></footer>
</body>
</html>
"""
)
_INTRO = (
    "Oil and watercolour studies of the estuary, made on location between the spring and "
    "autumn tides. Each painting is a single sitting; the series follows the light."
)


def _write_static_files(root: Path) -> None:
    """The site's files: a stylesheet, a script, and four images of realistic size."""
    rng = random.Random(0)
    (root / "img").mkdir(parents=True)
    (root / "site.css").write_text(
        "body{font-family:system-ui,sans-serif;margin:0 auto;max-width:60rem}\n" * 60
    )
    (root / "site.js").write_text(
        "document.querySelectorAll('img').forEach(i=>i.loading='lazy');\n" * 100
    )
    for n, size in enumerate((48_000, 62_000, 35_000, 80_000), start=1):
        (root / "img" / f"work-{n}.jpg").write_bytes(b"\xff\xd8\xff\xe0" + rng.randbytes(size - 4))


async def page(request: Request) -> Response:
    figures = "\n".join(
        f'<figure><img src="{src}" alt="Study {n}"><figcaption>Study {n}</figcaption></figure>'
        for n, src in enumerate(IMAGES, start=1)
    )
    html = _PAGE.substitute(title="Estuary studies", intro=_INTRO, figures=figures, year=2026)
    return HTMLResponse(html)


async def works(request: Request) -> Response:
    return JSONResponse(
        {"works": [{"title": f"Study {n}", "image": src} for n, src in enumerate(IMAGES, 1)]}
    )


_STATIC = Path(tempfile.mkdtemp(prefix="noaiguard-bench-site-"))
atexit.register(shutil.rmtree, _STATIC, ignore_errors=True)
_write_static_files(_STATIC)

ROUTES = [Route("/", page), Route(API, works), Mount("/static", StaticFiles(directory=_STATIC))]

#: The default configuration, with events in memory instead of ./noaiguard.db.
# Behaviour detection with its limits out of reach: wrk is one client at thousands of requests a
# second, which detection rightly tarpits and blocks as a scraper. The tracking still runs on every
# request, so what is measured is its cost, not the blocking.
UNREACHABLE_LIMITS = BehaviourConfig(
    burst=BurstRule(requests=10**9),
    image_burst=ImageBurstRule(images=10**9),
    network_burst=NetworkBurstRule(requests=10**9),
)
CONFIG = Config(store=StoreConfig(url="memory://"), behaviour=UNREACHABLE_LIMITS)
# For bench_detect.py: the same guard with behaviour tracking and claimed-bot verification off.
NO_DETECTION = Config(
    store=StoreConfig(url="memory://"),
    behaviour=BehaviourConfig(enabled=False),
    agents=AgentsConfig(verify=False),
)
DETECTION = CONFIG

bare = Starlette(routes=ROUTES)
guarded = Starlette(routes=ROUTES, middleware=[Middleware(NoAIGuardMiddleware, config=CONFIG)])
detect_off = Starlette(
    routes=ROUTES, middleware=[Middleware(NoAIGuardMiddleware, config=NO_DETECTION)]
)
detect_on = Starlette(routes=ROUTES, middleware=[Middleware(NoAIGuardMiddleware, config=DETECTION)])
