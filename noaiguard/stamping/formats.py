"""Which container a file is, and the one entry point into the three container modules."""

from __future__ import annotations

from . import jpeg, png, webp
from .plan import Plan

JPEG, PNG, WEBP = "jpeg", "png", "webp"


def image_kind(head: bytes) -> str | None:
    """ "jpeg", "png" or "webp" from a file's first bytes (12 are enough), else None.

    The content decides, never the name: a site's ``photo.png`` is often a JPEG.
    """
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(png.SIGNATURE):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    return None


def plan_for(kind: str, data: bytes, uri: str, *, whole: bool, total: int | None) -> Plan:
    """The container module's plan for ``data`` (see :mod:`.plan` for what it raises)."""
    if kind == JPEG:
        return jpeg.plan(data, uri, whole=whole)
    if kind == PNG:
        return png.plan(data, uri, whole=whole)
    return webp.plan(data, uri, whole=whole, total=total)


def find_packet(kind: str, data: bytes) -> bytes | None:
    """The file's XMP packet, read leniently; None when there is none or it cannot be found."""
    if kind == JPEG:
        return jpeg.find_packet(data)
    if kind == PNG:
        return png.find_packet(data)
    return webp.find_packet(data)
