"""What noaiguard costs in each framework integration: Django (WSGI and ASGI), FastAPI and Flask.

Each framework serves the same two responses (``_bench_frameworks.py``, ``_bench_django.py``): a
2 KB HTML page made in memory, which noaiguard rewrites (``X-Robots-Tag`` and the robots meta tag
in its ``<head>``), and 20 KB of image bytes, which only get the header. Two servers per
framework, ``bare`` and ``guarded``, differ only in noaiguard being added the way its
documentation says:

- ``django-wsgi``: Django under gunicorn (one sync worker), ``NoAIGuardMiddleware`` in
  ``MIDDLEWARE`` and the app in ``INSTALLED_APPS``, ``NOAIGUARD = {"store": {"url": "memory:"}}``;
  the bare project is the same without the ``MIDDLEWARE`` line;
- ``django-asgi``: the same project under uvicorn, with async views;
- ``fastapi``: FastAPI under uvicorn, ``app.add_middleware(NoAIGuardMiddleware, config=...)``;
- ``flask``: Flask under gunicorn (one sync worker), ``app.wsgi_app = NoAIGuardWSGI(...)``.

Every guarded server has the default configuration with events in memory, and behaviour
detection's limits out of wrk's reach (it would rightly block one client sending thousands of
requests a second; the tracking still runs). Every request carries one of twenty real browser
User-Agents, so every request is allowed and takes the full signalling path. Before any load the
script checks that each guarded server sends the header and the tag and refuses GPTBot, and that
each bare one does neither.

Scenarios: ``page`` (the HTML page alone: the worst case, every response is rewritten) and
``image`` (the image alone: header only). All servers run at once and are loaded in interleaved
rounds: in each round, for each framework and scenario, bare and guarded back to back, bare first
in odd rounds and guarded first in even ones, so that drift of the machine hits both. Per run it
records requests/s, wrk's p50 and p99, and the CPU time the server process (gunicorn's worker, not
its master) used per request. The verdict is the median over rounds of the guarded/bare ratios.
Goal: throughput ratio at least 0.90 for every framework. Timings are printed, never asserted.

On a machine with two or more CPUs the servers run on CPU 0 and wrk on CPU 1 (``taskset``). One
worker per server, 127.0.0.1 only, no access log; uvicorn with uvloop and httptools when they are
installed. gunicorn's sync worker closes the connection after each response (it has no
keep-alive), so under WSGI every request is also a new TCP connection, bare and guarded alike, and
the worker waits for wrk to close its end before it takes the next one: it is then often not
saturated, and the CPU per request says more than the throughput. ``--wsgi-worker gthread``
serves the WSGI frameworks with gunicorn's threaded worker (one thread, keep-alive) instead.

    python benchmarks/bench_integrations.py [--duration 5] [--rounds 3] [--connections 32]
        [--threads 2] [--warmup 2] [--framework flask --framework fastapi ...]
        [--wsgi-worker sync|gthread]

Needs ``wrk`` (``apt-get install wrk``), gunicorn for the WSGI servers (``pip install gunicorn``)
and the frameworks (``pip install -e '.[test]'``); exits with status 2 without them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from _loadgen import (
    USER_AGENTS,
    Load,
    fetch,
    free_port,
    have,
    need_wrk,
    pinning,
    run_wrk,
    table,
    write_lua,
)
from bench_middleware import Server, Summary, report, wait_ready

HERE = Path(__file__).resolve().parent
VARIANTS = ("bare", "guarded")
#: The paths _bench_frameworks.py serves (not imported here, so this process stays light).
PAGE, IMAGE = "/", "/work.png"
SCENARIOS = {"page": (PAGE,), "image": (IMAGE,)}
BOT = "GPTBot/1.2"

THROUGHPUT_GOAL = 0.90  # guarded/bare requests per second, at least


@dataclass(frozen=True)
class Framework:
    server: str  # "gunicorn" or "uvicorn"
    modules: tuple[str, ...]  # what it needs installed
    target: str  # the app, "{variant}" for bare or guarded
    #: The environment variable that chooses the variant (else the target names it).
    variant_environment: str = ""


FRAMEWORKS = {
    "django-wsgi": Framework(
        "gunicorn", ("django", "gunicorn"), "_bench_django:wsgi", "NOAIGUARD_BENCH_DJANGO"
    ),
    "django-asgi": Framework(
        "uvicorn", ("django", "uvicorn"), "_bench_django:asgi", "NOAIGUARD_BENCH_DJANGO"
    ),
    "fastapi": Framework("uvicorn", ("fastapi", "uvicorn"), "_bench_frameworks:fastapi_{variant}"),
    "flask": Framework("gunicorn", ("flask", "gunicorn"), "_bench_frameworks:flask_{variant}"),
}

# -- servers --------------------------------------------------------------------------------------


@dataclass
class Served:
    """A running server, and the process that handles its requests (gunicorn: the worker)."""

    framework: str
    variant: str
    server: Server
    worker_pid: int

    @property
    def label(self) -> str:
        return f"{self.framework} {self.variant}"


def server_command(
    framework: Framework, variant: str, port: int, wsgi_worker: str = "sync"
) -> list[str]:
    target = framework.target.format(variant=variant)
    if framework.server == "gunicorn":
        # No --access-logfile: gunicorn writes no access log unless asked to.
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "--pythonpath",
            str(HERE),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--worker-class",
            wsgi_worker,
            *(["--threads", "1"] if wsgi_worker == "gthread" else []),
            "--log-level",
            "warning",
            target,
        ]
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--app-dir",
        str(HERE),
        target,
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


def start_server(
    name: str, variant: str, prefix: list[str], log_dir: Path, wsgi_worker: str
) -> Server:
    framework = FRAMEWORKS[name]
    port = free_port()
    env = dict(os.environ)
    if framework.variant_environment:
        env[framework.variant_environment] = variant
    log = log_dir / f"{name}-{variant}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*prefix, *server_command(framework, variant, port, wsgi_worker)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=HERE.parent,
            env=env,
        )
    return Server(f"{name} {variant}", port, process, log)


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc; empty elsewhere)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if int((entry / "stat").read_text().rpartition(")")[2].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def worker_pid(name: str, server: Server) -> int:
    """The process that serves requests: gunicorn's one worker, or uvicorn itself."""
    if FRAMEWORKS[name].server != "gunicorn":
        return server.process.pid
    workers = children(server.process.pid)
    if len(workers) != 1:
        print(
            f"note: {server.variant}: {len(workers)} gunicorn workers found; "
            "CPU time is the master's only",
            file=sys.stderr,
        )
        return server.process.pid
    return workers[0]


@contextlib.contextmanager
def running_servers(
    names: Sequence[str], prefix: list[str], log_dir: Path, wsgi_worker: str
) -> Iterator[dict[tuple[str, str], Served]]:
    started: dict[tuple[str, str], Server] = {}
    try:
        for name in names:
            for variant in VARIANTS:
                started[name, variant] = start_server(name, variant, prefix, log_dir, wsgi_worker)
        for server in started.values():
            wait_ready(server)
        yield {
            (name, variant): Served(name, variant, server, worker_pid(name, server))
            for (name, variant), server in started.items()
        }
    finally:
        for server in started.values():
            server.process.terminate()
        for server in started.values():
            try:
                server.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()


def check_guarding(servers: dict[tuple[str, str], Served]) -> None:
    """Each guarded server signals and refuses GPTBot, each bare one does neither; else the
    comparison is void."""
    for served in servers.values():
        guarded = served.variant == "guarded"
        port = served.server.port
        problems = []
        page, body = fetch(port, PAGE, USER_AGENTS[0])
        tagged = page.getheader("x-robots-tag") is not None
        meta = b'<meta name="robots"' in body
        if page.status != 200 or tagged != guarded or meta != guarded:
            problems.append(f"{PAGE}: status {page.status}, X-Robots-Tag {tagged}, meta tag {meta}")
        image, _ = fetch(port, IMAGE, USER_AGENTS[0])
        tagged = image.getheader("x-robots-tag") is not None
        content_type = image.getheader("content-type", "")
        if image.status != 200 or tagged != guarded or content_type != "image/png":
            problems.append(
                f"{IMAGE}: status {image.status}, X-Robots-Tag {tagged}, {content_type}"
            )
        bot, _ = fetch(port, PAGE, BOT)
        if bot.status != (403 if guarded else 200):
            problems.append(f"{PAGE} as {BOT}: status {bot.status}")
        if problems:
            raise SystemExit(
                f"{served.label}: not what the benchmark expects: " + "; ".join(problems)
            )
    print(
        f"checked: guarded servers send X-Robots-Tag and the meta tag and refuse {BOT} (403); "
        "bare servers do none of it"
    )


# -- load and report ------------------------------------------------------------------------------


def run(
    served: Served, script: Path, prefix: list[str], args: argparse.Namespace, seconds: float
) -> Load:
    return run_wrk(
        served.server.url,
        served.worker_pid,
        script,
        prefix,
        threads=args.threads,
        connections=args.connections,
        seconds=seconds,
    )


@dataclass(frozen=True)
class Result:
    summary: Summary
    bare_cpu_us: float | None
    guarded_cpu_us: float | None


def cpu_median(rounds: list[dict[str, Load]], variant: str) -> float | None:
    values = [r[variant].cpu_us_per_request for r in rounds]
    if any(v is None for v in values):
        return None
    return statistics.median(v for v in values if v is not None)


def summarize(results: dict[tuple[str, str], Result]) -> None:
    """One line per framework and scenario, judged against the goal."""
    print(f"\nsummary (medians over rounds; goal: guarded/bare throughput >= {THROUGHPUT_GOAL})")

    def cpu(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    rows = [
        (
            framework,
            scenario,
            f"{r.summary.bare_rps:,.0f}",
            f"{r.summary.guarded_rps:,.0f}",
            f"{r.summary.rps_ratio:.3f}",
            f"{r.summary.p99_ratio:.3f}",
            cpu(r.bare_cpu_us),
            cpu(r.guarded_cpu_us),
            "-" if r.summary.extra_cpu_us is None else f"{r.summary.extra_cpu_us:+.1f}",
            "PASS" if r.summary.rps_ratio >= THROUGHPUT_GOAL else "below goal",
        )
        for (framework, scenario), r in results.items()
    ]
    header = (
        "framework",
        "scenario",
        "bare req/s",
        "guarded req/s",
        "ratio",
        "p99 ratio",
        "bare us/req",
        "guarded us/req",
        "added us",
        "result",
    )
    table(header, rows)
    below = [f"{f} {s}" for (f, s), r in results.items() if r.summary.rps_ratio < THROUGHPUT_GOAL]
    print()
    if below:
        print(f"below the {THROUGHPUT_GOAL:.2f} goal: {', '.join(below)}")
    else:
        print(f"every framework and scenario at or above the {THROUGHPUT_GOAL:.2f} goal")


def missing_software(names: Sequence[str]) -> str | None:
    modules = sorted({m for name in names for m in FRAMEWORKS[name].modules})
    missing = [m for m in modules if not have(m)]
    if not missing:
        return None
    hints = ["`pip install gunicorn`"] if "gunicorn" in missing else []
    if set(missing) - {"gunicorn"}:
        hints.append("`pip install -e '.[test]'`")
    return f"not installed: {', '.join(missing)}; {' and '.join(hints)}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per load run (5)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each loads every server (3)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per server (2)")
    parser.add_argument(
        "--framework",
        action="append",
        choices=list(FRAMEWORKS),
        help="run only this framework (repeatable); default: all",
    )
    parser.add_argument(
        "--wsgi-worker",
        choices=("sync", "gthread"),
        default="sync",
        help="gunicorn's worker class for Django (WSGI) and Flask: sync (no keep-alive, the "
        "default) or gthread (one thread, keep-alive)",
    )
    args = parser.parse_args(argv)
    if min(args.duration, args.rounds, args.connections, args.threads) < 1 or args.warmup < 0:
        parser.error("--duration, --rounds, --connections and --threads must be at least 1")
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads")
    names = [name for name in FRAMEWORKS if name in (args.framework or FRAMEWORKS)]

    if not need_wrk():
        return 2
    missing = missing_software(names)
    if missing is not None:
        print(missing, file=sys.stderr)
        return 2

    server_cpu, wrk_cpu = pinning()
    print(
        f"wrk {args.threads} threads, {args.connections} connections, {args.duration} s x "
        f"{args.rounds} rounds per server and scenario; gunicorn 1 {args.wsgi_worker} worker; "
        "uvicorn 1 worker, "
        f"loop {'uvloop' if have('uvloop') else 'asyncio'}, "
        f"http {'httptools' if have('httptools') else 'h11'}; "
        + (
            f"servers on CPU {server_cpu[-1]}, wrk on CPU {wrk_cpu[-1]}"
            if server_cpu
            else "no CPU pinning (needs taskset and 2 CPUs)"
        )
    )
    print(f"{len(USER_AGENTS)} browser User-Agents in turn")
    runs: dict[tuple[str, str], list[dict[str, Load]]] = {
        (name, scenario): [] for name in names for scenario in SCENARIOS
    }
    with tempfile.TemporaryDirectory(prefix="noaiguard-bench-") as tmp:
        tmpdir = Path(tmp)
        scripts = {}
        for scenario, paths in SCENARIOS.items():
            scripts[scenario] = tmpdir / f"{scenario}.lua"
            write_lua(scripts[scenario], paths)
        warm = tmpdir / "warm.lua"
        write_lua(warm, [path for paths in SCENARIOS.values() for path in paths])
        with running_servers(names, server_cpu, tmpdir, args.wsgi_worker) as servers:
            check_guarding(servers)
            if args.warmup:
                for served in servers.values():
                    run(served, warm, wrk_cpu, args, args.warmup)
            for index in range(args.rounds):
                order = VARIANTS if index % 2 == 0 else VARIANTS[::-1]
                for name in names:
                    for scenario, script in scripts.items():
                        loads = {
                            variant: run(
                                servers[name, variant], script, wrk_cpu, args, args.duration
                            )
                            for variant in order
                        }
                        runs[name, scenario].append(loads)
                        print(
                            f"  round {index + 1}/{args.rounds}: {name} {scenario}: "
                            + ", ".join(f"{v} {loads[v].rps:,.0f} req/s" for v in order),
                            flush=True,
                        )
    results: dict[tuple[str, str], Result] = {}
    for (name, scenario), rounds in runs.items():
        print(f"\n== {name} {scenario}: {', '.join(SCENARIOS[scenario])}")
        results[name, scenario] = Result(
            report(rounds), cpu_median(rounds, "bare"), cpu_median(rounds, "guarded")
        )
    summarize(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
