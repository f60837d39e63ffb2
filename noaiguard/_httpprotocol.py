"""uvicorn's httptools protocol with two additions for noaiguard's servers.

It is a module of its own, imported only when uvicorn and httptools are installed, and its class
lives at module level so that uvicorn's worker processes (``--workers``) can import it by name.
"""

from __future__ import annotations

from typing import Any, cast

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: Bytes of request line and headers a client may send; beyond it the request gets a 400 and the
#: connection is closed, before the headers can fill memory. nginx allows 32 KiB by default.
MAX_REQUEST_HEAD = 64 * 1024
#: Where the request target goes when it is not a plain path (see noaiguard.proxy).
TARGET_EXTENSION = "noaiguard.request_target"


class RequestTargetProtocol(HttpToolsProtocol):
    """Keeps a request target that is not a plain path (uvicorn drops the absolute form, which
    the proxy must see to refuse it), and refuses a request head over :data:`MAX_REQUEST_HEAD`."""

    head_bytes = 0

    def on_message_begin(self) -> None:
        self.head_bytes = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def _count(self, size: int) -> None:
        self.head_bytes += size
        if self.head_bytes > MAX_REQUEST_HEAD:
            # Raised from a parser callback, this reaches uvicorn as a parse error: it answers
            # 400 and closes the connection.
            raise httptools.HttpParserError("request head too large")

    def on_headers_complete(self) -> None:
        target: bytes = self.url
        if target[:1] != b"/" and target != b"*":
            extensions = cast(dict[str, Any], self.scope.setdefault("extensions", {}))
            extensions[TARGET_EXTENSION] = target
        super().on_headers_complete()
