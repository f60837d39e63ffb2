"""Responders for decisions that do not reach the app."""

from __future__ import annotations

from ._types import RawHeaders, Send
from .config import BlockResponse
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

    async def respond(self, send: Send, *, head: bool, directives: tuple[str, ...]) -> str:
        """Send the response; return the X-Robots-Tag value it carried."""
        headers = list(self._headers)
        merge_x_robots_tag(headers, directives)
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else self.body})
        return ", ".join(directives)
