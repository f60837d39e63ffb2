"""PNG: the XMP packet lives in an ``iTXt`` chunk with keyword ``XML:com.adobe.xmp`` (XMP Part 3).

A PNG is an 8-byte signature and chunks: a 4-byte big-endian length, a 4-byte type of ASCII
letters, the data, and a CRC-32 over type and data. A new XMP chunk is written uncompressed (flag
0, empty language tag and translated keyword) just before the first ``IDAT`` (or the ``fcTL``
that precedes it in an animated PNG), where every reader has seen it before the pixels. An
existing one is merged, also when it sits after IDAT; a compressed one (flag 1) is inflated and
written back uncompressed.

A stream sees the chunks up to the first IDAT only: an XMP or ``caBX`` chunk after it cannot be
seen there (a new packet would be added before IDAT), while at rest the whole file is walked.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from .plan import SEVERAL_PACKETS, SIGNED, NeedMore, Plan, Skip, Splice, Unchanged, want
from .xmp import build_packet, merge

SIGNATURE = b"\x89PNG\r\n\x1a\n"
XMP_KEYWORD = b"XML:com.adobe.xmp"
#: A compressed XMP chunk inflating past this is refused (no packet is anywhere near it).
MAX_INFLATED = 16 * 1024 * 1024

_C2PA = b"caBX"  # C2PA 2.1, A.3.4: the manifest store in a chunk of its own
_LONGEST_CHUNK = 0x7FFFFFFF


@dataclass(frozen=True, slots=True)
class _Chunk:
    kind: bytes
    start: int  # the length field
    end: int  # just after the CRC

    @property
    def body(self) -> slice:
        return slice(self.start + 8, self.end - 4)


@dataclass(frozen=True, slots=True)
class _Text:
    """An XMP iTXt chunk taken apart."""

    language: bytes
    translated: bytes
    packet: bytes


def plan(data: bytes, uri: str, *, whole: bool) -> Plan:
    """The edit stamping ``data``: the whole file, or the first bytes of a stream."""
    chunks = list(_chunks(data, whole=whole))
    if any(chunk.kind == _C2PA for chunk in chunks):
        raise Skip(SIGNED)
    xmp = [chunk for chunk in chunks if _is_xmp(data, chunk)]
    if len(xmp) > 1:
        raise Skip(SEVERAL_PACKETS)
    if xmp:
        chunk = xmp[0]
        crc = int.from_bytes(data[chunk.end - 4 : chunk.end], "big")
        if zlib.crc32(data[chunk.start + 4 : chunk.end - 4]) != crc:
            raise Skip(f"corrupt PNG: bad CRC on the XMP chunk at byte {chunk.start}")
        text = _read_text(data[chunk.body], strict=True)
        merged, note = merge(text.packet, uri)
        new = _xmp_chunk(merged, text.language, text.translated)
        return Plan((Splice(chunk.start, chunk.end, new),), note=note)
    image = next((c for c in chunks if c.kind in (b"IDAT", b"fcTL")), None)
    if image is None:
        raise Skip("corrupt PNG: no IDAT chunk")
    return Plan((Splice(image.start, image.start, _xmp_chunk(build_packet(uri))),))


def find_packet(data: bytes) -> bytes | None:
    """The first XMP packet in the file, read leniently (for ``inspect``)."""
    try:
        for chunk in _chunks(data, whole=True):
            if _is_xmp(data, chunk):
                return _read_text(data[chunk.body], strict=False).packet
    except (Unchanged, NeedMore):
        pass
    return None


def _chunks(data: bytes, *, whole: bool) -> Iterator[_Chunk]:
    """IHDR to IEND for a whole file; in a stream, up to and including the first IDAT's header."""
    truncated = "truncated PNG: no IEND chunk"
    want(data, len(SIGNATURE), whole=whole, truncated=truncated)
    if not data.startswith(SIGNATURE):
        raise Skip("corrupt PNG: bad signature")
    position = len(SIGNATURE)
    while True:
        want(data, position + 8, whole=whole, truncated=truncated)
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        if length > _LONGEST_CHUNK or not kind.isalpha():
            raise Skip(f"corrupt PNG: bad chunk header at byte {position}")
        if position == len(SIGNATURE) and kind != b"IHDR":
            raise Skip("corrupt PNG: the first chunk is not IHDR")
        end = position + 12 + length
        if kind == b"IDAT" and not whole:
            yield _Chunk(kind, position, end)
            return
        past_end = f"truncated PNG: chunk {kind.decode()} runs past the end of the file"
        want(data, end, whole=whole, truncated=past_end)
        yield _Chunk(kind, position, end)
        if kind == b"IEND":
            return
        position = end


def _is_xmp(data: bytes, chunk: _Chunk) -> bool:
    return chunk.kind == b"iTXt" and data[chunk.body].startswith(XMP_KEYWORD + b"\x00")


def _read_text(body: bytes, *, strict: bool) -> _Text:
    """keyword NUL, compression flag and method, language NUL, translated keyword NUL, text."""
    rest = body[len(XMP_KEYWORD) + 1 :]
    parts = rest[2:].split(b"\x00", 2)
    if len(rest) < 2 or len(parts) != 3:
        raise Skip("corrupt PNG: malformed XMP iTXt chunk")
    flag, method = rest[0], rest[1]
    language, translated, text = parts
    if flag == 0:
        return _Text(language, translated, text)
    if flag != 1 or method != 0:
        raise Skip(f"corrupt PNG: XMP iTXt compression {flag}/{method}")
    inflater = zlib.decompressobj()
    try:
        packet = inflater.decompress(text, MAX_INFLATED)
    except zlib.error:
        raise Skip("corrupt PNG: the compressed XMP chunk does not inflate") from None
    if inflater.unconsumed_tail:
        raise Skip(f"compressed XMP chunk inflates past {MAX_INFLATED} bytes")
    if strict and not inflater.eof:
        raise Skip("corrupt PNG: the compressed XMP chunk is cut short")
    return _Text(language, translated, packet)


def _xmp_chunk(packet: bytes, language: bytes = b"", translated: bytes = b"") -> bytes:
    body = b"iTXt" + XMP_KEYWORD + b"\x00\x00\x00" + language + b"\x00" + translated + b"\x00"
    body += packet
    crc = zlib.crc32(body)
    return (len(body) - 4).to_bytes(4, "big") + body + crc.to_bytes(4, "big")
