"""Stamping the IPTC Data Mining opt-out into JPEG, PNG and WebP: real images made with Pillow,
read back with ExifTool, pixels compared, corrupt and signed files refused, streams equal to rest.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import zlib
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms, ImageSequence, PngImagePlugin

from noaiguard.stamping import (
    CODES,
    DATA_MINING_NAMESPACE,
    DEFAULT_DATA_MINING,
    VOCABULARY,
    Outcome,
    StampResult,
    StreamEdit,
    StreamPass,
    StreamStamper,
    data_mining_uri,
    image_kind,
    read_data_mining,
    stamp_bytes,
)

URI = VOCABULARY + DEFAULT_DATA_MINING
ALLOWED = VOCABULARY + "DMI-ALLOWED"
XMP_SIGNATURE = b"http://ns.adobe.com/xap/1.0/\x00"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


# -- images ---------------------------------------------------------------------------------------


def xmp_packet(extra: str = "", *, padding: int = 0) -> bytes:
    """An owner's packet: creator, tool and credit, optionally ``extra`` properties and padding."""
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        f' <rdf:RDF xmlns:rdf="{RDF}">\n'
        '  <rdf:Description rdf:about=""\n'
        '    xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
        '    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"\n'
        '    xmp:CreatorTool="Test Studio 3"\n'
        '    photoshop:Credit="Ada Example">\n'
        "   <dc:creator><rdf:Seq><rdf:li>Ada Example</rdf:li></rdf:Seq></dc:creator>\n"
        f"{extra}"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n" + " " * padding + '<?xpacket end="w"?>'
    ).encode()


ALLOWED_PROPERTY = (
    f'   <plus:DataMining xmlns:plus="{DATA_MINING_NAMESPACE}">{ALLOWED}</plus:DataMining>\n'
)


def picture(mode: str = "RGB", size: tuple[int, int] = (64, 48), shift: int = 0) -> Image.Image:
    """A gradient with some texture, so that encoders have real work and pixels are distinct."""
    width, height = size
    pixels = bytearray()
    for y in range(height):
        for x in range(width):
            pixels += bytes(((x * 4 + shift) % 256, (y * 5) % 256, (x * y + shift) % 256))
    image = Image.frombytes("RGB", size, bytes(pixels))
    if mode == "RGBA":
        alpha = Image.linear_gradient("L").resize(size)
        image.putalpha(alpha)
    return image.convert(mode) if mode not in ("RGB", "RGBA") else image


def encode(image: Image.Image, format: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format, **options)
    return out.getvalue()


def exif() -> bytes:
    data = Image.Exif()
    data[0x013B] = "Ada Example"  # Artist
    data[0x0131] = "Test Studio 3"  # Software
    return data.tobytes()


@cache
def icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def png_xmp(packet: bytes, *, compressed: bool = False) -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", packet.decode(), zip=compressed)
    return info


def animated_webp() -> bytes:
    frames = [picture("RGBA", shift=shift) for shift in (0, 60, 120)]
    return encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=80, loop=0)


def png_text_comment() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "made for the noaiguard tests")
    return encode(picture(), "PNG", pnginfo=info)


XMP = xmp_packet(padding=0)
XMP_ALLOWED = xmp_packet(ALLOWED_PROPERTY)

MAKERS: dict[str, Callable[[], bytes]] = {
    "jpeg": lambda: encode(picture(), "JPEG", quality=90),
    "jpeg-exif": lambda: encode(picture(), "JPEG", exif=exif()),
    "jpeg-xmp": lambda: encode(picture(), "JPEG", xmp=XMP),
    "jpeg-icc": lambda: encode(picture(), "JPEG", icc_profile=icc()),
    "jpeg-progressive": lambda: encode(picture(), "JPEG", progressive=True, exif=exif()),
    "jpeg-grey": lambda: encode(picture("L"), "JPEG"),
    "jpeg-allowed": lambda: encode(picture(), "JPEG", xmp=XMP_ALLOWED),
    "png": lambda: encode(picture(), "PNG"),
    "png-alpha": lambda: encode(picture("RGBA"), "PNG"),
    "png-palette": lambda: encode(picture("P"), "PNG"),
    "png-text": png_text_comment,
    "png-xmp": lambda: encode(picture(), "PNG", pnginfo=png_xmp(XMP)),
    "png-xmp-compressed": lambda: encode(
        picture("RGBA"), "PNG", pnginfo=png_xmp(XMP, compressed=True)
    ),
    "png-allowed": lambda: encode(picture(), "PNG", pnginfo=png_xmp(XMP_ALLOWED)),
    "webp-lossy": lambda: encode(picture(), "WEBP", quality=80),
    "webp-lossless": lambda: encode(picture(), "WEBP", lossless=True),
    "webp-lossless-alpha": lambda: encode(picture("RGBA"), "WEBP", lossless=True),
    "webp-alpha": lambda: encode(picture("RGBA"), "WEBP", quality=80),
    "webp-exif-icc": lambda: encode(picture(), "WEBP", exif=exif(), icc_profile=icc()),
    "webp-xmp": lambda: encode(picture(), "WEBP", xmp=XMP, exif=exif()),
    "webp-allowed": lambda: encode(picture(), "WEBP", xmp=XMP_ALLOWED),
    "webp-animated": animated_webp,
}
NAMES = sorted(MAKERS)
#: Files whose XMP sits at the end of a WebP: a stream passes them on (stamped at rest only).
STREAM_PASSES = {"webp-xmp", "webp-allowed"}


@cache
def image(name: str) -> bytes:
    return MAKERS[name]()


# -- independent readers of the containers (the tests' own, not the implementation's) ----------


def jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, payload) from SOI to SOS; the last entry is SOS with the rest of the file."""
    assert data[:2] == b"\xff\xd8"
    segments, position = [], 2
    while True:
        assert data[position] == 0xFF
        marker = data[position + 1]
        if marker == 0xDA:
            segments.append((marker, data[position:]))
            return segments
        end = position + 2 + int.from_bytes(data[position + 2 : position + 4], "big")
        segments.append((marker, data[position + 4 : end]))
        position = end


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, position = [], 8
    while position < len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        crc = int.from_bytes(data[position + 8 + length : position + 12 + length], "big")
        assert zlib.crc32(kind + body) == crc, kind
        chunks.append((kind, body))
        position += 12 + length
    return chunks


def webp_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    assert int.from_bytes(data[4:8], "little") == len(data) - 8
    chunks, position = [], 12
    while position < len(data):
        size = int.from_bytes(data[position + 4 : position + 8], "little")
        chunks.append((data[position : position + 4], data[position + 8 : position + 8 + size]))
        position += 8 + size + (size & 1)
    assert position == len(data)
    return chunks


def is_xmp_part(kind: int | bytes, body: bytes) -> bool:
    if kind == 0xE1:
        return body.startswith(XMP_SIGNATURE)
    if kind == b"iTXt":
        return body.startswith(b"XML:com.adobe.xmp\x00")
    return kind == b"XMP "


def parts(data: bytes) -> list[tuple[int | bytes, bytes]]:
    kind = image_kind(data)
    if kind == "jpeg":
        return list(jpeg_segments(data))
    if kind == "png":
        return list(png_chunks(data))
    return list(webp_chunks(data))


def xmp_count(data: bytes) -> int:
    return sum(is_xmp_part(kind, body) for kind, body in parts(data))


def pixels(data: bytes) -> list[tuple[str, tuple[int, int], bytes]]:
    with Image.open(io.BytesIO(data)) as opened:
        return [
            (frame.mode, frame.size, frame.convert("RGBA").tobytes())
            for frame in ImageSequence.Iterator(opened)
        ]


def stamped(name: str, uri: str = URI) -> bytes:
    result = stamp_bytes(image(name), uri)
    assert result.outcome is Outcome.STAMPED, result
    assert result.data is not None
    return result.data


# -- the vocabulary ---------------------------------------------------------------------------


def test_vocabulary() -> None:
    assert len(CODES) == 9
    assert DEFAULT_DATA_MINING in CODES
    assert data_mining_uri("DMI-ALLOWED") == "http://ns.useplus.org/ldf/vocab/DMI-ALLOWED"
    assert DATA_MINING_NAMESPACE == "http://ns.useplus.org/ldf/xmp/1.0/"
    with pytest.raises(ValueError, match="unknown Data Mining code 'DMI-NOPE'"):
        data_mining_uri("DMI-NOPE")


def test_image_kind_reads_content() -> None:
    assert image_kind(image("jpeg")) == "jpeg"
    assert image_kind(image("png")[:12]) == "png"
    assert image_kind(image("webp-lossy")[:12]) == "webp"
    assert image_kind(b"GIF89a\x01\x00\x01\x00\x00\x00") is None
    assert image_kind(b"RIFF\x00\x00\x00\x00WAVE") is None
    assert image_kind(b"") is None


# -- every kind of file: stamped, pixels the same, metadata kept, one packet ------------------


@pytest.mark.parametrize("name", NAMES)
def test_stamp_writes_the_value_and_keeps_pixels(name: str) -> None:
    original = image(name)
    new = stamped(name)
    assert read_data_mining(new) == URI
    assert pixels(new) == pixels(original)
    assert xmp_count(new) == 1


@pytest.mark.parametrize("name", NAMES)
def test_stamp_keeps_every_other_part(name: str) -> None:
    """Every segment or chunk but the XMP one (and WebP's VP8X flags) is byte for byte the same."""
    original, new = image(name), stamped(name)
    kept = [p for p in parts(original) if not is_xmp_part(*p) and p[0] != b"VP8X"]
    assert [p for p in parts(new) if not is_xmp_part(*p) and p[0] != b"VP8X"] == kept


@pytest.mark.parametrize("name", NAMES)
def test_stamping_twice_changes_nothing(name: str) -> None:
    new = stamped(name)
    again = stamp_bytes(new, URI)
    assert again == StampResult(Outcome.ALREADY, None, "")


@pytest.mark.parametrize("name", ["jpeg-xmp", "png-xmp", "png-xmp-compressed", "webp-xmp"])
def test_existing_packet_is_merged_not_doubled(name: str) -> None:
    new = stamped(name)
    assert xmp_count(image(name)) == xmp_count(new) == 1
    packet = next(body for kind, body in parts(new) if is_xmp_part(kind, body))
    for kept in (b"Ada Example", b"Test Studio 3", b"photoshop:Credit"):
        assert kept in packet


def test_compressed_png_packet_comes_back_uncompressed() -> None:
    body = next(b for k, b in png_chunks(stamped("png-xmp-compressed")) if k == b"iTXt")
    assert body.startswith(b"XML:com.adobe.xmp\x00\x00\x00")  # flag 0, method 0
    assert b"Ada Example" in body


@pytest.mark.parametrize("name", ["jpeg-allowed", "png-allowed", "webp-allowed"])
def test_a_different_value_is_replaced(name: str) -> None:
    assert read_data_mining(image(name)) == ALLOWED
    result = stamp_bytes(image(name), URI)
    assert result.outcome is Outcome.STAMPED
    assert result.reason == "replaced DMI-ALLOWED"
    assert result.data is not None
    assert read_data_mining(result.data) == URI
    assert xmp_count(result.data) == 1
    assert stamp_bytes(image(name), ALLOWED).outcome is Outcome.ALREADY


def test_jpeg_segment_goes_after_jfif_and_exif() -> None:
    markers = [(m, b[:4]) for m, b in jpeg_segments(stamped("jpeg-exif"))]
    assert markers[:3] == [(0xE0, b"JFIF"), (0xE1, b"Exif"), (0xE1, b"http")]


def test_png_chunk_goes_before_idat() -> None:
    kinds = [kind for kind, _ in png_chunks(stamped("png-text"))]
    assert kinds.index(b"iTXt") == kinds.index(b"IDAT") - 1
    assert b"tEXt" in kinds


def test_png_packet_after_idat_is_merged_where_it_is() -> None:
    chunks = png_chunks(image("png-xmp"))
    xmp = next(c for c in chunks if c[0] == b"iTXt")
    moved = [c for c in chunks if c is not xmp]
    moved.insert(len(moved) - 1, xmp)  # just before IEND
    data = b"\x89PNG\r\n\x1a\n" + b"".join(png_chunk(k, b) for k, b in moved)
    result = stamp_bytes(data, URI)
    assert result.outcome is Outcome.STAMPED and result.data is not None
    assert [k for k, _ in png_chunks(result.data)][-2:] == [b"iTXt", b"IEND"]
    assert xmp_count(result.data) == 1
    assert read_data_mining(result.data) == URI


@pytest.mark.parametrize(
    ("name", "flags"),
    [
        ("webp-lossy", 0x04),
        ("webp-lossless", 0x04),
        ("webp-lossless-alpha", 0x14),
        ("webp-alpha", 0x14),  # already extended: ALPH, flag kept
        ("webp-exif-icc", 0x2C),
        ("webp-animated", 0x16),
    ],
)
def test_webp_becomes_extended_with_the_xmp_flag_and_chunk_last(name: str, flags: int) -> None:
    chunks = webp_chunks(stamped(name))
    kind, vp8x = chunks[0]
    assert kind == b"VP8X"
    assert vp8x[0] == flags
    with Image.open(io.BytesIO(image(name))) as opened:
        width, height = opened.size
    assert int.from_bytes(vp8x[4:7], "little") + 1 == width
    assert int.from_bytes(vp8x[7:10], "little") + 1 == height
    assert chunks[-1][0] == b"XMP "


def test_packet_padding_keeps_the_size() -> None:
    padded = xmp_packet(padding=2048)
    original = encode(picture(), "JPEG", xmp=padded)
    new = stamp_bytes(original, URI).data
    assert new is not None
    assert len(new) == len(original)
    assert read_data_mining(new) == URI
    replaced = stamp_bytes(new, ALLOWED).data  # a shorter value gives the bytes back to padding
    assert replaced is not None
    assert len(replaced) == len(original)


# -- XMP written in other ways -----------------------------------------------------------------


def jpeg_with_packet(packet: bytes) -> bytes:
    plain = image("jpeg")
    segment = b"\xff\xe1" + (2 + len(XMP_SIGNATURE) + len(packet)).to_bytes(2, "big")
    return plain[:2] + segment + XMP_SIGNATURE + packet + plain[2:]


@pytest.mark.parametrize(
    "packet",
    [
        pytest.param(
            f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{RDF}">'
            f'<rdf:Description rdf:about="" xmlns:iptcplus="{DATA_MINING_NAMESPACE}" '
            f"iptcplus:DataMining='{ALLOWED}'/></rdf:RDF></x:xmpmeta>",
            id="attribute-other-prefix",
        ),
        pytest.param(
            f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{RDF}">'
            f'<rdf:Description rdf:about="" xmlns:plus="{DATA_MINING_NAMESPACE}">'
            f'<plus:DataMining rdf:resource="{ALLOWED}"/></rdf:Description></rdf:RDF></x:xmpmeta>',
            id="resource",
        ),
    ],
)
def test_other_forms_of_the_property_are_replaced(packet: str) -> None:
    original = jpeg_with_packet(packet.encode())
    assert read_data_mining(original) == ALLOWED
    result = stamp_bytes(original, URI)
    assert result.outcome is Outcome.STAMPED, result
    assert result.reason == "replaced DMI-ALLOWED"
    assert result.data is not None
    assert read_data_mining(result.data) == URI


def test_rdf_in_the_default_namespace_gets_a_description_that_binds_rdf() -> None:
    packet = (
        f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><RDF xmlns="{RDF}" xmlns:r="{RDF}">'
        '<Description r:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        "<dc:format>image/jpeg</dc:format></Description></RDF></x:xmpmeta>"
    )
    result = stamp_bytes(jpeg_with_packet(packet.encode()), URI)
    assert result.data is not None
    assert read_data_mining(result.data) == URI
    assert f'xmlns:rdf="{RDF}"'.encode() in result.data


@pytest.mark.parametrize(
    ("packet", "reason"),
    [
        (
            b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x:xmpmeta xmlns:x="adobe:ns:meta/"/>',
            "XMP packet has a DOCTYPE or ENTITY declaration",
        ),
        (b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><!ENTITY", "DOCTYPE or ENTITY"),
        (b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF", "not well-formed XML"),
        (b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>", "has no rdf:RDF element"),
        (b"\xff\xfe<\x00x\x00/\x00>\x00", "not UTF-8"),
    ],
)
def test_unsafe_or_unusable_packets_are_skipped(packet: bytes, reason: str) -> None:
    result = stamp_bytes(jpeg_with_packet(packet), URI)
    assert result.outcome is Outcome.SKIPPED
    assert reason in result.reason


def test_jpeg_packet_that_would_outgrow_the_segment_is_skipped() -> None:
    base = len(xmp_packet("   <dc:format></dc:format>\n"))
    big = xmp_packet(f"   <dc:format>{'x' * (65450 - base)}</dc:format>\n")  # fits, barely
    assert len(big) <= 65502 < len(big) + 150
    result = stamp_bytes(jpeg_with_packet(big), URI)
    assert result.outcome is Outcome.SKIPPED
    assert "ExtendedXMP is not written" in result.reason


# -- C2PA, other formats, corrupt files ------------------------------------------------------


def png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body).to_bytes(4, "big")
    return len(body).to_bytes(4, "big") + kind + body + crc


def jumbf() -> bytes:
    description = b"jumd" + bytes.fromhex("6332706100110010800000aa00389b71") + b"\x03c2pa\x00"
    box = (8 + len(description)).to_bytes(4, "big") + description
    return (8 + len(box)).to_bytes(4, "big") + b"jumb" + box


def c2pa_jpeg() -> bytes:
    plain = image("jpeg-exif")
    payload = b"JP" + b"\x00\x01" + (1).to_bytes(4, "big") + jumbf()
    segment = b"\xff\xeb" + (len(payload) + 2).to_bytes(2, "big") + payload
    at = plain.index(b"\xff\xdb")  # after JFIF and Exif
    return plain[:at] + segment + plain[at:]


def c2pa_png(*, after_idat: bool = False) -> bytes:
    chunks = png_chunks(image("png-text"))
    at = len(chunks) - 1 if after_idat else [k for k, _ in chunks].index(b"IDAT")
    chunks.insert(at, (b"caBX", jumbf()))
    return b"\x89PNG\r\n\x1a\n" + b"".join(png_chunk(k, b) for k, b in chunks)


def webp_from(chunks: list[tuple[bytes, bytes]]) -> bytes:
    body = b"WEBP"
    for kind, payload in chunks:
        body += kind + len(payload).to_bytes(4, "little") + payload + b"\x00" * (len(payload) & 1)
    return b"RIFF" + len(body).to_bytes(4, "little") + body


def c2pa_webp() -> bytes:
    return webp_from([*webp_chunks(image("webp-exif-icc")), (b"C2PA", jumbf())])


@pytest.mark.parametrize(
    "data",
    [c2pa_jpeg, c2pa_png, lambda: c2pa_png(after_idat=True), c2pa_webp],
    ids=["jpeg-app11", "png-cabx", "png-cabx-after-idat", "webp-c2pa"],
)
def test_signed_files_are_never_touched(data: Callable[[], bytes]) -> None:
    signed = data()
    assert stamp_bytes(signed, URI) == StampResult(Outcome.SKIPPED, None, "signed C2PA manifest")


@pytest.mark.parametrize("data", [c2pa_jpeg, c2pa_png], ids=["jpeg", "png"])
def test_signed_files_pass_through_a_stream(data: Callable[[], bytes]) -> None:
    decision, _ = run_stream(data(), 7)
    assert decision == StreamPass("signed C2PA manifest")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x00;",
        b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf",
        b'<svg xmlns="http://www.w3.org/2000/svg"/>',
        b"just text\n",
    ],
    ids=["empty", "gif", "avif", "svg", "text"],
)
def test_other_formats_are_skipped(data: bytes) -> None:
    assert stamp_bytes(data, URI) == StampResult(Outcome.SKIPPED, None, "not a JPEG, PNG or WebP")
    assert read_data_mining(data) is None


@pytest.mark.parametrize("name", NAMES)
def test_truncated_files_are_skipped(name: str) -> None:
    data = image(name)
    size = len(data)
    for cut in sorted({1, 2, 3, 8, 11, 12, 13, 20, 30, 40, size // 4, size // 2, size - 20,
                       size - 2, size - 1}):  # fmt: skip
        result = stamp_bytes(data[:cut], URI)
        assert result.outcome is Outcome.SKIPPED, (cut, result)
        assert result.reason


def with_bytes(data: bytes, at: int, new: bytes) -> bytes:
    return data[:at] + new + data[at + len(new) :]


def corrupt_cases() -> list[tuple[bytes, str]]:
    jpeg, png, webp = image("jpeg"), image("png-xmp"), image("webp-exif-icc")
    sos = jpeg.index(b"\xff\xda")
    xmp_at = png.index(b"iTXt")
    first_chunk_size = int.from_bytes(webp[16:20], "little")
    return [
        (with_bytes(jpeg, 4, b"\xff\xf0"), "runs past the end"),
        (with_bytes(jpeg, 4, b"\x00\x01"), "segment length 1"),
        (jpeg[:sos] + b"\xff\xd9", "marker FFD9 before the first scan"),
        (with_bytes(jpeg, 20, b"\x00"), "expected a marker at byte 20"),
        (jpeg[:-2], "no end-of-image marker"),
        (with_bytes(png, 8, b"\xff\xff\xff\xf0"), "bad chunk header"),
        (with_bytes(png, 12, b"iDAT"), "the first chunk is not IHDR"),
        (with_bytes(png, xmp_at + 100, b"Z"), "bad CRC on the XMP chunk"),
        (png[:-12], "no IEND chunk"),
        (png[:8] + png[8 + 25 :], "the first chunk is not IHDR"),
        (with_bytes(webp, 4, (len(webp) - 6).to_bytes(4, "little")), "the RIFF size says"),
        (with_bytes(webp, 16, (first_chunk_size + 4000).to_bytes(4, "little")), "past the end"),
        (with_bytes(webp, 12, b"XXXX"), "unexpected first chunk"),
        (webp_from([(b"VP8 ", b"\x00" * 12)]), "does not start with a key frame"),
        (webp_from([(b"VP8L", b"\x2f\x00\x00\x00\xf0")]), "bad VP8L header"),
    ]


@pytest.mark.parametrize(("data", "reason"), corrupt_cases())
def test_corrupt_files_are_skipped_with_the_reason(data: bytes, reason: str) -> None:
    result = stamp_bytes(data, URI)
    assert result.outcome is Outcome.SKIPPED
    assert result.data is None
    assert reason in result.reason


SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(data=st.binary(max_size=600))
def test_random_bytes_never_raise(data: bytes) -> None:
    for head in (b"", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"RIFF" + data[:4] + b"WEBP"):
        blob = head + data
        assert stamp_bytes(blob, URI).outcome is Outcome.SKIPPED or image_kind(blob)
        read_data_mining(blob)
        run_stream(blob, 5)


@SETTINGS
@given(
    name=st.sampled_from(NAMES),
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=4),
    cut=st.one_of(st.none(), st.integers(min_value=0)),
)
def test_damaged_images_never_raise(
    name: str, flips: list[tuple[int, int]], cut: int | None
) -> None:
    data = bytearray(image(name))
    for position, value in flips:
        data[position % len(data)] = value
    damaged = bytes(data if cut is None else data[: cut % len(data)])
    result = stamp_bytes(damaged, URI)
    read_data_mining(damaged)
    if result.outcome is Outcome.STAMPED:
        assert result.data is not None
        assert read_data_mining(result.data) == URI
        assert stamp_bytes(result.data, URI).outcome is Outcome.ALREADY
    decision, fed = run_stream(damaged, 64)
    if isinstance(decision, StreamEdit) and result.data is not None:
        assert decision.prefix + damaged[fed:] + decision.suffix == result.data


# -- reading ---------------------------------------------------------------------------------


def test_read_data_mining() -> None:
    assert read_data_mining(image("jpeg-xmp")) is None
    assert read_data_mining(image("webp-allowed")) == ALLOWED
    new = stamped("jpeg-exif")
    assert read_data_mining(new[: len(new) // 2]) == URI  # truncated, but the header is there
    assert read_data_mining(b"\xff\xd8\xff\xe1\xff\xff") is None


# -- streams ---------------------------------------------------------------------------------


def run_stream(
    data: bytes, chunk: int, *, total: int | None = -1, max_hold: int = 262144
) -> tuple[StreamEdit | StreamPass, int]:
    """Feed ``data`` in ``chunk``-byte pieces until a decision; return it and the bytes fed."""
    stamper = StreamStamper(URI, max_hold=max_hold, total_size=len(data) if total == -1 else total)
    fed = 0
    while fed < len(data):
        piece = data[fed : fed + chunk]
        fed += len(piece)
        decision = stamper.feed(piece)
        if decision is not None:
            return decision, fed
    return stamper.finish(), fed


@pytest.mark.parametrize("chunk", [1, 7, 4096])
@pytest.mark.parametrize("name", NAMES)
def test_stream_sends_what_stamping_at_rest_makes(name: str, chunk: int) -> None:
    data = image(name)
    decision, fed = run_stream(data, chunk)
    if name in STREAM_PASSES:
        assert decision == StreamPass("has XMP at the end; stamped at rest only")
        return
    assert isinstance(decision, StreamEdit), decision
    sent = decision.prefix + data[fed:] + decision.suffix
    assert sent == stamp_bytes(data, URI).data
    assert len(sent) == len(data) + decision.size_delta


@pytest.mark.parametrize("name", ["jpeg", "png", "webp-lossy"])
def test_stream_passes_files_already_stamped(name: str) -> None:
    decision, _ = run_stream(stamped(name), 100)
    expected = "has XMP at the end; stamped at rest only" if "webp" in name else "already stamped"
    assert decision == StreamPass(expected)


def test_stream_holds_only_the_header() -> None:
    data = image("jpeg-exif")
    decision, fed = run_stream(data, 1)
    assert isinstance(decision, StreamEdit)
    assert fed == data.index(b"\xff\xda") + 2  # decided on seeing the start of scan


def big_header_jpeg() -> bytes:
    plain = image("jpeg")
    comments = b"".join(b"\xff\xfe\xff\xff" + bytes([65 + i]) * 65533 for i in range(5))
    return plain[:2] + comments + plain[2:]


def test_stream_hold_limit() -> None:
    data = big_header_jpeg()
    assert run_stream(data, 4096)[0] == StreamPass("header larger than hold limit")
    assert run_stream(image("jpeg-exif"), 4096, max_hold=40)[0] == StreamPass(
        "header larger than hold limit"
    )
    decision, fed = run_stream(data, 4096, max_hold=1 << 20)
    assert isinstance(decision, StreamEdit)
    assert decision.prefix + data[fed:] == stamp_bytes(data, URI).data


def test_stream_webp_needs_the_total_size() -> None:
    data = image("webp-lossy")
    decision, _ = run_stream(data, 4096, total=None)
    assert isinstance(decision, StreamPass)
    assert "Content-Length" in decision.reason
    wrong, _ = run_stream(data, 4096, total=len(data) + 10)
    assert isinstance(wrong, StreamPass)
    assert "RIFF size" in wrong.reason
    # JPEG and PNG need no size
    assert isinstance(run_stream(image("png"), 4096, total=None)[0], StreamEdit)


def test_stream_finish_and_misuse() -> None:
    stamper = StreamStamper(URI)
    assert stamper.feed(image("png")[:30]) is None
    assert stamper.finish() == StreamPass("truncated PNG: chunk IHDR runs past the end of the file")
    with pytest.raises(RuntimeError):
        stamper.feed(b"more")
    other = StreamStamper(URI)
    assert other.feed(b"hello") is None
    assert other.finish() == StreamPass("not a JPEG, PNG or WebP")
    text = StreamStamper(URI)
    assert text.feed(b"<!doctype html><html>") == StreamPass("not a JPEG, PNG or WebP")
    with pytest.raises(RuntimeError):
        text.finish()


# -- ExifTool, the reader everyone else uses ----------------------------------------------------


@pytest.fixture
def exiftool() -> str:
    path = shutil.which("exiftool")
    if path is None:
        message = "exiftool is not installed (Debian: libimage-exiftool-perl)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def exiftool_read(exiftool: str, path: Path) -> dict[str, str]:
    command = [exiftool, "-j", "-a", "-G1:4", "-validate", "-warning", "-XMP:all", "-EXIF:all"]
    output = subprocess.run([*command, str(path)], capture_output=True, text=True, check=False)
    records: list[dict[str, str]] = json.loads(output.stdout)
    return records[0]


def problems(record: dict[str, str]) -> set[str]:
    return {v for k, v in record.items() if k.endswith((":Warning", ":Error"))}


@pytest.mark.parametrize("name", NAMES)
def test_exiftool_reads_the_value_and_sees_no_new_problem(
    name: str, exiftool: str, tmp_path: Path
) -> None:
    before, after = tmp_path / f"before-{name}", tmp_path / f"after-{name}"
    before.write_bytes(image(name))
    after.write_bytes(stamped(name))
    old, new = exiftool_read(exiftool, before), exiftool_read(exiftool, after)
    assert new["XMP-plus:DataMining"] == URI
    assert problems(new) <= problems(old), new
    if old.get("ExifTool:Validate") == "OK":
        assert new["ExifTool:Validate"] == "OK"
    for key, value in old.items():  # every property read before is still there, unchanged
        if key.startswith(("XMP-", "IFD0:", "ExifIFD:")) and key != "XMP-plus:DataMining":
            assert new.get(key) == value, key


def test_exiftool_sees_existing_properties_kept(exiftool: str, tmp_path: Path) -> None:
    path = tmp_path / "xmp.jpg"
    path.write_bytes(stamped("jpeg-allowed"))
    record = exiftool_read(exiftool, path)
    assert record["XMP-plus:DataMining"] == URI
    assert record["XMP-dc:Creator"] == "Ada Example"
    assert record["XMP-xmp:CreatorTool"] == "Test Studio 3"
    assert record["XMP-photoshop:Credit"] == "Ada Example"
