"""JPEG: the XMP packet lives in an APP1 segment before the first scan (XMP Part 3, 1.1.3).

A JPEG is a run of marker segments (``FF xx`` then a big-endian length that counts itself) up to
the first SOS; entropy-coded data follows, where ``FF`` is always stuffed (``FF 00``) or a restart
marker, until EOI. The XMP segment's payload is ``http://ns.adobe.com/xap/1.0/\\0`` and the packet,
which must fit the 16-bit length: at most 65502 bytes here (ExtendedXMP is not written).

A new segment goes right after SOI and any leading APP0 (JFIF) and Exif APP1 segments, so JFIF
stays first and Exif stays where readers look for it. At rest the whole file is walked to EOI, so
truncated files are refused and an XMP or C2PA segment between scans is seen; a stream sees the
segments before SOS only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from .plan import SEVERAL_PACKETS, SIGNED, NeedMore, Plan, Skip, Splice, Unchanged, want
from .xmp import build_packet, merge

XMP_SIGNATURE = b"http://ns.adobe.com/xap/1.0/\x00"
#: The largest packet a standard XMP segment carries, as the XMP specification counts it.
MAX_PACKET = 65502

_APP0, _APP1, _APP11 = 0xE0, 0xE1, 0xEB
_SOI, _EOI, _SOS, _TEM = 0xD8, 0xD9, 0xDA, 0x01
_RESTARTS = range(0xD0, 0xD8)
_EXIF_SIGNATURE = b"Exif\x00"
#: The next marker in entropy-coded data: FF not followed by a stuffed 00, a restart or a fill FF.
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


@dataclass(frozen=True, slots=True)
class _Segment:
    marker: int
    start: int  # the FF of the marker
    end: int  # just after the payload

    @property
    def payload(self) -> slice:
        return slice(self.start + 4, self.end)


def plan(data: bytes, uri: str, *, whole: bool) -> Plan:
    """The edit stamping ``data``: the whole file, or the first bytes of a stream."""
    segments = list(_header(data, whole=whole))
    if whole:
        segments += _after_first_scan(data, segments[-1].start)
    if any(_is_c2pa(data, s) for s in segments):
        raise Skip(SIGNED)
    xmp = [segment for segment in segments if _is_xmp(data, segment)]
    if len(xmp) > 1:
        raise Skip(SEVERAL_PACKETS)
    if xmp:
        segment = xmp[0]
        packet = data[segment.payload][len(XMP_SIGNATURE) :]
        merged, note = merge(packet, uri)
        return Plan((Splice(segment.start, segment.end, _xmp_segment(merged)),), note=note)
    at = _insertion_point(data, segments)
    return Plan((Splice(at, at, _xmp_segment(build_packet(uri))),))


def find_packet(data: bytes) -> bytes | None:
    """The first XMP packet, read leniently (for ``inspect``): before the first scan, else
    between scans, where :func:`plan` finds (and stamps) one too."""
    segments: list[_Segment] = []
    try:
        segments += _header(data, whole=True)
        segments += _after_first_scan(data, segments[-1].start)
    except (Unchanged, NeedMore):
        pass
    for segment in segments:
        if _is_xmp(data, segment):
            return data[segment.payload][len(XMP_SIGNATURE) :]
    return None


def _header(data: bytes, *, whole: bool) -> Iterator[_Segment]:
    """The segments after SOI, ending with the first SOS (yielded with start == end)."""
    truncated = "truncated JPEG: no start-of-scan marker"
    want(data, 2, whole=whole, truncated=truncated)
    if data[0] != 0xFF or data[1] != _SOI:
        raise Skip("corrupt JPEG: no start-of-image marker")
    position = 2
    while True:
        want(data, position + 2, whole=whole, truncated=truncated)
        if data[position] != 0xFF:
            raise Skip(f"corrupt JPEG: expected a marker at byte {position}")
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
            continue
        if marker == _SOS:
            yield _Segment(marker, position, position)
            return
        if marker == _TEM:
            position += 2
            continue
        if marker in (0x00, _SOI, _EOI) or marker in _RESTARTS:
            raise Skip(f"corrupt JPEG: marker FF{marker:02X} before the first scan")
        want(data, position + 4, whole=whole, truncated=truncated)
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        if length < 2:
            raise Skip(f"corrupt JPEG: segment length {length} at byte {position}")
        end = position + 2 + length
        past_end = f"truncated JPEG: segment at byte {position} runs past the end of the file"
        want(data, end, whole=whole, truncated=past_end)
        yield _Segment(marker, position, end)
        position = end


def _after_first_scan(data: bytes, position: int) -> list[_Segment]:
    """Segments between scans, found by walking the scans to EOI (which proves the file whole)."""
    segments: list[_Segment] = []
    while True:
        marker = data[position + 1]
        if marker == _EOI:
            return segments
        if marker == _TEM:
            end = position + 2
        elif marker == _SOI:
            raise Skip(f"corrupt JPEG: start-of-image marker inside the image at byte {position}")
        else:
            if position + 4 > len(data):
                raise Skip("truncated JPEG: no end-of-image marker")
            length = int.from_bytes(data[position + 2 : position + 4], "big")
            end = position + 2 + length
            if length < 2 or end > len(data):
                raise Skip(f"corrupt JPEG: bad segment length at byte {position}")
            if marker != _SOS:
                segments.append(_Segment(marker, position, end))
        found = _NEXT_MARKER.search(data, end)
        if found is None:
            raise Skip("truncated JPEG: no end-of-image marker")
        position = found.start()


def _is_xmp(data: bytes, segment: _Segment) -> bool:
    return segment.marker == _APP1 and data[segment.payload].startswith(XMP_SIGNATURE)


def _is_c2pa(data: bytes, segment: _Segment) -> bool:
    """An APP11 segment carrying JUMBF: the C2PA manifest store (C2PA 2.1, A.3.3)."""
    return segment.marker == _APP11 and b"jumb" in data[segment.payload][:32]


def _insertion_point(data: bytes, segments: list[_Segment]) -> int:
    """Just after SOI and the APP0 and Exif APP1 segments that directly follow it."""
    position = 2
    for segment in segments:
        if segment.start != position:
            break
        exif = segment.marker == _APP1 and data[segment.payload].startswith(_EXIF_SIGNATURE)
        if segment.marker != _APP0 and not exif:
            break
        position = segment.end
    return position


def _xmp_segment(packet: bytes) -> bytes:
    if len(packet) > MAX_PACKET:
        raise Skip(
            f"XMP packet would be {len(packet)} bytes, more than a JPEG segment holds "
            f"({MAX_PACKET}); ExtendedXMP is not written"
        )
    length = 2 + len(XMP_SIGNATURE) + len(packet)
    return b"\xff\xe1" + length.to_bytes(2, "big") + XMP_SIGNATURE + packet
