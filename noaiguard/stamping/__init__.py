"""Stamping images with the IPTC "Data Mining" opt-out, without touching a pixel.

:func:`stamp_bytes` writes ``plus:DataMining`` (IPTC Photo Metadata 2023.1 / PLUS) into the XMP
packet of a JPEG, PNG or WebP held in memory, merging into the packet the file already has;
:class:`StreamStamper` plans the same edit for a body passing through a proxy; and
:func:`read_data_mining` reads the value back. ``noaiguard stamp`` (:mod:`.command`) stamps files
and folders at rest.

Files with a C2PA manifest are never touched (a new XMP packet would break its signature), XMP
with DTD declarations is refused, and corrupt files are skipped with the reason.
"""

from __future__ import annotations

from .formats import image_kind
from .stamp import Outcome, StampResult, read_data_mining, stamp_bytes
from .stream import StreamEdit, StreamPass, StreamStamper
from .vocabulary import (
    CODES,
    DATA_MINING_NAMESPACE,
    DEFAULT_DATA_MINING,
    VOCABULARY,
    data_mining_uri,
)

__all__ = [
    "CODES",
    "DATA_MINING_NAMESPACE",
    "DEFAULT_DATA_MINING",
    "VOCABULARY",
    "Outcome",
    "StampResult",
    "StreamEdit",
    "StreamPass",
    "StreamStamper",
    "data_mining_uri",
    "image_kind",
    "read_data_mining",
    "stamp_bytes",
]
