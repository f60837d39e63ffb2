"""``noaiguard serve-auth``: the decision endpoint for nginx, Caddy and Traefik.

    noaiguard serve-auth --config /etc/noaiguard/noaiguard.yaml
    noaiguard serve-auth --port 8081 --site-robots /var/www/example.org/robots.txt

A bad flag or config exits with status 2 before anything listens, like ``noaiguard proxy``; so
does a config without ``network.trusted_proxies``, because in this mode every request comes from
the web server and the visitor's address is only known from what the web server says.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import signal
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import Config, load_config
from ..guard import Guard
from ..metrics import require_client
from . import AUTH_PATH, HEALTH_PATH, REFUSED

if TYPE_CHECKING:
    from .endpoint import AuthEndpoint

EXIT_OK, EXIT_FAILURE, EXIT_INVALID = 0, 1, 2
DEFAULT_PORT = 8081


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    auth = commands.add_parser(
        "serve-auth",
        help="answer nginx auth_request, Caddy forward_auth and Traefik forwardAuth",
        description="The decision endpoint for a web server that keeps serving the site: it "
        f"asks {AUTH_PATH} about every request (200 with the signal headers to add, or 403) "
        "and passes /robots.txt, /ai.txt and /.well-known/tdmrep.json on to it. "
        "deploy/ has the web server configurations.",
    )
    auth.add_argument("--config", type=Path, help="YAML config (default: built-in defaults)")
    auth.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    auth.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port to listen on ({DEFAULT_PORT})"
    )
    auth.add_argument("--store", help="event store URL (default: the config's store.url)")
    auth.add_argument(
        "--site-robots",
        type=Path,
        metavar="FILE",
        help="the site's own robots.txt, merged into the one served (re-read every "
        "signals.robots_txt.app_cache_seconds)",
    )
    auth.add_argument("-v", "--verbose", action="store_true", help="log every decision")
    auth.set_defaults(run=run)


def auth_config(config: Config, store: str | None = None) -> Config:
    """The config as serve-auth runs it: ``store`` if given, and refusals recorded as the 403
    that is sent (see :mod:`.endpoint`)."""
    if store:
        config = replace(config, store=replace(config.store, url=store))
    policy = config.policy
    return replace(config, policy=replace(policy, block=replace(policy.block, status=REFUSED)))


def run(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("httptools") is None:
        print(
            "noaiguard serve-auth needs httptools: pip install 'noaiguard[server]'",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    if not 0 < args.port < 65536:
        print(f"--port {args.port}: expected 1 to 65535", file=sys.stderr)
        return EXIT_INVALID
    loaded = load_config(args.config) if args.config else Config()
    if loaded.policy.block.status != REFUSED:
        print(
            f"note: policy.block.status is {loaded.policy.block.status}; serve-auth refuses "
            f"with {REFUSED}, the status web servers read as 'deny'",
            file=sys.stderr,
        )
    config = auth_config(loaded, args.store)
    if not config.network.trusted_proxies:
        print(
            "network.trusted_proxies is empty: list the web server's address there "
            "(127.0.0.1 when it runs on this machine), so that the client address it sends "
            "is believed; see deploy/README.md",
            file=sys.stderr,
        )
        return EXIT_INVALID
    metrics = config.metrics
    if metrics.enabled and metrics.port == args.port:
        print(f"metrics.port: {metrics.port} is serve-auth's own --port", file=sys.stderr)
        return EXIT_INVALID
    if metrics.enabled:
        require_client()
    for option, unused in (
        ("signals.stamp_images", config.signals.stamp_images.enabled),
        ("signals.extras.agent_lines", bool(config.signals.extras.agent_lines)),
    ):
        if unused:
            print(
                f"note: {option} needs the middleware or `noaiguard proxy`: the web server "
                "makes the responses in this mode",
                file=sys.stderr,
            )
    from .endpoint import AuthEndpoint

    guard = Guard(config)
    source = config.source if args.config else "built-in defaults"
    listening = False

    def ready(host: str, port: int) -> None:
        nonlocal listening
        listening = True
        print(
            f"noaiguard serve-auth: http://{host}:{port}{AUTH_PATH} ({source}, {config.mode} "
            f"mode, events to {config.store.url}); health: {HEALTH_PATH}",
            flush=True,
        )

    try:
        endpoint = AuthEndpoint(guard, site_robots=args.site_robots)
        with _runner() as runner:
            runner.run(serve(endpoint, args.host, args.port, ready=ready))
    except OSError as exc:
        if listening:
            raise
        print(
            f"noaiguard serve-auth: cannot listen on {args.host}:{args.port}: {exc}",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    finally:
        guard.close()
    return EXIT_OK


def _runner() -> asyncio.Runner:
    """An event loop runner on uvloop when it is installed (the ``server`` extra has it)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


async def serve(
    endpoint: AuthEndpoint,
    host: str,
    port: int,
    *,
    ready: Callable[[str, int], None] = lambda host, port: None,
    stop: asyncio.Event | None = None,
) -> None:
    """Answer on ``host:port`` until SIGINT or SIGTERM (or ``stop`` is set).

    ``ready`` is called with the address bound, once listening. At the end, requests held in the
    tarpit get their answers (up to ``policy.tarpit.seconds``) before the connections close.
    """
    from .http import HTTPServer

    server = HTTPServer(endpoint)
    bound = await server.start(host, port)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    try:
        ready(*bound)
        await stop.wait()
    finally:
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(number)
        await server.shutdown(endpoint.guard.config.policy.tarpit.seconds + 1)
