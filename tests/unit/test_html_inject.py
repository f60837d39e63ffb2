"""The streaming <head> injector: one tag in the right place, whatever the chunk boundaries."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from noaiguard.signals.html import HeadEndMemory, HeadInjector, meta_tag, usual_head_end

OURS = ("noai", "noimageai")
TAG = meta_tag(OURS)
ROBOTS_META = re.compile(rb"<meta[^>]*name\s*=\s*[\"']?robots[\"']?[^>]*>", re.IGNORECASE)


def inject(page: bytes, chunks: list[int] | None = None, lookahead: int = 16384) -> bytes:
    injector = HeadInjector(OURS, lookahead)
    out = bytearray()
    if chunks is None:
        out += injector.feed(page)
    else:
        pos = 0
        for size in chunks:
            out += injector.feed(page[pos : pos + size])
            pos += size
        out += injector.feed(page[pos:])
    out += injector.finish()
    assert injector.done
    assert len(out) - len(page) == injector.delta
    return bytes(out)


# -- examples -------------------------------------------------------------------------------


def test_inserted_right_after_head() -> None:
    page = b"<!doctype html><html><head><title>x</title></head><body>hi</body></html>"
    assert inject(page) == page.replace(b"<head>", b"<head>" + TAG)


def test_head_with_attributes_and_odd_case() -> None:
    page = b'<HTML><HEAD profile="a>b" data-x=1>\n<TITLE>t</TITLE></HEAD><BODY></BODY>'
    assert inject(page) == page.replace(b"data-x=1>", b"data-x=1>" + TAG)


def test_header_element_is_not_head() -> None:
    page = b"<!doctype html><html><header>menu</header><p>x</p></html>"
    assert inject(page) == page.replace(b"<html>", b"<html>" + TAG)


def test_without_head_after_html() -> None:
    page = b'<html lang="en"><title>t</title><p>x'
    assert inject(page) == page.replace(b'<html lang="en">', b'<html lang="en">' + TAG)


def test_the_end_of_the_html_element_places_the_tag_after_the_first_html() -> None:
    # A browser closes head and body at `</html>`: a tag after a second `<html>` would fall
    # into the body and drag what follows (here a comment of the document) in with it.
    for end in (b"</html>", b"</body>"):
        page = b"<html>" + end + b"<html><!--c--> text"
        assert inject(page) == page.replace(b"<html>", b"<html>" + TAG, 1)


def test_doctype_only_document_gets_the_tag_before_its_first_element() -> None:
    page = b"<!DOCTYPE html>\n<meta charset=utf-8>\n<title>t</title>\n<p>text"
    assert inject(page) == page.replace(b"<meta charset", TAG + b"<meta charset")


def test_fragments_are_left_alone() -> None:
    for page in (b'<div class="row">partial</div>', b"just text", b"", b"<p>a</p><head>"):
        assert inject(page) == page


def test_markup_inside_comments_and_raw_text_is_ignored() -> None:
    page = (
        b"<!doctype html><!-- <head> in a comment --><html><head>"
        b'<script>document.write("<meta name=robots content=noindex>")</script>'
        b"<style>a::after{content:'</head><body>'}</style>"
        b"<title><meta name=robots></title></head><body></body>"
    )
    assert inject(page) == page.replace(b"<html><head>", b"<html><head>" + TAG)


def test_an_existing_robots_meta_is_merged_not_duplicated() -> None:
    page = b'<html><head><meta name="robots" content="index, follow"><title>t</title></head>'
    expected = page.replace(b"index, follow", b"index, follow, noai, noimageai")
    assert inject(page) == expected


@pytest.mark.parametrize(
    ("meta", "merged"),
    [
        (
            b"<meta name=robots content=noindex>",
            b'<meta name=robots content="noindex, noai, noimageai">',
        ),
        (
            b"<meta content='noai' NAME='ROBOTS'/>",
            b"<meta content='noai, noimageai' NAME='ROBOTS'/>",
        ),
        (
            b'<meta name="robots" content="noai,noimageai">',
            b'<meta name="robots" content="noai,noimageai">',
        ),
        (b'<meta name="robots">', b'<meta name="robots" content="noai, noimageai">'),
        (b'<meta name="robots" content="">', b'<meta name="robots" content="noai, noimageai">'),
    ],
)
def test_merging_keeps_the_tag_as_written(meta: bytes, merged: bytes) -> None:
    page = b"<html><head>" + meta + b"</head>"
    assert inject(page) == b"<html><head>" + merged + b"</head>"


def test_a_robots_meta_after_the_head_is_not_looked_for() -> None:
    page = b'<html><head><title>t</title></head><body><meta name="robots" content="x">'
    assert inject(page) == page.replace(b"<head>", b"<head>" + TAG)


def test_look_ahead_is_bounded() -> None:
    page = b"<!doctype html><html>" + b"<!-- " + b"x" * 50_000 + b" -->" + b"<head></head>"
    injector = HeadInjector(OURS, max_lookahead=1024)
    sent = bytearray()
    held_max = 0
    for start in range(0, len(page), 100):
        sent += injector.feed(page[start : start + 100])
        held_max = max(held_max, start + 100 - len(sent))
    sent += injector.finish()
    assert held_max <= 1024 + 100
    # Beyond the look-ahead, the tag goes after <html>, the last anchor seen.
    assert bytes(sent) == page.replace(b"<html>", b"<html>" + TAG)


def test_nothing_beyond_the_look_ahead_is_read() -> None:
    # A robots meta that starts past the window is not merged, whole or in chunks alike.
    padding = b'<link rel="preload" href="/a.css">' * 40
    page = b"<!doctype html><html><head>" + padding + b'<meta name="robots" content="index">'
    assert len(page) > 1024 + 40
    expected = page.replace(b"<head>", b"<head>" + TAG)
    assert inject(page, lookahead=1024) == expected
    assert inject(page, [7] * 200, lookahead=1024) == expected
    # Within the window it is merged.
    assert TAG not in inject(page, lookahead=4096)


def test_the_fast_path_answers_only_when_it_can_be_sure() -> None:
    page = b"<!doctype html><html><head><title>t</title></head><body>" + b"x" * 100
    offset = usual_head_end(page, 16384, complete=True)
    assert offset == page.index(b"<title>")
    # The head visibly ends: no need for the rest of the window.
    assert usual_head_end(page[:60], 16384, complete=False) == offset
    # It does not end yet: more may follow in the window, unless the window is already full.
    assert usual_head_end(page[:40], 16384, complete=False) is None
    assert usual_head_end(page[:40], 40, complete=False) == offset
    robots = page.replace(b"<title>", b'<meta name="ROBOTS"><title>')
    assert usual_head_end(robots, 16384, True) is None
    assert usual_head_end(b"<div>fragment</div>", 16384, complete=True) is None


@pytest.mark.parametrize(
    "head",
    [
        b"<script>var end = '</head>';</script><meta name=robots content=noindex>",
        b"<!-- </head> --><meta name=robots content=noindex>",
        b"<!--a></head> --><meta name=robots content=noindex>",
        b"<title>a </head> b</titles></title><meta name=robots content=noindex>",
        b"<meta content='</head>'><meta name=robots content=noindex>",
        b"<STYLE>p::after{content:'</head>'}</STYLE><meta name=robots content=noindex>",
    ],
)
def test_a_head_end_inside_raw_text_comment_or_tag_is_not_taken_for_the_end(head: bytes) -> None:
    page = b"<html><head>" + head + b"</head><body>x</body></html>"
    assert usual_head_end(page, 16384, complete=False) is None
    out = inject(page)
    assert TAG not in out and out.count(b"robots") == 1 and b"noai" in out


def test_after_the_decision_chunks_pass_through_unchanged() -> None:
    injector = HeadInjector(OURS)
    first = injector.feed(b"<html><head><title>t</title></head><body>")
    assert first.startswith(b"<html><head>" + TAG) and injector.done
    chunk = b"<body>" * 1000
    assert injector.feed(chunk) is chunk
    assert injector.finish() == b""


# -- properties -------------------------------------------------------------------------------

attribute = st.sampled_from(
    [b"", b' lang="en"', b" data-a='x>y'", b" class=page", b' id="h" data-b="<head>"']
)
head_item = st.sampled_from(
    [
        b"<title>Gallery &amp; <b>prints</b></title>",
        b'<meta charset="utf-8">',
        b'<link rel="stylesheet" href="/s.css">',
        b"<script>if (a < b) document.write('<head><meta name=robots>');</script>",
        b"<style>p>a{color:red}</style>",
        b"<!-- <meta name='robots' content='noindex'> -->",
        b'<meta name="viewport" content="width=device-width">',
        b"\n  ",
        b"<script>var end = '</head>';</script>",
        b"<!-- </head> -->",
    ]
)
body_text = st.binary(max_size=200).map(lambda b: b.replace(b"<", b"&lt;"))
body_item = st.one_of(
    body_text,
    st.sampled_from([b"<p>para</p>", b"<img src=a.png alt='<head>'>", b"<header>h</header>"]),
)


@st.composite
def documents(draw: st.DrawFn) -> tuple[bytes, bool]:
    """A page without a robots meta, and whether it is a whole document (so the tag goes in)."""
    doctype = draw(st.sampled_from([b"", b"<!DOCTYPE html>\n", b"<!doctype html>"]))
    html = draw(st.booleans())
    head = draw(st.booleans())
    parts = [doctype]
    if html:
        parts.append(b"<html" + draw(attribute) + b">")
    if head:
        parts.append(b"<head" + draw(attribute) + b">")
    parts += draw(st.lists(head_item, max_size=6))
    if head:
        parts.append(b"</head>")
    parts.append(b"<body>")
    parts += draw(st.lists(body_item, max_size=8))
    parts.append(b"</body></html>" if html else b"")
    document = bool(doctype or html or head)
    return b"".join(parts), document


@st.composite
def splits(draw: st.DrawFn, total: int) -> list[int]:
    return draw(st.lists(st.integers(min_value=0, max_value=max(total, 1)), max_size=12))


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_page_unchanged_apart_from_the_one_tag(data: st.DataObject) -> None:
    page, document = data.draw(documents())
    whole = inject(page)
    chunked = inject(page, data.draw(splits(len(page))))
    assert chunked == whole
    if document:
        assert whole.count(TAG) == 1
        assert whole.replace(TAG, b"", 1) == page
    else:
        assert whole == page


@st.composite
def pages_with_robots_meta(draw: st.DrawFn) -> bytes:
    quote = draw(st.sampled_from([b'"', b"'", b""]))
    content = draw(st.sampled_from([b"index", b"noindex, nofollow", b"NOAI", b"noimageai"]))
    content_value = quote + content + quote if quote else content.replace(b" ", b"")
    meta = b"<meta name=" + quote + b"robots" + quote + b" content=" + content_value + b">"
    before = draw(st.lists(head_item, max_size=3))
    after = draw(st.lists(head_item, max_size=3))
    return b"<html><head>" + b"".join(before) + meta + b"".join(after) + b"</head><body>x</body>"


@settings(max_examples=300)
@given(st.data())
def test_existing_robots_meta_is_merged_whatever_the_chunks(data: st.DataObject) -> None:
    page = data.draw(pages_with_robots_meta())
    whole = inject(page)
    assert inject(page, data.draw(splits(len(page)))) == whole
    markup = re.sub(rb"<(script|title)>.*?</\1>|<!--.*?-->", b"", whole, flags=re.DOTALL)
    real_metas = ROBOTS_META.findall(markup)
    assert len(real_metas) == 1
    lowered = real_metas[0].lower()
    assert b"noai" in lowered and b"noimageai" in lowered
    assert TAG not in whole


@settings(max_examples=400)
@given(st.one_of(documents().map(lambda d: d[0]), pages_with_robots_meta()), st.data())
def test_the_fast_path_places_the_tag_where_the_scan_does(page: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(min_value=0, max_value=len(page)))
    offset = usual_head_end(page[:cut], 16384, complete=cut == len(page))
    if offset is not None:
        scanned = inject(page, chunks=[1])  # a first byte alone: the scan decides
        assert scanned == page[:offset] + TAG + page[offset:]


@settings(max_examples=200)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["/", "/a", "/b"]),
            st.one_of(documents().map(lambda d: d[0]), pages_with_robots_meta()),
            st.booleans(),
        ),
        max_size=12,
    )
)
def test_the_memory_answers_as_the_fast_path_does(visits: list[tuple[str, bytes, bool]]) -> None:
    memory = HeadEndMemory(16384, size=2)
    for path, page, complete in visits:
        assert memory.find(path, page, complete) == usual_head_end(page, 16384, complete)


def test_the_memory_is_bounded_and_follows_a_page_that_changes() -> None:
    memory = HeadEndMemory(16384, size=2, max_head=100)
    page = b"<html><head><title>t</title></head><body>x</body></html>"
    offset = page.index(b"<title>")
    assert memory.find("/", page, True) == offset
    assert memory.find("/", page + b"more", False) == offset  # the same head: remembered
    changed = page.replace(b"<title>", b'<meta name="robots" content="noindex"><title>')
    assert memory.find("/", changed, True) is None
    for path in ("/1", "/2", "/3"):
        memory.find(path, page, True)
    assert len(memory._known) == 2
    long_head = page.replace(b"<title>t", b"<title>" + b"t" * 200)
    memory.find("/long", long_head, True)
    assert "/long" not in memory._known


@settings(max_examples=300)
@given(st.binary(max_size=3000), st.data())
def test_arbitrary_bytes_never_break_it(page: bytes, data: st.DataObject) -> None:
    whole = inject(page, lookahead=512)
    assert inject(page, data.draw(splits(len(page))), lookahead=512) == whole
    assert whole.replace(TAG, b"", 1) == page or ROBOTS_META.search(page)
