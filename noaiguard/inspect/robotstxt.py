"""The robots.txt checks: which AI crawlers are kept out, and the preference lines per group.

Group selection follows RFC 9309: a crawler obeys the groups that name its product token
(case-insensitively, merged when several do), only without one the ``*`` group, and without that
nothing; a specific group *replaces* ``*``. Within the group the longest matching Allow/Disallow
path wins, Allow on a tie. The file is read by noaiguard's own tolerant parser
(:class:`~noaiguard.signals.robots.AppRobots`), and paths are matched by the matcher noaiguard
writes its robots.txt with, so what this reports is what noaiguard would serve and enforce.

``Content-Usage`` lines (aipref attachment draft) may carry a path: the longest matching path
wins, equal paths combine with the most restrictive value, and they apply only to paths the group
may crawl. ``Content-Signal`` lines (Cloudflare) apply to the whole group. Both are read in every
group, because a crawler with its own group never reads the ``*`` group's lines.

Fetch results follow RFC 9309 too: a 4xx means there is no file (crawl everything), a 5xx or no
answer means crawlers must stay out altogether until it is back, which is an outage, not an
opt-out, and is reported as unreadable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..signals.robots import (
    MAX_APP_ROBOTS_BYTES,
    AppRobots,
    Rules,
    allows,
    decode_app_robots,
)
from .aipref import Usage, most_restrictive, read_signal, read_usage, yes_no
from .crawlers import AI_CRAWLERS, Crawler
from .fetch import Fetched
from .findings import ROBOTS_TXT, Finding, Statement, Status

CONTENT_USAGE = "Content-Usage"
CONTENT_SIGNAL = "Content-Signal"
_WHOLE_SITE = "/"


def pattern_matches(pattern: str, path: str) -> bool:
    """Whether a robots.txt path pattern (``*`` any run, final ``$`` the end) matches ``path``.

    Asked of :func:`~noaiguard.signals.robots.allows` with the pattern as a lone Disallow rule,
    so that the inspector and the robots.txt noaiguard serves share one matcher.
    """
    return bool(pattern) and not allows((("Disallow", pattern),), path)


def winning_rule(rules: Sequence[tuple[str, str]], path: str) -> tuple[str, str] | None:
    """The Allow or Disallow rule that decides ``path``: the longest match, Allow on a tie."""
    best: tuple[str, str] | None = None
    for directive, value in rules:
        kind = directive.lower()
        if kind not in ("allow", "disallow") or not pattern_matches(value, path):
            continue
        if (
            best is None
            or len(value) > len(best[1])
            or (len(value) == len(best[1]) and kind == "allow")
        ):
            best = (kind.title(), value)
    return best


def may_crawl(rules: Sequence[tuple[str, str]], path: str) -> bool:
    rule = winning_rule(rules, path)
    return rule is None or rule[0] == "Allow"


@dataclass(frozen=True, slots=True)
class Selection:
    """The groups a crawler obeys: ``kind`` is ``own``, ``*`` or ``none``."""

    kind: str
    groups: tuple[int, ...]
    rules: Rules


def select_groups(robots: AppRobots, token: str) -> Selection:
    """RFC 9309 group selection for a product token."""
    lowered = token.lower()
    own = tuple(
        index
        for index, group in enumerate(robots.groups)
        if lowered in (t.strip().lower() for t in group.tokens)
    )
    if own:
        return Selection("own", own, tuple(r for i in own for r in robots.groups[i].rules))
    star = tuple(i for i, group in enumerate(robots.groups) if "*" in group.tokens)
    if star:
        return Selection("*", star, tuple(r for i in star for r in robots.groups[i].rules))
    return Selection("none", (), ())


def group_label(robots: AppRobots, index: int) -> str:
    """``the * group``, ``group GPTBot``, ``group AI2Bot, Amazonbot and 78 more``."""
    tokens = robots.groups[index].tokens
    if "*" in tokens:
        return "the * group"
    shown = ", ".join(tokens[:2])
    more = len(tokens) - 2
    return f"group {shown} and {more} more" if more > 0 else f"group {shown}"


def _looks_like_html(body: bytes) -> bool:
    return body.lstrip()[:1] == b"<"


def read_robots(fetched: Fetched) -> AppRobots | None:
    """The parsed file, or None when there is no usable robots.txt."""
    if not fetched.ok or _looks_like_html(fetched.body):
        return None
    return AppRobots.parse(decode_app_robots(fetched.body))


def check_robots(
    fetched: Fetched,
    *,
    page_path: str,
    image_path: str | None,
    noai_on_page: bool,
    crawlers: Sequence[Crawler] = AI_CRAWLERS,
) -> list[Finding]:
    """The findings for robots.txt: the file, each crawler, Content-Usage and Content-Signal."""
    robots = read_robots(fetched)
    if robots is None:
        return _without_file(fetched, crawlers)
    size = f"{len(fetched.body)} bytes"
    if fetched.truncated or len(fetched.body) > MAX_APP_ROBOTS_BYTES:
        size += " (over 500 KiB: crawlers need not read the rest, RFC 9309)"
    groups = len(robots.groups)
    findings = [
        Finding(
            ROBOTS_TXT,
            "robots.txt",
            Status.PRESENT,
            f"HTTP {fetched.status}, {size}, {groups} group{'s' * (groups != 1)}",
        )
    ]
    paths = [p for p in dict.fromkeys((page_path, image_path)) if p and p != _WHOLE_SITE]
    for crawler in crawlers:
        findings.append(_crawler_finding(robots, crawler, paths, noai_on_page=noai_on_page))
    findings.append(_usage_finding(robots, page_path, image_path))
    findings.append(_signal_finding(robots))
    return findings


def _without_file(fetched: Fetched, crawlers: Sequence[Crawler]) -> list[Finding]:
    status = fetched.status
    if fetched.ok:  # an HTML page where robots.txt should be (a single-page app's index)
        file_status, detail = Status.MISSING, f"HTTP {status}, but an HTML page, not robots.txt"
        consequence = "robots.txt is an HTML page, so it has no rules"
    elif status is not None and 400 <= status < 500 and status != 429:
        file_status = Status.MISSING
        detail = f"HTTP {status}: no robots.txt, so every crawler may fetch everything (RFC 9309)"
        consequence = "no robots.txt"
    else:
        file_status = Status.UNREADABLE
        detail = (
            f"could not be read: {fetched.failure()}; crawlers must then stay out of the whole "
            "site until it is back (RFC 9309): an outage, not an opt-out"
        )
        consequence = "robots.txt could not be read"
    findings = [Finding(ROBOTS_TXT, "robots.txt", file_status, detail)]
    findings += [Finding(ROBOTS_TXT, c.token, file_status, consequence) for c in crawlers]
    findings.append(Finding(ROBOTS_TXT, CONTENT_USAGE, file_status, consequence))
    findings.append(Finding(ROBOTS_TXT, CONTENT_SIGNAL, file_status, consequence))
    return findings


def _crawler_finding(
    robots: AppRobots, crawler: Crawler, paths: list[str], *, noai_on_page: bool
) -> Finding:
    selection = select_groups(robots, crawler.token)
    if selection.kind == "own":
        others = sum(len(robots.groups[i].tokens) for i in selection.groups) - 1
        where = "its own group" + (f", with {others} other tokens" if others > 0 else "")
    elif selection.kind == "*":
        where = "the * group"
    else:
        where = "no group names it and there is no * group"
    kept_out = not may_crawl(selection.rules, _WHOLE_SITE)
    detail = f"{'disallowed from' if kept_out else 'may crawl'} / ({where})"
    exceptions = [p for p in paths if may_crawl(selection.rules, p) == kept_out]
    if exceptions:
        verb = "but may crawl" if kept_out else "but is disallowed from"
        detail += f", {verb} {', '.join(exceptions)}"
    if not kept_out and noai_on_page and not crawler.reads_noai:
        detail += "; the page's noai reaches it only after the fetch"
    if not crawler.essential:
        detail += f"; {crawler.purpose}, not essential"
    if crawler.note:
        detail += f" ({crawler.note})"
    return Finding(
        ROBOTS_TXT, crawler.token, Status.PRESENT if kept_out else Status.MISSING, detail
    )


def _split_usage(value: str) -> tuple[str, str]:
    """A Content-Usage record value: ``(path pattern or "", preference)``."""
    if value.startswith("/"):
        path, _, preference = value.partition(" ")
        if "\t" in path:
            path, _, rest = path.partition("\t")
            preference = f"{rest} {preference}"
        return path, preference.strip()
    return "", value.strip()


def usage_at(rules: Sequence[tuple[str, str]], path: str) -> list[Usage]:
    """The Content-Usage values of a group that apply to ``path`` (longest path, ties kept).

    None apply where the group may not crawl: preferences cover crawlable paths only.
    """
    if not may_crawl(rules, path):
        return []
    best, chosen = -1, []
    for directive, value in rules:
        if directive.lower() != "content-usage":
            continue
        pattern, preference = _split_usage(value)
        if pattern and not pattern_matches(pattern, path):
            continue
        if len(pattern) > best:
            best, chosen = len(pattern), [preference]
        elif len(pattern) == best:
            chosen.append(preference)
    return [read_usage(preference) for preference in chosen]


def _covers(robots: AppRobots, index: int, *paths: str) -> frozenset[str]:
    """What a group's statement covers: its crawlers, and the page and image for ``*``."""
    covered = {f"group:{index}"}
    if "*" in robots.groups[index].tokens:
        covered.update(paths)
    return frozenset(covered)


def _usage_finding(robots: AppRobots, page_path: str, image_path: str | None) -> Finding:
    stated: dict[str, list[str]] = {}
    broken: list[str] = []
    statements: list[Statement] = []
    silent: list[str] = []
    refused = False
    for index, group in enumerate(robots.groups):
        label = group_label(robots, index)
        values = [value for directive, value in group.rules if directive == CONTENT_USAGE]
        for value in values:
            stated.setdefault(value, []).append(label)
            usage = read_usage(_split_usage(value)[1])
            refused = refused or usage.train_ai is False
            if usage.error:
                broken.append(f"{value!r} does not parse ({usage.error}), so every use is unknown")
        if not values and may_crawl(group.rules, _WHOLE_SITE):
            silent.append(label)
        targets = [("page", page_path)] + ([("image", image_path)] if image_path else [])
        for target, path in targets:
            usages = usage_at(group.rules, path)
            train = most_restrictive(u.train_ai for u in usages)
            if train is not None:
                text = "; ".join(u.text for u in usages)
                statements.append(
                    Statement(
                        f"Content-Usage {text} ({label} of robots.txt)",
                        refuses=not train,
                        covers=_covers(robots, index, target),
                    )
                )
    if not stated:
        return Finding(
            ROBOTS_TXT, CONTENT_USAGE, Status.MISSING, "no Content-Usage line in any group"
        )
    parts = [f"{value} ({_count(labels)})" for value, labels in stated.items()]
    detail = "; ".join(parts + broken)
    if silent:
        detail += f"; none in {_listing(silent)}, whose crawlers see no preference"
    if not refused:
        detail += "; no line refuses train-ai"
    status = Status.PRESENT if refused else Status.MISSING
    return Finding(ROBOTS_TXT, CONTENT_USAGE, status, detail, _merged(statements))


def _signal_finding(robots: AppRobots) -> Finding:
    stated: dict[str, list[str]] = {}
    statements: list[Statement] = []
    silent: list[str] = []
    for index, group in enumerate(robots.groups):
        label = group_label(robots, index)
        values = [value for directive, value in group.rules if directive == CONTENT_SIGNAL]
        for value in values:
            stated.setdefault(value, []).append(label)
        if not values and may_crawl(group.rules, _WHOLE_SITE):
            silent.append(label)
        train = most_restrictive(read_signal(v).ai_train for v in values)
        if train is not None:
            statements.append(
                Statement(
                    f"Content-Signal ai-train={yes_no(train, aipref=False)} "
                    f"({label} of robots.txt)",
                    refuses=not train,
                    covers=_covers(robots, index, "page", "image"),
                )
            )
    if not stated:
        return Finding(
            ROBOTS_TXT, CONTENT_SIGNAL, Status.MISSING, "no Content-Signal line in any group"
        )
    refused = any(s.refuses for s in statements)
    detail = "; ".join(f"{value} ({_count(labels)})" for value, labels in stated.items())
    if silent:
        detail += f"; none in {_listing(silent)}, whose crawlers see no preference"
    if not refused:
        detail += "; no group says ai-train=no"
    status = Status.PRESENT if refused else Status.MISSING
    return Finding(ROBOTS_TXT, CONTENT_SIGNAL, status, detail, tuple(statements))


def _merged(statements: list[Statement]) -> tuple[Statement, ...]:
    """One statement per wording, covering everything its copies covered."""
    merged: dict[tuple[str, bool], set[str]] = {}
    for statement in statements:
        merged.setdefault((statement.says, statement.refuses), set()).update(statement.covers)
    return tuple(
        Statement(says, refuses=refuses, covers=frozenset(covers))
        for (says, refuses), covers in merged.items()
    )


def _count(labels: list[str]) -> str:
    if len(labels) == 1:
        return labels[0]
    return f"{len(labels)} groups"


def _listing(labels: list[str]) -> str:
    if len(labels) <= 3:
        return ", ".join(labels)
    return f"{', '.join(labels[:3])} and {len(labels) - 3} more groups"
