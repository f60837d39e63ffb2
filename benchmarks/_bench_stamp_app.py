"""What ``bench_stamp.py`` serves: a folder of images behind the guard, unstamped and stamped.

Both apps are the same Starlette site, the folder named by ``NOAIGUARD_BENCH_STAMP_DIR`` (the
benchmark writes its images there) mounted at ``/img`` with ``StaticFiles``, and
:class:`NoAIGuardMiddleware` added as a site adds it. ``unstamped`` has the default
configuration; ``stamped`` has the same plus ``signals.stamp_images.enabled: true``, so the only
difference between the two servers is the stamping.

In both, events are kept in memory (``store.url: memory://``) and behaviour detection's limits are
out of reach: wrk is one client at thousands of image requests a second, which detection rightly
blocks as a scraper within a second. The tracking still runs on every request.

The apps are factories (``uvicorn --factory``), so a server builds only its own guard.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from noaiguard.config import config_from_mapping
from noaiguard.middleware import NoAIGuardMiddleware

#: The environment variable naming the folder of images.
DIRECTORY_ENVIRONMENT = "NOAIGUARD_BENCH_STAMP_DIR"
#: Where the folder is served.
MOUNT = "/img"

_UNREACHABLE = 10**9
#: The configuration of both servers, with the keys of a config file.
SETTINGS: dict[str, Any] = {
    "store": {"url": "memory://"},
    "behaviour": {
        "burst": {"requests": _UNREACHABLE},
        "image_burst": {"images": _UNREACHABLE},
        "network_burst": {"requests": _UNREACHABLE},
    },
}
#: The stamping server's: the same, with images stamped on the way out.
STAMPING: dict[str, Any] = {**SETTINGS, "signals": {"stamp_images": {"enabled": True}}}


def _site(settings: dict[str, Any], source: str) -> Starlette:
    directory = Path(os.environ[DIRECTORY_ENVIRONMENT]).resolve()
    config = config_from_mapping(settings, source)
    return Starlette(
        routes=[Mount(MOUNT, StaticFiles(directory=directory))],
        middleware=[Middleware(NoAIGuardMiddleware, config=config)],
    )


def unstamped() -> Starlette:
    return _site(SETTINGS, "unstamped")


def stamped() -> Starlette:
    return _site(STAMPING, "stamped")
