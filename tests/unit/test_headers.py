"""X-Robots-Tag: merged with the app's own values, never duplicated, never noindex."""

from __future__ import annotations

from noaiguard import parse_config
from noaiguard.signals.headers import XRobotsTag, merge_x_robots_tag

OURS = ("noai", "noimageai")


def merged(*values: bytes, directives: tuple[str, ...] = OURS) -> list[bytes]:
    headers = [(b"content-type", b"text/html")] + [(b"x-robots-tag", v) for v in values]
    merge_x_robots_tag(headers, directives)
    return [v for k, v in headers if k == b"x-robots-tag"]


def test_added_when_the_app_sends_none() -> None:
    assert merged() == [b"noai, noimageai"]


def test_appended_to_the_apps_general_line() -> None:
    assert merged(b"noindex") == [b"noindex, noai, noimageai"]
    assert merged(b"max-snippet: 20, nofollow") == [b"max-snippet: 20, nofollow, noai, noimageai"]


def test_never_duplicated_case_insensitively() -> None:
    assert merged(b"NoAI, noimageai") == [b"NoAI, noimageai"]
    assert merged(b"noai", b"noimageai") == [b"noai", b"noimageai"]
    assert merged(b"noai") == [b"noai, noimageai"]


def test_lines_for_one_crawler_are_left_alone() -> None:
    assert merged(b"googlebot: noindex") == [b"googlebot: noindex", b"noai, noimageai"]
    assert merged(b"googlebot: noai, noimageai") == [
        b"googlebot: noai, noimageai",
        b"noai, noimageai",
    ]


def test_never_adds_noindex_or_none() -> None:
    for values in ((), (b"all",), (b"index, follow",)):
        for value in merged(*values):
            tokens = {t.strip() for t in value.decode().split(",")}
            assert not tokens & {"noindex", "none", "nofollow"}


def test_mixed_case_header_names_are_recognised() -> None:
    headers = [(b"X-Robots-Tag", b"noarchive")]
    merge_x_robots_tag(headers, OURS)
    assert headers == [(b"X-Robots-Tag", b"noarchive, noai, noimageai")]


def test_nothing_to_add_changes_nothing() -> None:
    headers = [(b"x-robots-tag", b"noindex")]
    merge_x_robots_tag(headers, ())
    assert headers == [(b"x-robots-tag", b"noindex")]


def test_directives_per_path_and_content_type() -> None:
    config = parse_config(
        """
signals:
  x_robots_tag:
    directives: [noai, noimageai]
    rules:
      - paths: ["/press/**"]
        directives: [noarchive]
      - content_types: ["image/*"]
        directives: [noai, noimageai, noml]
      - paths: ["/docs/**"]
        content_types: [application/pdf]
        directives: [noai]
"""
    )
    tag = XRobotsTag(config.signals.x_robots_tag)
    assert tag.directives_for("/", "text/html; charset=utf-8") == OURS
    assert tag.directives_for("/press/kit.zip", "application/zip") == ("noarchive",)
    assert tag.directives_for("/press/photo.jpg", "image/jpeg") == ("noarchive",)
    assert tag.directives_for("/gallery/a.png", "IMAGE/PNG") == ("noai", "noimageai", "noml")
    assert tag.directives_for("/docs/a.pdf", "application/pdf") == ("noai",)
    assert tag.directives_for("/docs/a.html", "text/html") == OURS


def test_disabled_means_nothing_is_added() -> None:
    config = parse_config("signals:\n  x_robots_tag:\n    enabled: false\n")
    assert XRobotsTag(config.signals.x_robots_tag).directives_for("/", "text/html") == ()
