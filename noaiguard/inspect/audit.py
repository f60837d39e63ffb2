"""The audit: every check over what was fetched, the contradictions, and the verdict.

Pure: a :class:`~noaiguard.inspect.fetch.Site` in, a :class:`~noaiguard.inspect.findings.Report`
out, no network. Checks run place by place; then every signal that *allows* AI training is held
against every signal that *refuses* it for the same thing (the page, the image, a robots.txt
group), and each one that meets a refusal is contradictory. Which way round the owner meant it,
the audit cannot know; what it knows is that two crawlers reading two different signals get two
different answers.

The exit code rests on a few *essentials*, the signals the common AI crawlers and data set tools
actually read: robots.txt keeping the training crawlers out, ``noai`` on the page, ``noai`` or
``noimageai`` on the image (img2dataset reads nothing else), and a TDMRep reservation for the
page (the EU's machine-readable opt-out). Everything else is reported but optional.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from urllib.parse import urlsplit

from .aitxt import check_ai_txt
from .crawlers import AI_CRAWLERS
from .fetch import Site, origin_of
from .findings import (
    IMAGE,
    PAGE,
    ROBOTS_TXT,
    TDMREP_JSON,
    Essential,
    Finding,
    Report,
    Status,
)
from .pagemarkup import is_html
from .resource import META_ROBOTS, TDM_HEADER, TDM_META, X_ROBOTS_TAG, check_image, check_page
from .robotstxt import check_robots
from .tdmrep import PAGE_RULE, check_tdmrep


def path_of(url: str) -> str:
    """The path (with its query) that robots.txt-style rules are matched against."""
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def audit(site: Site) -> Report:
    page_url = site.page.final_url or site.page.url
    page_path = path_of(page_url)
    image_url = site.image.url if site.image is not None else None
    # The site's files speak for the site's own paths only: an image on a CDN has its own.
    image_path = (
        path_of(image_url)
        if image_url is not None and origin_of(image_url) == origin_of(page_url)
        else None
    )
    page = check_page(site.page)
    noai_on_page = any(
        f.signal in (X_ROBOTS_TAG, META_ROBOTS) and f.status is Status.PRESENT for f in page
    )
    findings = [
        *check_robots(
            site.robots, page_path=page_path, image_path=image_path, noai_on_page=noai_on_page
        ),
        *check_tdmrep(site.tdmrep, page_path=page_path, image_path=image_path),
        check_ai_txt(site.ai_txt, page_path=page_path, image_path=image_path),
        *page,
        *check_image(
            site.image,
            site.image_source,
            page_is_html=site.page.ok and is_html(site.page.content_type, site.page.body),
        ),
    ]
    if image_url is not None and image_path is None:
        findings = [_noting_other_origin(f, image_url) for f in findings]
    findings = mark_contradictions(findings)
    return Report(
        url=site.url,
        page_url=page_url,
        image_url=image_url,
        image_source=site.image_source,
        findings=tuple(findings),
        essentials=judge_essentials(findings, image_checked=bool(site.image and site.image.ok)),
    )


def _noting_other_origin(finding: Finding, image_url: str) -> Finding:
    if (finding.place, finding.signal) != (IMAGE, "image"):
        return finding
    note = (
        f"; it is on {origin_of(image_url)}, whose robots.txt, tdmrep.json and ai.txt were not read"
    )
    return replace(finding, detail=finding.detail + note)


def mark_contradictions(findings: Sequence[Finding]) -> list[Finding]:
    """Each finding whose statement allows training where another signal refuses it becomes
    contradictory, its detail naming the signals it contradicts."""
    refusals = [s for f in findings for s in f.statements if s.refuses]
    marked = []
    for finding in findings:
        against: dict[str, None] = {}
        for statement in finding.statements:
            if statement.refuses:
                continue
            for refusal in refusals:
                if refusal.covers & statement.covers:
                    against[refusal.says] = None
        if against:
            marked.append(
                replace(
                    finding,
                    status=Status.CONTRADICTORY,
                    detail=f"{finding.detail}; contradicts {', '.join(against)}",
                )
            )
        else:
            marked.append(finding)
    return marked


def judge_essentials(findings: Sequence[Finding], *, image_checked: bool) -> tuple[Essential, ...]:
    by_key = {(f.place, f.signal): f for f in findings}

    def present(*keys: tuple[str, str]) -> list[str]:
        return [
            f"{place} {signal}" if signal != place else place
            for place, signal in keys
            if (found := by_key.get((place, signal))) is not None and found.status is Status.PRESENT
        ]

    essentials = [_robots_essential(by_key)]
    page_noai = present((PAGE, X_ROBOTS_TAG), (PAGE, META_ROBOTS))
    essentials.append(_either("noai on the page", page_noai, "no noai in X-Robots-Tag or meta"))
    if image_checked:
        image_noai = present((IMAGE, X_ROBOTS_TAG))
        essentials.append(
            _either("noai or noimageai on the image", image_noai, "not in its X-Robots-Tag")
        )
    else:
        essentials.append(
            Essential("noai or noimageai on the image", None, "no image could be checked")
        )
    reserved = present((TDMREP_JSON, PAGE_RULE), (PAGE, TDM_HEADER), (PAGE, TDM_META))
    essentials.append(
        _either(
            "TDM rights reserved for the page (TDMRep)",
            reserved,
            "neither tdmrep.json, a tdm-reservation header nor a meta reserves them",
        )
    )
    return tuple(essentials)


def _either(name: str, carriers: Iterable[str], otherwise: str) -> Essential:
    carriers = list(carriers)
    if carriers:
        return Essential(name, True, f"by {', '.join(carriers)}")
    return Essential(name, False, otherwise)


def _robots_essential(by_key: dict[tuple[str, str], Finding]) -> Essential:
    name = "AI training crawlers kept out by robots.txt"
    tokens = [c.token for c in AI_CRAWLERS if c.essential]
    found = [by_key.get((ROBOTS_TXT, token)) for token in tokens]
    let_in = [
        t for t, f in zip(tokens, found, strict=True) if f is None or f.status is not Status.PRESENT
    ]
    if not let_in:
        return Essential(name, True, f"all {len(tokens)} disallowed from /")
    file = by_key.get((ROBOTS_TXT, "robots.txt"))
    if file is not None and file.status is not Status.PRESENT:
        return Essential(name, False, f"robots.txt: {file.detail}")
    detail = f"not kept out: {', '.join(let_in)}"
    if any(
        (f := by_key.get((PAGE, signal))) is not None and f.status is Status.PRESENT
        for signal in (X_ROBOTS_TAG, META_ROBOTS)
    ):
        detail += (
            "; the page's noai does not stop them: a crawler sees it only in the page it has"
            " already fetched, and only robots.txt stops the fetch"
        )
    return Essential(name, False, detail)
