"""What the benchmark scripts share: the wrk load generator and its reporting.

Both servers and wrk run as processes of their own; on a machine with two or more CPUs the
servers are pinned to the first and wrk to the second (``taskset``), so that the load generator
does not steal the server's core. Every request carries one of twenty real browser User-Agents.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

#: Real browser User-Agents, one per request in turn (desktop and mobile, in-app, old IE).
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/123.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/122.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-S908B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/112.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0",
    "Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/16.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
    "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/123.0.0.0 Safari/537.36 OPR/109.0.0.0",
    "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; SLCC2; .NET CLR 2.0.50727; "
    ".NET CLR 3.5.30729; .NET CLR 3.0.30729; Media Center PC 6.0; .NET4.0C; .NET4.0E; rv:11.0) "
    "like Gecko",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/460.0.0.38.108;FBBV/587339034;"
    "FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;FBSV/17.4;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5]",
    "Mozilla/5.0 (Linux; Android 12; SM-G991B Build/SP1A.210812.016; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/122.0.6261.119 Mobile Safari/537.36 "
    "Instagram 321.0.0.39.106 Android (31/12; 480dpi; 1080x2177; samsung; SM-G991B; o1s; "
    "exynos2100; en_US; 580117224)",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) GSA/311.0.623110463 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; U; Android 10; en-US; RMX2020 Build/QP1A.190711.020) "
    "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/78.0.3904.108 "
    "UCBrowser/13.4.0.1306 Mobile Safari/537.36",
)

#: wrk script: rotate User-Agents and paths (20 and 3 are coprime, so every pair occurs), and
#: print one machine-readable line at the end.
LUA = """
local user_agents = {%(user_agents)s}
local paths = {%(paths)s}
local n = 0

request = function()
  n = n + 1
  local headers = {["User-Agent"] = user_agents[n %% #user_agents + 1], ["Accept"] = "*/*"}
  return wrk.format("GET", paths[n %% #paths + 1], headers)
end
"""

#: The part of every script that prints one machine-readable line at the end.
DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d bytes=%d errors=%d non2xx=%d"
      .. " p50_us=%d p90_us=%d p99_us=%d\\n",
    summary.requests, summary.duration, summary.bytes,
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
"""

#: wrk script for one path and one User-Agent: wrk then builds the request once, so it spends
#: less of the CPU it may share with a server than the rotating script above does.
STATIC_LUA = """
wrk.path = %(path)s
wrk.headers["User-Agent"] = %(user_agent)s
wrk.headers["Accept"] = "*/*"
"""

_BENCH_LINE = re.compile(r"^BENCH (.*)$", re.MULTILINE)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def pinning() -> tuple[list[str], list[str]]:
    """``taskset`` prefixes for the server (CPU 0) and wrk (CPU 1), or none if not possible."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) < 2 or shutil.which("taskset") is None:
        return [], []
    return ["taskset", "-c", str(cpus[0])], ["taskset", "-c", str(cpus[1])]


def fetch(port: int, path: str, user_agent: str) -> tuple[http.client.HTTPResponse, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers={"User-Agent": user_agent})
        response = conn.getresponse()
        return response, response.read()
    finally:
        conn.close()


def need_wrk() -> bool:
    """True if wrk is installed; otherwise say how to install it."""
    if shutil.which("wrk") is not None:
        return True
    print(
        "wrk, the HTTP load generator, is not installed: "
        "`apt-get install wrk` (Debian, Ubuntu), `brew install wrk` (macOS), "
        "or build it from https://github.com/wg/wrk",
        file=__import__("sys").stderr,
    )
    return False


@dataclass(frozen=True, slots=True)
class Load:
    requests: int
    seconds: float
    errors: int
    non2xx: int
    p50_us: int
    p99_us: int
    #: CPU seconds the server and wrk used during the run (None where /proc is missing).
    server_cpu: float | None
    wrk_cpu: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def server_cpu_share(self) -> float | None:
        return None if self.server_cpu is None else self.server_cpu / self.seconds

    @property
    def cpu_us_per_request(self) -> float | None:
        return None if self.server_cpu is None else self.server_cpu * 1e6 / self.requests

    @classmethod
    def combined(cls, loads: Sequence[Load]) -> Load:
        """Several runs of one target as one: requests, time and CPU added up, latencies
        averaged (for the runs of a target that a round repeats, see bench_proxy)."""
        cpu = [x.server_cpu for x in loads]
        return cls(
            requests=sum(x.requests for x in loads),
            seconds=sum(x.seconds for x in loads),
            errors=sum(x.errors for x in loads),
            non2xx=sum(x.non2xx for x in loads),
            p50_us=round(statistics.mean(x.p50_us for x in loads)),
            p99_us=round(statistics.mean(x.p99_us for x in loads)),
            server_cpu=None if None in cpu else sum(c for c in cpu if c is not None),
            wrk_cpu=sum(x.wrk_cpu for x in loads),
        )


def process_cpu(pid: int) -> float | None:
    """User plus system CPU seconds of a process, from /proc (Linux); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _lua_list(items: Sequence[str]) -> str:
    for item in items:
        if not item.isascii() or not item.isprintable():
            raise ValueError(f"not a plain ASCII string: {item!r}")
    return ", ".join(json.dumps(item) for item in items)


def write_lua(path: Path, paths: Sequence[str], user_agents: Sequence[str] = USER_AGENTS) -> None:
    script = LUA % {"user_agents": _lua_list(user_agents), "paths": _lua_list(paths)}
    path.write_text(script + DONE)


def write_static_lua(path: Path, url_path: str, user_agent: str) -> None:
    """A script for one path and one User-Agent (see STATIC_LUA)."""
    script = STATIC_LUA % {"path": _lua_list([url_path]), "user_agent": _lua_list([user_agent])}
    path.write_text(script + DONE)


def median_ratio(these: Sequence[Load], those: Sequence[Load]) -> float:
    """The median over rounds of the throughput ratio within each round.

    Runs of one round are seconds apart, so they share the machine's state; on a virtual machine
    whose speed drifts by 20% from minute to minute, comparing within rounds is what keeps the
    ratio steady.
    """
    return statistics.median(a.rps / b.rps for a, b in zip(these, those, strict=True))


def run_wrk(
    url: str,
    pid: int,
    script: Path,
    prefix: list[str],
    *,
    threads: int,
    connections: int,
    seconds: float,
) -> Load:
    """One wrk run against ``url``; ``pid`` is the server whose CPU time is measured."""
    command = [
        *prefix,
        "wrk",
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={max(1, round(seconds))}s",
        "--timeout=5s",
        f"--script={script}",
        url,
    ]
    server_before, wrk_before = process_cpu(pid), children_cpu()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    server_after, wrk_after = process_cpu(pid), children_cpu()
    match = _BENCH_LINE.search(done.stdout)
    if done.returncode != 0 or match is None:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    fields = {key: int(value) for key, value in (kv.split("=") for kv in match[1].split())}
    return Load(
        requests=fields["requests"],
        seconds=fields["duration_us"] / 1e6,
        errors=fields["errors"],
        non2xx=fields["non2xx"],
        p50_us=fields["p50_us"],
        p99_us=fields["p99_us"],
        server_cpu=(
            server_after - server_before
            if server_after is not None and server_before is not None
            else None
        ),
        wrk_cpu=wrk_after - wrk_before,
    )


def ms(us: float) -> str:
    return f"{us / 1000:.2f}"


def pct(share: float | None) -> str:
    return "-" if share is None else f"{share:.0%}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        pairs = enumerate(zip(row, widths, strict=True))
        cells = [c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in pairs]
        print("  ".join(cells).rstrip())
