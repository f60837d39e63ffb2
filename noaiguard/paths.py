"""Path globs as the config writes them, and their robots.txt equivalents.

``*`` matches within one path segment, ``**`` across segments, ``?`` one character; everything else
is literal. ``/gallery/**`` matches ``/gallery/`` and everything below it; ``/gallery/*.png``
matches ``/gallery/a.png`` but not ``/gallery/2024/a.png``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_SPECIAL = re.compile(r"\*\*/?|\*|\?")


def glob_problem(pattern: str) -> str | None:
    """Why ``pattern`` is not a usable path glob, or None."""
    if not pattern.startswith("/"):
        return f"path {pattern!r} must start with '/'"
    if any(ch in pattern for ch in "\r\n\t "):
        return f"path {pattern!r} must not contain white space (write %20)"
    if "***" in pattern:
        return f"path {pattern!r}: use '**' for any depth"
    return None


def glob_to_regex(pattern: str) -> str:
    """The regular expression (anchored at both ends) that a path glob stands for."""
    out = []
    pos = 0
    for match in _SPECIAL.finditer(pattern):
        out.append(re.escape(pattern[pos : match.start()]))
        token = match.group()
        if token.startswith("**"):
            # `/a/**` matches `/a/` and below; `/a/**/b` matches `/a/b` and `/a/x/y/b`.
            out.append("(?:.*/)?" if token.endswith("/") else ".*")
        elif token == "*":
            out.append("[^/]*")
        else:
            out.append("[^/]")
        pos = match.end()
    out.append(re.escape(pattern[pos:]))
    return "".join(out)


class PathSet:
    """Several globs compiled into one regular expression: one call per request, no loop."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns = tuple(patterns)
        joined = "|".join(f"(?:{glob_to_regex(p)})" for p in self.patterns)
        self._regex = re.compile(joined) if self.patterns else None

    def matches(self, path: str) -> bool:
        return self._regex is not None and self._regex.fullmatch(path) is not None

    def __bool__(self) -> bool:
        return bool(self.patterns)


def glob_to_robots(pattern: str) -> str:
    """The robots.txt (RFC 9309) path pattern closest to a glob.

    robots.txt matches prefixes, so ``/a/**`` becomes ``/a/`` and ``/a/*.png`` becomes
    ``/a/*.png$``. Its ``*`` also crosses ``/``, so a one-segment ``*`` reads wider in robots.txt;
    the middleware still enforces the exact glob.
    """
    if pattern.endswith("**"):
        body, anchored = pattern[:-2], False
    else:
        body, anchored = pattern, True
    body = re.sub(r"\*\*/?|\*|\?", "*", body)
    body = body.replace("$", "%24")
    if anchored and not body.endswith("*"):
        body += "$"
    return body
