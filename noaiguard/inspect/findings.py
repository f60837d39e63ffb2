"""What an inspection finds: one :class:`Finding` per signal and place, and the verdict.

A finding is what a site owner reads: where (``robots.txt``, ``page``...), which signal, whether
it is there, and a sentence of detail. Behind it may stand :class:`Statement` s, each one signal's
word on AI training for the page, the image or a robots.txt group; the audit compares them, and
a finding whose statement *allows* what another statement *refuses* is contradictory, because a
crawler that reads one and not the other gets the opposite answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

#: The places, in the order a report lists them.
ROBOTS_TXT = "robots.txt"
TDMREP_JSON = "tdmrep.json"
AI_TXT = "ai.txt"
PAGE = "page"
IMAGE = "image"
PLACES = (ROBOTS_TXT, TDMREP_JSON, AI_TXT, PAGE, IMAGE)

#: The exit codes of ``noaiguard inspect``.
EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2


class Status(StrEnum):
    PRESENT = "present"
    MISSING = "missing"
    CONTRADICTORY = "contradictory"
    UNREADABLE = "unreadable"


@dataclass(frozen=True, slots=True)
class Statement:
    """One signal's word on AI training: refused or allowed, for what it covers.

    ``covers`` names what the signal is about: ``"page"``, ``"image"``, or ``"group:N"`` for the
    crawlers of the N-th robots.txt group (the ``*`` group covers the page and the image too).
    """

    says: str
    refuses: bool
    covers: frozenset[str]


@dataclass(frozen=True, slots=True)
class Finding:
    place: str
    signal: str
    status: Status
    detail: str
    #: The training statements this signal makes (compared across findings, not printed).
    statements: tuple[Statement, ...] = field(default=(), compare=False)

    def as_json(self) -> dict[str, str]:
        return {
            "place": self.place,
            "signal": self.signal,
            "status": str(self.status),
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class Essential:
    """One of the few signals a site needs for the exit code to be 0.

    ``met`` is None when it could not be checked at all (no image on the page).
    """

    name: str
    met: bool | None
    detail: str

    @property
    def status(self) -> str:
        if self.met is None:
            return "not checked"
        return str(Status.PRESENT if self.met else Status.MISSING)

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Report:
    """Everything one inspection found, in report order."""

    url: str
    page_url: str
    image_url: str | None
    image_source: str
    findings: tuple[Finding, ...]
    essentials: tuple[Essential, ...]

    @property
    def contradictions(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.status is Status.CONTRADICTORY)

    @property
    def unmet(self) -> tuple[Essential, ...]:
        return tuple(e for e in self.essentials if e.met is False)

    @property
    def exit_code(self) -> int:
        """0 when every essential signal is there and no signal contradicts another, else 1."""
        return EXIT_FINDINGS if self.unmet or self.contradictions else EXIT_OK

    def at(self, place: str) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.place == place)

    def find(self, place: str, signal: str) -> Finding | None:
        return next((f for f in self.findings if (f.place, f.signal) == (place, signal)), None)
