"""Responders for decisions that do not reach the app."""

from __future__ import annotations

from collections.abc import Sequence

import anyio

from ._types import RawHeaders, Receive, Send
from .config import BlockResponse, TarpitConfig
from .signals.headers import merge_x_robots_tag


class BlockResponder:
    """Sends the configured block response: short, never cached, with the opt-out signals."""

    def __init__(self, block: BlockResponse) -> None:
        self.status = block.status
        self.body = block.body.encode("utf-8")
        self.content_type = block.content_type
        self._headers: RawHeaders = [
            (b"content-type", block.content_type.encode("latin-1")),
            (b"content-length", str(len(self.body)).encode("ascii")),
            # A CDN must not serve a crawler's refusal to the next visitor.
            (b"cache-control", b"private, no-store"),
        ]

    async def respond(
        self,
        send: Send,
        *,
        head: bool,
        directives: tuple[str, ...],
        extra: Sequence[tuple[bytes, bytes]] = (),
    ) -> str:
        """Send the response (``extra``: the usage headers); return its X-Robots-Tag value."""
        headers = list(self._headers)
        merge_x_robots_tag(headers, directives)
        headers += extra
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else self.body})
        return ", ".join(directives)


class Tarpit:
    """Holds a refused request open for a while before refusing it: a scraper's worker stays
    tied up instead of moving on to the next image.

    Bounded: at most ``max_concurrent`` requests are held (beyond that, the block response is
    sent at once), each for at most ``seconds``, and a client that hangs up frees its place. The
    server's own resources are never at stake: a held request costs one sleeping task.
    """

    def __init__(self, config: TarpitConfig, block: BlockResponder) -> None:
        self.seconds = config.seconds
        self.max_concurrent = config.max_concurrent
        self.block = block
        #: Requests being held right now.
        self.holding = 0

    async def respond(
        self,
        receive: Receive,
        send: Send,
        *,
        head: bool,
        directives: tuple[str, ...],
        extra: Sequence[tuple[bytes, bytes]] = (),
    ) -> tuple[str, bool]:
        """Hold, then block; return the X-Robots-Tag sent and whether the client was held."""
        if self.holding >= self.max_concurrent:
            sent = await self.block.respond(send, head=head, directives=directives, extra=extra)
            return sent, False
        self.holding += 1
        try:
            with anyio.move_on_after(self.seconds):
                while (await receive())["type"] != "http.disconnect":
                    pass  # the request's body, read and dropped while we wait
                return "", True  # the client gave up: nothing to send
        finally:
            self.holding -= 1
        return await self.block.respond(send, head=head, directives=directives, extra=extra), True
