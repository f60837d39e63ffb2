"""Simulated weeks of traffic for the demo gallery, played through the real guard.

``noaiguard demo --simulate DAYS`` fills the event store as if the gallery had been online: people
browsing, search engines and link previews, feed readers, and the clients noaiguard is for (AI
training crawlers, a dataset downloader, a scraper hiding behind a browser User-Agent, a crawler
that reads robots.txt and ignores it, a fake Googlebot). Every request goes through
:class:`~noaiguard.middleware.NoAIGuardMiddleware` with a clock that follows the simulated time,
so the events, hourly counts and robots.txt versions are the ones a live site would have, and
``noaiguard report`` has something real to show.

The traffic is drawn from a seeded random generator: the same seed and end time give the same
store.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from dataclasses import dataclass

from .._types import ASGIApp, Message
from .images import ARTWORKS

DAY = 86400
BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36",
)
GOOGLEBOT = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Googlebot-Image/1.0",
)
GPTBOT = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
    "+https://openai.com/gptbot)"
)
CLAUDEBOT = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)"  # noqa: E501
CCBOT = "CCBot/2.0 (https://commoncrawl.org/faq/)"
BYTESPIDER = (
    "Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 "
    "(compatible; Bytespider; spider-feedback@bytedance.com)"
)
PERPLEXITYBOT = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; PerplexityBot/1.0; "
    "+https://perplexity.ai/perplexitybot)"
)
IMG2DATASET = "Mozilla/5.0 (compatible; img2dataset/1.45; +https://github.com/rom1504/img2dataset)"
FEEDLY = "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 3 subscribers)"
FACEBOOK = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"
UNKNOWN_BOT = "ArtHarvester/0.3 (+https://artharvest.example/bot)"

_BROWSER_HEADERS = (
    (b"accept", b"text/html,application/xhtml+xml,image/avif,image/webp,*/*;q=0.8"),
    (b"accept-language", b"en-GB,en;q=0.9"),
)


@dataclass(frozen=True, slots=True, order=True)
class Visit:
    """One request of the simulation, at its moment."""

    time: float
    path: str
    user_agent: str
    client_ip: str
    browser_headers: bool = False


class SimulatedClock:
    """The time the guard sees: moved forward by the simulation, request by request."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def plan(days: int, end: float, seed: int = 1) -> list[Visit]:
    """Every request of ``days`` days ending at ``end``, in time order."""
    rng = random.Random(seed)  # noqa: S311 - a simulation, not a secret
    start = end - days * DAY
    visits: list[Visit] = []
    for day in range(days):
        visits.extend(_day(rng, start + day * DAY, day, days))
    visits = [v for v in visits if v.time < end]
    visits.sort()
    return visits


def _day(rng: random.Random, midnight: float, day: int, days: int) -> Iterator[Visit]:
    works = list(ARTWORKS)
    pages = ["/", "/about", *(f"/work/{w}" for w in works)]
    images = [f"/images/{w}.png" for w in works]
    growth = 1 + day / max(days - 1, 1)  # AI crawling grows over the weeks, as it does

    def at(hour_from: float = 0, hour_to: float = 24) -> float:
        return midnight + rng.uniform(hour_from, hour_to) * 3600

    # People: a page, then its images, from addresses all over.
    for _ in range(rng.randint(90, 130)):
        t, ua = at(7, 23), rng.choice(BROWSERS)
        ip = f"{rng.choice((81, 86, 92, 151, 188))}.{rng.randint(1, 254)}.{rng.randint(1, 254)}.{rng.randint(1, 254)}"  # noqa: E501
        for n, path in enumerate([rng.choice(pages), *rng.sample(images, rng.randint(1, 4))]):
            yield Visit(t + n * 0.4, path, ua, ip, browser_headers=True)
    # Google: robots.txt each day, then pages and images, from its own addresses.
    yield Visit(at(0, 2), "/robots.txt", GOOGLEBOT[0], "66.249.66.10")
    for _ in range(rng.randint(15, 25)):
        yield Visit(at(2), rng.choice(pages), GOOGLEBOT[0], f"66.249.66.{rng.randint(1, 30)}")
    for _ in range(rng.randint(5, 10)):
        yield Visit(at(2), rng.choice(images), GOOGLEBOT[1], f"66.249.66.{rng.randint(1, 30)}")
    # Feed readers every hour; link previews now and then.
    for hour in range(24):
        yield Visit(midnight + hour * 3600 + 120, "/feed.xml", FEEDLY, "52.203.12.7")
    for _ in range(rng.randint(2, 6)):
        yield Visit(at(8, 22), rng.choice(pages[2:]), FACEBOOK, "69.171.249.8")
    # GPTBot reads robots.txt, which disallows it everywhere, and asks for the images anyway.
    if rng.random() < 0.8:
        t = at(1, 20)
        yield Visit(t, "/robots.txt", GPTBOT, "132.196.86.41")
        for n in range(round(rng.randint(10, 25) * growth)):
            yield Visit(t + 30 + n * 7, rng.choice(images + pages), GPTBOT, "132.196.86.41")
    # ClaudeBot reads robots.txt and goes away: what an opt-out is supposed to do.
    if day % 2 == 0:
        yield Visit(at(3, 6), "/robots.txt", CLAUDEBOT, "216.73.216.17")
    # Common Crawl and Bytespider never ask for robots.txt here.
    for _ in range(round(rng.randint(4, 10) * growth)):
        yield Visit(at(), rng.choice(pages + images), CCBOT, f"18.97.{rng.randint(8, 15)}.20")
    for _ in range(round(rng.randint(10, 30) * growth)):
        yield Visit(at(), rng.choice(images), BYTESPIDER, f"47.128.{rng.randint(16, 31)}.9")
    # PerplexityBot: logged, not blocked by default; it reads robots.txt and goes on regardless.
    if day % 3 == 1:
        t = at(9, 18)
        yield Visit(t, "/robots.txt", PERPLEXITYBOT, "44.221.181.252")
        for n in range(rng.randint(3, 8)):
            yield Visit(t + 60 + n * 20, rng.choice(pages), PERPLEXITYBOT, "44.221.181.252")
    # A dataset run: img2dataset pulling every image it was given, one afternoon a week.
    if day % 7 == 3:
        t = at(13, 15)
        for n in range(int(60 * growth)):
            yield Visit(t + n * 0.5, images[n % len(images)], IMG2DATASET, "95.217.38.141")
    # A scraper that pretends to be a browser: images only, hundreds a minute.
    if day % 7 == 5:
        t = at(1, 4)
        ip = "185.220.101.44"
        for n in range(240):
            yield Visit(t + n * 0.2, images[n % len(images)], BROWSERS[0], ip)
    # A fake Googlebot from an address Google does not use.
    if day % 4 == 2:
        t = at()
        for n in range(rng.randint(6, 14)):
            yield Visit(t + n * 3, rng.choice(images), GOOGLEBOT[0], "45.155.205.233")
    # A bot nobody has heard of, that reads robots.txt and walks into the drafts it forbids.
    if day % 5 == 4:
        t = at(2, 5)
        yield Visit(t, "/robots.txt", UNKNOWN_BOT, "159.89.42.7")
        for n, path in enumerate(("/", "/drafts/new-series", "/drafts/sketches", *images[:2])):
            yield Visit(t + 20 + n * 5, path, UNKNOWN_BOT, "159.89.42.7")


async def play(app: ASGIApp, clock: SimulatedClock, visits: list[Visit], host: str) -> int:
    """Send each visit to ``app`` at its simulated moment; return how many were refused."""
    refused = 0
    for visit in visits:
        clock.now = visit.time
        status = await _request(app, visit, host)
        refused += status in (403, 429)
    return refused


async def _request(app: ASGIApp, visit: Visit, host: str) -> int:
    headers = [(b"host", host.encode()), (b"user-agent", visit.user_agent.encode())]
    if visit.browser_headers:
        headers.extend(_BROWSER_HEADERS)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "path": visit.path,
        "raw_path": visit.path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": (visit.client_ip, 40000),
        "server": (host, 443),
    }
    status = 0
    received = False

    async def receive() -> Message:
        nonlocal received
        if received:
            await asyncio.sleep(3600)  # the client stays: nothing more to send
        received = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status
