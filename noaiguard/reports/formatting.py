"""How numbers, sizes, changes and times read in the human formats (HTML and Markdown)."""

from __future__ import annotations

from ..categories import Category
from ..periods import format_time

#: Short names for the categories in tables and legends.
CATEGORY_LABELS: dict[str, str] = {
    Category.AI_TRAINING: "AI training",
    Category.AI_DATASET_TOOL: "dataset tools",
    Category.AI_SEARCH: "AI search",
    Category.AI_ASSISTANT: "AI assistants",
    Category.SCRAPER_LIBRARY: "scraper libraries",
    Category.HEADLESS_BROWSER: "headless browsers",
    Category.SEARCH_ENGINE: "search engines",
    Category.SOCIAL_PREVIEW: "link previews",
    Category.FEED_READER: "feed readers",
    Category.ARCHIVER: "archives",
    Category.SEO_CRAWLER: "SEO crawlers",
    Category.MONITOR: "monitors",
    Category.BROWSER: "browsers",
    Category.UNKNOWN_BOT: "unknown bots",
    Category.UNKNOWN: "unknown",
    Category.SPOOFED_BOT: "spoofed bots",
}


def category_label(category: str) -> str:
    return CATEGORY_LABELS.get(category, category)


def number(n: int) -> str:
    return f"{n:,}"


def percent(share: float) -> str:
    """``0.123`` -> ``12.3%``; below 0.1% shows as ``<0.1%`` rather than 0."""
    if 0 < share < 0.001:
        return "<0.1%"
    return f"{share * 100:.1f}%"


def change(now: int, before: int) -> str:
    """``+25%``, ``-40%``, ``same``, ``new`` (nothing before) or ``gone`` (nothing now)."""
    if before == 0:
        return "new" if now else "-"
    if now == 0:
        return "gone"
    ratio = now / before - 1
    if abs(ratio) < 0.005:
        return "same"
    return f"{ratio * 100:+.0f}%"


def size(n: int) -> str:
    """Bytes as people read them: ``512 B``, ``1.5 MB`` (powers of 1000, as disks are sold)."""
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000:
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def when(epoch: float) -> str:
    return format_time(epoch, seconds=False)


def printable(text: str) -> str:
    """Control characters as escapes: a hostile User-Agent cannot break a line or a terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def printable_lines(text: str) -> str:
    """Each line of ``text`` made :func:`printable`, the line breaks kept."""
    return "\n".join(printable(line) for line in text.splitlines())


def privacy_note(privacy: str) -> str:
    """What a row of the networks table is, under ``store.ip_privacy``."""
    if privacy == "hash":
        return (
            "Addresses are stored hashed (store.ip_privacy: hash), so each row is one client, "
            "not a network."
        )
    if privacy == "full":
        return "Addresses are stored in full; shown here by network (/24 for IPv4, /48 for IPv6)."
    return "Addresses are stored by network only (/24 for IPv4, /48 for IPv6), never in full."
