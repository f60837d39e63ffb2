"""Categories of clients: the policy's main axis.

Every agent in the database has one category; ``browser``, ``unknown-bot``, ``unknown`` and
``spoofed-bot`` are decided at run time from the request itself.
"""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    AI_TRAINING = "ai-training"
    AI_DATASET_TOOL = "ai-dataset-tool"
    AI_SEARCH = "ai-search"
    AI_ASSISTANT = "ai-assistant"
    SCRAPER_LIBRARY = "scraper-library"
    HEADLESS_BROWSER = "headless-browser"
    SEARCH_ENGINE = "search-engine"
    SOCIAL_PREVIEW = "social-preview"
    FEED_READER = "feed-reader"
    ARCHIVER = "archiver"
    SEO_CRAWLER = "seo-crawler"
    MONITOR = "monitor"
    BROWSER = "browser"
    UNKNOWN_BOT = "unknown-bot"
    UNKNOWN = "unknown"
    SPOOFED_BOT = "spoofed-bot"


#: Categories decided from the request, never assigned to a database entry.
RUNTIME_CATEGORIES = frozenset(
    {Category.BROWSER, Category.UNKNOWN_BOT, Category.UNKNOWN, Category.SPOOFED_BOT}
)

#: Categories an agent in the database may have.
AGENT_CATEGORIES = tuple(c for c in Category if c not in RUNTIME_CATEGORIES)

DESCRIPTIONS: dict[Category, str] = {
    Category.AI_TRAINING: "collects content to train AI models, or crawls for AI companies",
    Category.AI_DATASET_TOOL: "bulk-downloads content for datasets and LLM pipelines",
    Category.AI_SEARCH: "builds an index for an AI answer engine",
    Category.AI_ASSISTANT: "fetches a page because a person asked an AI assistant or agent",
    Category.SCRAPER_LIBRARY: "an HTTP library or command-line tool with its default User-Agent",
    Category.HEADLESS_BROWSER: "an automated browser that says so",
    Category.SEARCH_ENGINE: "a classic web search crawler",
    Category.SOCIAL_PREVIEW: "fetches a link preview for a social network or chat app",
    Category.FEED_READER: "an RSS or Atom reader",
    Category.ARCHIVER: "a web archive",
    Category.SEO_CRAWLER: "an SEO or backlink analysis crawler",
    Category.MONITOR: "an uptime or performance monitor",
    Category.BROWSER: "a web browser that is not known to be automated",
    Category.UNKNOWN_BOT: "calls itself a bot or crawler but is not in the database",
    Category.UNKNOWN: "neither a known agent nor a browser (or no User-Agent at all)",
    Category.SPOOFED_BOT: "claims to be a known crawler from an address its operator does not use",
}
