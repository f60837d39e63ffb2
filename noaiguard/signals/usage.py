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
from dataclasses import replace

from ..config import SignalsConfig
from ..paths import PathSet
from .preferences import Preferences
from .wellknown import tdmrep_rules

TDM_RESERVATION = b"tdm-reservation"
TDM_POLICY = b"tdm-policy"
CONTENT_USAGE = b"content-usage"
#: The header names this module writes (a response that has one of its own keeps it).
NAMES = frozenset({TDM_RESERVATION, TDM_POLICY, CONTENT_USAGE})

Pairs = tuple[tuple[bytes, bytes], ...]


class UsageHeaders:
    """The usage header pairs for a response to a path.

    A path an owner's TDMRep rule opens (``reservation: false``) gets ``Content-Usage`` without
    ``train-ai``, as robots.txt says for it (see :func:`opened_locations`): "not reserved" next
    to ``train-ai=n`` would be two answers to one question.
    """

    def __init__(self, preferences: Preferences, signals: SignalsConfig) -> None:
        usage: Pairs = ()
        opened: Pairs = ()
        content_usage = signals.content_usage
        if content_usage.enabled and content_usage.header:
            usage = _content_usage(preferences.content_usage)
            opened = _content_usage(replace(preferences, train=None).content_usage)
        self._usage = usage
        self._excluded = (
            PathSet(content_usage.exclude_paths) if content_usage.exclude_paths else None
        )
        self.tdm_header = signals.tdmrep.enabled and signals.tdmrep.header
        # (compiled location, TDM pairs, Content-Usage pairs) in the file's order: first match
        # wins.
        self._tdm: tuple[tuple[re.Pattern[str], Pairs, Pairs], ...] = ()
        if signals.tdmrep.enabled:
            self._tdm = tuple(
                (
                    _location(str(rule["location"])),
                    _tdm_pairs(rule),
                    usage if rule["tdm-reservation"] else opened,
                )
                for rule in tdmrep_rules(preferences, signals)
            )
        #: The pairs for every path (None when they depend on the path).
        self.constant: Pairs | None = None
        if self._excluded is None and all(p.pattern == "/" for p, _, _ in self._tdm[:1]):
            # No rule, or a first rule for every path: the same pairs everywhere.
            first = self._tdm[0] if self._tdm else None
            self.constant = (first[2] if first else usage) + (
                first[1] if first and self.tdm_header else ()
            )
        self.for_path = functools.lru_cache(maxsize=4096)(self._for_path)
        self.tdm_for = functools.lru_cache(maxsize=4096)(self._tdm_for)

    def __bool__(self) -> bool:
        return bool(self._usage or (self._tdm and self.tdm_header))

    def _for_path(self, path: str) -> Pairs:
        if self.constant is not None:
            return self.constant
        usage = self._usage
        tdm: Pairs = ()
        for location, pairs, rule_usage in self._tdm:
            if location.match(path):
                usage, tdm = rule_usage, pairs
                break
        if self._excluded is not None and self._excluded.matches(path):
            usage = ()
        return usage + tdm if self.tdm_header else usage

    def _tdm_for(self, path: str) -> Pairs:
        """The TDMRep pairs for ``path`` (header or not): what the HTML meta form says."""
        for location, pairs, _ in self._tdm:
            if location.match(path):
                return pairs
        return ()


def _content_usage(value: str) -> Pairs:
    return ((CONTENT_USAGE, value.encode("ascii")),) if value else ()


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
