"""What a page's HTML says: its ``<meta>`` tags, and the image a crawler would take first.

The page is outside input, often malformed, so it goes through the standard library's tolerant
:class:`html.parser.HTMLParser`, which never raises on bad markup. Meta tags are collected
wherever they are: the robots conventions expect them in ``<head>``, but readers do not insist.

The image is the first ``<img>`` (its ``src``, or else the first ``srcset`` candidate), else the
page's ``og:image``: what an image data set builder scraping the page would reach first. URLs are
resolved against ``<base href>`` when there is one, as a browser does; ``data:`` URLs are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

_HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass(frozen=True, slots=True)
class Markup:
    #: ``(lower-case name, content)`` of every ``<meta name>``, in page order.
    metas: tuple[tuple[str, str], ...]
    #: ``(URL as written, how it was found)`` for each image candidate, in page order.
    images: tuple[tuple[str, str], ...]
    og_image: str
    base_href: str

    def meta(self, name: str) -> list[str]:
        return [content for meta_name, content in self.metas if meta_name == name]


def is_html(content_type: str, body: bytes) -> bool:
    """Whether a response is an HTML page (by its type, or by its first bytes when it has none)."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type:
        return media_type in _HTML_TYPES
    start = body.lstrip()[:15].lower()
    return start.startswith((b"<!doctype html", b"<html"))


def charset_of(content_type: str) -> str:
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"')
    return "utf-8"


def read_markup(body: bytes, content_type: str = "") -> Markup:
    try:
        text = body.decode(charset_of(content_type), errors="replace")
    except LookupError:  # a charset Python does not know
        text = body.decode("utf-8", errors="replace")
    scanner = _Scanner()
    scanner.feed(text)
    scanner.close()
    return Markup(tuple(scanner.metas), tuple(scanner.images), scanner.og_image, scanner.base_href)


def first_image(markup: Markup, page_url: str) -> tuple[str, str] | None:
    """The absolute URL of the page's first usable image, and how it was found."""
    base = urljoin(page_url, markup.base_href) if markup.base_href else page_url
    candidates = [*markup.images]
    if markup.og_image:
        candidates.append((markup.og_image, "og:image"))
    for written, how in candidates:
        url = urljoin(base, written.strip())
        if urlsplit(url).scheme in ("http", "https"):
            return url, how
    return None


def first_srcset_candidate(srcset: str) -> str:
    """The URL of a ``srcset``'s first candidate (``a.png 1x, b.png 2x`` gives ``a.png``).

    As HTML parses it: a URL runs to white space, so commas inside it belong to it, and only
    trailing ones end the candidate.
    """
    stripped = srcset.lstrip(" \t\n\r\f,")
    return stripped.split()[0].rstrip(",") if stripped else ""


class _Scanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.metas: list[tuple[str, str]] = []
        self.images: list[tuple[str, str]] = []
        self.og_image = ""
        self.base_href = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "meta":
            name = attributes.get("name", "").strip().lower()
            content = attributes.get("content", "")
            if name:
                self.metas.append((name, content))
            kind = attributes.get("property", "").strip().lower() or name
            if kind in ("og:image", "og:image:url") and not self.og_image:
                self.og_image = content
        elif tag == "img":
            src = attributes.get("src", "").strip()
            srcset = first_srcset_candidate(attributes.get("srcset", ""))
            if src and not src.startswith("data:"):
                self.images.append((src, "first <img src> on the page"))
            elif srcset and not srcset.startswith("data:"):
                self.images.append((srcset, "first <img srcset> candidate on the page"))
        elif tag == "base" and not self.base_href:
            self.base_href = attributes.get("href", "").strip()
