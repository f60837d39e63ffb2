"""The ``noaiguard`` command.

    noaiguard demo          serve a small gallery behind the guard on 127.0.0.1:8080
    noaiguard proxy         stand in front of any site as a reverse proxy
    noaiguard serve-auth    decide for nginx, Caddy or Traefik, which keep serving the site
    noaiguard check-config  validate YAML config files (exit 0 when valid, 2 otherwise)
    noaiguard classify      explain what the guard decides for User-Agents
    noaiguard robots        print the robots.txt a config produces
    noaiguard agents        list the crawler database
    noaiguard evidence      one agent's timeline: robots.txt fetched, requests, what was served
    noaiguard events        export stored events as JSON lines or CSV
    noaiguard report        the weekly report (HTML, Markdown, JSON, CSV), by file or email
    noaiguard prune         delete events older than the retention period
    noaiguard stamp         write the "no AI training" opt-out into JPEG, PNG and WebP files
    noaiguard inspect       audit a site's opt-out signals the way a crawler reads them

Only the command line configures logging; the library never does.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import httpx

from . import __version__
from .agents import AgentDB
from .audit import command as audit_command
from .auth import command as auth_command
from .backends import EventStore, open_event_store
from .categories import AGENT_CATEGORIES, Category
from .classify.ipranges import default_data_dir, update_lists
from .config import Action, Config, config_warnings, load_config
from .errors import ConfigError, NoAIGuardError, StoreError
from .evidence import render_json, render_text, timeline
from .export import write_csv, write_jsonl
from .facts import RequestFacts
from .guard import Guard
from .inspect import command as inspect_command
from .metrics import LISTENER_PATH, require_client
from .origin import Origin
from .periods import format_time, parse_time
from .reports import command as report_command
from .serve import PROXY_ENVIRONMENT, load_proxy_config, proxy_settings, server_options
from .stamping import command as stamp_command

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_INVALID_CONFIG = 2

DEMO_BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
DEMO_GPTBOT_UA = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
    "+https://openai.com/gptbot)"
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        result: int = args.run(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID_CONFIG
    except (StoreError, NoAIGuardError) as exc:
        print(f"noaiguard: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except BrokenPipeError:  # `noaiguard agents | head`
        return EXIT_OK
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="noaiguard",
        description="Opt-out signals, AI-crawler blocking and reports for websites.",
    )
    parser.add_argument("--version", action="version", version=f"noaiguard {__version__}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="serve a small gallery behind the guard")
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    demo.add_argument("--port", type=int, default=8080, help="port to listen on (8080)")
    demo.add_argument("--config", type=Path, help="YAML config (default: built-in defaults)")
    demo.add_argument("--store", help="event store URL (default: sqlite:///./noaiguard.db)")
    demo.add_argument("-v", "--verbose", action="store_true", help="log every decision")
    demo.add_argument(
        "--simulate",
        type=int,
        metavar="DAYS",
        help="instead of serving: play DAYS days of simulated traffic (people, search engines, "
        "AI crawlers, scrapers) through the guard into the store, for `noaiguard report`",
    )
    demo.add_argument("--now", help=argparse.SUPPRESS)  # when the simulated days end
    demo.set_defaults(run=_demo)

    proxy = commands.add_parser(
        "proxy",
        help="run the reverse proxy in front of a site",
        description="Stand in front of a site that speaks HTTP: every response gets the opt-out "
        "signals, AI crawlers are refused by the same policy as in an app.",
    )
    proxy.add_argument("--upstream", help="the site, http(s)://host:port (or proxy.upstream)")
    proxy.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    proxy.add_argument("--port", type=int, default=8080, help="port to listen on (8080)")
    proxy.add_argument("--config", type=Path, help="YAML config (default: built-in defaults)")
    proxy.add_argument("--workers", type=int, default=1, help="worker processes (1)")
    proxy.add_argument("--store", help="event store URL (default: the config's store.url)")
    proxy.add_argument("-v", "--verbose", action="store_true", help="log every decision")
    proxy.set_defaults(run=_proxy)

    check = commands.add_parser("check-config", help="validate YAML config files")
    check.add_argument("files", nargs="+", type=Path, metavar="FILE")
    check.set_defaults(run=_check_config)

    classify = commands.add_parser(
        "classify",
        help="explain the decision for User-Agents",
        description="Explain what the guard decides for each User-Agent (arguments, or one per "
        "line on standard input with '-' or when no argument is given).",
    )
    classify.add_argument("user_agents", nargs="*", metavar="USER_AGENT")
    classify.add_argument("--ip", help="client address to assume")
    classify.add_argument("--path", default="/", help="request path to assume (/)")
    classify.add_argument("--method", default="GET", help="request method to assume (GET)")
    classify.add_argument("--config", type=Path, help="YAML config (default: built-in defaults)")
    classify.add_argument("--json", action="store_true", help="one JSON object per User-Agent")
    classify.set_defaults(run=_classify)

    robots = commands.add_parser("robots", help="print the robots.txt a config produces")
    robots.add_argument("--config", type=Path, help="YAML config (default: built-in defaults)")
    robots.add_argument(
        "--merge", type=Path, metavar="FILE", help="the site's own robots.txt to merge"
    )
    robots.set_defaults(run=_robots)

    agents = commands.add_parser(
        "agents",
        help="list the crawler database, or update its IP range lists",
        description="'noaiguard agents' lists the crawler database; 'noaiguard agents update' "
        "downloads the IP range lists crawler operators publish (a list that fails to download "
        "keeps its old copy).",
    )
    agents.add_argument("action", nargs="?", choices=("list", "update"), default="list")
    agents.add_argument("--category", choices=[str(c) for c in AGENT_CATEGORIES])
    agents.add_argument("--json", action="store_true", help="one JSON object per agent")
    agents.add_argument("--config", type=Path, help="YAML config (for agents.ip_ranges_dir)")
    agents.add_argument("--dir", type=Path, help="where to keep the lists (update)")
    agents.set_defaults(run=_agents)

    evidence = commands.add_parser(
        "evidence",
        help="one agent's timeline, as proof of what it was told and did",
        description="When the agent fetched robots.txt and which version, what it requested "
        "afterwards, what it was served and what noaiguard did. Times: 2026-11-20, "
        "2026-11-20T10:30 (UTC), now, or an age such as 7d.",
    )
    evidence.add_argument("--agent", required=True, help="agent name, e.g. GPTBot (any case)")
    _period_arguments(evidence)
    evidence.add_argument("--format", choices=("text", "json"), default="text")
    evidence.set_defaults(run=_evidence)

    events = commands.add_parser("events", help="export stored events (JSON lines or CSV)")
    _period_arguments(events)
    events.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    events.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    events.set_defaults(run=_events)

    report_command.add_parser(commands)
    stamp_command.add_parser(commands)
    audit_command.add_parser(commands)
    inspect_command.add_parser(commands)
    auth_command.add_parser(commands)

    prune = commands.add_parser("prune", help="delete events older than the retention period")
    _store_arguments(prune)
    prune.add_argument(
        "--days", type=int, help="keep this many days (default: the config's store.retention_days)"
    )
    prune.set_defaults(run=_prune)
    return parser


def _store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="YAML config (default: built-in defaults)")
    parser.add_argument("--store", help="event store URL (default: the config's store.url)")


def _period_arguments(parser: argparse.ArgumentParser) -> None:
    _store_arguments(parser)
    parser.add_argument("--since", type=_time_argument, help="from this time (default: all)")
    parser.add_argument("--until", type=_time_argument, help="up to this time (default: now)")


def _time_argument(text: str) -> float:
    try:
        return parse_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _open_store(args: argparse.Namespace) -> EventStore:
    url = args.store or _config(args.config).store.url
    return open_event_store(url)


def _config(path: Path | None) -> Config:
    return load_config(path) if path is not None else Config()


def _simulate(args: argparse.Namespace) -> int:
    import asyncio
    from dataclasses import replace

    from .demo import create_app
    from .demo.traffic import SimulatedClock, plan, play
    from .middleware import NoAIGuardMiddleware

    if args.simulate < 1:
        print("--simulate: expected 1 or more days", file=sys.stderr)
        return EXIT_INVALID_CONFIG
    end = parse_time(args.now) if args.now else time.time()
    config = _config(args.config)
    config = replace(
        config,
        store=replace(config.store, url=args.store or config.store.url),
        # No DNS (the simulated crawlers' addresses are checked against the published ranges)
        # and no real waiting in the tarpit.
        agents=replace(config.agents, verify_rdns=False),
        policy=replace(config.policy, tarpit=replace(config.policy.tarpit, seconds=0.001)),
    )
    visits = plan(args.simulate, end)
    clock = SimulatedClock(visits[0].time if visits else end)
    guard = Guard(config, clock=clock)
    app = NoAIGuardMiddleware(create_app(), guard=guard)
    try:
        refused = asyncio.run(play(app, clock, visits, "mara-lind.example"))
    finally:
        clock.now = end
        guard.close()
    print(
        f"noaiguard demo: {len(visits):,} simulated requests over {args.simulate} days "
        f"({refused:,} refused) recorded in {config.store.url}\n"
        f"  report:  noaiguard report{' --store ' + args.store if args.store else ''}"
    )
    return EXIT_OK


# -- check-config -----------------------------------------------------------------------------


def _check_config(args: argparse.Namespace) -> int:
    status = EXIT_OK
    for path in args.files:
        try:
            config = load_config(path)
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            count = len(exc.issues)
            print(f"{path}: {count} problem{'s' if count != 1 else ''}", file=sys.stderr)
            status = EXIT_INVALID_CONFIG
            continue
        for warning in config_warnings(config):
            print(f"warning: {warning}", file=sys.stderr)
        guard = Guard(config)
        blocked = sum(
            1 for group in (guard.robots.groups if guard.robots else ()) for _ in group.tokens
        )
        print(
            f"{path}: valid ({config.mode} mode, {len(guard.agents)} agents, "
            f"{blocked} robots.txt tokens disallowed)"
        )
    return status


# -- classify ---------------------------------------------------------------------------------


def _read_user_agents(args: argparse.Namespace, stdin: TextIO) -> Iterator[str]:
    if not args.user_agents or args.user_agents == ["-"]:
        for line in stdin:
            ua = line.rstrip("\r\n")
            if ua:
                yield ua
        return
    yield from args.user_agents


def classify_record(
    guard: Guard, ua: str, *, ip: str | None, path: str, method: str
) -> dict[str, Any]:
    """What ``noaiguard classify --json`` prints for one User-Agent."""
    facts = RequestFacts(method=method, path=path, user_agent=ua, client_ip=ip)
    decision = guard.inspect(facts)
    verdict = decision.verdict
    agent = verdict.agent
    return {
        "user_agent": ua,
        "agent": verdict.agent_name,
        "operator": agent.operator if agent else None,
        "category": str(verdict.category),
        "action": str(decision.action),
        "effective_action": str(decision.effective_action),
        "enforced": decision.enforced,
        "rule": decision.rule,
        "reasons": list(verdict.reasons),
        "client": verdict.client or None,
        "token": verdict.token,
    }


def _classify(args: argparse.Namespace) -> int:
    guard = Guard(_config(args.config))
    for ua in _read_user_agents(args, sys.stdin):
        record = classify_record(guard, ua, ip=args.ip, path=args.path, method=args.method)
        if args.json:
            print(json.dumps(record, ensure_ascii=False))
            continue
        who = record["agent"] or record["client"] or "unidentified client"
        operator = f", {record['operator']}" if record["operator"] else ""
        action = record["action"]
        if not record["enforced"] and action != record["effective_action"]:
            action += " (monitor mode: logged, not blocked)"
        print(f"{ua}\n  {who} ({record['category']}{operator}) -> {action} [{record['rule']}]")
        for reason in record["reasons"]:
            print(f"  - {reason}")
    return EXIT_OK


# -- robots -----------------------------------------------------------------------------------


def _robots(args: argparse.Namespace) -> int:
    guard = Guard(_config(args.config))
    if guard.robots is None:
        print(
            "robots.txt is disabled in this config (signals.robots_txt.enabled: false)",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    app_body = args.merge.read_bytes() if args.merge else None
    sys.stdout.write(guard.robots.render(app_body).decode("utf-8"))
    return EXIT_OK


# -- agents -----------------------------------------------------------------------------------


def _agents(args: argparse.Namespace) -> int:
    if args.action == "update":
        return _update_ip_ranges(args)
    db = AgentDB.load()
    agents = [a for a in db if args.category is None or a.category == args.category]
    if args.json:
        for agent in agents:
            print(
                json.dumps(
                    {
                        "name": agent.name,
                        "category": str(agent.category),
                        "operator": agent.operator,
                        "ua": list(agent.ua),
                        "robots": list(agent.robots),
                        "robots_only": agent.robots_only,
                        "respects_robots": str(agent.respects_robots),
                        "docs": agent.docs,
                    }
                )
            )
        return EXIT_OK
    for agent in sorted(agents, key=lambda a: (a.category, a.name.lower())):
        tokens = ", ".join(agent.ua) or "(robots.txt only)"
        print(f"{agent.category:<17} {agent.name:<32} {agent.operator:<24} {tokens}")
    counts = Counter(str(a.category) for a in agents)
    summary = ", ".join(f"{c} {counts[str(c)]}" for c in Category if counts[str(c)])
    print(f"\n{len(agents)} agents: {summary}")
    return EXIT_OK


def _update_ip_ranges(args: argparse.Namespace, client: httpx.Client | None = None) -> int:
    config = _config(args.config)
    directory = args.dir or (
        Path(config.agents.ip_ranges_dir) if config.agents.ip_ranges_dir else default_data_dir()
    )
    db = AgentDB.load(config.agents.extra)
    urls = [a.verify.ip_ranges for a in db if a.verify is not None and a.verify.ip_ranges]
    with client or httpx.Client(timeout=20, follow_redirects=True) as http:
        results = update_lists(urls, directory, http)
    for result in results:
        print(f"{'updated' if result.ok else 'FAILED '}  {result.url}: {result.detail}")
    failed = sum(not r.ok for r in results)
    print(f"\n{len(results) - failed} of {len(results)} lists updated in {directory}")
    return EXIT_FAILURE if failed else EXIT_OK


# -- proxy ------------------------------------------------------------------------------------


def _proxy(args: argparse.Namespace) -> int:
    try:
        import uvicorn
    except ImportError:
        print(
            "noaiguard proxy needs an ASGI server: pip install 'noaiguard[server]'", file=sys.stderr
        )
        return EXIT_FAILURE
    if not 0 < args.port < 65536:
        print(f"--port {args.port}: expected 1 to 65535", file=sys.stderr)
        return EXIT_INVALID_CONFIG
    if args.workers < 1:
        print(f"--workers {args.workers}: expected at least 1", file=sys.stderr)
        return EXIT_INVALID_CONFIG
    settings = proxy_settings(args.config, args.upstream, args.store)
    config = load_proxy_config(settings)
    upstream = config.proxy.upstream
    if not upstream:
        print(
            "no upstream: give --upstream http://host:port or proxy.upstream in the config",
            file=sys.stderr,
        )
        return EXIT_INVALID_CONFIG
    try:
        Origin.parse(upstream)
    except ValueError as exc:
        print(f"--upstream: {exc}", file=sys.stderr)
        return EXIT_INVALID_CONFIG
    metrics = config.metrics
    if metrics.enabled and metrics.port:
        if args.workers > 1:
            print(
                f"metrics.port: {args.workers} worker processes cannot share one metrics "
                "listener; use metrics.path instead (each worker then answers with its own "
                "counts) or --workers 1",
                file=sys.stderr,
            )
            return EXIT_INVALID_CONFIG
        if metrics.port == args.port:
            print(f"metrics.port: {metrics.port} is the proxy's own --port", file=sys.stderr)
            return EXIT_INVALID_CONFIG
    if metrics.enabled:
        require_client()  # in the workers too, but here it fails once, before listening
    source = config.source if args.config else "built-in defaults"
    print(
        f"noaiguard proxy: http://{args.host}:{args.port} -> {upstream} "
        f"({source}, {config.mode} mode, {args.workers} worker{'s' if args.workers > 1 else ''}, "
        f"events to {config.store.url})",
        flush=True,
    )
    if metrics.enabled:
        where = (
            f"http://{metrics.host}:{metrics.port}{LISTENER_PATH}"
            if metrics.port
            else f"http://{args.host}:{args.port}{metrics.path} (bearer token)"
        )
        print(f"noaiguard proxy: metrics at {where}", flush=True)
    options = server_options(proxy=True)
    if args.workers == 1:
        from .proxy import create_proxy_app

        uvicorn.run(create_proxy_app(config), host=args.host, port=args.port, **options)
    else:
        os.environ[PROXY_ENVIRONMENT] = json.dumps(settings)
        uvicorn.run(
            "noaiguard.serve:proxy_from_environment",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            **options,
        )
    return EXIT_OK


# -- demo -------------------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    if args.simulate is not None:
        return _simulate(args)
    try:
        import uvicorn
    except ImportError:
        print(
            "noaiguard demo needs an ASGI server: pip install 'noaiguard[server]'", file=sys.stderr
        )
        return EXIT_FAILURE
    from dataclasses import replace

    from .demo import create_app
    from .middleware import NoAIGuardMiddleware

    config = _config(args.config)
    if args.store:
        config = replace(config, store=replace(config.store, url=args.store))
    guard = Guard(config)
    app = NoAIGuardMiddleware(create_app(), guard=guard)
    base = f"http://{args.host}:{args.port}"
    blocked = sum(1 for a in guard.agents if guard.policy.agent_action(a) is Action.BLOCK)
    source = config.source if args.config else "built-in defaults"
    print(
        f"""noaiguard demo: a small portfolio gallery behind noaiguard
  site:    {base}/
  config:  {source} ({config.mode} mode; {len(guard.agents)} agents known, {blocked} blocked)
  events:  {config.store.url}

Try it from another terminal:

  # a browser: served, with the opt-out signals (X-Robots-Tag header, robots meta tag)
  curl -si -A '{DEMO_BROWSER_UA}' {base}/ | grep -iE '^HTTP|^x-robots-tag|name="robots"'

  # GPTBot, OpenAI's training crawler: refused with 403
  curl -si -A '{DEMO_GPTBOT_UA}' {base}/images/dawn.png

  # robots.txt: a group for the AI crawlers, then the site's own rules
  curl -s {base}/robots.txt

Press Ctrl+C to stop.
""",
        flush=True,
    )
    uvicorn.run(app, host=args.host, port=args.port, **server_options(proxy=False))
    guard.close()
    print(f"{guard.sink.written} event(s) recorded in {config.store.url}")
    return EXIT_OK


# -- evidence, events, prune -------------------------------------------------------------------


def _evidence(args: argparse.Namespace) -> int:
    store = _open_store(args)
    try:
        found = timeline(store, args.agent, args.since, args.until)
    finally:
        store.close()
    sys.stdout.write(render_json(found) if args.format == "json" else render_text(found))
    return EXIT_OK


def _events(args: argparse.Namespace) -> int:
    store = _open_store(args)
    write = write_csv if args.format == "csv" else write_jsonl
    try:
        events = store.query(args.since, args.until)
        if args.output is None:
            write(events, sys.stdout)
            return EXIT_OK
        with args.output.open("w", encoding="utf-8", newline="") as out:
            count = write(events, out)
    finally:
        store.close()
    print(f"{count} event(s) written to {args.output}", file=sys.stderr)
    return EXIT_OK


def _prune(args: argparse.Namespace) -> int:
    days = args.days if args.days is not None else _config(args.config).store.retention_days
    if days < 0:
        print("--days: expected 0 or more", file=sys.stderr)
        return EXIT_INVALID_CONFIG
    if days == 0:
        print("retention is 0 days (keep everything): nothing pruned")
        return EXIT_OK
    cut = time.time() - days * 86400
    store = _open_store(args)
    try:
        removed = store.prune(cut)
    finally:
        store.close()
    print(f"pruned {removed} event(s) from before {format_time(cut, seconds=False)} UTC")
    return EXIT_OK
