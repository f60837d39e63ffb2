"""Soak: ``noaiguard proxy`` under a realistic mix for a bounded time, with faults, then checks.

Everything runs here, on 127.0.0.1, as a site owner runs it: the test site
(``tests/proxy/site_main.py``) under uvicorn, ``noaiguard proxy`` in front of it as a process of its
own, writing events to a PostgreSQL server and sharing rate counters through a Redis server that
this script starts for itself (in temporary folders, on free ports: the machine's own are never
touched). The load generator stands where a load balancer would (``network.trusted_proxies:
[127.0.0.1]``) and gives every simulated client an address of its own in ``X-Forwarded-For``:

- **browsers** (each from its own /24): the gallery page, then a few of its images, the feed now
  and then, with a person's pauses;
- **AI crawlers** (GPTBot, CCBot, ClaudeBot, img2dataset...): pages and images, refused;
- **spoofed bots**: a Googlebot User-Agent from addresses that are not Google's;
- **scraper bursts**: every few seconds a new address with a browser's User-Agent pulls images as
  fast as it can, until behaviour detection refuses it.

**Faults** (unless ``--no-faults``): PostgreSQL is stopped at 25% of the run and started at 35%,
Redis stopped at 45% and started at 55%, and at 70% the proxy gets SIGTERM and a new one is started
on the same port (clients retry while nothing listens, as browsers do).

**Checks**, printed with the figures (exit status 1 if one fails):

1. no error responses to browsers (anything but 200, 206 or 304);
2. memory flat: the first proxy's resident memory at the end of its life (after both outages) is
   within 5% of what it was once warmed up (the first 10% of the run);
3. every refusal recorded: the events with status 403 in PostgreSQL, once the writer has caught up,
   equal the 403 responses the load generator received, and stay equal (nothing written twice);
4. latency stable: the browsers' p99 in the last minute is at most 1.5x that of the first minute
   plus 10 ms (for runs under five minutes, the first and last fifth of the run instead).

    python benchmarks/soak.py [--duration 600] [--browsers 20] [--no-faults] [--json FILE]

Needs PostgreSQL's server binaries (``initdb``, ``pg_ctl``), ``redis-server`` and the ``postgres``
extra (``psycopg``); without them it exits with status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.proxy.site import ARTWORKS as _ARTWORKS  # noqa: E402
from tests.proxy.test_memory import rss, wait_for_port  # noqa: E402
from tests.store.services import OwnPostgres, OwnRedis, free_port  # noqa: E402

NOAIGUARD = str(Path(sys.executable).parent / "noaiguard")
BROWSER_UAS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
)
CRAWLER_UAS = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
    "+https://openai.com/gptbot)",
    "CCBot/2.0 (https://commoncrawl.org/faq/)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; "
    "+claudebot@anthropic.com)",
    "img2dataset/1.45.0 (+https://github.com/rom1504/img2dataset)",
    "Mozilla/5.0 (compatible; Bytespider; spider-feedback@bytedance.com)",
)
SPOOFED_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
OK_FOR_BROWSERS = frozenset({200, 206, 304})
ARTWORKS = sorted(_ARTWORKS)


@dataclass
class Tally:
    """What the load generator saw."""

    started: float = field(default_factory=time.monotonic)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    #: Browser requests: (seconds since the start, latency in seconds).
    browser_latency: list[tuple[float, float]] = field(default_factory=list)
    browser_errors: list[str] = field(default_factory=list)
    unreachable: int = 0  # connection attempts while nothing listened (the proxy's restart)

    @property
    def refused(self) -> int:
        return sum(count for (_, status), count in self.statuses.items() if status == 403)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())


class Load:
    """The simulated clients, all through one connection pool, as a load balancer would be."""

    def __init__(self, base: str, tally: Tally, stop: asyncio.Event) -> None:
        self.base = base
        self.tally = tally
        self.stop = stop
        self.http = httpx.AsyncClient(
            timeout=30, limits=httpx.Limits(max_connections=200, max_keepalive_connections=100)
        )

    async def get(self, kind: str, ip: str, ua: str, path: str) -> int | None:
        """One request; retried while nothing listens. None if the run ended meanwhile."""
        headers = {"user-agent": ua, "x-forwarded-for": ip, "accept": "*/*"}
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                response = await self.http.get(self.base + path, headers=headers)
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError):
                self.tally.unreachable += 1
                await asyncio.sleep(0.05)
                continue
            status = response.status_code
            self.tally.statuses[(kind, status)] += 1
            if kind == "browser":
                self.tally.browser_latency.append(
                    (started - self.tally.started, time.monotonic() - started)
                )
                if status not in OK_FOR_BROWSERS:
                    self.tally.browser_errors.append(f"{status} {path}")
            return status
        return None

    async def pause(self, low: float, high: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), random.uniform(low, high))

    async def browser(self, n: int) -> None:
        ip, ua = f"10.1.{n}.7", BROWSER_UAS[n % len(BROWSER_UAS)]
        while not self.stop.is_set():
            await self.get("browser", ip, ua, "/")
            for name in random.sample(ARTWORKS, 3):
                await self.get("browser", ip, ua, f"/img/{name}.png")
            if random.random() < 0.2:
                await self.get("browser", ip, ua, "/feed.xml")
            await self.pause(0.5, 2.0)

    async def crawler(self, n: int) -> None:
        ip, ua = f"10.2.{n}.9", CRAWLER_UAS[n % len(CRAWLER_UAS)]
        while not self.stop.is_set():
            path = random.choice(["/", "/feed.xml", *(f"/img/{a}.png" for a in ARTWORKS)])
            await self.get("crawler", ip, ua, path)
            await self.pause(0.2, 1.0)

    async def spoofer(self, n: int) -> None:
        ip = f"10.3.{n}.11"
        while not self.stop.is_set():
            await self.get("spoofer", ip, SPOOFED_UA, random.choice(["/", "/img/dawn.png"]))
            await self.pause(0.5, 1.5)

    async def scraper_bursts(self, every: float) -> None:
        n = 0
        while not self.stop.is_set():
            await self.pause(every * 0.5, every * 1.5)
            n += 1
            ip, ua = f"10.4.{n % 250}.{n // 250 + 1}", random.choice(BROWSER_UAS)

            async def pull(worker: int, ip: str = ip, ua: str = ua) -> None:
                for i in range(40):
                    if self.stop.is_set():
                        return
                    await self.get(
                        "scraper", ip, ua, f"/img/{ARTWORKS[(worker + i) % len(ARTWORKS)]}.png"
                    )

            await asyncio.gather(*(pull(worker) for worker in range(6)))


class Proxy:
    """``noaiguard proxy`` as a process, restartable on the same port."""

    def __init__(self, upstream: str, port: int, config: Path, log: Path) -> None:
        self.command = [
            NOAIGUARD, "proxy", "--upstream", upstream, "--port", str(port), "--config", str(config)
        ]  # fmt: skip
        self.port = port
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.lives: list[int] = []

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
            )
        wait_for_port(self.port, self.process)
        self.lives.append(self.process.pid)

    def terminate(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(60)
        self.process = None
        return code


class MemorySampler:
    """The proxy's resident memory twice a second: (seconds since the start, pid, bytes)."""

    def __init__(self, proxy: Proxy, started: float) -> None:
        self.proxy = proxy
        self.started = started
        self.samples: list[tuple[float, int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            process = self.proxy.process
            if process is None:
                continue
            with contextlib.suppress(OSError, RuntimeError):  # between lives
                self.samples.append(
                    (time.monotonic() - self.started, process.pid, rss(process.pid))
                )

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def write_config(folder: Path, store_url: str, counters_url: str) -> Path:
    config = folder / "noaiguard.yaml"
    config.write_text(
        "network:\n"
        "  trusted_proxies: [127.0.0.1]\n"
        "store:\n"
        f"  url: {store_url}\n"
        f"  counters_url: {counters_url}\n"
        "  flush_seconds: 0.2\n"
        "  retry_seconds: 0.5\n"
        f"  spill_dir: {folder / 'spill'}\n"
        "  ip_privacy: full\n"
    )
    return config


def stored_refusals(url: str) -> int:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            row = conn.execute("SELECT count(*) FROM events WHERE status = 403").fetchone()
    except psycopg.Error:
        return -1
    return int(row[0]) if row else 0


async def run_load(
    base: str,
    duration: float,
    browsers: int,
    faults: list[tuple[float, str]],
    act: Callable[[str], None],
) -> Tally:
    tally = Tally()
    stop = asyncio.Event()
    load = Load(base, tally, stop)
    tasks = [
        *(asyncio.ensure_future(load.browser(n)) for n in range(browsers)),
        *(asyncio.ensure_future(load.crawler(n)) for n in range(max(2, browsers // 4))),
        *(asyncio.ensure_future(load.spoofer(n)) for n in range(max(1, browsers // 8))),
        asyncio.ensure_future(load.scraper_bursts(every=max(5.0, duration / 20))),
    ]
    loop = asyncio.get_running_loop()
    for at, fault in faults:
        await asyncio.sleep(max(0.0, at - (time.monotonic() - tally.started)))
        print(f"  {time.monotonic() - tally.started:6.1f} s  {fault}", flush=True)
        await loop.run_in_executor(None, act, fault)
    await asyncio.sleep(max(0.0, duration - (time.monotonic() - tally.started)))
    stop.set()
    await asyncio.gather(*tasks)
    await load.http.aclose()
    return tally


def p99(latencies: list[float]) -> float:
    if len(latencies) < 2:
        return latencies[0] if latencies else 0.0
    return statistics.quantiles(latencies, n=100)[98]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600, help="seconds of load (600)")
    parser.add_argument("--browsers", type=int, default=20, help="simulated people (20)")
    parser.add_argument("--no-faults", dest="faults", action="store_false")
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()
    missing = [
        what
        for what, found in (
            ("PostgreSQL's initdb", sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))),
            ("redis-server", shutil.which("redis-server")),
        )
        if not found
    ]
    try:
        import psycopg  # noqa: F401
    except ImportError:
        missing.append("psycopg (pip install -e '.[postgres]')")
    if missing:
        print(f"soak: needs {', '.join(missing)}", file=sys.stderr)
        return 2

    duration = args.duration
    folder = Path(tempfile.mkdtemp(prefix="noaiguard-soak-"))
    database, redis = OwnPostgres(), OwnRedis()
    database.start()
    redis.start()
    site_port, proxy_port = free_port(), free_port()
    site = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tests.proxy.site_main:app", "--port", str(site_port),
         "--log-level", "warning", "--no-access-log"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    proxy = Proxy(
        f"http://127.0.0.1:{site_port}",
        proxy_port,
        write_config(folder, database.url, redis.url),
        folder / "proxy.log",
    )
    exits: list[int] = []

    def act(fault: str) -> None:
        if fault == "stop PostgreSQL":
            database.stop()
        elif fault == "start PostgreSQL":
            database.start()
        elif fault == "stop Redis":
            redis.stop()
        elif fault == "start Redis":
            redis.start()
        elif fault == "SIGTERM the proxy, start a new one":
            exits.append(proxy.terminate())
            proxy.start()

    faults = (
        [
            (0.25 * duration, "stop PostgreSQL"),
            (0.35 * duration, "start PostgreSQL"),
            (0.45 * duration, "stop Redis"),
            (0.55 * duration, "start Redis"),
            (0.70 * duration, "SIGTERM the proxy, start a new one"),
        ]
        if args.faults
        else []
    )
    try:
        wait_for_port(site_port, site)
        proxy.start()
        started = time.monotonic()
        memory = MemorySampler(proxy, started)
        print(
            f"soak: {duration:.0f} s, {args.browsers} browsers, faults {'on' if faults else 'off'}"
        )
        tally = asyncio.run(
            run_load(f"http://127.0.0.1:{proxy_port}", duration, args.browsers, faults, act)
        )
        tally.started = started
        memory.close()
        # The writer catches up (and replays what waited in the spill file).
        deadline = time.monotonic() + 60
        stored = stored_refusals(database.url)
        while stored != tally.refused and time.monotonic() < deadline:
            time.sleep(0.5)
            stored = stored_refusals(database.url)
        time.sleep(2)
        stored_later = stored_refusals(database.url)
        exits.append(proxy.terminate())
    finally:
        if proxy.process is not None:
            proxy.process.kill()
        site.terminate()
        site.wait(10)
        redis.stop()
        database.remove()
    outcome = Outcome(tally, memory.samples, proxy.lives[0], stored, stored_later, exits)
    code = report(args, outcome)
    if code == 0:
        shutil.rmtree(folder, ignore_errors=True)
    else:
        print(f"the proxy's log is kept in {folder / 'proxy.log'}")
    return code


@dataclass
class Outcome:
    """What a run measured, for the report."""

    tally: Tally
    memory: list[tuple[float, int, int]]
    first_life: int  # the pid of the first proxy
    stored: int
    stored_later: int
    exits: list[int]


def report(args: argparse.Namespace, outcome: Outcome) -> int:
    """Print the figures and the checks; 0 if every check passed."""
    tally, stored, stored_later, exits = (
        outcome.tally,
        outcome.stored,
        outcome.stored_later,
        outcome.exits,
    )
    duration = args.duration
    window = 60.0 if duration >= 300 else duration / 5
    first = [lat for t, lat in tally.browser_latency if t < window]
    last = [lat for t, lat in tally.browser_latency if t >= duration - window]
    p99_first, p99_last = p99(first), p99(last)

    first_life = [(t, size) for t, pid, size in outcome.memory if pid == outcome.first_life]
    warm = [size for t, size in first_life if 0.1 * duration <= t < 0.2 * duration]
    end_of_life = first_life[-max(1, len(first_life) // 20) :]
    memory_start = statistics.median(warm) if warm else first_life[0][1]
    memory_end = statistics.median(size for _, size in end_of_life)
    growth = memory_end / memory_start - 1

    by_kind: dict[str, Counter[int]] = {}
    for (kind, status), count in tally.statuses.items():
        by_kind.setdefault(kind, Counter())[status] = count
    print()
    print(f"requests            {tally.requests:,} ({tally.requests / duration:,.0f}/s)")
    for kind, statuses in sorted(by_kind.items()):
        shown = ", ".join(f"{status}: {count:,}" for status, count in sorted(statuses.items()))
        print(f"  {kind:<17} {shown}")
    print(f"retried while down  {tally.unreachable:,} connection attempts")
    print(f"browser errors      {len(tally.browser_errors)}")
    print(
        f"memory (1st proxy)  {memory_start / 2**20:.1f} MiB warmed up, "
        f"{memory_end / 2**20:.1f} MiB at the end of its life ({growth:+.1%})"
    )
    print(f"browser p99         first {window:.0f} s {p99_first * 1000:.1f} ms, "
          f"last {window:.0f} s {p99_last * 1000:.1f} ms")  # fmt: skip
    print(f"events (403)        expected {tally.refused:,}, stored {stored:,} "
          f"({stored_later:,} two seconds later)")  # fmt: skip
    print(f"proxy exits         {exits} (uvicorn re-raises SIGTERM: -15 is a clean stop)")
    checks = {
        "no error responses to browsers": not tally.browser_errors,
        "memory flat (growth under 5%)": growth < 0.05,
        "every refusal recorded, once": stored == stored_later == tally.refused,
        "p99 stable (last <= 1.5x first + 10 ms)": p99_last <= 1.5 * p99_first + 0.010,
        "the proxy stopped cleanly on SIGTERM": all(code in (0, -signal.SIGTERM) for code in exits),
    }
    print()
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    if tally.browser_errors:
        print("  browser errors:", ", ".join(tally.browser_errors[:10]))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "duration": duration,
                    "requests": tally.requests,
                    "statuses": {f"{k} {s}": c for (k, s), c in sorted(tally.statuses.items())},
                    "browser_errors": len(tally.browser_errors),
                    "unreachable": tally.unreachable,
                    "memory_start": memory_start,
                    "memory_end": memory_end,
                    "p99_first": p99_first,
                    "p99_last": p99_last,
                    "events_expected": tally.refused,
                    "events_stored": stored,
                    "events_stored_later": stored_later,
                    "proxy_exits": exits,
                    "checks": checks,
                },
                indent=2,
            )
        )
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
