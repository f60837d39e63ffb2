"""How fast ``noaiguard audit`` reads a big access log: lines per second, plain and gzip.

A month of a busy portfolio site's nginx log in the combined format is generated into a temporary
folder (never kept): people browsing (a page, then its stylesheet, script and images) from tens of
thousands of addresses with thousands of browser versions; search engines from their operators'
published ranges; AI crawlers (GPTBot and ClaudeBot from their ranges, CCBot, Bytespider,
PerplexityBot, meta-externalagent, Amazonbot...); Googlebot claims from addresses that are not
Google's; scraper libraries; an image harvester behind a Firefox User-Agent taking hundreds of
images a minute; link previews and feed readers; a few requests with no User-Agent, TLS handshakes
on port 80 and garbled lines.

Then the whole ``noaiguard audit`` runs on it in this process, as the command line runs it (the
report written as HTML to a file): on the plain log and on the same log gzip-compressed, with the
default number of worker processes (two on a machine with two CPUs or more) and, for comparison,
with ``--workers 1``. Each run is timed from the command's start to the report on disk; the best
of ``--rounds`` per kind of run counts, and the defaults are held against the goal of 100,000
lines/s.

    python benchmarks/bench_audit.py [--lines 1000000] [--rounds 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import ipaddress
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from noaiguard.classify.ipranges import SHIPPED, parse_prefixes
from noaiguard.cli import main as noaiguard

GOAL = 100_000  # lines per second
START = 1_790_812_800  # 2026-10-01 00:00 UTC
MONTH = 31 * 86400
CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "user_agents.txt"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
CRAWLERS = {  # User-Agent, the shipped range list of its addresses (None: anywhere)
    "GPTBot": (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
        "+https://openai.com/gptbot)",
        "openai.com-gptbot.json",
    ),
    "ClaudeBot": (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; "
        "+claudebot@anthropic.com)",
        "claude.com-crawling-bots.json",
    ),
    "CCBot": ("CCBot/2.0 (https://commoncrawl.org/faq/)", None),
    "Bytespider": (
        "Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, like Gecko) Mobile "
        "Safari/537.36 (compatible; Bytespider; spider-feedback@bytedance.com)",
        None,
    ),
    "PerplexityBot": (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; PerplexityBot/1.0; "
        "+https://perplexity.ai/perplexitybot)",
        None,
    ),
    "meta-externalagent": (
        "meta-externalagent/1.1 (+https://developers.facebook.com/docs/sharing/webmasters/crawler)",
        None,
    ),
    "Amazonbot": (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/8.0.2 Safari/600.2.5 (Amazonbot/0.1; +https://developer.amazon.com/support/amazonbot)",
        None,
    ),
}
SEARCH = {
    GOOGLEBOT: "developers.google.com-static-crawling-ipranges-common-crawlers.json",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)": None,
    "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)": "duckduckgo.com-duckduckbot.json",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)": (
        "search.developer.apple.com-applebot.json"
    ),
}
SCRAPERS = (
    "python-requests/2.32.3",
    "curl/8.5.0",
    "Go-http-client/1.1",
    "Scrapy/2.11.2 (+https://scrapy.org)",
    "Wget/1.21.4",
    "aiohttp/3.9.5",
)
OTHERS = (
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 12 subscribers)",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Mozilla/5.0 (compatible; ArtHarvester/0.3; +https://artharvest.example/bot)",
    "-",
)
HARVESTER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
GARBAGE = (  # after the opening quote of the request: a TLS handshake, a line cut off by a crash
    '\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xFC\\x03\\x03" 400 157 "-" "-"',
    'GET /images/12/3-large.jpg HTTP/1.1" 200 48213 "-" "Mozilla/5.0 (X11; Lin\x00\x00\x00',
)


class Site:
    """Paths of a portfolio site: galleries, their pages and images, and static files."""

    def __init__(self, rng: random.Random) -> None:
        self.pages = ["/", "/about", "/contact", "/feed.xml"] + [
            f"/gallery/{g}/{n}" for g in range(60) for n in range(40)
        ]
        self.images = [f"/images/{g}/{n}-{s}.jpg" for g in range(60) for n in range(40)
                       for s in ("large", "thumb")]  # fmt: skip
        self.static = ["/static/site.css", "/static/site.js", "/favicon.ico"]
        self.anything = self.images + self.pages
        self.rng = rng

    def visit(self) -> list[str]:
        """One person's page view: the page, its static files and a few images."""
        rng = self.rng
        return [
            rng.choice(self.pages),
            *self.static[: rng.randint(0, 3)],
            *rng.sample(self.images, rng.randint(1, 6)),
        ]


def addresses(name: str | None, rng: random.Random, count: int) -> list[str]:
    """``count`` addresses in the shipped range list ``name``, or anywhere (IPv4 and IPv6)."""
    if name is None:
        return [
            str(ipaddress.IPv6Address((0x2001_0DB8 << 96) | rng.getrandbits(64)))
            if rng.random() < 0.15
            else f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}."
            f"{rng.randint(1, 254)}"
            for _ in range(count)
        ]
    networks = [
        n for n in parse_prefixes(json.loads((SHIPPED / name).read_text())) if n.version == 4
    ]
    return [
        str(network.network_address + rng.randrange(network.num_addresses))
        for network in (rng.choice(networks) for _ in range(count))
    ]


def browsers(rng: random.Random, count: int) -> list[str]:
    """``count`` browser User-Agents: the corpus's, with other build numbers."""
    lines = CORPUS.read_text().split("\n# [bots]\n")[0].splitlines()
    corpus = [line for line in lines if line.startswith("Mozilla/5.0")]
    made = []
    for _ in range(count):
        ua = rng.choice(corpus)
        made.append(ua.replace(".0.0.0", f".0.{rng.randint(1000, 6999)}.{rng.randint(0, 200)}"))
    return made


def generate(lines: int, seed: int = 7) -> Iterator[str]:
    """``lines`` combined-format lines over 31 days, in time order."""
    rng = random.Random(seed)
    site = Site(rng)
    people = addresses(None, rng, 60_000)
    people_uas = browsers(rng, 8000)
    browsing = set(people_uas)
    crawlers = [(ua, addresses(where, rng, 300)) for ua, where in CRAWLERS.values()]
    search = [(ua, addresses(where, rng, 200)) for ua, where in SEARCH.items()]
    spoofers = addresses(None, rng, 500)
    scrapers = addresses(None, rng, 3000)
    harvesters = addresses(None, rng, 20)
    others = addresses(None, rng, 2000)
    step = (MONTH - 3600) / lines  # the jitter below must not carry the log past the month
    t = float(START)
    made = 0
    while made < lines:
        roll = rng.random()
        burst: list[tuple[str, str, str]]  # (address, User-Agent, path)
        if roll < 0.50:
            ip, ua = rng.choice(people), rng.choice(people_uas)
            burst = [(ip, ua, path) for path in site.visit()]
        elif roll < 0.62:
            ua, ips = rng.choice(crawlers)
            paths = rng.sample(site.anything, 8) + (["/robots.txt"] if rng.random() < 0.05 else [])
            burst = [(rng.choice(ips), ua, path) for path in paths]
        elif roll < 0.74:
            ua, ips = rng.choice(search)
            burst = [(rng.choice(ips), ua, rng.choice(site.pages)) for _ in range(4)]
        elif roll < 0.75:
            burst = [(rng.choice(spoofers), GOOGLEBOT, rng.choice(site.images)) for _ in range(4)]
        elif roll < 0.80:
            ua, ip = rng.choice(SCRAPERS), rng.choice(scrapers)
            burst = [(ip, ua, rng.choice(site.pages)) for _ in range(3)]
        elif roll < 0.805:  # the harvester: 300 images in about a minute, no page
            ip = rng.choice(harvesters)
            burst = [(ip, HARVESTER, path) for path in rng.sample(site.images, 300)]
        else:
            ua, ip = rng.choice(OTHERS), rng.choice(others)
            burst = [(ip, ua, rng.choice(site.pages))]
        for ip, ua, path in burst:
            if made >= lines:
                break
            t += step * rng.uniform(0.2, 1.8)
            stamp = time.gmtime(t)
            when = (
                f"{stamp.tm_mday:02d}/{MONTHS[stamp.tm_mon - 1]}/{stamp.tm_year}:"
                f"{stamp.tm_hour:02d}:{stamp.tm_min:02d}:{stamp.tm_sec:02d} +0000"
            )
            if made % 20_000 == 19_999:
                yield f'{ip} - - [{when}] "' + rng.choice(GARBAGE)
            else:
                size = rng.randint(20_000, 400_000) if path.endswith(".jpg") else 8_000
                referer = "https://mara-lind.example/" if ua in browsing else "-"
                yield (f'{ip} - - [{when}] "GET {path} HTTP/1.1" 200 {size} "{referer}" "{ua}"')
            made += 1


def write_logs(folder: Path, lines: int) -> tuple[Path, Path]:
    plain, packed = folder / "access.log", folder / "access.log.gz"
    with plain.open("w", encoding="latin-1") as out:
        for line in generate(lines):
            out.write(line + "\n")
    with plain.open("rb") as source, gzip.open(packed, "wb", compresslevel=6) as target:
        while chunk := source.read(1 << 20):
            target.write(chunk)
    return plain, packed


def audit(log: Path, report: Path, *options: str) -> float:
    """Seconds for the whole command, log to report on disk."""
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        status = noaiguard(["audit", str(log), "-o", str(report), *options])
    seconds = time.perf_counter() - started
    assert status == 0, f"noaiguard audit exited with {status}"
    assert report.stat().st_size > 10_000
    return seconds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines in the log")
    parser.add_argument("--rounds", type=int, default=3, help="runs per log (best counts)")
    parser.add_argument("--keep", type=Path, help="write the logs and reports here, and keep them")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        plain, packed = write_logs(folder, args.lines)
        print(
            f"{args.lines:,} lines: {plain.stat().st_size / 1e6:.0f} MB plain, "
            f"{packed.stat().st_size / 1e6:.0f} MB gzip (generated in "
            f"{time.perf_counter() - started:.1f} s); {os.cpu_count()} CPUs",
            flush=True,
        )
        # (name, log, options, judged against the goal): the defaults, then one process alone.
        runs = [
            ("plain", plain, (), True),
            ("gzip", packed, (), True),
            ("plain, --workers 1", plain, ("--workers", "1"), False),
            ("gzip, --workers 1", packed, ("--workers", "1"), False),
        ]
        best: dict[str, float] = {}
        for round_ in range(1, args.rounds + 1):
            for name, log, options, _ in runs:
                seconds = audit(log, folder / "report.html", *options)
                best[name] = min(best.get(name, seconds), seconds)
                print(
                    f"  round {round_} {name:<19} {seconds:6.2f} s  "
                    f"{args.lines / seconds:>9,.0f} lines/s",
                    flush=True,
                )
    verdicts = []
    for name, _, _, judged in runs:
        rate = args.lines / best[name]
        verdict = ("PASS" if rate >= GOAL else "FAIL") if judged else "(info)"
        verdicts.append(rate >= GOAL or not judged)
        print(
            f"{name:<19} {rate:>9,.0f} lines/s  {rate / GOAL:.2f}x the goal of {GOAL:,} lines/s "
            f"{verdict}"
        )
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
