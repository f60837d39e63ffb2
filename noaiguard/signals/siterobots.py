"""The site's own robots.txt, as each front door reads it from the app it guards.

Every front door (the ASGI middleware, the WSGI middleware, Django's middleware) asks its app for
``GET /robots.txt`` now and then and merges noaiguard's groups into the answer. What counts as
"the site's robots.txt", and how long a copy is kept, is decided here once for all of them:

* a 2xx plain-text answer is the file;
* a 4xx (or an HTML page: a single-page app answers every path with its index) means the site has
  none, so noaiguard's groups stand alone;
* a 5xx, an error or a timeout keeps the last good copy, because a site's robots.txt should not
  vanish while its backend restarts.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

#: The most of the app's answer that is read (robots.txt parsers stop at 500 KiB).
MAX_BYTES: Final = 512 * 1024
#: How long the app may take to answer before the last good copy is used instead.
TIMEOUT_SECONDS: Final = 5.0
#: Request headers that would make the app answer with 304 or 206 instead of the file
#: (lower case, as in ASGI).
CONDITIONAL_HEADERS: Final = frozenset(
    {b"if-none-match", b"if-modified-since", b"range", b"if-range"}
)
#: The same, as keys of a WSGI environ (and of Django's ``request.META``).
CONDITIONAL_ENVIRON_KEYS: Final = frozenset(
    "HTTP_" + name.decode().upper().replace("-", "_") for name in CONDITIONAL_HEADERS
)
_HOSTS = 64


class _Failed:
    """The app's robots.txt could not be read this time (5xx, error, timeout)."""

    def __repr__(self) -> str:
        return "FAILED"


FAILED: Final = _Failed()
#: What :func:`read_answer` makes of the app's answer: the file, FAILED, or None (no file).
Reading = bytes | _Failed | None


def read_answer(status: int, content_type: str, body: bytes) -> Reading:
    """What the app's answer to ``GET /robots.txt`` says: the file, None (no file), or FAILED."""
    if status == 0 or status >= 500:
        return FAILED
    if not 200 <= status < 300 or "html" in content_type.lower() or body.lstrip()[:1] == b"<":
        return None
    return body[:MAX_BYTES]


class SiteRobotsCache:
    """The app's robots.txt per host, each copy kept for ``ttl`` seconds (least recent forgotten).

    Front doors call :meth:`get` and, when it says the copy is stale, fetch from the app and hand
    the answer to :meth:`put`, which returns the body to merge.
    """

    def __init__(self, ttl: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._copies: OrderedDict[str, tuple[float, bytes | None]] = OrderedDict()

    def get(self, host: str) -> tuple[bool, bytes | None]:
        """(True, body) while the copy for ``host`` is fresh; (False, None) when it must be read."""
        copy = self._copies.get(host)
        if copy is None or copy[0] <= self._clock():
            return False, None
        self._copies.move_to_end(host)
        return True, copy[1]

    def put(self, host: str, answer: Reading) -> bytes | None:
        """Keep what :func:`read_answer` made of a fresh read; return the body now in force."""
        if isinstance(answer, _Failed):
            kept = self._copies.get(host)
            body = kept[1] if kept is not None else None
        else:
            body = answer
        self._copies[host] = (self._clock() + self.ttl, body)
        self._copies.move_to_end(host)
        while len(self._copies) > _HOSTS:
            self._copies.popitem(last=False)
        return body
