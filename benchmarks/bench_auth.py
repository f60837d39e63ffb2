"""What ``noaiguard serve-auth`` costs nginx: nginx serving a static site alone, with the
ai.robots.txt-style User-Agent map, and asking serve-auth about every request, in one session with
interleaved rounds.

Targets, each one nginx worker serving the same small site (a 2 KB HTML page and a 30 KB image):

- ``nginx``: the site alone, for reference;
- ``nginx+map``: the site behind the User-Agent block a site owner copies from ai.robots.txt: a
  ``map`` of every agent name of its list (``tests/data/ai_robots_txt_names.txt``) into one
  case-insensitive regular expression, and ``return 403`` on a match, with ``pcre_jit on``. The
  goal's baseline: the cheapest blocking there is, though it sends no signal, records nothing and
  believes any User-Agent;
- ``nginx+map/nojit``: the same without ``pcre_jit``, nginx's default (Debian's nginx.conf does
  not turn it on), for information;
- ``nginx+noaiguard``: ``deploy/nginx/noaiguard-auth.conf`` as shipped (addresses and paths
  replaced, see ``tests/nginx/servers.py``), asking ``noaiguard serve-auth`` with the default
  configuration (events in memory; behaviour limits out of wrk's reach, as in bench_proxy.py:
  wrk is one client at tens of thousands of requests a second, which behaviour detection rightly
  blocks; the tracking still runs on every request).

Scenarios: ``page`` and ``image``, each requested with one browser User-Agent (the script is
static, so wrk builds the request once), and ``mixed``: both paths with twenty browser
User-Agents in turn (wrk's rotating script). The goal, judged on ``page`` and ``image``:
nginx+noaiguard at least 0.6x nginx+map (median over rounds of the ratio within each round).

Placement (``--placement``) on a machine with two or more CPUs: ``split`` (the default) puts
nginx on CPU 0 and serve-auth with wrk on CPU 1, as bench_proxy.py places the site behind its
proxies; ``shared`` puts nginx and serve-auth on CPU 0, wrk alone on CPU 1; ``free`` pins nothing.

    python benchmarks/bench_auth.py [--duration 5] [--rounds 5] [--connections 32]
        [--threads 1] [--placement split|shared|free]

Needs nginx (``apt-get install nginx``) and wrk (``apt-get install wrk``); exits with status 2
without them. Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import statistics
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from _loadgen import (
    USER_AGENTS,
    Load,
    fetch,
    median_ratio,
    ms,
    need_wrk,
    pinning,
    process_cpu,
    run_wrk,
    table,
    write_lua,
    write_static_lua,
)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/nginx/servers.py: the deploy files, run for real

from tests.nginx.servers import (  # noqa: E402
    auth_site,
    find_nginx,
    nginx_command,
    serve_auth_command,
)
from tests.proxy.test_memory import free_port, process  # noqa: E402

PAGE, IMAGE = "/index.html", "/img/work.jpg"
SCENARIOS = {"page": (PAGE,), "image": (IMAGE,), "mixed": (PAGE, IMAGE)}
GOAL_SCENARIOS = ("page", "image")
TARGETS = ("nginx", "nginx+map", "nginx+map/nojit", "nginx+noaiguard")
BASELINE = "nginx+map"
GOAL = 0.6
BROWSER = USER_AGENTS[2]
GPTBOT = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2)"
NAMES = HERE.parent / "tests" / "data" / "ai_robots_txt_names.txt"

SITE = """
server {{
    listen 127.0.0.1:{port};
    root {root};
{block}
}}
"""
#: The ai.robots.txt way: one regular expression of every agent name, matched on User-Agent.
UA_MAP = """
    map $http_user_agent $ai_crawler {{
        default 0;
        "~*({names})" 1;
    }}
"""
SERVE_AUTH_CONFIG = """
network:
  trusted_proxies: [127.0.0.1]
agents:
  verify_rdns: false
store:
  url: "memory://"
behaviour:
  burst: {requests: 1000000000}
  image_burst: {images: 1000000000}
  network_burst: {requests: 1000000000}
"""


def write_site(root: Path) -> None:
    """A 2 KB page and a 30 KB image (bytes that do not compress, as a JPEG's do not)."""
    (root / "img").mkdir(parents=True)
    words = "<p>Oil on linen, 2024. Studies of light on water, made over one winter.</p>\n" * 24
    page = f"<!doctype html><html><head><title>Works</title></head><body>{words}"
    (root / "index.html").write_text(page + f'<img src="{IMAGE}"></body></html>\n')
    (root / "img" / "work.jpg").write_bytes(os.urandom(30 * 1024))


def user_agent_regex() -> str:
    """The agent names as one PCRE alternation, escaped as ai.robots.txt escapes them."""
    names = [
        line.strip()
        for line in NAMES.read_text("utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return "|".join(re.sub(r"([^A-Za-z0-9_-])", r"\\\1", name) for name in names)


@dataclass
class Target:
    name: str
    port: int
    #: The processes whose CPU time counts: nginx's, and serve-auth's.
    pids: tuple[int, ...]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def running(tmp: Path, nginx: str, placement: str) -> Iterator[dict[str, Target]]:
    server_cpu, other_cpu = pinning()
    auth_cpu = {"split": other_cpu, "shared": server_cpu}.get(placement, [])
    nginx_cpu = server_cpu if placement != "free" else []
    site = tmp / "site"
    write_site(site)
    config = tmp / "serve-auth.yaml"
    config.write_text(SERVE_AUTH_CONFIG)
    auth_port = free_port()
    ports = {name: free_port() for name in TARGETS}
    block = "    if ($ai_crawler) { return 403; }"
    configs = {
        "nginx": ({"site.conf": SITE.format(port=ports["nginx"], root=site, block="")}, ""),
        "nginx+map": (
            {"site.conf": SITE.format(port=ports["nginx+map"], root=site, block=block)},
            UA_MAP.format(names=user_agent_regex()),
        ),
        "nginx+map/nojit": (
            {"site.conf": SITE.format(port=ports["nginx+map/nojit"], root=site, block=block)},
            UA_MAP.format(names=user_agent_regex()),
        ),
        "nginx+noaiguard": (
            {"site.conf": auth_site(ports["nginx+noaiguard"], site, auth_port)},
            "",
        ),
    }
    with contextlib.ExitStack() as stack:
        auth = stack.enter_context(
            process(
                [*auth_cpu, *serve_auth_command(config, auth_port)],
                auth_port,
                tmp / "serve-auth.log",
            )
        )
        targets = {}
        for name, (sites, main) in configs.items():
            command = nginx_command(tmp / name.replace("/", "-"), sites, nginx=nginx, main=main)
            if name == "nginx+map":  # a directive of nginx.conf's main context
                command[1:1] = ["-g", "pcre_jit on;"]
            server = stack.enter_context(
                process([*nginx_cpu, *command], ports[name], tmp / f"{name.replace('/', '-')}.log")
            )
            pids = (server.pid, auth.pid) if name == "nginx+noaiguard" else (server.pid,)
            targets[name] = Target(name, ports[name], pids)
        yield targets


def check(targets: dict[str, Target]) -> None:
    """Every target serves the site to a browser; the blocking ones refuse GPTBot; only
    noaiguard signals. Otherwise the comparison would be void."""
    for name, target in targets.items():
        for path in (PAGE, IMAGE):
            response, _ = fetch(target.port, path, BROWSER)
            signalled = response.getheader("x-robots-tag") == "noai, noimageai"
            if response.status != 200 or signalled != (name == "nginx+noaiguard"):
                raise SystemExit(f"{name} {path}: status {response.status}, signals {signalled}")
        refused = fetch(target.port, PAGE, GPTBOT)[0].status == 403
        if refused != (name != "nginx"):
            raise SystemExit(f"{name}: GPTBot {'refused' if refused else 'served'}")


def cpu_seconds(pids: Sequence[int]) -> float | None:
    values = [process_cpu(pid) for pid in pids]
    return None if None in values else sum(v for v in values if v is not None)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per load run (5)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per scenario (5)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    # wrk gets one CPU (shared with serve-auth in the split placement): a second thread there
    # only adds switching, and measured, one thread drove every target faster.
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    parser.add_argument("--placement", choices=("split", "shared", "free"), default="split")
    args = parser.parse_args(argv)
    nginx = find_nginx()
    if nginx is None:
        print("nginx is not installed: apt-get install nginx", file=sys.stderr)
        return 2
    if not need_wrk():
        return 2
    server_cpu, wrk_cpu = pinning()
    if args.placement == "free":
        wrk_cpu = []
    print(
        f"placement {args.placement} (CPUs: nginx {server_cpu[-1:] or '-'}, wrk "
        f"{wrk_cpu[-1:] or '-'}); wrk {args.threads} threads, {args.connections} connections, "
        f"{args.duration} s x {args.rounds} rounds"
    )
    results: dict[str, dict[str, list[Load]]] = {}
    cpu: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="noaiguard-bench-auth-") as tmp_name:
        tmp = Path(tmp_name)
        with running(tmp, nginx, args.placement) as targets:
            check(targets)
            names = list(targets)
            for scenario, paths in SCENARIOS.items():
                script = tmp / f"{scenario}.lua"
                if len(paths) == 1:
                    write_static_lua(script, paths[0], BROWSER)
                else:
                    write_lua(script, paths)
                results[scenario] = {name: [] for name in names}
                cpu[scenario] = {name: [] for name in names}
                for round_index in range(args.rounds):
                    shift = round_index % len(names)
                    for name in names[shift:] + names[:shift]:
                        target = targets[name]
                        before = cpu_seconds(target.pids)
                        auth_before = cpu_seconds(target.pids[1:])
                        load = run_wrk(
                            target.url,
                            target.pids[0],
                            script,
                            wrk_cpu,
                            threads=args.threads,
                            connections=args.connections,
                            seconds=args.duration,
                        )
                        after = cpu_seconds(target.pids)
                        auth_after = cpu_seconds(target.pids[1:])
                        results[scenario][name].append(load)
                        if before is not None and after is not None:
                            cpu[scenario][name].append((after - before) * 1e6 / load.requests)
                        if len(target.pids) > 1 and auth_before and auth_after:
                            spent = (auth_after - auth_before) * 1e6 / load.requests
                            cpu[scenario].setdefault("serve-auth", []).append(spent)
                    print(
                        f"  {scenario} round {round_index + 1}/{args.rounds}: "
                        + ", ".join(f"{n} {results[scenario][n][-1].rps:,.0f}" for n in names),
                        flush=True,
                    )
    report(results, cpu)
    return 0


def report(
    results: dict[str, dict[str, list[Load]]], cpu: dict[str, dict[str, list[float]]]
) -> None:
    median = statistics.median
    rows = []
    for scenario, by_target in results.items():
        for name, loads in by_target.items():
            per_request = cpu[scenario][name]
            rows.append(
                (
                    scenario,
                    name,
                    f"{median(x.rps for x in loads):,.0f}",
                    ms(median(x.p50_us for x in loads)),
                    ms(median(x.p99_us for x in loads)),
                    f"{median(per_request):.1f}" if per_request else "-",
                    str(sum(x.errors for x in loads)),
                )
            )
    print()
    table(("scenario", "target", "req/s", "p50 ms", "p99 ms", "CPU us/req", "errors"), rows)
    print(
        "(CPU of nginx+noaiguard: nginx and serve-auth together; serve-auth alone: "
        + ", ".join(
            f"{scenario} {median(cpu[scenario]['serve-auth']):.1f}"
            for scenario in results
            if cpu[scenario].get("serve-auth")
        )
        + " us/req)"
    )
    print()
    for scenario, by_target in results.items():
        ratio = median_ratio(by_target["nginx+noaiguard"], by_target[BASELINE])
        line = f"{scenario}: nginx+noaiguard / {BASELINE} = {ratio:.3f}"
        if scenario in GOAL_SCENARIOS:
            line += f" (goal >= {GOAL}) {'PASS' if ratio >= GOAL else 'FAIL'}"
        else:
            line += " (info)"
        print(line)
        for other in ("nginx", "nginx+map/nojit"):
            info = median_ratio(by_target["nginx+noaiguard"], by_target[other])
            print(f"{scenario}: nginx+noaiguard / {other} = {info:.3f} (info)")


if __name__ == "__main__":
    sys.exit(main())
