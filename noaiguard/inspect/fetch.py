"""Fetching what a crawler fetches: robots.txt, the well-known files, the page and one image.

One synchronous ``httpx.Client`` (the caller's) does every request, with its User-Agent, timeout
and redirect policy; redirects are followed as crawlers follow them (RFC 9309 asks for at least
five hops on robots.txt). Every body is read as a stream and cut at a limit, so a huge or endless
answer costs at most a few megabytes, and each answer must be complete within the deadline.

Failures are data here, not exceptions: a :class:`Fetched` with no status carries the reason, and
the checks say what it means for each signal. Only a page that gives no answer at all raises
:class:`SiteUnreachable`, because then there is nothing to inspect.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from .pagemarkup import first_image, is_html, read_markup

ROBOTS_PATH = "/robots.txt"
TDMREP_PATH = "/.well-known/tdmrep.json"
AI_TXT_PATH = "/ai.txt"
#: robots.txt, tdmrep.json, ai.txt: RFC 9309 asks robots.txt readers for 500 KiB; this is more.
MAX_FILE_BYTES = 512 * 1024
#: The page: meta tags and the first image are near its top, but pages can be large.
MAX_PAGE_BYTES = 4 * 1024 * 1024
#: The image: its metadata is near the start, but the whole file is read when it fits.
MAX_IMAGE_BYTES = 4 * 1024 * 1024


class SiteUnreachable(Exception):
    """The page gave no HTTP answer at all (no connection, a timeout, a redirect loop)."""


@dataclass(frozen=True, slots=True)
class Fetched:
    """One answer, or why there is none (``status`` None and ``error`` set)."""

    url: str
    final_url: str = ""
    status: int | None = None
    #: ``(lower-case name, value)`` pairs, every header line kept.
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    #: The body was cut at the read limit.
    truncated: bool = False
    error: str = ""

    def values(self, name: str) -> list[str]:
        """Every line of header ``name`` (lower case), in order."""
        return [value for key, value in self.headers if key == name]

    @property
    def content_type(self) -> str:
        values = self.values("content-type")
        return values[0] if values else ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def failure(self) -> str:
        """Why the answer cannot be used: ``HTTP 503``, ``timed out after 10 s``..."""
        return self.error if self.status is None else f"HTTP {self.status}"


@dataclass(frozen=True, slots=True)
class Site:
    """Everything fetched for one inspection."""

    url: str
    page: Fetched
    robots: Fetched
    tdmrep: Fetched
    ai_txt: Fetched
    #: None when the page names no image and none was given.
    image: Fetched | None
    #: How the image was chosen ("--image", "the first <img src> on the page"...).
    image_source: str


def fetch(client: httpx.Client, url: str, limit: int, deadline: float) -> Fetched:
    """``GET url``: at most ``limit`` bytes of body, complete within ``deadline`` seconds."""
    give_up = time.monotonic() + deadline
    try:
        with client.stream("GET", url) as response:
            body = bytearray()
            truncated = False
            for chunk in response.iter_bytes():
                room = limit - len(body)
                body += chunk[:room]
                if len(chunk) > room:
                    truncated = True
                    break
                if time.monotonic() > give_up:
                    return Fetched(url, error=f"no complete answer within {deadline:g} s")
            return Fetched(
                url,
                final_url=str(response.url),
                status=response.status_code,
                headers=tuple(response.headers.multi_items()),
                body=bytes(body),
                truncated=truncated,
            )
    except httpx.TimeoutException:
        return Fetched(url, error=f"timed out after {deadline:g} s")
    except httpx.TooManyRedirects:
        return Fetched(url, error="too many redirects")
    except httpx.ConnectError as exc:
        return Fetched(url, error=f"could not connect ({exc or 'connection refused'})")
    except httpx.HTTPError as exc:
        return Fetched(
            url, error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        )


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def fetch_site(
    client: httpx.Client, url: str, *, image_url: str | None = None, deadline: float = 10.0
) -> Site:
    """Fetch the page first (it names the image, and must answer), then the site's files.

    The files come from the origin the page ended up on after redirects: that is the site whose
    content a crawler takes. Raises :class:`SiteUnreachable` when the page does not answer.
    """
    page = fetch(client, url, MAX_PAGE_BYTES, deadline)
    if page.status is None:
        raise SiteUnreachable(f"cannot reach {url}: {page.error}")
    origin = origin_of(page.final_url)
    robots = fetch(client, origin + ROBOTS_PATH, MAX_FILE_BYTES, deadline)
    tdmrep = fetch(client, origin + TDMREP_PATH, MAX_FILE_BYTES, deadline)
    ai_txt = fetch(client, origin + AI_TXT_PATH, MAX_FILE_BYTES, deadline)
    source = ""
    if image_url is not None:
        image_url, source = urljoin(page.final_url, image_url), "--image"
    elif page.ok and is_html(page.content_type, page.body):
        found = first_image(read_markup(page.body, page.content_type), page.final_url)
        if found is not None:
            image_url, source = found
    image = fetch(client, image_url, MAX_IMAGE_BYTES, deadline) if image_url else None
    return Site(url, page, robots, tdmrep, ai_txt, image, source)
