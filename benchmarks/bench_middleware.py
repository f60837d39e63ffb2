"""Throughput and latency of a real server without and with ``NoAIGuardMiddleware``.

What the middleware costs a site end to end: the same small Starlette site (``_bench_app.py``: a
page rendered from a template, whose ``<head>`` gets the robots meta tag, and its stylesheet,
script and four images served by ``StaticFiles``) is served by two uvicorn processes, ``bare`` and
``guarded`` (default configuration, events kept in memory), and loaded with ``wrk``. Every request
carries one of twenty real browser User-Agents, so every request is allowed and gets the full
signalling path: classification (a cache hit after the first request), the ``X-Robots-Tag``
header on every response and the meta tag in the HTML.

Scenarios, each measured in its own interleaved rounds:

- ``page view`` (the headline): the seven requests a browser makes for one view of the page,
  in turn: the page, the stylesheet, the script and the four images;
- ``page``: the HTML page alone, the worst case (every response is rewritten);
- ``image``: one image alone (headers only);
- ``stylesheet``: a small static file alone;
- ``api``: a small JSON document made in memory, the cheapest response there is, so the worst
  case for a header-only path.

The two servers are loaded in interleaved rounds (bare first in round 1, guarded first in
round 2, and so on) so that drift of the machine hits both. Per round it records requests/s and
the p50 and p99 latencies that wrk measured, then prints the median over rounds of the
guarded/bare ratios.
Goals: throughput ratio at least 0.90, p99 ratio at most 1.2. Timings are printed, never asserted.
wrk keeps a fixed number of requests in flight, so once a server is saturated its latency is about
connections / throughput, and the p99 ratio follows the throughput ratio.

For information it also prints the CPU time each server used per request (from /proc) and wrk's
CPU use. If the bare server was not saturated, the throughput ratio understates the cost.

On a machine with two or more CPUs the servers run on CPU 0 and wrk on CPU 1 (``taskset``), so that
the load generator does not steal the server's core. One uvicorn worker, 127.0.0.1 only, no access
log, uvloop and httptools when they are installed.

    python benchmarks/bench_middleware.py [--duration 10] [--rounds 5] [--connections 32]
        [--threads 2] [--warmup 3] [--scenario "page view" --scenario page ...]

Needs ``wrk`` (``apt-get install wrk``, ``brew install wrk``); exits with status 2 without it.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from _loadgen import (
    USER_AGENTS,
    Load,
    fetch,
    free_port,
    have,
    ms,
    need_wrk,
    pct,
    pinning,
    run_wrk,
    table,
    write_lua,
)

HERE = Path(__file__).resolve().parent
VARIANTS = ("bare", "guarded")
#: The paths _bench_app.py serves (not imported here, so this process stays light).
IMAGES = tuple(f"/static/img/work-{n}.jpg" for n in range(1, 5))
PAGE_VIEW = ("/", "/static/site.css", "/static/site.js", *IMAGES)
SCENARIOS = {
    "page view": PAGE_VIEW,
    "page": ("/",),
    "image": (IMAGES[0],),
    "stylesheet": ("/static/site.css",),
    "api": ("/api/works.json",),
}
HEADLINE = "page view"

THROUGHPUT_GOAL = 0.90  # guarded/bare requests per second, at least
P99_GOAL = 1.2  # guarded/bare p99 latency, at most

# -- servers --------------------------------------------------------------------------------------


@dataclass
class Server:
    variant: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_server(variant: str, prefix: list[str], log_dir: Path) -> Server:
    port = free_port()
    command = [
        *prefix,
        sys.executable,
        "-m",
        "uvicorn",
        "--app-dir",
        str(HERE),
        f"_bench_app:{variant}",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--no-access-log",
        "--log-level",
        "warning",
        "--loop",
        "uvloop" if have("uvloop") else "asyncio",
        "--http",
        "httptools" if have("httptools") else "h11",
    ]
    log = log_dir / f"{variant}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=HERE.parent)
    return Server(variant, port, process, log)


def wait_ready(server: Server, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        with contextlib.suppress(OSError):
            if fetch(server.port, "/", USER_AGENTS[0])[0].status == 200:
                return
        time.sleep(0.1)
    raise SystemExit(
        f"the {server.variant} server did not start; its output:\n{server.log.read_text()}"
    )


def check_signals(servers: dict[str, Server]) -> None:
    """The guarded server signals and the bare one does not, else the comparison is void."""
    for variant, server in servers.items():
        for path in PAGE_VIEW:
            response, body = fetch(server.port, path, USER_AGENTS[0])
            tagged = response.getheader("x-robots-tag") is not None
            meta = b'name="robots"' in body
            expected = variant == "guarded"
            if response.status != 200 or tagged != expected or (path == "/" and meta != expected):
                raise SystemExit(
                    f"{variant} {path}: status {response.status}, X-Robots-Tag {tagged}, "
                    f"meta tag {meta}: not what the benchmark expects"
                )


@contextlib.contextmanager
def running_servers(prefix: list[str], log_dir: Path) -> Iterator[dict[str, Server]]:
    servers: dict[str, Server] = {}
    try:
        for variant in VARIANTS:
            servers[variant] = start_server(variant, prefix, log_dir)
        for server in servers.values():
            wait_ready(server)
        yield servers
    finally:
        for server in servers.values():
            server.process.terminate()
        for server in servers.values():
            try:
                server.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()


# -- load -----------------------------------------------------------------------------------------


# -- report ---------------------------------------------------------------------------------------


def run(
    server: Server, script: Path, prefix: list[str], args: argparse.Namespace, seconds: float
) -> Load:
    return run_wrk(
        server.url,
        server.process.pid,
        script,
        prefix,
        threads=args.threads,
        connections=args.connections,
        seconds=seconds,
    )


@dataclass(frozen=True)
class Summary:
    bare_rps: float
    guarded_rps: float
    rps_ratio: float
    p99_ratio: float
    extra_cpu_us: float | None


def report(rounds: list[dict[str, Load]]) -> Summary:
    """Per-round table and the median ratios."""
    rows: list[tuple[str, ...]] = []
    for index, loads in enumerate(rounds, 1):
        order = VARIANTS if index % 2 else VARIANTS[::-1]
        for variant in order:
            load = loads[variant]
            per_request = load.cpu_us_per_request
            rows.append(
                (
                    str(index),
                    variant,
                    f"{load.rps:,.0f}",
                    ms(load.p50_us),
                    ms(load.p99_us),
                    pct(load.server_cpu_share),
                    "-" if per_request is None else f"{per_request:.1f}",
                    pct(load.wrk_cpu / load.seconds),
                )
            )
    header = ("round", "server", "req/s", "p50 ms", "p99 ms", "server CPU", "CPU us/req", "wrk CPU")
    table(header, rows)

    def median(values: Iterable[float]) -> float:
        return statistics.median(values)

    print()
    for variant in VARIANTS:
        runs = [r[variant] for r in rounds]
        print(
            f"median {variant:<8} {median(x.rps for x in runs):>9,.0f} req/s   "
            f"p50 {ms(median(x.p50_us for x in runs))} ms   "
            f"p99 {ms(median(x.p99_us for x in runs))} ms"
        )
    rps_ratio = median(r["guarded"].rps / r["bare"].rps for r in rounds)
    p99_ratio = median(r["guarded"].p99_us / r["bare"].p99_us for r in rounds)
    print(f"throughput guarded/bare, median of rounds:  {rps_ratio:.3f}")
    print(f"p99 latency guarded/bare, median of rounds: {p99_ratio:.3f}")
    extra_cpu: float | None = None
    cpu = [(r["bare"].cpu_us_per_request, r["guarded"].cpu_us_per_request) for r in rounds]
    if all(b is not None and g is not None for b, g in cpu):
        bare_us = median(b for b, _ in cpu if b is not None)
        guarded_us = median(g for _, g in cpu if g is not None)
        extra_cpu = guarded_us - bare_us
        print(
            f"server CPU per request (info): bare {bare_us:.1f} us, guarded {guarded_us:.1f} us, "
            f"+{guarded_us - bare_us:.1f} us ({guarded_us / bare_us:.3f}x)"
        )
        bare_share = median(r["bare"].server_cpu_share or 0.0 for r in rounds)
        if bare_share < 0.9:
            print(
                f"note: the bare server used only {bare_share:.0%} of its CPU, so something else "
                "(wrk, the kernel, other processes) set its pace: the throughput ratio may then "
                "understate the middleware's cost; compare the CPU per request too."
            )
    failed = sum(loads[v].errors + loads[v].non2xx for loads in rounds for v in VARIANTS)
    if failed:
        print(f"warning: {failed} socket errors or non-2xx responses during the rounds")
    return Summary(
        bare_rps=median(r["bare"].rps for r in rounds),
        guarded_rps=median(r["guarded"].rps for r in rounds),
        rps_ratio=rps_ratio,
        p99_ratio=p99_ratio,
        extra_cpu_us=extra_cpu,
    )


def summarize(results: dict[str, Summary]) -> None:
    """One line per scenario; the goals are judged on the page-view scenario."""
    print("\nsummary (medians over rounds)")
    rows = [
        (
            name,
            "",
            f"{s.bare_rps:,.0f}",
            f"{s.guarded_rps:,.0f}",
            f"{s.rps_ratio:.3f}",
            f"{s.p99_ratio:.3f}",
            "-" if s.extra_cpu_us is None else f"{s.extra_cpu_us:+.1f}",
        )
        for name, s in results.items()
    ]
    table(("scenario", "", "bare req/s", "guarded req/s", "ratio", "p99 ratio", "CPU us/req"), rows)
    headline = results.get(HEADLINE)
    if headline is not None:
        rps_ok = headline.rps_ratio >= THROUGHPUT_GOAL
        p99_ok = headline.p99_ratio <= P99_GOAL
        print(
            f"\n{HEADLINE}: throughput {headline.rps_ratio:.3f} (goal >= {THROUGHPUT_GOAL:.2f}) "
            f"{'PASS' if rps_ok else 'MISS'}; p99 {headline.p99_ratio:.3f} "
            f"(goal <= {P99_GOAL:.1f}) {'PASS' if p99_ok else 'MISS'}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per load run (10)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, each loads both (5)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per server (3)")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=list(SCENARIOS),
        help="run only this scenario (repeatable); default: all, page view first",
    )
    args = parser.parse_args(argv)
    if min(args.duration, args.rounds, args.connections, args.threads) < 1 or args.warmup < 0:
        parser.error("--duration, --rounds, --connections and --threads must be at least 1")
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads")

    if not need_wrk():
        return 2

    server_cpu, wrk_cpu = pinning()
    print(
        f"wrk {args.threads} threads, {args.connections} connections, {args.duration} s x "
        f"{args.rounds} rounds per server; uvicorn 1 worker, "
        f"loop {'uvloop' if have('uvloop') else 'asyncio'}, "
        f"http {'httptools' if have('httptools') else 'h11'}; "
        + (
            f"servers on CPU {server_cpu[-1]}, wrk on CPU {wrk_cpu[-1]}"
            if server_cpu
            else "no CPU pinning (needs taskset and 2 CPUs)"
        )
    )
    print(f"{len(USER_AGENTS)} browser User-Agents in turn")
    results: dict[str, Summary] = {}
    with tempfile.TemporaryDirectory(prefix="noaiguard-bench-") as tmp:
        tmpdir = Path(tmp)
        with running_servers(server_cpu, tmpdir) as servers:
            check_signals(servers)
            for name in args.scenario or list(SCENARIOS):
                paths = SCENARIOS[name]
                print(f"\n== {name}: {', '.join(paths)}")
                script = tmpdir / "rotate.lua"
                write_lua(script, paths)
                if args.warmup:
                    for variant in VARIANTS:
                        run(servers[variant], script, wrk_cpu, args, args.warmup)
                rounds: list[dict[str, Load]] = []
                for index in range(args.rounds):
                    order = VARIANTS if index % 2 == 0 else VARIANTS[::-1]
                    loads = {
                        variant: run(servers[variant], script, wrk_cpu, args, args.duration)
                        for variant in order
                    }
                    rounds.append(loads)
                    print(
                        f"  round {index + 1}/{args.rounds}: "
                        + ", ".join(f"{v} {loads[v].rps:,.0f} req/s" for v in order),
                        flush=True,
                    )
                print()
                results[name] = report(rounds)
    summarize(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
