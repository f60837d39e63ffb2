"""A bare pass-through proxy: noaiguard's ProxyApp without the guard, on the same server settings
as ``noaiguard proxy``, so that the benchmark measures what the guard itself costs.

    python benchmarks/_run_proxy.py UPSTREAM_URL PORT [--client upstream|httpx]

``--client httpx`` sends every request through ``httpx.AsyncClient`` (over the same transport)
instead of calling the upstream client directly: it measures what httpx's request and response
objects cost per request, the reason the proxy does not use them on its request path.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator

import httpx
import uvicorn

from noaiguard.config import ProxyConfig
from noaiguard.proxy import ProxyApp
from noaiguard.serve import server_options
from noaiguard.upstream import Upstream, UpstreamTransport


class HttpxClientUpstream:
    """The part of :class:`Upstream` that ProxyApp calls, made through ``httpx.AsyncClient``."""

    def __init__(self, upstream: Upstream) -> None:
        self.origin = upstream.origin
        self._base = httpx.URL(str(upstream.origin))
        self._client = httpx.AsyncClient(transport=UpstreamTransport(upstream), timeout=None)

    async def request(
        self,
        method: bytes,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: AsyncIterator[bytes] | None,
        *,
        chunked: bool = False,
    ) -> HttpxResponse:
        request = self._client.build_request(
            method.decode("ascii"),
            self._base.copy_with(raw_path=target),
            headers=headers,
            content=body,
        )
        return await HttpxResponse.start(await self._client.send(request, stream=True))

    async def aclose(self) -> None:
        await self._client.aclose()


class HttpxResponse:
    """An httpx streaming response read one piece ahead, so that ``finished`` is known."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self._pieces = response.aiter_raw()
        self._next = b""
        self.status = response.status_code
        self.headers = [(name.lower(), value) for name, value in response.headers.raw]
        self.finished = False
        self._closing: asyncio.Future[None] | None = None

    @classmethod
    async def start(cls, response: httpx.Response) -> HttpxResponse:
        self = cls(response)
        await self._advance()
        return self

    async def _advance(self) -> None:
        try:
            self._next = await self._pieces.__anext__()
        except StopAsyncIteration:
            self._next, self.finished = b"", True

    async def read(self) -> bytes:
        piece = self._next
        if not self.finished:
            await self._advance()
        return piece

    async def aclose(self) -> None:
        await self._response.aclose()

    def abort(self) -> None:
        """A body left unread: close the response (and with it the upstream connection)."""
        self._closing = asyncio.ensure_future(self._response.aclose())


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("upstream")
    parser.add_argument("port", type=int)
    parser.add_argument("--client", choices=("upstream", "httpx"), default="upstream")
    args = parser.parse_args()
    upstream = Upstream(args.upstream)
    client = HttpxClientUpstream(upstream) if args.client == "httpx" else upstream
    app = ProxyApp(client, ProxyConfig())  # type: ignore[arg-type]
    uvicorn.run(app, host="127.0.0.1", port=args.port, **server_options(proxy=True))
