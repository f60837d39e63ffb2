"""Throughput, latency and memory of ``noaiguard proxy`` against the same stack without the guard
and against nginx, in one session with interleaved rounds.

Targets, all in front of the same upstream (``_bench_upstream.py`` under uvicorn):

- ``direct``: the upstream itself (for reference: it shares its CPU with wrk);
- ``bare``: noaiguard's proxy without the guard (``_run_proxy.py``): the same server settings,
  the same httpx requests over the same transport (``UpstreamTransport``), no policy, no signals;
- ``httpx-default``: the bare pass-through over httpx's own default transport
  (``httpx.AsyncHTTPTransport``) instead: what the choice of transport is worth;
- ``noaiguard``: ``noaiguard proxy`` with the default configuration (events in memory), except
  that the behaviour limits are raised out of reach: wrk is one client at thousands of requests
  a second, which behaviour detection rightly treats as a scraper (it would tarpit and block the
  load); the tracking itself still runs on every request;
- ``nginx``: nginx as a reverse proxy with upstream keep-alive, one process, when installed.

With ``--breakdown``, two more ``noaiguard proxy`` targets show where the guard's cost goes:
``no-signals`` (the policy and behaviour tracking on every request, but no response signal: no
header lines, no meta tag, no trap link) and ``no-judging`` (every signal, but no behaviour
tracking and no crawler verification).

Each proxy gets one worker on CPU 0; the upstream and wrk share CPU 1. Scenarios: a 2 KB HTML page
(its ``<head>`` gets the meta tag) and a 200 KB image. Then each proxy relays a 1 GiB download
while its resident memory is sampled, and the growth over its resting size is reported.

Rounds are interleaved: in each, ``bare`` and ``noaiguard`` run back to back twice, A B B A (see
:func:`round_order`), and the other targets rotate around them.

Goals (medians over rounds of the ratio within each round): noaiguard at least 0.9x the bare
pass-through on both scenarios, and at least 0.5x nginx on the HTML page.
Timings are printed, never asserted.

    python benchmarks/bench_proxy.py [--duration 10] [--rounds 3] [--connections 32] [--breakdown]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from _loadgen import (
    USER_AGENTS,
    Load,
    fetch,
    free_port,
    have,
    median_ratio,
    ms,
    need_wrk,
    pinning,
    run_wrk,
    table,
    write_lua,
)

HERE = Path(__file__).resolve().parent
SCENARIOS = {"page": "/page.html", "image": "/image.jpg"}
TARGETS = ("direct", "bare", "httpx-default", "noaiguard", "nginx")
#: The targets whose memory is sampled during the 1 GiB download.
DOWNLOAD_TARGETS = ("bare", "noaiguard", "nginx")
DOWNLOAD = 1024 * 1024 * 1024
#: The behaviour limits raised out of wrk's reach (see ``noaiguard`` above).
UNREACHABLE_LIMITS = (
    "behaviour:\n"
    "  burst: {requests: 1000000000}\n"
    "  image_burst: {images: 1000000000}\n"
    "  network_burst: {requests: 1000000000}\n"
)
#: ``--breakdown``: the guard with parts of it switched off, by configuration.
BREAKDOWN = {
    "no-signals": UNREACHABLE_LIMITS + "signals:\n"
    "  x_robots_tag: {enabled: false}\n"
    "  html_meta: {enabled: false}\n"
    "  content_usage: {header: false}\n"
    "  tdmrep: {header: false}\n",
    "no-judging": "behaviour: {enabled: false}\nagents: {verify: false}\n",
}

NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
error_log %(tmp)s/nginx-error.log warn;
pid %(tmp)s/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %(tmp)s/body;
  proxy_temp_path %(tmp)s/proxy;
  fastcgi_temp_path %(tmp)s/fastcgi;
  uwsgi_temp_path %(tmp)s/uwsgi;
  scgi_temp_path %(tmp)s/scgi;
  upstream site { server 127.0.0.1:%(upstream)d; keepalive 64; }
  server {
    listen 127.0.0.1:%(port)d;
    location / {
      proxy_pass http://site;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
"""


@dataclass
class Running:
    name: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def wait_ready(target: Running, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if target.process.poll() is not None:
            raise SystemExit(f"{target.name} exited with {target.process.returncode}")
        with contextlib.suppress(OSError):
            if fetch(target.port, "/page.html", USER_AGENTS[0])[0].status == 200:
                return
        time.sleep(0.1)
    raise SystemExit(f"{target.name} did not start")


@contextlib.contextmanager
def started(name: str, command: list[str], port: int, log: Path) -> Iterator[Running]:
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=HERE.parent)
    target = Running(name, port, process)
    try:
        wait_ready(target)
        yield target
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.contextmanager
def all_targets(
    tmp: Path, server_cpu: list[str], other_cpu: list[str], *, breakdown: bool = False
) -> Iterator[dict[str, Running]]:
    upstream_port = free_port()
    upstream = [
        *other_cpu,
        sys.executable,
        "-m",
        "uvicorn",
        "--app-dir",
        str(HERE),
        "_bench_upstream:app",
        "--port",
        str(upstream_port),
        "--no-access-log",
        "--log-level",
        "warning",
        "--loop",
        "uvloop" if have("uvloop") else "asyncio",
        "--http",
        "httptools" if have("httptools") else "h11",
    ]
    upstream_url = f"http://127.0.0.1:{upstream_port}"
    extra = tuple(BREAKDOWN) if breakdown else ()
    ports = {name: free_port() for name in (*TARGETS[1:], *extra)}
    guard_config = tmp / "noaiguard.yaml"
    guard_config.write_text(UNREACHABLE_LIMITS)
    commands = {
        "bare": [
            *server_cpu,
            sys.executable,
            str(HERE / "_run_proxy.py"),
            upstream_url,
            str(ports["bare"]),
        ],
        "httpx-default": [
            *server_cpu,
            sys.executable,
            str(HERE / "_run_proxy.py"),
            upstream_url,
            str(ports["httpx-default"]),
            "--transport",
            "httpx",
        ],
        "noaiguard": _guard_command(server_cpu, upstream_url, ports["noaiguard"], guard_config),
    }
    for name in extra:
        config = tmp / f"{name}.yaml"
        config.write_text(BREAKDOWN[name])
        commands[name] = _guard_command(server_cpu, upstream_url, ports[name], config)
    nginx = next((p for p in ("/usr/sbin/nginx", "/usr/bin/nginx") if Path(p).exists()), None)
    if nginx:
        conf = tmp / "nginx.conf"
        conf.write_text(
            NGINX_CONF % {"tmp": tmp, "upstream": upstream_port, "port": ports["nginx"]}
        )
        commands["nginx"] = [*server_cpu, nginx, "-c", str(conf), "-p", str(tmp)]
    with contextlib.ExitStack() as stack:
        targets = {
            "direct": stack.enter_context(
                started("direct", upstream, upstream_port, tmp / "upstream.log")
            )
        }
        for name, command in commands.items():
            targets[name] = stack.enter_context(
                started(name, command, ports[name], tmp / f"{name}.log")
            )
        yield targets


def _guard_command(server_cpu: list[str], upstream_url: str, port: int, config: Path) -> list[str]:
    """``noaiguard proxy``, as a user runs it, with ``config`` and events in memory."""
    return [
        *server_cpu,
        str(Path(sys.executable).parent / "noaiguard"),
        "proxy",
        "--upstream",
        upstream_url,
        "--port",
        str(port),
        "--store",
        "memory://",
        "--config",
        str(config),
    ]


def check(targets: dict[str, Running]) -> None:
    """The guarded proxies signal and the others do not, else the comparison is void."""
    signalling = {"noaiguard", "no-judging"}
    for name, target in targets.items():
        response, body = fetch(target.port, "/page.html", USER_AGENTS[0])
        signalled = response.getheader("x-robots-tag") is not None and b'name="robots"' in body
        if response.status != 200 or signalled != (name in signalling):
            raise SystemExit(f"{name}: status {response.status}, signals {signalled}")


class Sampler:
    def __init__(self, pid: int) -> None:
        self.pid, self.start = pid, rss(pid)
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss(self.pid))
            time.sleep(0.005)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def download_memory(target: Running) -> tuple[float, float, float]:
    """Rest size, peak and seconds for a 1 GiB download through ``target`` (MiB, MiB, s)."""
    request = urllib.request.Request(
        f"{target.url}/big?size={DOWNLOAD}", headers={"User-Agent": USER_AGENTS[0]}
    )
    started_at = time.perf_counter()
    received = 0
    with Sampler(target.process.pid) as sampler, urllib.request.urlopen(request, timeout=120) as r:
        while chunk := r.read(1024 * 1024):
            received += len(chunk)
    if received != DOWNLOAD:
        raise SystemExit(f"{target.name}: received {received} bytes of {DOWNLOAD}")
    mib = 1024 * 1024
    return sampler.start / mib, sampler.peak / mib, time.perf_counter() - started_at


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per load run (10)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per scenario (3)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also run noaiguard without its response signals, and without behaviour tracking",
    )
    args = parser.parse_args(argv)
    if not need_wrk():
        return 2
    server_cpu, other_cpu = pinning()
    print(
        f"proxies on CPU {server_cpu[-1] if server_cpu else '-'}, upstream and wrk on CPU "
        f"{other_cpu[-1] if other_cpu else '-'}; wrk {args.threads} threads, "
        f"{args.connections} connections, {args.duration} s x {args.rounds} rounds"
    )
    results: dict[str, dict[str, list[Load]]] = {}
    memory: dict[str, tuple[float, float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="noaiguard-bench-proxy-") as tmp_name:
        tmp = Path(tmp_name)
        with all_targets(tmp, server_cpu, other_cpu, breakdown=args.breakdown) as targets:
            if "nginx" not in targets:
                print("nginx is not installed (apt-get install nginx): compared without it")
            check(targets)
            names = list(targets)
            for scenario, path in SCENARIOS.items():
                script = tmp / f"{scenario}.lua"
                write_lua(script, [path])
                results[scenario] = {name: [] for name in names}
                for round_index in range(args.rounds):
                    order = round_order(names, round_index)
                    runs: dict[str, list[Load]] = {name: [] for name in names}
                    for name in order:
                        target = targets[name]
                        load = run_wrk(
                            target.url,
                            target.process.pid,
                            script,
                            other_cpu,
                            threads=args.threads,
                            connections=args.connections,
                            seconds=args.duration,
                        )
                        runs[name].append(load)
                    in_turn = {name: iter(loads) for name, loads in runs.items()}
                    print(
                        f"  {scenario} round {round_index + 1}/{args.rounds}: "
                        + ", ".join(f"{n} {next(in_turn[n]).rps:,.0f}" for n in order),
                        flush=True,
                    )
                    for name, loads in runs.items():
                        results[scenario][name].append(Load.combined(loads))
            for name in DOWNLOAD_TARGETS:
                if name in targets:
                    memory[name] = download_memory(targets[name])
    report(results, memory)
    return 0


#: The targets compared by the goal, run back to back in every round (see round_order).
COMPARED = ("bare", "noaiguard")


def round_order(names: Sequence[str], round_index: int) -> list[str]:
    """The order of the runs in one round.

    This machine's speed drifts within a minute, and a run right after another of the same
    CPU tends to be slower than the first, so a ratio is only as good as the balance of its
    runs: ``bare`` and ``noaiguard`` (and the breakdown targets) run back to back twice, the
    second time in reverse (A B B A, which of them is A alternating from round to round), and
    each counts with both runs; a steady drift and the place in the sequence then favour
    neither. The other targets run once, rotating around them.
    """
    pair = [name for name in names if name in COMPARED or name in BREAKDOWN]
    if round_index % 2:
        pair.reverse()
    others = [name for name in names if name not in pair]
    slots = [*others, "pair"]
    shift = round_index % len(slots)
    rotated = slots[shift:] + slots[:shift]
    return [
        name
        for slot in rotated
        for name in ([*pair, *reversed(pair)] if slot == "pair" else [slot])
    ]


def _round_ratios(these: Sequence[Load], those: Sequence[Load]) -> str:
    """The throughput ratio within each round, for the spread behind the median."""
    return " ".join(f"{a.rps / b.rps:.3f}" for a, b in zip(these, those, strict=True))


def _cpu(loads: list[Load]) -> str:
    """Median CPU time the target process spent per request (the upstream's, for direct)."""
    values = [x.cpu_us_per_request for x in loads if x.cpu_us_per_request is not None]
    return f"{statistics.median(values):.1f}" if values else "-"


def _cpu_ratio(these: Sequence[Load], those: Sequence[Load]) -> float | None:
    """The median within a round of these' CPU time per request over those': what the
    throughput ratio comes to when both servers are saturated, read from /proc instead."""
    ratios = [
        a.cpu_us_per_request / b.cpu_us_per_request
        for a, b in zip(these, those, strict=True)
        if a.cpu_us_per_request and b.cpu_us_per_request
    ]
    return statistics.median(ratios) if ratios else None


def report(
    results: dict[str, dict[str, list[Load]]], memory: dict[str, tuple[float, float, float]]
) -> None:
    median = statistics.median
    rows = []
    for scenario, by_target in results.items():
        for name, loads in by_target.items():
            rows.append(
                (
                    scenario,
                    name,
                    f"{median(x.rps for x in loads):,.0f}",
                    ms(median(x.p50_us for x in loads)),
                    ms(median(x.p99_us for x in loads)),
                    _cpu(loads),
                    str(sum(x.errors + x.non2xx for x in loads)),
                )
            )
    print()
    table(("scenario", "target", "req/s", "p50 ms", "p99 ms", "CPU us/req", "errors"), rows)
    print()
    table(
        ("1 GiB download", "", "rest MiB", "peak MiB", "growth MiB", "seconds"),
        [
            (name, "", f"{rest:.1f}", f"{peak:.1f}", f"{peak - rest:+.1f}", f"{seconds:.1f}")
            for name, (rest, peak, seconds) in memory.items()
        ],
    )
    print()
    for scenario, by_target in results.items():
        ratio = median_ratio(by_target["noaiguard"], by_target["bare"])
        verdict = "PASS" if ratio >= 0.9 else "MISS"
        print(
            f"{scenario}: noaiguard / bare pass-through = {ratio:.3f} (goal >= 0.9) {verdict}"
            f"; by round {_round_ratios(by_target['noaiguard'], by_target['bare'])}"
        )
        cpu_ratio = _cpu_ratio(by_target["bare"], by_target["noaiguard"])
        if cpu_ratio is not None:
            print(f"{scenario}: bare / noaiguard CPU time per request = {cpu_ratio:.3f} (info)")
        for name in BREAKDOWN:
            if name in by_target:
                part = median_ratio(by_target[name], by_target["bare"])
                print(
                    f"{scenario}: noaiguard {name} / bare pass-through = {part:.3f} (info)"
                    f"; by round {_round_ratios(by_target[name], by_target['bare'])}"
                )
        httpx_ratio = median_ratio(by_target["httpx-default"], by_target["bare"])
        print(f"{scenario}: bare on httpx's default transport / bare = {httpx_ratio:.3f} (info)")
        if "nginx" in by_target:
            nginx_ratio = median_ratio(by_target["noaiguard"], by_target["nginx"])
            line = f"{scenario}: noaiguard / nginx = {nginx_ratio:.3f}"
            if scenario == "page":
                line += f" (goal >= 0.5) {'PASS' if nginx_ratio >= 0.5 else 'MISS'}"
            print(line)


if __name__ == "__main__":
    sys.exit(main())
