"""Path globs in the config and their robots.txt form."""

from __future__ import annotations

import pytest

from noaiguard.paths import PathSet, glob_problem, glob_to_robots


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("/gallery/**", "/gallery/", True),
        ("/gallery/**", "/gallery/2024/a.png", True),
        ("/gallery/**", "/gallery", False),
        ("/gallery/*.png", "/gallery/a.png", True),
        ("/gallery/*.png", "/gallery/2024/a.png", False),
        ("/a/**/b", "/a/b", True),
        ("/a/**/b", "/a/x/y/b", True),
        ("/a/?", "/a/1", True),
        ("/a/?", "/a/12", False),
        ("/price(s).html", "/price(s).html", True),
        ("/price(s).html", "/prices.html", False),
    ],
)
def test_glob_semantics(pattern: str, path: str, expected: bool) -> None:
    assert PathSet([pattern]).matches(path) is expected


def test_an_empty_path_set_matches_nothing() -> None:
    assert not PathSet([])
    assert PathSet([]).matches("/") is False


@pytest.mark.parametrize(
    ("pattern", "robots"),
    [
        ("/press/**", "/press/"),
        ("/gallery/*.png", "/gallery/*.png$"),
        ("/exact.html", "/exact.html$"),
        ("/a/**/b", "/a/*b$"),
        ("/cost$", "/cost%24$"),
    ],
)
def test_robots_form(pattern: str, robots: str) -> None:
    assert glob_to_robots(pattern) == robots


def test_problems() -> None:
    assert glob_problem("press/**") == "path 'press/**' must start with '/'"
    assert "white space" in (glob_problem("/a b") or "")
    assert glob_problem("/ok/**") is None
