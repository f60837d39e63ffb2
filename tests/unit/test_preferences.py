"""The site's AI-use preferences: read off the policy, written as Content-Usage (parsed with a
real RFC 9651 parser) and Content-Signal lines in every robots.txt group."""

from __future__ import annotations

import http_sf
import pytest
from protego import Protego

from noaiguard import Guard, parse_config
from noaiguard.signals.preferences import Preferences

SITE_ROBOTS = (
    b"User-agent: *\nDisallow: /drafts/\n\n"
    b"User-agent: Googlebot\nAllow: /\nContent-Usage: search=y\n\n"
    b"User-agent: DuckDuckBot\nUser-agent: Slurp\n\n"
    b"Sitemap: https://example.org/sitemap.xml\n"
)


def preferences(yaml: str = "") -> Preferences:
    return Guard(parse_config(yaml)).preferences


def usage(prefs: Preferences) -> dict[str, str]:
    """The Content-Usage value as an aipref reader sees it: a Structured Field Dictionary."""
    parsed = http_sf.parse(prefs.content_usage.encode(), tltype="dictionary")
    return {key: str(value) for key, (value, _params) in parsed.items()}


def signals(prefs: Preferences) -> dict[str, str]:
    return dict(pair.split("=") for pair in prefs.content_signal.split(", ") if pair)


def test_the_default_policy_refuses_training_and_welcomes_search() -> None:
    prefs = preferences()
    assert usage(prefs) == {"train-ai": "n", "search": "y"}
    assert signals(prefs) == {"search": "yes", "ai-train": "no"}


@pytest.mark.parametrize(
    ("yaml", "expected_usage", "expected_signals"),
    [
        # Training allowed: nothing is said about it (noaiguard never grants on the owner's behalf).
        ("policy:\n  categories:\n    ai-training: allow\n", {"search": "y"}, {"search": "yes"}),
        (
            "policy:\n  categories:\n    search-engine: block\n",
            {"train-ai": "n", "search": "n"},
            {"search": "no", "ai-train": "no"},
        ),
        (
            "policy:\n  categories:\n    ai-search: block\n    ai-assistant: tarpit\n",
            {"train-ai": "n", "search": "y"},
            {"search": "yes", "ai-input": "no", "ai-train": "no"},
        ),
        # One of the two answer-time categories let in: ai-input is left unsaid.
        (
            "policy:\n  categories:\n    ai-search: block\n",
            {"train-ai": "n", "search": "y"},
            {"search": "yes", "ai-train": "no"},
        ),
        # A rule with no paths counts like the category default.
        (
            "policy:\n  rules:\n    - categories: [ai-training]\n      action: allow\n",
            {"search": "y"},
            {"search": "yes"},
        ),
    ],
)
def test_preferences_follow_the_policy(
    yaml: str, expected_usage: dict[str, str], expected_signals: dict[str, str]
) -> None:
    prefs = preferences(yaml)
    assert usage(prefs) == expected_usage
    assert signals(prefs) == expected_signals


def test_the_two_vocabularies_never_disagree() -> None:
    for yaml in ("", "policy:\n  categories:\n    ai-training: allow\n    search-engine: block\n"):
        prefs = preferences(yaml)
        words = {"y": "yes", "n": "no"}
        mapped = {{"train-ai": "ai-train"}.get(k, k): words[v] for k, v in usage(prefs).items()}
        assert mapped == {k: v for k, v in signals(prefs).items() if k != "ai-input"}


def _groups(text: str) -> list[list[str]]:
    """robots.txt as its groups' lines (comments and blank lines dropped)."""
    groups: list[list[str]] = []
    previous = ""
    for line in text.splitlines():
        if not line or line.startswith(("#", "Sitemap:")):
            continue
        if line.startswith("User-agent:") and not previous.startswith("User-agent:"):
            groups.append([])
        groups[-1].append(line)
        previous = line
    return groups


def test_every_robots_group_carries_the_preferences() -> None:
    guard = Guard()
    assert guard.robots is not None
    text = guard.robots.render(SITE_ROBOTS).decode()
    groups = _groups(text)
    assert len(groups) >= 5  # shadow, ours, the site's three
    for group in groups:
        usage_lines = [line for line in group if line.startswith("Content-Usage:")]
        signal_lines = [line for line in group if line.startswith("Content-Signal:")]
        assert len(signal_lines) == 1, group
        assert signal_lines == ["Content-Signal: search=yes, ai-train=no"]
        if "User-agent: Googlebot" in group:  # the site said its own: kept, not contradicted
            assert usage_lines == ["Content-Usage: search=y"]
        else:
            assert usage_lines == ["Content-Usage: train-ai=n, search=y"], group
    # A group of User-agent lines alone gets them too, and the file still parses as before.
    assert groups[-1][:2] == ["User-agent: DuckDuckBot", "User-agent: Slurp"]
    parser = Protego.parse(text)
    assert not parser.can_fetch("https://example.org/a.png", "GPTBot")
    assert not parser.can_fetch("https://example.org/drafts/x", "bingbot")
    assert parser.can_fetch("https://example.org/a.png", "Googlebot")


def test_each_vocabulary_can_be_switched_off() -> None:
    guard = Guard(parse_config("signals:\n  content_signal:\n    enabled: false\n"))
    assert guard.robots is not None
    text = guard.robots.render().decode()
    assert "Content-Usage: train-ai=n, search=y" in text
    assert "Content-Signal" not in text
    guard = Guard(parse_config("signals:\n  content_usage:\n    enabled: false\n"))
    assert guard.robots is not None
    assert "Content-Usage" not in guard.robots.render().decode()
