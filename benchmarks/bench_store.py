"""How fast events reach each store, and what a stalled store costs the requests (nothing).

1. **Sustained writes**: ``--events`` events through an :class:`EventSink` (bounded queue, one
   writer thread, batches of 500, one transaction per batch) into SQLite (a file here) and into
   PostgreSQL (a fresh schema in ``--postgres``, skipped when it does not answer). Reported:
   events per second from the first ``put`` to the last commit, checked against the store's count.
2. **Latency while the store is stalled**: two uvicorn servers with the same small app behind
   ``NoAIGuardMiddleware``, one writing to SQLite, one to a store whose writes never return (a
   database that stopped answering). wrk sends browsers and GPTBot in turn, so every other request
   makes an event. Rounds are interleaved. Goal: p99 with the stalled store within 1.1x of the
   healthy one: the request path only ever puts events on the queue.

    python benchmarks/bench_store.py [--events 100000] [--duration 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from _loadgen import (
    USER_AGENTS,
    Load,
    free_port,
    have,
    ms,
    need_wrk,
    pinning,
    run_wrk,
    table,
    write_lua,
)

from noaiguard.backends.base import EventStore
from noaiguard.backends.postgres import PostgresEventStore
from noaiguard.backends.sqlite import SQLiteEventStore
from noaiguard.errors import StoreError
from noaiguard.events import Event
from noaiguard.sink import EventSink

HERE = Path(__file__).resolve().parent
GPTBOT = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)"
POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def sample_event(n: int) -> Event:
    return Event(
        time=1_700_000_000.0 + n / 1000,
        method="GET",
        path=f"/gallery/{n % 500}.jpg",
        status=403,
        category="ai-training",
        action="block",
        client_ip="198.51.100.0/24",
        host="artist.example",
        bytes_sent=61,
        user_agent=GPTBOT,
        agent="GPTBot",
        rule="default.ai-training",
        reasons=("User-Agent names GPTBot (ai-training)",),
        x_robots_tag="noai, noimageai",
        robots_version="28193bdd982586677464a248a320aeffeb73097c7666d21b553cbb34d4a707b3",
    )


def sustained(open_store: Callable[[], EventStore], count: int) -> tuple[float, int]:
    """Seconds to write ``count`` events through a sink, and how many the store then holds."""
    store = open_store()
    sink = EventSink(lambda: store, queue_size=count + 1, batch_size=500, flush_seconds=0.05)
    events = [sample_event(n) for n in range(count)]
    started = time.perf_counter()
    for event in events:
        sink.put(event)
    sink.flush(600)
    seconds = time.perf_counter() - started
    stored = store.count()
    sink.close()
    return seconds, stored


@contextlib.contextmanager
def postgres_schema(url: str) -> Iterator[str | None]:
    import psycopg

    schema = f"noaiguard_bench_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
    except psycopg.OperationalError as exc:
        print(f"PostgreSQL at {url} does not answer ({exc}): skipped")
        yield None
        return
    try:
        yield f"{url}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@contextlib.contextmanager
def server(name: str, store: str, port: int, prefix: list[str], log: Path) -> Iterator[int]:
    command = [
        *prefix, sys.executable, "-m", "uvicorn", "--app-dir", str(HERE), "_bench_store_app:app",
        "--port", str(port), "--no-access-log", "--log-level", "warning",
        "--loop", "uvloop" if have("uvloop") else "asyncio",
        "--http", "httptools" if have("httptools") else "h11",
    ]  # fmt: skip
    env = {**os.environ, "NOAIGUARD_BENCH_STORE": store}
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                import urllib.request

                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).read()
                break
            time.sleep(0.1)
        else:
            raise SystemExit(f"{name} did not start; see {log}")
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="events per store (100000)")
    parser.add_argument("--postgres", default=POSTGRES, help=f"PostgreSQL URL ({POSTGRES})")
    parser.add_argument("--duration", type=int, default=10, help="seconds per load run (10)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (3)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="noaiguard-bench-store-") as tmp_name:
        tmp = Path(tmp_name)
        rows = []
        seconds, stored = sustained(lambda: SQLiteEventStore(str(tmp / "bench.db")), args.events)
        rows.append(("sqlite (WAL, file)", seconds, stored))
        with postgres_schema(args.postgres) as url:
            if url is not None:
                try:
                    seconds, stored = sustained(lambda: PostgresEventStore(url), args.events)
                    rows.append(("postgresql (127.0.0.1)", seconds, stored))
                except StoreError as exc:
                    print(f"PostgreSQL: {exc}")
        print()
        table(
            ("store", "events", "seconds", "events/s", "stored"),
            [
                (name, f"{args.events:,}", f"{s:.2f}", f"{args.events / s:,.0f}", f"{n:,}")
                for name, s, n in rows
            ],
        )
        if any(n != args.events for _, _, n in rows):
            print("MISMATCH: a store holds another number of events than were written")
            return 1

        if not need_wrk():
            return 2
        server_cpu, other_cpu = pinning()
        script = tmp / "mix.lua"
        write_lua(script, ["/", "/img/a.jpg", "/img/b.jpg"], [USER_AGENTS[0], GPTBOT])
        results: dict[str, list[Load]] = {"healthy": [], "stalled": []}
        stores = {"healthy": f"sqlite:{tmp / 'latency.db'}", "stalled": "stalled"}
        with contextlib.ExitStack() as stack:
            ports = {name: free_port() for name in stores}
            pids = {
                name: stack.enter_context(
                    server(name, store, ports[name], server_cpu, tmp / f"{name}.log")
                )
                for name, store in stores.items()
            }
            for round_index in range(args.rounds):
                order = ["healthy", "stalled"] if round_index % 2 == 0 else ["stalled", "healthy"]
                for name in order:
                    results[name].append(
                        run_wrk(
                            f"http://127.0.0.1:{ports[name]}",
                            pids[name],
                            script,
                            other_cpu,
                            threads=2,
                            connections=args.connections,
                            seconds=args.duration,
                        )
                    )
                print(
                    f"  round {round_index + 1}/{args.rounds}: "
                    + ", ".join(
                        f"{n} {results[n][-1].rps:,.0f} req/s, p99 {ms(results[n][-1].p99_us)} ms"
                        for n in order
                    ),
                    flush=True,
                )
    print()
    median = statistics.median
    table(
        ("store", "req/s", "p50 ms", "p99 ms", "refused (403)", "errors"),
        [
            (
                name,
                f"{median(x.rps for x in loads):,.0f}",
                ms(median(x.p50_us for x in loads)),
                ms(median(x.p99_us for x in loads)),
                f"{sum(x.non2xx for x in loads):,}",
                str(sum(x.errors for x in loads)),
            )
            for name, loads in results.items()
        ],
    )
    ratio = median(
        s.p99_us / h.p99_us for s, h in zip(results["stalled"], results["healthy"], strict=True)
    )
    verdict = "PASS" if ratio <= 1.1 else "MISS"
    print(f"\np99 stalled / healthy, median of rounds: {ratio:.3f} (goal <= 1.1) {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
