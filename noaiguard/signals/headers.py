"""The ``X-Robots-Tag`` header: which directives a response gets, merged with the app's own.

Directives follow the robots meta conventions: case-insensitive, comma-separated, and several header
lines are read as their union. A line may be scoped to one crawler (``X-Robots-Tag: googlebot:
noindex``); such lines are left alone and our directives go on a line for everyone. We add only what
is missing, so a response never carries a directive twice, and we only ever add AI opt-out
directives (``noai``, ``noimageai``...), never ``noindex``: img2dataset reads this header on every
image before downloading it, and search engines must keep indexing the site.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from ..config import XRobotsTagConfig
from ..paths import PathSet

X_ROBOTS_TAG = b"x-robots-tag"

#: Directives that take a value after a colon; anything else before a colon names a crawler.
_VALUED_DIRECTIVES = frozenset(
    {"max-snippet", "max-image-preview", "max-video-preview", "unavailable_after"}
)


def _scoped_to_one_agent(value: str) -> bool:
    """Whether a header value is ``agent: directives`` rather than directives for everyone."""
    first = value.split(",", 1)[0]
    if ":" not in first:
        return False
    return first.split(":", 1)[0].strip().lower() not in _VALUED_DIRECTIVES


def _directive_names(value: str) -> set[str]:
    names = set()
    for part in value.split(","):
        name = part.split(":", 1)[0].strip().lower()
        if name:
            names.add(name)
    return names


def merge_x_robots_tag(headers: list[tuple[bytes, bytes]], directives: tuple[str, ...]) -> None:
    """Add the missing ``directives`` to ``headers`` in place.

    They are appended to the app's first ``X-Robots-Tag`` line for everyone, if it sends one, or go
    on a new line.
    """
    if not directives:
        return
    first_general = -1
    present: set[str] = set()
    for index, (name, raw) in enumerate(headers):
        if name.lower() != X_ROBOTS_TAG:
            continue
        value = raw.decode("latin-1")
        if _scoped_to_one_agent(value):
            continue
        present |= _directive_names(value)
        if first_general < 0:
            first_general = index
    missing = [d for d in directives if d.lower() not in present]
    if not missing:
        return
    addition = ", ".join(missing)
    if first_general < 0:
        headers.append((X_ROBOTS_TAG, addition.encode("latin-1")))
        return
    name, raw = headers[first_general]
    existing = raw.decode("latin-1").strip().rstrip(",")
    merged = f"{existing}, {addition}" if existing else addition
    headers[first_general] = (name, merged.encode("latin-1"))


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


class _Rule:
    __slots__ = ("content_types", "directives", "paths", "wildcards")

    def __init__(self, paths: tuple[str, ...], types: tuple[str, ...], directives: tuple[str, ...]):
        self.paths = PathSet(paths)
        self.content_types = frozenset(t for t in types if not t.endswith("/*"))
        self.wildcards = tuple(t[:-1] for t in types if t.endswith("/*"))
        self.directives = directives

    def matches_type(self, media_type: str) -> bool:
        if not self.content_types and not self.wildcards:
            return True
        return media_type in self.content_types or media_type.startswith(self.wildcards)


def with_directives(directives: tuple[str, ...], extra: tuple[str, ...]) -> tuple[str, ...]:
    """``directives`` and, after them, those of ``extra`` they lack (case-insensitive)."""
    present = {d.lower() for d in directives}
    return directives + tuple(d for d in extra if d.lower() not in present)


Pairs = tuple[tuple[bytes, bytes], ...]


class XRobotsTag:
    """Which directives a response gets, by path and content type (first matching rule wins).

    ``extra`` directives (the opt-in ``noml``, ``noarchive``) join every directive list, and each
    of ``agent_tokens`` gets a line of its own with the same directives (``img2dataset: noai``),
    for readers that look only for their name.
    """

    def __init__(
        self,
        config: XRobotsTagConfig,
        extra: tuple[str, ...] = (),
        agent_tokens: tuple[str, ...] = (),
    ) -> None:
        self.enabled = config.enabled
        self.default = with_directives(tuple(config.directives), extra) if config.enabled else ()
        self._rules = tuple(
            # A rule without directives means "none here": the extras do not apply to it either.
            _Rule(
                rule.paths,
                rule.content_types,
                with_directives(rule.directives, extra) if rule.directives else (),
            )
            for rule in config.rules
        )
        self.agent_tokens = agent_tokens if config.enabled else ()
        self._agent_lines: dict[tuple[str, ...], Pairs] = {}
        self._path_rules = functools.lru_cache(maxsize=4096)(self._rules_for_path)
        # One header pair per distinct directive tuple (there are as many as rules, plus one).
        self._pairs: dict[tuple[str, ...], tuple[bytes, bytes]] = {}
        self._default_pair = (
            (X_ROBOTS_TAG, ", ".join(self.default).encode("latin-1")) if self.default else None
        )

    def _rules_for_path(self, path: str) -> tuple[_Rule, ...]:
        return tuple(rule for rule in self._rules if not rule.paths or rule.paths.matches(path))

    @property
    def has_rules(self) -> bool:
        return bool(self._rules)

    def header_for(self, path: str, content_type: bytes = b"") -> tuple[bytes, bytes] | None:
        """The whole ``X-Robots-Tag`` header for a response that has none of its own."""
        if not self._rules:
            return self._default_pair
        directives = self.directives_for(path, content_type.decode("latin-1"))
        if not directives:
            return None
        pair = self._pairs.get(directives)
        if pair is None:
            pair = self._pairs[directives] = (X_ROBOTS_TAG, ", ".join(directives).encode("latin-1"))
        return pair

    def directives_for(self, path: str, content_type: str = "") -> tuple[str, ...]:
        """The directives for a response to ``path`` with ``content_type``."""
        if not self.enabled:
            return ()
        if not self._rules:
            return self.default
        media_type = _media_type(content_type)
        rules = self._path_rules(path) if len(path) <= 512 else self._rules_for_path(path)
        for rule in rules:
            if rule.matches_type(media_type):
                return rule.directives
        return self.default

    def agent_lines(self, directives: tuple[str, ...]) -> Pairs:
        """The per-crawler header lines for a response whose directives are ``directives``."""
        if not self.agent_tokens or not directives:
            return ()
        lines = self._agent_lines.get(directives)
        if lines is None:
            value = ", ".join(directives)
            lines = self._agent_lines[directives] = tuple(
                (X_ROBOTS_TAG, f"{token}: {value}".encode("latin-1")) for token in self.agent_tokens
            )
        return lines


def scoped_agents(values: Iterable[str]) -> set[str]:
    """The (lower-case) crawler names that ``X-Robots-Tag`` lines are scoped to."""
    return {
        value.split(":", 1)[0].strip().lower() for value in values if _scoped_to_one_agent(value)
    }


def missing_agent_lines(values: Iterable[str], lines: Pairs) -> list[tuple[bytes, bytes]]:
    """The per-crawler ``lines`` for crawlers the response has no line of its own for."""
    have = scoped_agents(values)
    if not have:
        return list(lines)
    return [line for line in lines if line[1].split(b":", 1)[0].lower().decode() not in have]
