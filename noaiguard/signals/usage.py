"""The usage headers: ``tdm-reservation`` (and ``tdm-policy``) and ``Content-Usage`` on responses.

They say on every response what ``/.well-known/tdmrep.json`` and robots.txt say for its path,
from the same rules (:func:`~noaiguard.signals.wellknown.tdmrep_rules`,
:class:`~noaiguard.signals.preferences.Preferences`), so the header never contradicts the file:
TDMRep readers let the header override the file, and both must agree.

Built once; :meth:`UsageHeaders.for_path` is a cached look-up, and without per-path TDMRep rules
it is one constant tuple for every path.
"""

from __future__ import annotations

import functools
import re

from ..config import SignalsConfig
from .preferences import Preferences
from .wellknown import tdmrep_rules

TDM_RESERVATION = b"tdm-reservation"
TDM_POLICY = b"tdm-policy"
CONTENT_USAGE = b"content-usage"
#: The header names this module writes (a response that has one of its own keeps it).
NAMES = frozenset({TDM_RESERVATION, TDM_POLICY, CONTENT_USAGE})

Pairs = tuple[tuple[bytes, bytes], ...]


class UsageHeaders:
    """The usage header pairs for a response to a path."""

    def __init__(self, preferences: Preferences, signals: SignalsConfig) -> None:
        usage: Pairs = ()
        if signals.content_usage.enabled and signals.content_usage.header:
            value = preferences.content_usage
            usage = ((CONTENT_USAGE, value.encode("ascii")),) if value else ()
        self._usage = usage
        # (compiled location, pairs) in the file's order: the first match wins.
        self._tdm: tuple[tuple[re.Pattern[str], Pairs], ...] = ()
        if signals.tdmrep.enabled and signals.tdmrep.header:
            self._tdm = tuple(
                (_location(str(rule["location"])), _tdm_pairs(rule))
                for rule in tdmrep_rules(preferences, signals)
            )
        #: The pairs for every path (None when they depend on the path).
        self.constant: Pairs | None = None
        if len(self._tdm) <= 1 and all(p.pattern == "/" for p, _ in self._tdm):
            self.constant = usage + (self._tdm[0][1] if self._tdm else ())
        self.for_path = functools.lru_cache(maxsize=4096)(self._for_path)

    def __bool__(self) -> bool:
        return bool(self._usage or self._tdm)

    def _for_path(self, path: str) -> Pairs:
        if self.constant is not None:
            return self.constant
        for location, pairs in self._tdm:
            if location.match(path):
                return self._usage + pairs
        return self._usage


def _tdm_pairs(rule: dict[str, object]) -> Pairs:
    pairs = [(TDM_RESERVATION, str(rule["tdm-reservation"]).encode("ascii"))]
    if "tdm-policy" in rule:
        pairs.append((TDM_POLICY, str(rule["tdm-policy"]).encode("ascii")))
    return tuple(pairs)


def _location(pattern: str) -> re.Pattern[str]:
    """A TDMRep location (robots.txt syntax: ``*`` any run, ``$`` the end) as a prefix match."""
    anchored = pattern.endswith("$")
    body = pattern[:-1] if anchored else pattern
    regex = ".*".join(re.escape(part) for part in body.split("*"))
    return re.compile(regex + ("$" if anchored else ""))
