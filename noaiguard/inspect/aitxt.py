"""The ai.txt check (Spawning): which of the site's files data sets may not use.

ai.txt is written in robots.txt syntax, but its rules are about *using* files, not crawling
them: ``Disallow: *.png`` keeps PNG files out of training data sets, ``Disallow: /`` keeps
everything out. It is read here as the ``*`` group decides for the page's and the image's paths
(longest match, Allow on a tie), so an explicit ``Allow`` for a file is a statement too.
"""

from __future__ import annotations

from ..signals.robots import AppRobots, decode_app_robots
from .fetch import Fetched
from .findings import AI_TXT, Finding, Statement, Status
from .robotstxt import winning_rule


def check_ai_txt(fetched: Fetched, *, page_path: str, image_path: str | None) -> Finding:
    if fetched.status is not None and 400 <= fetched.status < 500:
        return Finding(AI_TXT, "ai.txt", Status.MISSING, f"HTTP {fetched.status}")
    if not fetched.ok:
        return Finding(
            AI_TXT, "ai.txt", Status.UNREADABLE, f"could not be read: {fetched.failure()}"
        )
    if fetched.body.lstrip()[:1] == b"<":
        return Finding(AI_TXT, "ai.txt", Status.MISSING, f"HTTP {fetched.status}, but an HTML page")
    parsed = AppRobots.parse(decode_app_robots(fetched.body))
    rules = tuple(r for group in parsed.groups if "*" in group.tokens for r in group.rules)
    disallowed = [value for directive, value in rules if directive == "Disallow" and value]
    statements = []
    said = []
    targets = [("page", page_path)] + ([("image", image_path)] if image_path else [])
    for target, path in targets:
        rule = winning_rule(rules, path)
        if rule is None:
            continue
        directive, pattern = rule
        said.append(f"the {target} {path} is {directive.lower()}ed by {pattern!r}")
        statements.append(
            Statement(
                f"ai.txt {directive}: {pattern}",
                refuses=directive == "Disallow",
                covers=frozenset({target}),
            )
        )
    if not disallowed:
        return Finding(
            AI_TXT, "ai.txt", Status.MISSING, "present, but it disallows nothing", tuple(statements)
        )
    summary = "/" if "/" in disallowed else ""
    patterns = [p for p in disallowed if p != "/"]
    if patterns:
        listed = ", ".join(patterns[:4]) + (
            f" and {len(patterns) - 4} more" if len(patterns) > 4 else ""
        )
        summary = f"{summary} and {listed}" if summary else listed
    detail = "; ".join([f"disallows {summary}", *said])
    return Finding(AI_TXT, "ai.txt", Status.PRESENT, detail, tuple(statements))
