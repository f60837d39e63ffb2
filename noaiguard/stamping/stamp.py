"""Stamping a whole file held in memory: the API the ``stamp`` command and ``inspect`` use."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from . import xmp
from .formats import find_packet, image_kind, plan_for
from .plan import NOT_AN_IMAGE, AlreadyStamped, NeedMore, Skip


class Outcome(StrEnum):
    STAMPED = "stamped"
    ALREADY = "already stamped"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class StampResult:
    """What happened to one file; ``data`` is the new file when it was stamped."""

    outcome: Outcome
    data: bytes | None
    #: Why it was skipped; for a stamped file, a note such as "replaced DMI-ALLOWED".
    reason: str = ""


def stamp_bytes(data: bytes, uri: str) -> StampResult:
    """Put ``plus:DataMining`` = ``uri`` into a JPEG, PNG or WebP without touching its pixels.

    The whole file is walked, so XMP is found wherever it is (a PNG's after IDAT, a WebP's at the
    end), truncated files are refused, and a C2PA manifest anywhere leaves the file alone. Bad
    input never raises: it comes back SKIPPED with the reason.
    """
    kind = image_kind(data)
    if kind is None:
        return StampResult(Outcome.SKIPPED, None, NOT_AN_IMAGE)
    try:
        plan = plan_for(kind, data, uri, whole=True, total=len(data))
    except AlreadyStamped:
        return StampResult(Outcome.ALREADY, None)
    except Skip as skip:
        return StampResult(Outcome.SKIPPED, None, skip.reason)
    except NeedMore:  # not raised for a whole file; kept total for safety
        return StampResult(Outcome.SKIPPED, None, f"truncated {kind.upper()}")
    return StampResult(Outcome.STAMPED, plan.apply(data) + plan.suffix, plan.note)


def read_data_mining(data: bytes) -> str | None:
    """The ``plus:DataMining`` value of a JPEG, PNG or WebP, as written (a full URI), or None.

    Lenient where stamping is strict: a truncated file still shows the value it carries. Never
    raises for bad input.
    """
    kind = image_kind(data)
    if kind is None:
        return None
    packet = find_packet(kind, data)
    return xmp.read_value(packet) if packet is not None else None
