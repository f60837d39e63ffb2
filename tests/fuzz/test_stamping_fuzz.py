"""Fuzzing the XMP writer: images are outside input, and so is the XMP packet an image carries.

tests/unit/test_stamping.py feeds random bytes and byte flips; here the damage is structural
(segments and chunks dropped, doubled, moved, resized; junk after the end) and the packets are
generated XMP, hostile XML included, embedded in the real Pillow images of those tests. Whatever
comes in, stamping leaves the file alone with a reason, or writes a file that Pillow decodes to
the same pixels, that says our value, that a second stamping leaves alone, and that a stream
cut into arbitrary chunks sends byte for byte.
"""

from __future__ import annotations

import io
import itertools
import xml.etree.ElementTree as ET
from collections import Counter

from hypothesis import example, given
from hypothesis import strategies as st
from PIL import Image

from noaiguard.stamping import (
    DATA_MINING_NAMESPACE,
    Outcome,
    StreamEdit,
    StreamPass,
    StreamStamper,
    image_kind,
    read_data_mining,
    stamp_bytes,
)
from noaiguard.stamping import xmp as xmp_module
from noaiguard.stamping.plan import AlreadyStamped, Skip
from tests.unit.test_stamping import (
    ALLOWED,
    NAMES,
    RDF,
    URI,
    XMP_SIGNATURE,
    image,
    jpeg_segments,
    jpeg_with_packet,
    parts,
    pixels,
    png_chunk,
    png_chunks,
    webp_chunks,
    webp_from,
)

from .budget import fuzz

# -- packets ---------------------------------------------------------------------------------

PREFIXES = st.sampled_from(["plus", "iptcplus", "p", "x_1"])
VALUES = st.sampled_from([URI, ALLOWED, "", " " + ALLOWED + " ", "DMI-PROHIBITED", "a &amp; b"])
PROPERTIES = st.sampled_from(
    [
        "<dc:format>image/jpeg</dc:format>",
        "<dc:creator><rdf:Seq><rdf:li>Ada</rdf:li></rdf:Seq></dc:creator>",
        "<!-- a comment -->",
        "<?pi data?>",
        "<dc:title><![CDATA[<b>x</b>]]></dc:title>",
        "<dc:rights xml:lang='en'>&lt;c&gt; &#169;</dc:rights>",
    ]
)


@st.composite
def data_mining(draw: st.DrawFn, prefix: str) -> tuple[str, str]:
    """(attribute text, element text) saying DataMining in one of the ways XMP allows."""
    value = draw(VALUES)
    form = draw(st.sampled_from(["element", "attribute", "resource", "none"]))
    if form == "attribute":
        return f' {prefix}:DataMining="{value}"', ""
    if form == "element":
        return "", f"<{prefix}:DataMining>{value}</{prefix}:DataMining>"
    if form == "resource":
        return "", f'<{prefix}:DataMining rdf:resource="{value}"/>'
    return "", ""


@st.composite
def packets(draw: st.DrawFn) -> bytes:
    """An XMP packet: wrapper, RDF, descriptions with properties, DataMining in any form."""
    descriptions = []
    for _ in range(draw(st.integers(0, 3))):
        prefix = draw(PREFIXES)
        attribute, element = draw(data_mining(prefix))
        namespace = f' xmlns:{prefix}="{DATA_MINING_NAMESPACE}"' if draw(st.booleans()) else ""
        inner = "".join(draw(st.lists(PROPERTIES, max_size=3))) + element
        descriptions.append(
            f'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"'
            f"{namespace}{attribute}>{inner}</rdf:Description>"
        )
    rdf = f'<rdf:RDF xmlns:rdf="{RDF}">' + "".join(descriptions) + "</rdf:RDF>"
    body = f'<x:xmpmeta xmlns:x="adobe:ns:meta/">{rdf}</x:xmpmeta>'
    if draw(st.booleans()):
        padding = " " * draw(st.sampled_from([0, 1, 40, 2000]))
        body = (
            '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
            + body
            + padding
            + '<?xpacket end="w"?>'
        )
    packet = body.encode()
    for position, junk in draw(st.lists(st.tuples(st.integers(0), JUNK), max_size=2)):
        at = position % (len(packet) + 1)
        packet = packet[:at] + junk + packet[at:]
    return packet


JUNK = st.sampled_from(
    [
        b"<",
        b">",
        b"&",
        b'"',
        b"]]>",
        b"<!DOCTYPE x>",
        b'<!ENTITY a "b">',
        b"\x00",
        b"\xff",
        b"\xc3",
        b"</rdf:RDF>",
        b"<rdf:RDF>",
        b"</x:xmpmeta>",
    ]
)


def elements(packet: bytes) -> Counter[tuple[str, tuple[tuple[str, str], ...], str]]:
    """Every element but DataMining: tag, attributes (DataMining's dropped), stripped text."""
    data_mining = f"{{{DATA_MINING_NAMESPACE}}}DataMining"
    tree = ET.fromstring(packet)  # our own output, checked DTD-free
    return Counter(
        (
            element.tag,
            tuple(sorted((k, v) for k, v in element.attrib.items() if k != data_mining)),
            (element.text or "").strip(),
        )
        for element in tree.iter()
        if element.tag != data_mining
    )


@fuzz(400)
@given(packet=packets())
@example(packet='<?xml version="1.0"?><!DOCTYPE x><x/>'.encode("utf-16-be"))
@example(  # `p` names the PLUS namespace in one element and another namespace in the next
    packet=(
        f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{RDF}">'
        f'<rdf:Description xmlns:p="{DATA_MINING_NAMESPACE}"><p:DataMining/></rdf:Description>'
        f'<rdf:Description xmlns:p="urn:other"><p:DataMining rdf:resource="{URI}"/>'
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()
)
def test_merge_keeps_every_other_element_and_says_our_value(packet: bytes) -> None:
    xmp_module.read_value(packet)  # never raises
    try:
        merged, note = xmp_module.merge(packet, URI)
    except (Skip, AlreadyStamped) as unchanged:
        reason = unchanged.reason
    else:
        reason = ""
    if reason:  # left alone, and it says why
        return
    assert xmp_module.read_value(merged) == URI
    assert b"<!DOCTYPE" not in merged.upper() and b"<!ENTITY" not in merged.upper()
    added = elements(merged) - elements(packet)
    assert added in (
        Counter(),
        Counter({(f"{{{RDF}}}Description", ((f"{{{RDF}}}about", ""),), ""): 1}),
    )
    assert not elements(packet) - elements(merged)  # nothing lost
    assert note == "" or note.startswith("replaced ")


def test_a_utf16_packet_declaring_entities_is_neither_read_nor_expanded() -> None:
    """Expat reads a packet starting `\\0<` as UTF-16, where `<!ENTITY` is not the bytes the
    declaration check looked for: its entities were expanded when it was read."""
    packet = (
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "AAAA">]>'
        f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{RDF}">'
        f'<rdf:Description xmlns:plus="{DATA_MINING_NAMESPACE}">'
        "<plus:DataMining>&a;</plus:DataMining></rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    for encoding in ("utf-16-be", "utf-16-le", "utf-16", "utf-8"):
        assert xmp_module.read_value(packet.encode(encoding)) is None
        result = stamp_bytes(jpeg_with_packet(packet.encode(encoding)), URI)
        assert result.outcome is Outcome.SKIPPED, encoding


# -- images with those packets -----------------------------------------------------------------


def with_packet(kind: str, packet: bytes) -> bytes:
    """A real image of ``kind`` carrying ``packet`` where XMP belongs."""
    if kind == "jpeg":
        return jpeg_with_packet(packet)
    if kind == "png":
        chunks = png_chunks(image("png"))
        body = b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + packet
        chunks.insert(1, (b"iTXt", body))
        return b"\x89PNG\r\n\x1a\n" + b"".join(png_chunk(k, b) for k, b in chunks)
    chunks = webp_chunks(image("webp-exif-icc"))
    vp8x = bytes([chunks[0][1][0] | 0x04]) + chunks[0][1][1:]
    return webp_from([(b"VP8X", vp8x), *chunks[1:], (b"XMP ", packet)])


def decoded(data: bytes) -> list[tuple[str, tuple[int, int], bytes]] | None:
    """The pixels Pillow reads, or None when it cannot read the file (however it fails, and
    without reading a canvas that damage made huge)."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            width, height = opened.size
            if width * height * getattr(opened, "n_frames", 1) > 4_000_000:
                return None
        return pixels(data)
    except Exception:  # Pillow's many ways of refusing a damaged file
        return None


def stream(data: bytes, cuts: list[int], max_hold: int) -> tuple[object, int]:
    """Feed ``data`` cut at ``cuts`` until the stamper decides; the decision and bytes fed."""
    stamper = StreamStamper(URI, max_hold=max_hold, total_size=len(data))
    edges = [0, *sorted(c % (len(data) + 1) for c in cuts), len(data)]
    for start, end in itertools.pairwise(edges):
        decision = stamper.feed(data[start:end])
        if decision is not None:
            return decision, end
    return stamper.finish(), len(data)


def packets_in(data: bytes) -> int:
    """How many XMP packets a file holds where readers look: its APP1 segments with the XMP
    signature before the first scan, its chunks up to IEND or the end (walked leniently, damaged
    files included)."""
    kind, count = image_kind(data), 0
    if kind == "jpeg":  # the segments before the first scan, where readers look
        position = 2
        while position + 4 <= len(data) and data[position] == 0xFF:
            marker = data[position + 1]
            if marker in (0xFF, 0x01):
                position += 1 if marker == 0xFF else 2
                continue
            if marker in (0xD8, 0xD9, 0xDA) or 0xD0 <= marker <= 0xD7:
                break
            end = position + 2 + int.from_bytes(data[position + 2 : position + 4], "big")
            count += marker == 0xE1 and data[position + 4 : end].startswith(XMP_SIGNATURE)
            position = end
    elif kind == "png":
        position = 8
        while position + 8 <= len(data) and data[position + 4 : position + 8] != b"IEND":
            size = int.from_bytes(data[position : position + 4], "big")
            count += data[position + 4 : position + 26] == b"iTXtXML:com.adobe.xmp\x00"
            position += 12 + size
    elif kind == "webp":
        position = 12
        while position + 8 <= len(data):
            size = int.from_bytes(data[position + 4 : position + 8], "little")
            count += data[position : position + 4] == b"XMP "
            position += 8 + size + (size & 1)
    return count


def packet_after_image_data(data: bytes) -> bool:
    """Whether a packet lies past the image data, where a stream does not look."""
    kind = image_kind(data)
    signature, image_data = {
        "jpeg": (XMP_SIGNATURE, b"\xff\xda"),
        "png": (b"iTXtXML:com.adobe.xmp\x00", b"IDAT"),
    }.get(kind or "", (b"XMP ", b"RIFF"))
    last = data.rfind(signature)
    return last >= 0 and last > data.find(image_data)


def check_stamped(original: bytes, cuts: list[int], max_hold: int = 262144) -> None:
    """The properties every file has, stamped or not."""
    result = stamp_bytes(original, URI)
    read_data_mining(original)
    if result.outcome is not Outcome.STAMPED:
        assert result.data is None
        assert result.reason or result.outcome is Outcome.ALREADY
    else:
        assert result.data is not None
        new = result.data
        assert image_kind(new) == image_kind(original)
        assert read_data_mining(new) == URI
        assert packets_in(new) <= 1  # never two packets that could disagree
        assert stamp_bytes(new, URI).outcome is Outcome.ALREADY
        before = decoded(original)
        if before is not None:
            assert decoded(new) == before
    decision, fed = stream(original, cuts, max_hold)
    # A packet after the image data is beyond what a stream holds (see stamping.stream): the
    # stream adds one of its own, the file then has two.
    unseen = packet_after_image_data(original)
    if isinstance(decision, StreamEdit):
        sent = decision.prefix + original[fed:] + decision.suffix
        assert len(sent) == len(original) + decision.size_delta
        before = decoded(original)
        if before is not None:  # a file that decodes still does, and says our value
            assert decoded(sent) == before
            assert read_data_mining(sent) == URI or unseen
        if result.data is not None and not unseen:
            assert sent == result.data


@fuzz(250)
@given(
    kind=st.sampled_from(["jpeg", "png", "webp"]),
    packet=packets(),
    cuts=st.lists(st.integers(0), max_size=6),
)
def test_images_carrying_any_packet(kind: str, packet: bytes, cuts: list[int]) -> None:
    check_stamped(with_packet(kind, packet), cuts)


# -- structural damage -------------------------------------------------------------------------


def pieces(data: bytes) -> tuple[bytes, list[bytes], bytes]:
    """(header, the raw bytes of each segment or chunk, tail) of an image."""
    kind = image_kind(data)
    if kind == "jpeg":
        raw, position = [], 2
        for marker, payload in jpeg_segments(data)[:-1]:
            end = position + 4 + len(payload)
            raw.append(data[position:end])
            assert marker == data[position + 1]
            position = end
        return data[:2], raw, data[position:]
    if kind == "png":
        raw, position = [], 8
        for _, body in png_chunks(data):
            raw.append(data[position : position + 12 + len(body)])
            position += 12 + len(body)
        return data[:8], raw, b""
    raw, position = [], 12
    for _, payload in webp_chunks(data):
        size = 8 + len(payload) + (len(payload) & 1)
        raw.append(data[position : position + size])
        position += size
    return data[:12], raw, b""


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    """A real image with segments or chunks dropped, doubled, swapped or resized, or junk after."""
    header, raw, tail = pieces(image(draw(st.sampled_from(NAMES))))
    for _ in range(draw(st.integers(1, 3))):
        if not raw:
            break
        index = draw(st.integers(0, len(raw) - 1))
        action = draw(st.sampled_from(["drop", "double", "swap", "resize", "truncate", "junk"]))
        if action == "drop":
            del raw[index]
        elif action == "double":
            raw.insert(index, raw[index])
        elif action == "swap":
            other = draw(st.integers(0, len(raw) - 1))
            raw[index], raw[other] = raw[other], raw[index]
        elif action == "resize":
            piece = bytearray(raw[index])
            field = slice(2, 4) if header[:2] == b"\xff\xd8" else slice(0, 4)
            if header[:4] == b"RIFF":
                field = slice(4, 8)
            width = field.stop - field.start
            piece[field] = draw(st.integers(0, 256**width - 1)).to_bytes(width, "big")
            raw[index] = bytes(piece)
        elif action == "truncate":
            raw[index] = raw[index][: draw(st.integers(0, len(raw[index])))]
        else:
            raw.insert(index, draw(st.binary(max_size=40)))
    data = header + b"".join(raw) + tail
    return data + draw(st.sampled_from([b"", b"\x00" * 3, b"trailing junk", b"\xff\xd9"]))


@fuzz(300)
@given(
    data=damaged(), cuts=st.lists(st.integers(0), max_size=6), hold=st.sampled_from([64, 262144])
)
def test_structurally_damaged_images(data: bytes, cuts: list[int], hold: int) -> None:
    check_stamped(data, cuts, hold)


def test_the_independent_readers_take_every_image_apart() -> None:
    for name in NAMES:
        header, raw, tail = pieces(image(name))
        assert header + b"".join(raw) + tail == image(name)
        assert len(parts(image(name))) >= len(raw)


def doubled(name: str, is_xmp: bytes) -> bytes:
    """Image ``name`` with the segment or chunk starting ``is_xmp`` written twice."""
    header, raw, tail = pieces(image(name))
    index = next(i for i, piece in enumerate(raw) if is_xmp in piece[:40])
    raw.insert(index, raw[index])
    return header + b"".join(raw) + tail


def test_regressions_found_by_fuzzing() -> None:
    # Two packets, the second saying DMI-ALLOWED: only the first was stamped, and readers that
    # take the last packet read the opposite of ours.
    for name, marker in (("jpeg-allowed", XMP_SIGNATURE), ("png-allowed", b"iTXtXML:com")):
        result = stamp_bytes(doubled(name, marker), URI)
        assert (result.outcome, result.reason) == (Outcome.SKIPPED, "more than one XMP packet")
    # A simple WebP with a stray VP8X at the end: a second VP8X went in front, and the stamped
    # file no longer decoded.
    header, raw, _ = pieces(image("webp-alpha"))
    stray = header + b"".join([raw[2], raw[1], raw[0]])  # VP8, ALPH, then the VP8X
    stray = stray[:4] + (len(stray) - 8).to_bytes(4, "little") + stray[8:]
    assert decoded(stray) is not None
    result = stamp_bytes(stray, URI)
    assert (result.outcome, result.reason) == (
        Outcome.SKIPPED,
        "corrupt WebP: a VP8X chunk after the first chunk",
    )
    decision, _ = stream(stray, [100], 262144)  # a stream cannot see that VP8X
    assert decision == StreamPass(
        "a simple WebP with chunks after its image data; stamped at rest only"
    )
