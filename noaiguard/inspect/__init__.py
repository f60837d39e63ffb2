"""Inspecting a site's AI opt-out signals from the outside, as a crawler meets them.

:func:`inspect_site` fetches the page, robots.txt, ``/.well-known/tdmrep.json``, ``/ai.txt`` and
one image, and returns a :class:`Report`: one :class:`Finding` per signal and place (present,
missing, contradictory or unreadable), and the essentials that decide the exit code of
``noaiguard inspect``. The work is split so that most of it needs no network:

* :mod:`.fetch` does the HTTP requests (httpx, bounded reads) and nothing else;
* :mod:`.robotstxt`, :mod:`.tdmrep`, :mod:`.aitxt` and :mod:`.resource` turn fetched answers into
  findings, with small parsers (:mod:`.structured`, :mod:`.aipref`, :mod:`.directives`,
  :mod:`.pagemarkup`) beside them;
* :mod:`.audit` runs the checks and compares what the signals say;
* :mod:`.render` prints, :mod:`.command` is the command line.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from .audit import audit
from .fetch import Site, SiteUnreachable, fetch_site
from .findings import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, Essential, Finding, Report, Status

#: Seconds each request may take, answer and body included.
DEFAULT_TIMEOUT = 10.0
#: RFC 9309 asks crawlers to follow at least five redirects for robots.txt.
MAX_REDIRECTS = 10

__all__ = [
    "DEFAULT_TIMEOUT",
    "EXIT_FINDINGS",
    "EXIT_OK",
    "EXIT_USAGE",
    "Essential",
    "Finding",
    "Report",
    "Site",
    "SiteUnreachable",
    "Status",
    "audit",
    "checked_url",
    "default_user_agent",
    "fetch_site",
    "inspect_site",
]


def default_user_agent() -> str:
    from .. import __version__

    return f"noaiguard-inspect/{__version__} (+https://github.com/noaiguard/noaiguard)"


def checked_url(url: str, *, what: str = "URL") -> str:
    """``url`` when it is an absolute http(s) URL; ValueError saying what is wrong otherwise."""
    parts = urlsplit(url.strip())
    if not parts.scheme and not parts.netloc:
        raise ValueError(f"{what} {url!r} is not a full URL; try https://{url.strip()}")
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{what} {url!r}: only http:// and https:// URLs can be inspected")
    try:
        parts.port  # noqa: B018  (raises ValueError for a port out of range)
        httpx.URL(url.strip())
    except (ValueError, httpx.InvalidURL) as exc:
        raise ValueError(f"{what} {url!r} is not a valid URL ({exc})") from None
    if not parts.hostname:
        raise ValueError(f"{what} {url!r} has no host")
    return url.strip()


def inspect_site(
    url: str,
    *,
    image_url: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    user_agent: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Report:
    """Fetch and audit ``url``.

    Raises ValueError for a URL that cannot be inspected and :class:`SiteUnreachable` when the
    page gives no answer at all. ``image_url`` may be relative to the page; ``transport`` lets a
    caller route the requests (tests, an app in the same process).
    """
    url = checked_url(url)
    if image_url is not None and urlsplit(image_url).scheme:
        checked_url(image_url, what="image URL")
    headers = {"user-agent": user_agent or default_user_agent(), "accept": "*/*"}
    with httpx.Client(
        headers=headers,
        timeout=timeout,
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        transport=transport,
    ) as client:
        site = fetch_site(client, url, image_url=image_url, deadline=timeout)
    return audit(site)
