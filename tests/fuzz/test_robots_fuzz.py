"""Fuzzing the robots.txt merge: the site's own file is outside input, our groups must survive it.

Site files are built from records as people (and broken generators) write them: misspelt and
space-separated keys, tokens with versions and wildcards, rules before any group, other line ends,
junk and invalid UTF-8. Two real parsers read the merged file: Protego (RFC 9309, merges groups)
and Python's urllib.robotparser (first match). Neither may find a rule of the site's in one of our
groups, every line must be one every parser reads alike, and a well-formed site file keeps its
meaning for the crawlers it names.
"""

from __future__ import annotations

import urllib.robotparser
from collections.abc import Iterator

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st
from protego import Protego

from noaiguard import Guard, parse_config
from noaiguard.signals.robots import RobotsTxt, allows

from .budget import fuzz

#: Our groups allow the press kit, so an Allow or Disallow that leaks into them shows.
CONFIG = """
store: {url: "memory://"}
policy:
  rules:
    - {paths: ["/press/**"], action: allow}
"""
PATHS = ("/", "/press/kit.zip", "/private/a", "/gallery/b.png", "/all-originals/x")
#: Every record key the merged file may contain (RFC 9309, sitemaps, and the extensions kept).
KNOWN_KEYS = frozenset(
    {
        "user-agent",
        "allow",
        "disallow",
        "crawl-delay",
        "sitemap",
        "host",
        "content-usage",
        "content-signal",
        "request-rate",
        "visit-time",
        "clean-param",
    }
)
#: Site tokens that name nobody we know (and contain none of our tokens).
SITE_TOKENS = ("*", "MyCrawler", "Otherbot", "site-checker", "Linky")


@pytest.fixture(scope="module")
def robots() -> Iterator[RobotsTxt]:
    guard = Guard(parse_config(CONFIG))
    assert guard.robots is not None
    yield guard.robots
    guard.close()


# -- site files ------------------------------------------------------------------------------

KEYS = st.sampled_from(
    [
        "User-agent",
        "user-agent",
        "USER-AGENT",
        "User agent",
        "useragent",
        "User-agents",
        "Allow",
        "allow",
        "Allowed",
        "Disallow",
        "dissallow",
        "Crawl-delay",
        "Sitemap",
        "Host",
        "Content-Usage",
        "Request-rate",
        "Clean-param",
        "Noindex",
        "X",
        "",
    ]
)
SEPARATORS = st.sampled_from([":", ": ", " :", " ", "\t", "::", ""])
VALUES = st.sampled_from(
    [
        "GPTBot",
        "gptbot",
        "GPTBot*",
        "*GPTBot",
        "GPTBot/1.0",
        "GPTBot 1.0",
        "ClaudeBot",
        "CCBot",
        "Google-Extended",
        "Googlebot",
        "Diffbot-User",
        "*",
        "/",
        "/press/",
        "/private",
        "",
        "*",
        "/$",
        "https://example.org/sitemap.xml",
        "10",
    ]
)
LINE_ENDS = st.sampled_from(["\n", "\r\n", "\r", "\u2028", "\x85", "\x0b", "\x0c", "\x00\n"])
JUNK = st.sampled_from(["<html>", "# a comment", "#", "   ", "\ufeff", "\ufffd", "; x", ":"])


@st.composite
def site_lines(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.one_of(JUNK, st.text(max_size=20)))
    line = draw(KEYS) + draw(SEPARATORS) + draw(VALUES)
    if draw(st.booleans()):
        line += draw(st.sampled_from([" # note", "#", "  "]))
    return line


site_texts = st.lists(st.tuples(site_lines(), LINE_ENDS), max_size=30).map(
    lambda lines: "".join(line + end for line, end in lines)
)
site_bodies = st.one_of(
    site_texts.map(lambda text: text.encode("utf-8")),
    st.tuples(site_texts, st.binary(max_size=20), site_texts).map(
        lambda parts: parts[0].encode() + parts[1] + parts[2].encode()
    ),
    st.binary(max_size=300),
)


def readers(text: str) -> tuple[Protego, urllib.robotparser.RobotFileParser]:
    first_match = urllib.robotparser.RobotFileParser()
    first_match.parse(text.splitlines())
    return Protego.parse(text), first_match


def key_of(line: str) -> str | None:
    """The record key of a line (lower case), or None for a blank or comment line."""
    content = line.split("#", 1)[0].strip()
    if not content:
        return None
    return content.split(":", 1)[0].strip().lower() if ":" in content else content


# -- properties ------------------------------------------------------------------------------


@fuzz(300)
@given(body=site_bodies)
@example(body=b"Allow: /\nUser-agent: *\nDisallow: /private\n")  # a rule before any group
@example(body=b"User agent: GPTBot\nAllow: /\n")  # Protego reads "User agent" too
@example(body=b"User-agent: *\nUser-agent GPTBot\nAllow: /\n")  # so is a missing colon
@example(body=b"User-agent: GPTBot*\nAllow: /\n")  # Protego drops the wildcard
@example(body=b"# note\xe2\x80\xa8Allow: /\nUser-agent: *\nDisallow: /x\n")  # U+2028 in a comment
def test_no_site_line_reaches_our_groups(robots: RobotsTxt, body: bytes) -> None:
    text = robots.render(body).decode("utf-8")
    assert text.endswith("\n")
    lines = text.split("\n")[:-1]
    assert text.splitlines() == lines, "a line end other parsers split on"
    for line in lines:
        key = key_of(line)
        assert key is None or key in KNOWN_KEYS, line
    protego, first_match = readers(text)
    for group in robots.groups:
        for token in group.tokens:
            for path in PATHS:
                expected = allows(group.rules, path) and not path.startswith("/all-originals/")
                url = f"https://example.org{path}"
                assert protego.can_fetch(url, token) == expected, (token, path)
                assert first_match.can_fetch(token, url) == expected, (token, path)


@st.composite
def well_formed_sites(draw: st.DrawFn) -> str:
    """A site file as the RFC writes it: groups of User-agent lines then rules, and sitemaps."""
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        tokens = draw(st.lists(st.sampled_from(SITE_TOKENS), min_size=1, max_size=2, unique=True))
        parts += [f"User-agent: {token}" for token in tokens]
        for _ in range(draw(st.integers(1, 3))):
            directive = draw(st.sampled_from(["Allow", "Disallow"]))
            path = draw(st.sampled_from(["/", "/private", "/gallery/", "/press/", "/p*", "/a$"]))
            parts.append(f"{directive}: {path}")
        if draw(st.booleans()):
            parts.append("")
    if draw(st.booleans()):
        parts.append("Sitemap: https://example.org/sitemap.xml")
    return "\n".join(parts) + "\n"


@fuzz(200)
@given(site=well_formed_sites())
def test_the_site_keeps_its_rules_for_the_crawlers_it_names(robots: RobotsTxt, site: str) -> None:
    text = robots.render(site.encode()).decode()
    assume("User-agent" in site)
    before, after = Protego.parse(site), Protego.parse(text)
    for token in ("MyCrawler", "Otherbot", "site-checker", "Linky", "Unnamed"):
        for path in PATHS:
            if path.startswith("/all-originals/"):
                continue  # the trap is disallowed in every group
            url = f"https://example.org{path}"
            assert after.can_fetch(url, token) == before.can_fetch(url, token), (token, path)
    assert list(after.sitemaps) == list(before.sitemaps)


@fuzz(20)
@given(line=st.sampled_from(["Disallow: /x", "User-agent: *", "# c", "x" * 300]))
def test_a_huge_site_file_is_merged_in_bounded_time(robots: RobotsTxt, line: str) -> None:
    body = ((line + "\n") * (2 * 1024 * 1024 // (len(line) + 1))).encode()
    text = robots.render(body).decode()
    assert len(text.encode()) < 700 * 1024  # 500 KiB of the site's, some commented out


@pytest.mark.parametrize("name", ["GPTBot/1.2", "GPTBot 1.2", "gptbot*", "*GPTBot"])
def test_a_site_name_read_as_one_of_ours_is_taken_out(robots: RobotsTxt, name: str) -> None:
    """Google's parser reads `GPTBot/1.2` as GPTBot, Protego `gptbot*` and `*GPTBot`: the site's
    group for it would join ours (and a longer name wins in Protego for a full User-Agent)."""
    text = robots.render(f"User-agent: {name}\nAllow: /\n".encode()).decode()
    assert f"User-agent: {name}\n" not in text
    user_agent = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2)"
    assert not Protego.parse(text).can_fetch("https://example.org/gallery/b.png", user_agent)
