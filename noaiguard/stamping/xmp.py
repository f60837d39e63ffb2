"""XMP packets: build one that says ``plus:DataMining``, read the value, merge it into another.

Existing packets are parsed only to read them (``xml.etree``, after refusing any DOCTYPE or ENTITY
declaration, so no entity expansion or external entity can happen) and are edited as bytes: every
other byte of the owner's packet stays as it was. An edit is checked by parsing the result again:
the tree must have the same elements (names, attributes and text) plus ours, and every DataMining
value must be the new one.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from xml.sax.saxutils import escape

from .plan import AlreadyStamped, Skip
from .vocabulary import DATA_MINING_NAMESPACE, short_value

RDF_NAMESPACE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"

_DATA_MINING = f"{{{DATA_MINING_NAMESPACE}}}DataMining"
_RDF = f"{{{RDF_NAMESPACE}}}RDF"
_RDF_RESOURCE = f"{{{RDF_NAMESPACE}}}resource"
_RDF_ABOUT = f"{{{RDF_NAMESPACE}}}about"

_UNSAFE = re.compile(r"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_RDF_CLOSE = re.compile(rb"</(?:([A-Za-z_][\w.\-]*):)?RDF\s*>")
_PLUS_PREFIX = re.compile(
    rb"xmlns:([A-Za-z_][\w.\-]*)\s*=\s*([\"'])" + re.escape(DATA_MINING_NAMESPACE.encode()) + rb"\2"
)
_PACKET_END = b"<?xpacket end"
_PADDING = b" \t\r\n"


def build_packet(uri: str) -> bytes:
    """A complete packet holding only ``plus:DataMining``, wrapped as XMP Part 1, 7.3 says."""
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        f'<rdf:RDF xmlns:rdf="{RDF_NAMESPACE}">'
        f"{_description(uri, rdf_declared=True)}"
        "</rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    ).encode()


def read_value(packet: bytes) -> str | None:
    """The first ``plus:DataMining`` value in ``packet``, or None (also for unreadable XML)."""
    try:
        values = _values(_parse(packet))
    except (Skip, SyntaxError, ValueError, RecursionError):  # ET.ParseError is a SyntaxError
        return None
    return values[0] if values else None


def merge(packet: bytes, uri: str) -> tuple[bytes, str]:
    """``packet`` saying ``uri``, and a note for the result ("replaced DMI-ALLOWED" or "").

    Raises AlreadyStamped when every DataMining value already is ``uri``, Skip when the packet
    is unsafe, unreadable or cannot be edited without risk.
    """
    try:
        packet.decode("utf-8")
    except UnicodeDecodeError:
        raise Skip("existing XMP packet is not UTF-8") from None
    tree = _parse(packet)
    values = _values(tree)
    if values and all(value == uri for value in values):
        raise AlreadyStamped
    expected = _others(tree)
    if values:
        old = next(value for value in values if value != uri)
        edited, note = _replace(packet, uri), f"replaced {short_value(old)}"
    else:
        edited, note = _insert(packet, uri, tree), ""
        expected[_OUR_DESCRIPTION] += 1
    edited = _keep_size(packet, edited)
    _check(edited, uri, expected)
    return edited, note


def _parse(packet: bytes) -> ET.Element:
    # The declarations are looked for in the packet read as UTF-8, as XMP in JPEG, PNG and WebP
    # is written (stamping refuses anything else, reading replaces what does not decode). A NUL
    # is refused: XML has none, and expat reads a packet starting with one as UTF-16 by itself,
    # where `<!DOCTYPE` is not what the check sees (it then expanded the packet's entities).
    # Some writers end iTXt text with NUL bytes.
    text = packet.rstrip(b"\x00").decode("utf-8", errors="replace")
    if "\x00" in text:
        raise Skip("XMP packet is not UTF-8 text (it holds NUL characters)")
    if _UNSAFE.search(text):
        raise Skip("XMP packet has a DOCTYPE or ENTITY declaration")
    try:
        # Safe without defusedxml: with no DTD there are no entities to expand or fetch.
        return ET.fromstring(text)  # noqa: S314 - DTDs refused above
    except (SyntaxError, ValueError, RecursionError) as exc:
        raise Skip(f"existing XMP packet is not well-formed XML ({exc})") from None


def _values(tree: ET.Element) -> list[str]:
    """Every DataMining value: as an element (text or rdf:resource) or as an attribute."""
    values = []
    for element in tree.iter():
        if element.tag == _DATA_MINING:
            resource = element.get(_RDF_RESOURCE)
            values.append((resource if resource is not None else element.text or "").strip())
        attribute = element.get(_DATA_MINING)
        if attribute is not None:
            values.append(attribute.strip())
    return values


_Element = tuple[str, tuple[tuple[str, str], ...], str]
#: How the rdf:Description that _insert adds reads in _others.
_OUR_DESCRIPTION: _Element = (f"{{{RDF_NAMESPACE}}}Description", ((_RDF_ABOUT, ""),), "")


def _others(tree: ET.Element) -> Counter[_Element]:
    """Every element but DataMining: its name, its attributes but DataMining, and its text.

    An edit must leave these as they were: the regular expressions that make it go by prefix,
    and a prefix may name another namespace in another element.
    """
    return Counter(
        (
            element.tag,
            tuple(sorted((k, v) for k, v in element.attrib.items() if k != _DATA_MINING)),
            (element.text or "").strip(),
        )
        for element in tree.iter()
        if element.tag != _DATA_MINING
    )


def _description(uri: str, *, rdf_declared: bool) -> str:
    """Our rdf:Description; it binds ``plus`` itself (and ``rdf`` when the packet does not)."""
    rdf = "" if rdf_declared else f' xmlns:rdf="{RDF_NAMESPACE}"'
    return (
        f'<rdf:Description{rdf} rdf:about="" xmlns:plus="{DATA_MINING_NAMESPACE}">'
        f"<plus:DataMining>{escape(uri)}</plus:DataMining>"
        "</rdf:Description>"
    )


def _insert(packet: bytes, uri: str, tree: ET.Element) -> bytes:
    """A new rdf:Description just before ``</rdf:RDF>``: valid RDF, nothing else moves."""
    if next(tree.iter(_RDF), None) is None:
        raise Skip("existing XMP packet has no rdf:RDF element")
    closings = list(_RDF_CLOSE.finditer(packet))
    if not closings:
        raise Skip("existing XMP packet has no </rdf:RDF> to add to")
    closing = closings[-1]  # the last one closes the RDF element
    description = _description(uri, rdf_declared=closing.group(1) == b"rdf").encode()
    at = closing.start()
    return packet[:at] + description + packet[at:]


def _replace(packet: bytes, uri: str) -> bytes:
    """Every DataMining value written with a prefix bound to the PLUS namespace, now ``uri``."""
    for prefix in {m.group(1) for m in _PLUS_PREFIX.finditer(packet)}:
        packet = _replace_prefixed(packet, prefix, uri)
    return packet


def _replace_prefixed(packet: bytes, prefix: bytes, uri: str) -> bytes:
    name = prefix + b":DataMining"
    pattern = re.escape(name)
    text = escape(uri).encode("utf-8")
    element = b"<" + name + b">" + text + b"</" + name + b">"
    quoted = b'"' + escape(uri, {'"': "&quot;"}).encode("utf-8") + b'"'
    # <plus:DataMining rdf:resource="..."/> becomes the text form the standard asks for
    empty = re.compile(rb"<" + pattern + rb"(?:\s[^>]*)?/>")
    packet = empty.sub(lambda _: element, packet)
    full = re.compile(rb"(<" + pattern + rb"(?:\s[^>]*)?(?<!/)>).*?(</" + pattern + rb"\s*>)", re.S)
    packet = full.sub(lambda m: m.group(1) + text + m.group(2), packet)
    attribute = re.compile(rb"(?<=\s)(" + pattern + rb"\s*=\s*)([\"']).*?\2", re.S)
    return attribute.sub(lambda m: m.group(1) + quoted, packet)


def _keep_size(old: bytes, new: bytes) -> bytes:
    """Take from (or give to) the packet's trailing padding so its size stays the same.

    XMP writers pad packets with whitespace before ``<?xpacket end`` precisely so that others can
    edit in place; using it keeps segment, chunk and file sizes unchanged when it is big enough.
    """
    end = new.rfind(_PACKET_END)
    if end < 0:
        return new
    padding = len(new[:end]) - len(new[:end].rstrip(_PADDING))
    grown = len(new) - len(old)
    if 0 < grown <= padding:
        return new[: end - grown] + new[end:]
    if grown < 0 and padding > 0:
        return new[:end] + b" " * -grown + new[end:]
    return new


def _check(edited: bytes, uri: str, expected: Counter[_Element]) -> None:
    try:
        tree = _parse(edited)
    except Skip:
        tree = None
    values = _values(tree) if tree is not None else []
    if (
        tree is None
        or not values
        or any(value != uri for value in values)
        or _others(tree) != expected
    ):
        raise Skip("could not safely edit plus:DataMining in the existing XMP packet")
