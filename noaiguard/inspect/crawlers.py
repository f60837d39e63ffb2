"""The AI crawlers an inspection looks up in robots.txt: the one table of them.

Each entry is a robots.txt product token (RFC 9309 matches it case-insensitively), who runs it,
what it collects for, and whether keeping it out is *essential*: the exit code is 0 only when
robots.txt disallows ``/`` to every essential crawler. Essential are the crawlers that gather
training data and say they obey robots.txt, plus the robots.txt-only tokens that govern training
use of data other crawlers gathered (Google-Extended, Applebot-Extended). The others are reported
but do not decide the exit code: an AI search crawler is a choice, not an opt-out, and
img2dataset does not read robots.txt at all.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Crawler:
    token: str
    operator: str
    purpose: str
    essential: bool
    #: What a site owner should know about how it reads signals ("" when nothing special).
    note: str = ""
    #: It is known to check ``X-Robots-Tag: noai`` before it keeps what it fetched.
    reads_noai: bool = False


AI_CRAWLERS: tuple[Crawler, ...] = (
    Crawler("GPTBot", "OpenAI", "AI training", essential=True),
    Crawler("ClaudeBot", "Anthropic", "AI training", essential=True),
    Crawler("CCBot", "Common Crawl", "open crawl data used for AI training", essential=True),
    Crawler(
        "Google-Extended",
        "Google",
        "AI training",
        essential=True,
        note="a robots.txt-only token: Googlebot crawls, this token governs training use",
    ),
    Crawler(
        "Applebot-Extended",
        "Apple",
        "AI training",
        essential=True,
        note="a robots.txt-only token: Applebot crawls, this token governs training use",
    ),
    Crawler(
        "Bytespider",
        "ByteDance",
        "AI training",
        essential=True,
        note="reported not to honour robots.txt",
    ),
    Crawler("meta-externalagent", "Meta", "AI training", essential=True),
    Crawler("PerplexityBot", "Perplexity", "AI search", essential=False),
    Crawler(
        "img2dataset",
        "img2dataset",
        "image data sets",
        essential=False,
        note="img2dataset does not read robots.txt; it obeys X-Robots-Tag on each image",
        reads_noai=True,
    ),
)
