"""TaggedPages: the last tagged copy of each page, in bounded memory (signals.response)."""

from __future__ import annotations

from noaiguard.signals.response import TaggedPages


def test_a_page_is_kept_with_its_tagged_copy() -> None:
    pages = TaggedPages()
    pages.put("/", b"<head></head>", b"<head><meta></head>")
    assert pages.get("/") == (b"<head></head>", b"<head><meta></head>")
    assert pages.get("/other") is None


def test_a_new_version_replaces_the_old_one() -> None:
    pages = TaggedPages(max_bytes=100)
    pages.put("/", b"a" * 20, b"A" * 25)
    pages.put("/", b"b" * 20, b"B" * 25)
    assert pages.get("/") == (b"b" * 20, b"B" * 25)
    pages.put("/x", b"c" * 20, b"C" * 25)  # 45 + 45 <= 100: the old version no longer counts
    assert len(pages) == 2


def test_the_oldest_pages_are_forgotten_past_the_memory_bound() -> None:
    pages = TaggedPages(max_bytes=100)
    for n in range(5):
        pages.put(f"/{n}", b"p" * 20, b"t" * 25)  # 45 bytes each: two fit
    assert [path for path in ("/0", "/1", "/2", "/3", "/4") if pages.get(path)] == ["/3", "/4"]


def test_big_pages_are_not_kept() -> None:
    pages = TaggedPages(max_bytes=1000, max_page=100)
    pages.put("/big", b"x" * 101, b"y" * 120)
    pages.put("/small", b"x" * 100, b"y" * 120)
    assert pages.get("/big") is None and pages.get("/small") is not None
