"""A bare pass-through proxy: noaiguard's ProxyApp without the guard, on the same server settings
as ``noaiguard proxy``, so that the benchmark measures what the guard itself costs.

    python benchmarks/_run_proxy.py UPSTREAM_URL PORT [--transport noaiguard|httpx]

ProxyApp hands every request to an httpx transport. ``--transport noaiguard`` (the default) is
the one ``noaiguard proxy`` uses (:class:`~noaiguard.upstream.UpstreamTransport`); ``--transport
httpx`` is httpx's own ``AsyncHTTPTransport`` (httpcore), to measure the choice.
"""

from __future__ import annotations

import argparse

import httpx
import uvicorn

from noaiguard.config import ProxyConfig
from noaiguard.origin import Origin
from noaiguard.proxy import ProxyApp
from noaiguard.serve import server_options
from noaiguard.upstream import Upstream, UpstreamTransport

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("upstream")
    parser.add_argument("port", type=int)
    parser.add_argument("--transport", choices=("noaiguard", "httpx"), default="noaiguard")
    args = parser.parse_args()
    transport: httpx.AsyncBaseTransport = (
        httpx.AsyncHTTPTransport(limits=httpx.Limits(max_keepalive_connections=100))
        if args.transport == "httpx"
        else UpstreamTransport(Upstream(args.upstream))
    )
    app = ProxyApp(transport, Origin.parse(args.upstream), ProxyConfig())
    uvicorn.run(app, host="127.0.0.1", port=args.port, **server_options(proxy=True))
