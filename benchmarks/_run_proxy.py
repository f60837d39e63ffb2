"""A bare pass-through proxy: noaiguard's ProxyApp without the guard, on the same server settings
as ``noaiguard proxy``, so that the benchmark measures what the guard itself costs.

    python benchmarks/_run_proxy.py UPSTREAM_URL PORT
"""

from __future__ import annotations

import sys

import uvicorn

from noaiguard.config import ProxyConfig
from noaiguard.proxy import ProxyApp
from noaiguard.serve import server_options
from noaiguard.upstream import Upstream

if __name__ == "__main__":
    upstream_url, port = sys.argv[1], int(sys.argv[2])
    app = ProxyApp(Upstream(upstream_url), ProxyConfig())
    uvicorn.run(app, host="127.0.0.1", port=port, **server_options(proxy=True))
