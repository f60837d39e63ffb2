"""Robots directives as ``X-Robots-Tag`` headers and ``<meta name="robots">`` tags carry them.

Directives are comma-separated and case-insensitive, and several header lines (or tags) are read
as their union. A header line may be scoped to one crawler (``X-Robots-Tag: img2dataset: noai``),
which is how img2dataset reads it: split once on ``:``, the part before names the crawler. A few
directives carry a value after a colon themselves (``max-snippet: 20``) and are not crawler names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

#: The directives that opt out of AI use, and what each means, for report lines.
AI_DIRECTIVES = {
    "noai": "no AI use of this content",
    "noimageai": "no AI use of its images",
    "noml": "no machine learning",
}
#: Bing reads noarchive as "not for Copilot answers nor for training its models".
NOARCHIVE = "noarchive"
_VALUED = frozenset({"max-snippet", "max-image-preview", "max-video-preview", "unavailable_after"})


@dataclass(frozen=True, slots=True)
class Directives:
    """Directives for every crawler, and those scoped to one crawler (by lower-case name)."""

    general: tuple[str, ...] = ()
    scoped: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.general or self.scoped)

    def has(self, directive: str) -> bool:
        return directive in self.general

    def describe(self) -> str:
        """``noai, noimageai; for img2dataset: noai`` (``none`` when empty)."""
        parts = [", ".join(self.general)] if self.general else []
        parts += [f"for {name}: {', '.join(values)}" for name, values in self.scoped.items()]
        return "; ".join(parts) or "none"


def read_directives(values: Iterable[str]) -> Directives:
    """The union of header lines (or meta contents), each split as img2dataset splits it."""
    general: dict[str, None] = {}
    scoped: dict[str, dict[str, None]] = {}
    for value in values:
        target, listed = general, value
        name, colon, rest = value.partition(":")
        if colon and "," not in name and name.strip().lower() not in _VALUED:
            target, listed = scoped.setdefault(name.strip().lower(), {}), rest
        for part in listed.split(","):
            directive = part.strip().lower()
            if directive:
                target[directive] = None
    return Directives(
        tuple(general), {name: tuple(values) for name, values in scoped.items() if values}
    )
