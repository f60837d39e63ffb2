"""robots.txt: groups from the policy, merged with the site's own file, read alike by parsers."""

from __future__ import annotations

import urllib.robotparser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from protego import Protego

from noaiguard import Guard, load_config, parse_config
from noaiguard.signals.robots import MAX_APP_ROBOTS_BYTES, AppRobots
from tests.conftest import CONFIGS

from ..conftest import PREFERENCE_LINES

APP_ROBOTS = b"""\
# The site's own robots.txt
User-agent: *
Disallow: /drafts/
Allow: /drafts/public/

User-agent: GPTBot
User-agent: Googlebot
Disallow: /private/

User-agent: GPTBot
Allow: /

User-agent: Diffbot-User
Disallow: /search

Sitemap: https://example.org/sitemap.xml
"""

PATHS = [
    "/",
    "/gallery/a.png",
    "/drafts/x",
    "/drafts/public/y",
    "/private/z",
    "/search",
    "/press/kit.zip",
]


def robots_for(config_text: str = "", app: bytes | None = None) -> str:
    guard = Guard(parse_config(config_text))
    assert guard.robots is not None
    return guard.robots.render(app).decode()


def parsers(text: str) -> tuple[urllib.robotparser.RobotFileParser, Protego]:
    stdlib = urllib.robotparser.RobotFileParser()
    stdlib.parse(text.splitlines())
    return stdlib, Protego.parse(text)


def all_tokens(guard: Guard) -> list[str]:
    names = {t for agent in guard.agents for t in agent.robots}
    names |= {t.rstrip("/") for agent in guard.agents for t in agent.ua}
    return sorted(names, key=str.lower)


def test_every_blocked_ai_crawler_is_disallowed() -> None:
    text = robots_for()
    stdlib, protego = parsers(text)
    for token in (
        "GPTBot",
        "ClaudeBot",
        "CCBot",
        "Google-Extended",
        "Applebot-Extended",
        "Bytespider",
        "meta-externalagent",
        "PerplexityBot" if False else "cohere-ai",
    ):
        assert f"User-agent: {token}\n" in text
        assert not protego.can_fetch("https://example.org/gallery/a.png", token)
        assert not stdlib.can_fetch(token, "https://example.org/gallery/a.png")
    for token in ("Googlebot", "bingbot", "facebookexternalhit", "OAI-SearchBot", "Mozilla"):
        assert protego.can_fetch("https://example.org/gallery/a.png", token)
    assert text.rstrip().endswith(
        "User-agent: *\nAllow: /\nDisallow: /all-originals/\n" + PREFERENCE_LINES
    )


def test_the_site_file_is_kept_with_moved_tokens_taken_out() -> None:
    text = robots_for(app=APP_ROBOTS)
    assert "Sitemap: https://example.org/sitemap.xml" in text
    # Rules are kept, most specific first so that first-match parsers read them as RFC 9309 does.
    assert "User-agent: *\nAllow: /drafts/public/\nDisallow: /drafts/" in text
    # Googlebot keeps its group without GPTBot; the GPTBot-only group is gone with its Allow.
    assert (
        "# noaiguard: GPTBot has its own group above\nUser-agent: Googlebot\nDisallow: /private/"
        in text
    )
    assert "Allow: /\n\nUser-agent: Diffbot-User" not in text
    stdlib, protego = parsers(text)
    assert not protego.can_fetch("https://example.org/", "GPTBot")
    assert not protego.can_fetch("https://example.org/private/z", "Googlebot")
    assert protego.can_fetch("https://example.org/drafts/public/y", "bingbot")
    assert not stdlib.can_fetch("bingbot", "https://example.org/drafts/x")
    assert list(protego.sitemaps) == ["https://example.org/sitemap.xml"]


def test_a_name_containing_a_blocked_token_keeps_its_own_rules() -> None:
    # Diffbot-User contains Diffbot; first-match substring parsers need its group first.
    text = robots_for(app=APP_ROBOTS)
    assert text.index("User-agent: Diffbot-User") < text.index("User-agent: Diffbot\n")
    stdlib, protego = parsers(text)
    assert not protego.can_fetch("https://example.org/search", "Diffbot-User")
    assert not stdlib.can_fetch("Diffbot-User", "https://example.org/search")
    assert stdlib.can_fetch("Diffbot-User", "https://example.org/gallery/a.png")
    assert not stdlib.can_fetch("Diffbot", "https://example.org/gallery/a.png")


def test_generic_words_are_never_emitted() -> None:
    text = robots_for("policy:\n  categories:\n    ai-assistant: block\n")
    assert "User-agent: Spider\n" not in text
    assert "User-agent: Code\n" not in text
    assert "User-agent: Cursor\n" not in text
    stdlib, _ = parsers(text)
    assert stdlib.can_fetch("Baiduspider", "https://example.org/")


def test_path_rules_become_allow_lines() -> None:
    text = robots_for("policy:\n  rules:\n    - paths: ['/press/**']\n      action: allow\n")
    assert "Allow: /press/\nDisallow: /" in text
    stdlib, protego = parsers(text)
    assert protego.can_fetch("https://example.org/press/kit.zip", "GPTBot")
    assert stdlib.can_fetch("GPTBot", "https://example.org/press/kit.zip")
    assert not stdlib.can_fetch("GPTBot", "https://example.org/gallery/a.png")


def test_agents_the_policy_allows_get_no_group() -> None:
    text = robots_for("policy:\n  agents:\n    GPTBot: allow\n")
    assert "User-agent: GPTBot\n" not in text
    assert "User-agent: ClaudeBot\n" in text


def test_robots_txt_can_be_switched_off() -> None:
    assert Guard(parse_config("signals:\n  robots_txt:\n    enabled: false\n")).robots is None


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
@pytest.mark.parametrize("app", [None, APP_ROBOTS], ids=["alone", "merged"])
def test_protego_and_robotparser_agree_for_every_token(path: Path, app: bytes | None) -> None:
    guard = Guard(load_config(path))
    assert guard.robots is not None
    text = guard.robots.render(app).decode()
    stdlib, protego = parsers(text)
    disagreements = []
    for token in all_tokens(guard):
        for url_path in PATHS:
            url = f"https://example.org{url_path}"
            ours, theirs = stdlib.can_fetch(token, url), protego.can_fetch(url, token)
            if ours != theirs:
                disagreements.append((token, url_path, ours, theirs))
    assert disagreements == []


def test_the_version_is_the_sha256_of_the_body_served() -> None:
    from noaiguard.events import RobotsVersion

    assert RobotsVersion.version_of(b"abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # SHA-256("abc")
    )
    assert RobotsVersion.version_of(b"abc") != RobotsVersion.version_of(b"abd")


def test_a_huge_app_file_is_cut_at_500_kib_on_a_line_boundary() -> None:
    line = b"Disallow: /x" + b"y" * 100 + b"\n"
    body = b"User-agent: *\n" + line * (MAX_APP_ROBOTS_BYTES // len(line) + 50)
    text = robots_for(app=body)
    own = text.split("# The site's own rules:\n", 1)[1]
    kept = own.removesuffix(PREFERENCE_LINES + "\n")  # our lines, after the site's
    assert len(kept.encode()) <= MAX_APP_ROBOTS_BYTES
    trap = "Disallow: /all-originals/"
    assert all(
        row in ("User-agent: *", trap) or row == line.decode().strip() for row in kept.splitlines()
    )


def test_rendering_is_cached_per_app_body() -> None:
    guard = Guard()
    assert guard.robots is not None
    first = guard.robots.render(APP_ROBOTS)
    assert guard.robots.render(APP_ROBOTS) is first
    assert guard.robots.render(None) != first


DEFAULT_ROBOTS = Guard().robots


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_any_app_file_merges_into_a_file_both_parsers_read(body: bytes) -> None:
    assert DEFAULT_ROBOTS is not None
    text = DEFAULT_ROBOTS.render(body).decode("utf-8")
    stdlib, protego = parsers(text)
    assert not protego.can_fetch("https://example.org/", "GPTBot")
    assert not stdlib.can_fetch("GPTBot", "https://example.org/")


def test_app_groups_are_parsed_with_their_rules() -> None:
    app = AppRobots.parse(APP_ROBOTS.decode())
    assert app.rules_for("googlebot") == (("Disallow", "/private/"),)
    assert app.rules_for("SomeBot") == (("Allow", "/drafts/public/"), ("Disallow", "/drafts/"))
    assert AppRobots.parse("").rules_for("x") == (("Allow", "/"),)
