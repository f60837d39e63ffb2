"""The checks on the page and the image themselves: their headers, meta tags and metadata.

Both carry the response headers: ``X-Robots-Tag`` (``noai``, ``noimageai``, ``noml``, Bing's
``noarchive``, lines scoped to one crawler), TDMRep's ``tdm-reservation`` and ``tdm-policy``,
aipref's ``Content-Usage`` and, when sent, Cloudflare's ``Content-Signal``. The page adds its meta
tags (``robots``, metas named after a crawler, ``tdm-reservation``/``tdm-policy``, Pinterest's
``nopin``); the image adds the IPTC ``plus:DataMining`` value embedded in its XMP.

The page counts as opted out by ``noai``; the image by ``noai`` or ``noimageai``, since the
image is what ``noimageai`` is about. img2dataset reads only the image's own header.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from ..stamping import VOCABULARY, read_data_mining
from .aipref import read_signal, read_usage, yes_no
from .crawlers import AI_CRAWLERS
from .directives import AI_DIRECTIVES, NOARCHIVE, read_directives
from .fetch import Fetched
from .findings import IMAGE, PAGE, Finding, Statement, Status
from .pagemarkup import Markup, is_html, read_markup

X_ROBOTS_TAG = "X-Robots-Tag"
META_ROBOTS = "meta robots"
TDM_HEADER = "tdm-reservation header"
TDM_POLICY_HEADER = "tdm-policy header"
TDM_META = "meta tdm-reservation"
TDM_POLICY_META = "meta tdm-policy"
USAGE_HEADER = "Content-Usage header"
SIGNAL_HEADER = "Content-Signal header"
PINTEREST = "meta pinterest"
DATA_MINING = "plus:DataMining"

_WHERE = {PAGE: "on the page", IMAGE: "on the image"}
_CRAWLER_NAMES = frozenset(c.token.lower() for c in AI_CRAWLERS)
#: Meta names that are not crawler names even when their content holds a directive.
_NOT_CRAWLERS = frozenset({"robots", "pinterest", "tdm-reservation", "tdm-policy"})


def check_page(page: Fetched) -> list[Finding]:
    """The page's fetch, headers and (for HTML) meta tags."""
    kind = page.content_type.split(";", 1)[0].strip() or "no Content-Type"
    if not page.ok:
        return [
            Finding(
                PAGE,
                "page",
                Status.UNREADABLE,
                f"{page.final_url or page.url}: {page.failure()}, so its signals cannot be checked",
            )
        ]
    html = is_html(page.content_type, page.body)
    detail = f"HTTP {page.status}, {kind}, {len(page.body)} bytes" + _cut(page)
    if not html:
        detail += ": not HTML, so only its headers are checked"
    findings = [Finding(PAGE, "page", Status.PRESENT, detail)]
    findings += header_findings(PAGE, page)
    if html:
        findings += meta_findings(read_markup(page.body, page.content_type))
    return findings


def check_image(image: Fetched | None, source: str, *, page_is_html: bool) -> list[Finding]:
    """The image's fetch, headers and embedded Data Mining value."""
    if image is None:
        why = (
            "no <img>, srcset or og:image on the page"
            if page_is_html
            else "the page is not HTML, so no image was looked for"
        )
        return [Finding(IMAGE, "image", Status.MISSING, f"{why}; name one with --image URL")]
    if not image.ok:
        return [
            Finding(
                IMAGE,
                "image",
                Status.UNREADABLE,
                f"{image.url} ({source}) could not be read: {image.failure()}",
            )
        ]
    kind = image.content_type.split(";", 1)[0].strip() or "no Content-Type"
    detail = f"{image.url} ({source}), HTTP {image.status}, {kind}, {len(image.body)} bytes"
    detail += _cut(image)
    if not kind.startswith("image/"):
        detail += ": not an image"
    findings = [Finding(IMAGE, "image", Status.PRESENT, detail)]
    findings += header_findings(IMAGE, image)
    findings.append(data_mining_finding(image))
    return findings


def _cut(fetched: Fetched) -> str:
    return f" (read up to {len(fetched.body) // 1024} KiB)" if fetched.truncated else ""


# -- headers ----------------------------------------------------------------------------------


def header_findings(place: str, fetched: Fetched) -> list[Finding]:
    findings = [robots_directives_finding(place, X_ROBOTS_TAG, fetched.values("x-robots-tag"))]
    findings.append(reservation_finding(place, TDM_HEADER, fetched.values("tdm-reservation")))
    policies = fetched.values("tdm-policy")
    if policies:
        findings.append(policy_finding(place, TDM_POLICY_HEADER, policies))
    findings.append(usage_finding(place, fetched.values("content-usage")))
    signals = fetched.values("content-signal")
    if signals:
        findings.append(signal_finding(place, signals))
    return findings


def robots_directives_finding(place: str, signal: str, values: list[str]) -> Finding:
    """``X-Robots-Tag`` lines or ``<meta name="robots">`` contents, read as their union."""
    directives = read_directives(values)
    where = _WHERE[place]
    carrier = X_ROBOTS_TAG if signal == X_ROBOTS_TAG else '<meta name="robots">'
    if not directives:
        return Finding(place, signal, Status.MISSING, "empty" if values else "not sent")
    statements = []
    for directive, covers in (("noai", place), ("noml", place), ("noimageai", IMAGE)):
        if directives.has(directive):
            statements.append(
                Statement(
                    f"{carrier} {directive} {where}", refuses=True, covers=frozenset({covers})
                )
            )
    wanted = ("noai",) if place == PAGE else ("noai", "noimageai")
    opted_out = any(directives.has(d) for d in wanted)
    detail = directives.describe()
    if directives.has(NOARCHIVE):
        detail += " (noarchive: Bing keeps it out of Copilot answers and model training)"
    if not opted_out:
        scoped = [name for name, values in directives.scoped.items() if set(wanted) & set(values)]
        if scoped:
            detail += f"; {' or '.join(wanted)} only for {', '.join(scoped)}: no one else is told"
        else:
            detail += f"; no {' or '.join(wanted)} ({AI_DIRECTIVES[wanted[0]]})"
    status = Status.PRESENT if opted_out else Status.MISSING
    return Finding(place, signal, status, detail, tuple(statements))


def reservation_finding(place: str, signal: str, values: list[str]) -> Finding:
    """A ``tdm-reservation`` header or meta: 1 reserves TDM rights, 0 does not, else unset."""
    if not values:
        return Finding(place, signal, Status.MISSING, "not sent")
    distinct = list(dict.fromkeys(v.strip() for v in values))
    carrier = "header" if signal == TDM_HEADER else "meta"
    if len(distinct) > 1:
        return Finding(
            place, signal, Status.CONTRADICTORY, f"several values: {', '.join(distinct)}"
        )
    value = distinct[0]
    if value not in ("0", "1"):
        return Finding(
            place, signal, Status.MISSING, f"{value!r} is not 0 or 1, so it counts as unset"
        )
    statement = Statement(
        f"tdm-reservation {value} ({carrier} {_WHERE[place]})",
        refuses=value == "1",
        covers=frozenset({place}),
    )
    if value == "1":
        return Finding(place, signal, Status.PRESENT, "1: TDM rights reserved", (statement,))
    return Finding(place, signal, Status.MISSING, "0: TDM rights not reserved", (statement,))


def policy_finding(place: str, signal: str, values: list[str]) -> Finding:
    value = values[0].strip()
    detail = value
    if not urlsplit(value).scheme:
        detail += " (not an absolute URL, as TDMRep requires)"
    return Finding(place, signal, Status.PRESENT, detail)


def usage_finding(place: str, values: list[str]) -> Finding:
    """The ``Content-Usage`` header: several lines are one Dictionary (RFC 9110 combining)."""
    if not values:
        return Finding(place, USAGE_HEADER, Status.MISSING, "not sent")
    usage = read_usage(", ".join(values))
    if usage.error:
        return Finding(
            place,
            USAGE_HEADER,
            Status.MISSING,
            f"{usage.text!r} does not parse ({usage.error}), so every use is unknown",
        )
    return _training_finding(place, USAGE_HEADER, usage.text, "train-ai", usage.train_ai)


def signal_finding(place: str, values: list[str]) -> Finding:
    """A ``Content-Signal`` response header (Cloudflare emits one on some responses)."""
    signal = read_signal(", ".join(values))
    return _training_finding(place, SIGNAL_HEADER, signal.text, "ai-train", signal.ai_train)


def _training_finding(
    place: str, header: str, text: str, key: str, allowed: bool | None
) -> Finding:
    """A preference header's finding on training: ``allowed`` is its ``key``, None if unstated.

    Content-Usage (aipref) writes the answer ``y``/``n``, Content-Signal ``yes``/``no``.
    """
    if allowed is None:
        return Finding(place, header, Status.MISSING, f"{text}: {key} not stated")
    detail = text + (": allows AI training" if allowed else "")
    name = header.removesuffix(" header")
    answer = yes_no(allowed, aipref=header == USAGE_HEADER)
    statement = Statement(
        f"{name} {key}={answer} (header {_WHERE[place]})",
        refuses=not allowed,
        covers=frozenset({place}),
    )
    status = Status.MISSING if allowed else Status.PRESENT
    return Finding(place, header, status, detail, (statement,))


# -- the page's meta tags ---------------------------------------------------------------------


def meta_findings(markup: Markup) -> list[Finding]:
    findings = [robots_directives_finding(PAGE, META_ROBOTS, markup.meta("robots"))]
    findings += _crawler_metas(markup)
    reservations = markup.meta("tdm-reservation")
    if reservations:
        findings.append(reservation_finding(PAGE, TDM_META, reservations))
    policies = markup.meta("tdm-policy")
    if policies:
        findings.append(policy_finding(PAGE, TDM_POLICY_META, policies))
    findings.append(_pinterest(markup.meta("pinterest")))
    return findings


def _crawler_metas(markup: Markup) -> Iterable[Finding]:
    """Metas named after a crawler (``<meta name="GPTBot" content="noai">``), when present."""
    named: dict[str, list[str]] = {}
    for name, content in markup.metas:
        directives = read_directives([content])
        ai = any(directives.has(d) for d in AI_DIRECTIVES)
        if name not in _NOT_CRAWLERS and (name in _CRAWLER_NAMES or ai):
            named.setdefault(name, []).append(content)
    for name, contents in named.items():
        directives = read_directives(contents)
        detail = directives.describe()
        if any(directives.has(d) for d in AI_DIRECTIVES):
            detail += "; no AI crawler documents reading noai from a meta named after it"
        yield Finding(PAGE, f"meta {name}", Status.PRESENT, detail)


def _pinterest(contents: list[str]) -> Finding:
    if any("nopin" in content.lower() for content in contents):
        return Finding(PAGE, PINTEREST, Status.PRESENT, "nopin: images cannot be pinned")
    detail = f"content {contents[0]!r}, not nopin" if contents else "no nopin meta"
    return Finding(PAGE, PINTEREST, Status.MISSING, detail)


# -- the image's metadata ---------------------------------------------------------------------


def data_mining_finding(image: Fetched) -> Finding:
    """The IPTC ``plus:DataMining`` value in the image's XMP (IPTC Photo Metadata 2023.1)."""
    value = read_data_mining(image.body)
    if value is None:
        detail = "no plus:DataMining in the image's metadata"
        if image.truncated:
            detail += " (only the start of the image was read)"
        return Finding(IMAGE, DATA_MINING, Status.MISSING, detail)
    code = value.removeprefix(VOCABULARY)
    if code.startswith("DMI-PROHIBITED"):
        statement = Statement(
            f"plus:DataMining {code} (in the image)", refuses=True, covers=frozenset({IMAGE})
        )
        return Finding(IMAGE, DATA_MINING, Status.PRESENT, value, (statement,))
    if code == "DMI-ALLOWED":
        statement = Statement(
            f"plus:DataMining {code} (in the image)", refuses=False, covers=frozenset({IMAGE})
        )
        return Finding(
            IMAGE, DATA_MINING, Status.MISSING, f"{value}: data mining allowed", (statement,)
        )
    if code == "DMI-UNSPECIFIED":
        return Finding(IMAGE, DATA_MINING, Status.MISSING, f"{value}: nothing said")
    return Finding(IMAGE, DATA_MINING, Status.MISSING, f"{value!r}: not a PLUS Data Mining value")
