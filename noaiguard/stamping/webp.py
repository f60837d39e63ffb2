"""WebP: the XMP packet lives in an ``XMP `` chunk at the end of an extended-format RIFF file.

(Google's WebP container specification.) The file is ``RIFF``, a little-endian size equal to the
file length minus 8, ``WEBP``, then chunks: a FourCC, a little-endian payload size, the payload and
a pad byte when the size is odd. Metadata needs the extended format, whose first chunk ``VP8X``
carries flags (ICC 0x20, alpha 0x10, Exif 0x08, XMP 0x04, animation 0x02) and the canvas size; the
XMP chunk comes after the image data (and after Exif). A simple file (one ``VP8 `` or ``VP8L``
chunk) is made extended by inserting a VP8X whose canvas is read from the bitstream header.

Because XMP goes at the end and the RIFF size sits at the start, a stream can stamp only when it
knows the total size, and only a file without XMP: one whose VP8X says it has XMP is left to be
stamped at rest. A stream sees the chunks before the image data only, so a ``C2PA`` chunk placed
after it cannot be seen there; at rest the whole file is walked.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .plan import SEVERAL_PACKETS, SIGNED, NeedMore, Plan, Skip, Splice, Unchanged, want
from .xmp import build_packet, merge

FLAG_ICC, FLAG_ALPHA, FLAG_EXIF, FLAG_XMP, FLAG_ANIMATION = 0x20, 0x10, 0x08, 0x04, 0x02
HAS_XMP = "has XMP at the end; stamped at rest only"
NEEDS_SIZE = "a WebP is stamped in a stream only when its total size (Content-Length) is known"

_HEADER = 12
_IMAGE_CHUNKS = frozenset({b"VP8 ", b"VP8L", b"ALPH", b"ANIM", b"ANMF"})
_VP8_START_CODE = b"\x9d\x01\x2a"
_VP8L_SIGNATURE = 0x2F
_LARGEST_RIFF = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class _Chunk:
    fourcc: bytes
    start: int  # the FourCC
    size: int  # the payload size, without the pad byte

    @property
    def payload(self) -> int:
        return self.start + 8

    @property
    def end(self) -> int:
        return self.start + 8 + self.size + (self.size & 1)


def plan(data: bytes, uri: str, *, whole: bool, total: int | None) -> Plan:
    """The edit stamping ``data``: the whole file, or the first bytes of a stream of ``total``."""
    if total is None:
        raise Skip(NEEDS_SIZE)
    want(data, _HEADER, whole=whole, truncated="truncated WebP: no RIFF header")
    riff = int.from_bytes(data[4:8], "little")
    if riff + 8 != total:
        raise Skip(f"corrupt WebP: the RIFF size says {riff + 8} bytes, the file has {total}")
    if riff & 1:
        raise Skip("corrupt WebP: odd RIFF size")
    chunks = list(_chunks(data, whole=whole, total=total))
    if not chunks:
        raise Skip("corrupt WebP: no chunks")
    if any(chunk.fourcc == b"C2PA" for chunk in chunks):
        raise Skip(SIGNED)
    first = chunks[0]
    xmp = [c for c in chunks if c.fourcc == b"XMP "]
    if len(xmp) > 1:
        raise Skip(SEVERAL_PACKETS)
    existing = xmp[0] if xmp else None
    if any(chunk.fourcc == b"VP8X" for chunk in chunks[1:]):
        # A second VP8X (or one after the image data): decoders refuse the file once the VP8X
        # that stamping needs is in front.
        raise Skip("corrupt WebP: a VP8X chunk after the first chunk")
    if first.fourcc == b"VP8X":
        splices = _extended(data, first, existing, whole=whole)
    elif first.fourcc in (b"VP8 ", b"VP8L"):
        if not whole and first.end < total:
            # Chunks after a simple file's image data are out of a stream's sight, and one of
            # them may be a VP8X (see above).
            raise Skip("a simple WebP with chunks after its image data; stamped at rest only")
        splices = [_vp8x_for_simple(data, first, chunks, whole=whole)]
    else:
        raise Skip(f"corrupt WebP: unexpected first chunk {first.fourcc!r}")
    note, suffix = "", b""
    if existing is None:
        suffix = _chunk(b"XMP ", build_packet(uri))
    else:
        packet = data[existing.payload : existing.payload + existing.size]
        merged, note = merge(packet, uri)
        splices.append(Splice(existing.start, existing.end, _chunk(b"XMP ", merged)))
    grown = sum(len(s.replacement) - (s.end - s.start) for s in splices) + len(suffix)
    if riff + grown > _LARGEST_RIFF:
        raise Skip("WebP would outgrow the 4 GB RIFF size")
    size = Splice(4, 8, (riff + grown).to_bytes(4, "little"))
    return Plan((size, *splices), suffix=suffix, note=note)


def find_packet(data: bytes) -> bytes | None:
    """The first XMP chunk's packet, read leniently (for ``inspect``)."""
    try:
        for chunk in _chunks(data, whole=True, total=len(data)):
            if chunk.fourcc == b"XMP ":
                return data[chunk.payload : chunk.payload + chunk.size]
    except (Unchanged, NeedMore):
        pass
    return None


def _chunks(data: bytes, *, whole: bool, total: int) -> Iterator[_Chunk]:
    """Every chunk of a whole file; in a stream, up to and including the first image chunk."""
    truncated = "truncated WebP: a chunk runs past the end of the file"
    position = _HEADER
    while position < total:
        want(data, position + 8, whole=whole, truncated=truncated)
        size = int.from_bytes(data[position + 4 : position + 8], "little")
        chunk = _Chunk(data[position : position + 4], position, size)
        if chunk.end > total:
            raise Skip(f"corrupt WebP: chunk {chunk.fourcc!r} runs past the end of the file")
        if not whole and chunk.fourcc in _IMAGE_CHUNKS:
            yield chunk
            return
        want(data, chunk.end, whole=whole, truncated=truncated)
        yield chunk
        position = chunk.end


def _extended(data: bytes, vp8x: _Chunk, existing: _Chunk | None, *, whole: bool) -> list[Splice]:
    """Set the XMP flag of an extended file (unless set); a stream leaves files with XMP alone."""
    if vp8x.size < 10:
        raise Skip("corrupt WebP: VP8X chunk too short")
    flags = data[vp8x.payload]
    if not whole and (flags & FLAG_XMP or existing is not None):
        raise Skip(HAS_XMP)
    if flags & FLAG_XMP:
        return []
    return [Splice(vp8x.payload, vp8x.payload + 1, bytes([flags | FLAG_XMP]))]


def _vp8x_for_simple(data: bytes, image: _Chunk, chunks: list[_Chunk], *, whole: bool) -> Splice:
    """A VP8X chunk right after the RIFF header, with the canvas of the lone image chunk."""
    if image.fourcc == b"VP8 ":
        width, height, alpha = _vp8_size(data, image, whole=whole)
    else:
        width, height, alpha = _vp8l_size(data, image, whole=whole)
    alpha = alpha or any(chunk.fourcc == b"ALPH" for chunk in chunks)
    flags = FLAG_XMP | (FLAG_ALPHA if alpha else 0)
    payload = bytes([flags, 0, 0, 0])
    payload += (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return Splice(_HEADER, _HEADER, _chunk(b"VP8X", payload))


def _vp8_size(data: bytes, chunk: _Chunk, *, whole: bool) -> tuple[int, int, bool]:
    """A VP8 key frame: 3-byte frame tag, start code 9d 01 2a, then 14-bit width and height."""
    at = chunk.payload
    if chunk.size < 10:
        raise Skip("corrupt WebP: VP8 chunk too short")
    want(data, at + 10, whole=whole, truncated="truncated WebP: no VP8 frame header")
    if data[at] & 1 or data[at + 3 : at + 6] != _VP8_START_CODE:
        raise Skip("corrupt WebP: VP8 data does not start with a key frame")
    width = int.from_bytes(data[at + 6 : at + 8], "little") & 0x3FFF
    height = int.from_bytes(data[at + 8 : at + 10], "little") & 0x3FFF
    if not width or not height:
        raise Skip("corrupt WebP: VP8 frame of zero size")
    return width, height, False


def _vp8l_size(data: bytes, chunk: _Chunk, *, whole: bool) -> tuple[int, int, bool]:
    """VP8L: signature 0x2f, then 14 bits width-1, 14 bits height-1, alpha_is_used, version 0."""
    at = chunk.payload
    if chunk.size < 5:
        raise Skip("corrupt WebP: VP8L chunk too short")
    want(data, at + 5, whole=whole, truncated="truncated WebP: no VP8L header")
    bits = int.from_bytes(data[at + 1 : at + 5], "little")
    if data[at] != _VP8L_SIGNATURE or bits >> 29:
        raise Skip("corrupt WebP: bad VP8L header")
    width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return width, height, bool(bits >> 28 & 1)


def _chunk(fourcc: bytes, payload: bytes) -> bytes:
    pad = b"\x00" if len(payload) & 1 else b""
    return fourcc + len(payload).to_bytes(4, "little") + payload + pad
