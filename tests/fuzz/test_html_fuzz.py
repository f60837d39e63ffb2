"""Fuzzing the streaming <head> injector with markup soup cut into arbitrary chunks.

Pages are built from the pieces the scanner cares about (doctypes, head and body tags, robots and
other metas, comments, raw-text elements, stray quotes and brackets), so most examples reach deep
into its state machine; the page tags include the other metas (``tdm-reservation``, ``pinterest``)
that tests/unit/test_html_inject.py leaves out. Python's own HTML tokenizer is the independent
reader: it must see the page's markup unchanged apart from our tags.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

import html5lib
from hypothesis import example, given
from hypothesis import strategies as st

from noaiguard.signals.html import HeadInjector, HeadTags

from .budget import fuzz

DIRECTIVES = ("noai", "noimageai")
OTHERS = (("tdm-reservation", "1"), ("pinterest", "nopin"))
#: The meta names the injector adds or merges into (lower case).
NAMES = (b"robots", b"tdm-reservation", b"pinterest")
WHITESPACE = "\t\n\f\r "  # HTML's

PIECES = [
    b"<!doctype html>",
    b"<!DOCTYPE html>\n",
    b"<html>",
    b'<html lang="en">',
    b"<HTML>",
    b"</html>",
    b"<head>",
    b"<HEAD data-x='a>b'>",
    b"<head >",
    b"</head>",
    b"</HEAD >",
    b"<body>",
    b"</body>",
    b"<p>text</p>",
    b"<div class=x>",
    b"<header>",
    b"<meta charset=utf-8>",
    b'<meta name="robots" content="index, follow">',
    b"<meta name=ROBOTS content=noai>",
    b"<meta name='robots' content='NOIMAGEAI, noai'/>",
    b'<meta name="robots">',
    b'<meta content="x" name="robots">',
    b"<meta name=robots content=>",
    b'<meta name="tdm-reservation" content="0">',
    b'<meta name="pinterest" content="nopin">',
    b'<meta name="viewport" content="width=device-width">',
    b"<title>",
    b"</title>",
    b"<script>",
    b"<script src=a.js></script>",
    b"</script>",
    b"<style>",
    b"</style >",
    b"<textarea>",
    b"</textarea>",
    b"<template>",
    b"<noscript>",
    b"<base href=/>",
    b"<link rel=icon href=/i.png>",
    b"<head",
    b"<meta",
    b"<html",
    b" a=x",
    b' a=x"y',
    b" b='",
    b' c="',
    b" =",
    b" content=",
    b" name=robots",
    b"/>",
    b"<!--",
    b"-->",
    b"<!-- <head> -->",
    b"<?xml version='1.0'?>",
    b"<!",
    b"<",
    b"</",
    b">",
    b'"',
    b"'",
    b"=",
    b" ",
    b"\n",
    b"\t",
    b"&amp;",
    b"robots",
    b"\x00",
    b"\xff\xfe",
    b"caf\xc3\xa9",
]

piece = st.one_of(st.sampled_from(PIECES), st.binary(max_size=12))
pages = st.lists(piece, max_size=40).map(b"".join)


@st.composite
def chunkings(draw: st.DrawFn, page: bytes) -> list[bytes]:
    """``page`` cut at arbitrary places (empty chunks included)."""
    cuts = sorted(draw(st.lists(st.integers(0, len(page)), max_size=10)))
    edges = [0, *cuts, len(page)]
    return [page[a:b] for a, b in itertools.pairwise(edges)]


def run(tags: HeadTags, chunks: list[bytes], lookahead: int) -> tuple[bytes, int]:
    """Feed ``chunks``, then finish; return the page sent and the injector's delta."""
    injector = HeadInjector(tags, lookahead)
    out = [injector.feed(chunk) for chunk in chunks]
    out.append(injector.finish())
    assert injector.done
    return b"".join(out), injector.delta


def insertion_point(page: bytes, out: bytes, block: bytes) -> int | None:
    """Where ``out`` is ``page`` with ``block`` inserted, or None when it is not."""
    if len(out) != len(page) + len(block):
        return None
    first_difference = next(
        (i for i, (a, b) in enumerate(zip(page, out, strict=False)) if a != b), len(page)
    )
    for at in range(max(0, first_difference - len(block)), first_difference + 1):
        if out[:at] + out[at + len(block) :] == page and out[at : at + len(block)] == block:
            return at
    return None


def mentions_a_name(page: bytes) -> bool:
    lowered = page.lower()
    return any(name in lowered for name in NAMES)


@fuzz(600)
@given(
    page=pages,
    lookahead=st.sampled_from([64, 256, 1024, 16384]),
    others=st.booleans(),
    data=st.data(),
)
@example(page=b"<html><head>", lookahead=256, others=True, data=None)
@example(
    page=b"<!doctype html><!--<!doctype html><html>-->", lookahead=256, others=False, data=None
)
@example(
    page=b"<!doctype html><head b='<!doctype html><!doctype html>" + b"x" * 40,
    lookahead=64,
    others=False,
    data=None,
)
def test_chunks_never_change_the_answer_and_only_the_tags_are_added(
    page: bytes, lookahead: int, others: bool, data: st.DataObject | None
) -> None:
    chunks = data.draw(chunkings(page)) if data is not None else [page[:-8], page[-8:]]
    check_chunks(page, chunks, lookahead, others)


def check_chunks(page: bytes, chunks: list[bytes], lookahead: int, others: bool) -> None:
    """The page whole and in ``chunks`` comes out the same, longer by the delta, and unchanged
    or (with no meta to merge into) with the whole block at one place."""
    tags = HeadTags(DIRECTIVES, OTHERS if others else ())
    whole, delta = run(tags, [page], lookahead)
    assert len(whole) == len(page) + delta
    assert run(tags, chunks, lookahead) == (whole, delta)
    if delta == 0:
        assert whole == page
    elif not mentions_a_name(page):
        assert insertion_point(page, whole, tags.block) is not None, (page, whole)


@fuzz(500)
@given(page=pages, others=st.booleans(), data=st.data())
@example(page=b'<html><head a=x"y><meta content="q><title>t</title>', others=False, data=None)
@example(page=b'<html><head><meta name=robots content=a"b>', others=False, data=None)
@example(page=b"<!doctype html></<body>", others=False, data=None)
@example(page=b"<!doctype html><meta name=robots content=>", others=False, data=None)
@example(page=b'<!doctype html><html lang=="en#><p>x', others=False, data=None)
@example(  # `= conte` after a quoted value is an attribute named `=`, not the tag's end
    page=b"""<h=' c=" = <HTML></html><head><HEAD data-x='a>b'><h=' c=" = conte \n\xff""",
    others=False,
    data=None,
)
@example(  # `</html>` before any anchor: the page is over for a browser, leave it alone
    page=b"  versi- = content= name=robHTML></html><html><!DOCTYPE ht+\x00AD ots/><!---->",
    others=False,
    data=None,
)
@example(  # `</html>` after `<html>`: ours before it, not after a second `<html>` (atheris)
    page=b"x<html></html .a=b><HTML></\xa4tml>< dat`a-x='b'>",
    others=False,
    data=None,
)
@example(  # text in the head ends it: the robots meta after it is in the body
    page=b'<!doctype html><meta charset=utf-8> a=x<meta name="robots" content="index">',
    others=True,
    data=None,
)
def test_a_browser_reads_the_same_page_with_our_metas_in_its_head(
    page: bytes, others: bool, data: st.DataObject | None
) -> None:
    check_dom(page, data.draw(chunkings(page)) if data is not None else [page], others)


def check_dom(page: bytes, chunks: list[bytes], others: bool) -> None:
    """html5lib, which parses as the WHATWG specification (and so browsers) does, builds the same
    document from the page before and after, but for the metas we add or merge into: those are in
    the head, and its robots meta has our directives."""
    tags = HeadTags(DIRECTIVES, OTHERS if others else ())
    out, _ = run(tags, chunks, 16384)
    if out == page:
        return
    before, after = document(page), document(out)
    assert _without_our_metas(after) == _without_our_metas(before), (page, out)
    assert _comments(after) == _comments(before), (page, out)
    # Where a browser puts the page's own head elements, ours must be too. A page whose head
    # is empty for a browser (text before the head's end, like a PHP warning above the doctype,
    # starts the body at once) only has to have them somewhere.
    old_head = before.find("head")
    head = after.find("head") if old_head is not None and len(old_head) else after
    assert head is not None
    names = ("robots", *(name.decode() for name, _ in tags.others))
    found = {name: _metas(head, name) for name in names}
    assert any(set(DIRECTIVES) <= _directives(meta) for meta in found["robots"]), (page, out)
    assert all(found.values()), (page, out)
    body, old_body = after.find("body"), before.find("body")
    if body is not None and head is not after:  # nothing of ours went into the body
        for name in found:
            assert len(_metas(body, name)) == len(_metas(old_body, name) if old_body else [])


def document(page: bytes) -> ET.Element:
    parsed: ET.Element = html5lib.parse(
        page.decode("latin-1"), treebuilder="etree", namespaceHTMLElements=False
    )
    return parsed


def _metas(element: ET.Element, name: str) -> list[ET.Element]:
    return [
        meta for meta in element.iter("meta") if (meta.get("name") or "").strip().lower() == name
    ]


def _comments(tree: ET.Element) -> list[str]:
    return sorted(c.text or "" for c in tree.iter() if c.tag is ET.Comment)


def _directives(meta: ET.Element) -> set[str]:
    return {part.strip().lower() for part in (meta.get("content") or "").split(",")}


def _without_our_metas(element: ET.Element) -> tuple[object, ...]:
    """The tree as nested tuples, without the metas of the names we add or merge into (the text
    around one that is taken out runs together, as it would without it), and without comments,
    which go wherever the parser is (into a head it opened for our meta): see _comments."""
    content: list[object] = []

    def text(piece: str | None) -> None:
        if piece:
            if content and isinstance(content[-1], str):
                content[-1] += piece
            else:
                content.append(piece)

    text(element.text)
    for child in element:
        name = (child.get("name") or "").strip().lower().encode()
        if child.tag is not ET.Comment and not (child.tag == "meta" and name in NAMES):
            content.append(_without_our_metas(child))
        text(child.tail)
    # Whitespace between elements goes where the parser is (a head it opened for our meta).
    content = [c.strip(WHITESPACE) if isinstance(c, str) else c for c in content]
    return (element.tag, sorted(element.attrib.items()), [c for c in content if c != ""])
