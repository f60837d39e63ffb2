"""What noaiguard costs in each framework integration: Django (WSGI and ASGI), FastAPI and Flask.

Each framework serves the same small site (``_bench_frameworks.py``, ``_bench_django.py``): a
2 KB HTML page made in memory, which noaiguard rewrites (``X-Robots-Tag`` and the robots meta tag
in its ``<head>``); the stylesheet (5 KB), script (5 KB) and four images (38-70 KB PNGs) it
links, files on disk served the way the framework serves static files without a separate web
server (FastAPI: a ``StaticFiles`` mount; Flask: its static folder; Django: a view returning
``FileResponse(open(path, "rb"))``), which only get the header; and 20 KB of image bytes from
memory. Two servers per framework, ``bare`` and ``guarded``, differ only in noaiguard being added
the way its documentation says:

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
script checks that each guarded server sends the header on every file of the page view and on the
image, and the tag in the page, and refuses GPTBot, and that each bare one does none of it.

Scenarios, as in ``bench_middleware.py``:

- ``page view`` (the headline): the seven requests a browser makes for one view of the page, in
  turn: the page, the stylesheet, the script and the four images;
- ``page``: the HTML page alone, the worst case (every response is rewritten);
- ``image``: the 20 KB image from memory alone, the worst case of a header-only response (far
  cheaper for the framework than a file from disk, so the guard's share is at its largest).

All servers run at once and are loaded in interleaved rounds: in each round, for each framework
and scenario, bare and guarded back to back, bare first in odd rounds and guarded first in even
ones, so that drift of the machine hits both. Per run it records requests/s, wrk's p50 and p99,
and the CPU time the server process (gunicorn's worker, not its master) used per request. The
verdict is the median over rounds of the guarded/bare ratios, and the CPU noaiguard adds the
median over rounds of guarded minus bare CPU per request. Goal: throughput ratio at least
0.90 for every framework on a page view; the single-response scenarios are printed for
information. Timings are printed, never asserted.

On a machine with two or more CPUs the servers run on CPU 0 and wrk on CPU 1 (``taskset``). One
worker per server, 127.0.0.1 only, no access log; uvicorn with uvloop and httptools when they are
installed. gunicorn's sync worker closes the connection after each response (it has no
keep-alive), so under WSGI every request is also a new TCP connection, bare and guarded alike, and
the worker waits for wrk to close its end before it takes the next one: it is then often not
saturated, and the CPU per request says more than the throughput. ``--wsgi-worker gthread``
serves the WSGI frameworks with gunicorn's threaded worker (one thread, keep-alive) instead.

    python benchmarks/bench_integrations.py [--duration 5] [--rounds 3] [--connections 32]
        [--threads 2] [--warmup 2] [--framework flask --framework fastapi ...]
        [--scenario "page view" --scenario page ...] [--wsgi-worker sync|gthread]

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

from _bench_frameworks import (
    IMAGE_PATH,
    PAGE_PATH,
    PAGE_VIEW,
    STATIC_ENVIRONMENT,
    STATIC_URL,
    write_static_files,
)
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
SCENARIOS = {"page view": PAGE_VIEW, "page": (PAGE_PATH,), "image": (IMAGE_PATH,)}
HEADLINE = "page view"
BOT = "GPTBot/1.2"
#: The Content-Type each kind of file must have, by the end of its path.
CONTENT_TYPES = {".css": "text/css", ".js": "javascript", ".png": "image/png"}

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
    name: str, variant: str, prefix: list[str], log_dir: Path, *, static: Path, wsgi_worker: str
) -> Server:
    framework = FRAMEWORKS[name]
    port = free_port()
    env = dict(os.environ)
    env[STATIC_ENVIRONMENT] = str(static)
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
    names: Sequence[str], prefix: list[str], log_dir: Path, static: Path, wsgi_worker: str
) -> Iterator[dict[tuple[str, str], Served]]:
    started: dict[tuple[str, str], Server] = {}
    try:
        for name in names:
            for variant in VARIANTS:
                started[name, variant] = start_server(
                    name, variant, prefix, log_dir, static=static, wsgi_worker=wsgi_worker
                )
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


def on_disk(static: Path, path: str) -> bytes:
    """The bytes of the static file at URL ``path``."""
    return static.joinpath(path.removeprefix(f"{STATIC_URL}/")).read_bytes()


def check_guarding(servers: dict[tuple[str, str], Served], static: Path) -> None:
    """Each guarded server signals on every response (the page, each static file, the image from
    memory) and refuses GPTBot, each bare one does none of it, and the static files are the ones
    on disk; else the comparison is void."""
    for served in servers.values():
        guarded = served.variant == "guarded"
        port = served.server.port
        problems = []
        for path in (*PAGE_VIEW, IMAGE_PATH):
            response, body = fetch(port, path, USER_AGENTS[0])
            tagged = response.getheader("x-robots-tag") is not None
            content_type = response.getheader("content-type", "")
            if response.status != 200 or tagged != guarded:
                problems.append(f"{path}: status {response.status}, X-Robots-Tag {tagged}")
            elif path == PAGE_PATH:
                meta = b'<meta name="robots"' in body
                if meta != guarded or not content_type.startswith("text/html"):
                    problems.append(f"{path}: meta tag {meta}, {content_type}")
            elif CONTENT_TYPES[Path(path).suffix] not in content_type:
                problems.append(f"{path}: {content_type}")
            elif path in PAGE_VIEW and body != on_disk(static, path):
                problems.append(f"{path}: {len(body)} bytes, not the file on disk")
        bot, _ = fetch(port, PAGE_PATH, BOT)
        if bot.status != (403 if guarded else 200):
            problems.append(f"{PAGE_PATH} as {BOT}: status {bot.status}")
        if problems:
            raise SystemExit(
                f"{served.label}: not what the benchmark expects: " + "; ".join(problems)
            )
    print(
        "checked: guarded servers send X-Robots-Tag on the page, the static files and the image, "
        f"the meta tag in the page, and refuse {BOT} (403); bare servers do none of it"
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
    #: Median over rounds of guarded minus bare CPU per request in the same round: paired, as
    #: the throughput ratio is, so that the machine's drift between rounds cancels out.
    added_cpu_us: float | None


def cpu_median(rounds: list[dict[str, Load]], variant: str) -> float | None:
    values = [r[variant].cpu_us_per_request for r in rounds]
    if any(v is None for v in values):
        return None
    return statistics.median(v for v in values if v is not None)


def cpu_added(rounds: list[dict[str, Load]]) -> float | None:
    added = []
    for loads in rounds:
        bare, guarded = loads["bare"].cpu_us_per_request, loads["guarded"].cpu_us_per_request
        if bare is None or guarded is None:
            return None
        added.append(guarded - bare)
    return statistics.median(added)


def summarize(results: dict[tuple[str, str], Result]) -> None:
    """One line per framework and scenario; the goal is judged on the page view, the single
    responses are the worst cases, for information."""
    print(
        f"\nsummary (medians over rounds; goal: guarded/bare throughput >= {THROUGHPUT_GOAL} "
        f"on a {HEADLINE})"
    )

    def cpu(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    def verdict(scenario: str, summary: Summary) -> str:
        if scenario != HEADLINE:
            return "worst case (info)"
        return "PASS" if summary.rps_ratio >= THROUGHPUT_GOAL else "MISS"

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
            "-" if r.added_cpu_us is None else f"{r.added_cpu_us:+.1f}",
            verdict(scenario, r.summary),
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
    print("(added us: guarded minus bare CPU per request within each round, median over rounds)\n")
    for (framework, scenario), r in results.items():
        if scenario != HEADLINE:
            continue
        added = r.added_cpu_us
        print(
            f"{framework} {HEADLINE}: throughput {r.summary.rps_ratio:.3f} "
            f"(goal >= {THROUGHPUT_GOAL:.2f}) {verdict(scenario, r.summary)}"
            + (
                ""
                if added is None
                else f"; server CPU guarded - bare {added:+.1f} us per request, "
                f"{added * len(PAGE_VIEW):+.0f} us per view of {len(PAGE_VIEW)} requests"
            )
        )


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
        "--scenario",
        action="append",
        choices=list(SCENARIOS),
        help="run only this scenario (repeatable); default: all, page view first",
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
    scenarios = {
        name: paths for name, paths in SCENARIOS.items() if name in (args.scenario or SCENARIOS)
    }

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
    loaded = len(names) * len(scenarios) * len(VARIANTS) * args.rounds * args.duration
    warming = len(names) * len(VARIANTS) * args.warmup
    print(
        f"{len(USER_AGENTS)} browser User-Agents in turn; about {(loaded + warming) / 60:.1f} "
        "minutes of load"
    )
    runs: dict[tuple[str, str], list[dict[str, Load]]] = {
        (name, scenario): [] for name in names for scenario in scenarios
    }
    with tempfile.TemporaryDirectory(prefix="noaiguard-bench-") as tmp:
        tmpdir = Path(tmp)
        static = tmpdir / "static"
        write_static_files(static)
        scripts = {}
        for scenario, paths in scenarios.items():
            scripts[scenario] = tmpdir / f"{scenario.replace(' ', '-')}.lua"
            write_lua(scripts[scenario], paths)
        warm = tmpdir / "warm.lua"
        write_lua(warm, sorted({path for paths in scenarios.values() for path in paths}))
        with running_servers(names, server_cpu, tmpdir, static, args.wsgi_worker) as servers:
            check_guarding(servers, static)
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
            report(rounds),
            cpu_median(rounds, "bare"),
            cpu_median(rounds, "guarded"),
            cpu_added(rounds),
        )
    summarize(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
