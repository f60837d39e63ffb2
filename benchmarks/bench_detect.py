"""What behaviour tracking and claimed-bot verification cost per request, and per tracked client.

1. **Throughput**: two uvicorn servers with the same site (``_bench_app.py``) behind
   ``NoAIGuardMiddleware``: ``detect_off`` with behaviour detection and verification turned off,
   ``detect_on`` with both on (limits raised out of reach: wrk is one client at thousands of
   requests a second, and the point is the cost of tracking, not of blocking). A page view's
   requests (page, stylesheet, script, four images) from rotating browser User-Agents, in
   interleaved rounds. Goal: detect_on >= 0.9x detect_off.
2. **Memory per tracked client**: one million distinct addresses through the client table, measured
   with tracemalloc. Goal (issue 5): a million clients in under 200 MB.
3. **In-process cost** (info): one ``Behaviour.observe`` call, warm.

    python benchmarks/bench_detect.py [--duration 10] [--rounds 5] [--clients 1000000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

from _loadgen import Load, ms, need_wrk, pinning, table, write_lua
from bench_middleware import PAGE_VIEW, run, start_server, wait_ready

from noaiguard.classify.behaviour import IMAGE, Behaviour, ClientTable
from noaiguard.config import BehaviourConfig

VARIANTS = ("detect_off", "detect_on")


def memory_per_client(count: int) -> float:
    """Bytes per client for ``count`` distinct addresses, measured with tracemalloc."""
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    clients = ClientTable(capacity=count, window_seconds=60, epoch=0)
    for n in range(count):
        clients.observe(f"{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}.{n % 7}", IMAGE, now=n / 1000)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert len(clients) == count
    return used / count


def observe_cost(calls: int = 200_000) -> float:
    """Microseconds per Behaviour.observe for a known client, median of five runs."""
    behaviour = Behaviour(BehaviourConfig(), epoch=0)
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for n in range(calls):
            behaviour.observe("198.51.100.7", "/img/work-1.jpg" if n % 7 else "/", n / 1000)
        runs.append((time.perf_counter() - started) / calls * 1e6)
    return statistics.median(runs)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per load run (10)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (5)")
    parser.add_argument("--clients", type=int, default=1_000_000, help="clients to track (1M)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    per_client = memory_per_client(args.clients)
    total_mb = per_client * args.clients / 1e6
    print(
        f"memory: {args.clients:,} clients tracked in {total_mb:,.0f} MB, {per_client:.0f} bytes "
        f"each (goal: 1,000,000 in < 200 MB) {'PASS' if per_client * 1e6 < 200e6 else 'MISS'}"
    )
    print(f"Behaviour.observe, warm, in-process: {observe_cost():.2f} us per call (info)")
    if not need_wrk():
        return 2
    server_cpu, other_cpu = pinning()
    with tempfile.TemporaryDirectory(prefix="noaiguard-bench-detect-") as tmp_name:
        tmp = Path(tmp_name)
        script = tmp / "page-view.lua"
        write_lua(script, PAGE_VIEW)
        servers = {v: start_server(v, server_cpu, tmp) for v in VARIANTS}
        try:
            for server in servers.values():
                wait_ready(server)
            rounds: list[dict[str, Load]] = []
            for index in range(args.rounds):
                order = VARIANTS if index % 2 == 0 else VARIANTS[::-1]
                loads = {v: run(servers[v], script, other_cpu, args, args.duration) for v in order}
                rounds.append(loads)
                print(
                    f"  round {index + 1}/{args.rounds}: "
                    + ", ".join(f"{v} {loads[v].rps:,.0f} req/s" for v in order),
                    flush=True,
                )
        finally:
            for server in servers.values():
                server.process.terminate()
                server.process.wait(10)
    median = statistics.median
    print()
    table(
        ("variant", "req/s", "p50 ms", "p99 ms", "CPU us/req", "non-2xx"),
        [
            (
                v,
                f"{median(r[v].rps for r in rounds):,.0f}",
                ms(median(r[v].p50_us for r in rounds)),
                ms(median(r[v].p99_us for r in rounds)),
                f"{median(r[v].cpu_us_per_request or 0 for r in rounds):.1f}",
                str(sum(r[v].non2xx for r in rounds)),
            )
            for v in VARIANTS
        ],
    )
    ratio = median(r["detect_on"].rps / r["detect_off"].rps for r in rounds)
    verdict = "PASS" if ratio >= 0.9 else "MISS"
    print(f"\nthroughput detect_on / detect_off, median of rounds: {ratio:.3f}", end=" ")
    print(f"(goal >= 0.9) {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
