"""Which meta tags a page gets, by path.

The robots meta (``noai, noimageai``), and, when configured, TDMRep's ``tdm-reservation`` and
``tdm-policy`` metas and Pinterest's ``nopin``. The TDMRep metas say for each path exactly what
the ``tdm-reservation`` header and ``/.well-known/tdmrep.json`` say (TDMRep readers let the meta
override the header, so they must agree); they come from the same
:class:`~noaiguard.signals.usage.UsageHeaders` rules.
"""

from __future__ import annotations

import functools
import re

from .html import HeadTags, names_pattern
from .usage import TDM_POLICY, TDM_RESERVATION, UsageHeaders

PINTEREST = ("pinterest", "nopin")
_TDM_NAMES = (TDM_RESERVATION, TDM_POLICY)


class PageTags:
    """The :class:`HeadTags` for a page at a path."""

    def __init__(
        self,
        directives: tuple[str, ...],
        usage: UsageHeaders | None = None,
        *,
        tdm_meta: bool = False,
        nopin: bool = False,
    ) -> None:
        self._directives = directives
        self._usage = usage if tdm_meta else None
        self._fixed = (PINTEREST,) if nopin else ()
        others = [name for name, _ in self._fixed]
        if self._usage is not None:
            others += [name.decode("ascii") for name in _TDM_NAMES]
        #: One search for every meta name any page may get, for the injector's fast path.
        self.names: re.Pattern[bytes] = names_pattern(name.encode("ascii") for name in others)
        #: The tags of every page (None when they depend on the path).
        self.constant: HeadTags | None = None
        if self._usage is None:
            self.constant = self._tags(())
        self.for_path = functools.lru_cache(maxsize=4096)(self._for_path)

    def __bool__(self) -> bool:
        return bool(self._directives or self._fixed or self._usage is not None)

    def _for_path(self, path: str) -> HeadTags:
        if self.constant is not None:
            return self.constant
        assert self._usage is not None
        return self._tags(self._usage.tdm_for(path))

    def _tags(self, tdm: tuple[tuple[bytes, bytes], ...]) -> HeadTags:
        others = tuple((name.decode("ascii"), value.decode("ascii")) for name, value in tdm)
        # The same search for every path: HeadEndMemory's answers must not depend on the path.
        return HeadTags(self._directives, others + self._fixed, self.names)
