"""Small generated artworks for the demo gallery: PNG files written with the standard library."""

from __future__ import annotations

import math
import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def encode_png(width: int, height: int, rows: list[bytes]) -> bytes:
    """An 8-bit RGB PNG from ``rows`` of ``width * 3`` bytes each."""
    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 on every scanline
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 6))
        + _chunk(b"IEND", b"")
    )


#: name -> (title, two colours and a wave frequency)
ARTWORKS: dict[str, tuple[str, tuple[int, int, int], tuple[int, int, int], float]] = {
    "dawn": ("Dawn over the estuary", (250, 128, 74), (255, 214, 165), 3.0),
    "tide": ("Tide study", (24, 78, 119), (142, 202, 230), 7.0),
    "moss": ("Moss, late autumn", (45, 90, 39), (183, 201, 120), 11.0),
    "ember": ("Ember", (92, 14, 20), (244, 162, 97), 5.0),
}


def render(name: str, width: int = 360, height: int = 240) -> bytes:
    """The artwork ``name`` as PNG bytes: a colour field crossed by soft waves."""
    _, low, high, frequency = ARTWORKS[name]
    rows = []
    for y in range(height):
        row = bytearray()
        for x in range(width):
            wave = math.sin(x / width * frequency * math.pi + y / height * 2.0)
            t = min(1.0, max(0.0, y / height * 0.7 + (wave + 1) * 0.15))
            row += bytes(round(a + (b - a) * t) for a, b in zip(low, high, strict=True))
        rows.append(bytes(row))
    return encode_png(width, height, rows)
