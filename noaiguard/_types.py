"""ASGI type aliases, so that the package needs no typing dependency on any one framework."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
RawHeaders = list[tuple[bytes, bytes]]

#: An ASGI extension of noaiguard's own server (``noaiguard proxy``, ``noaiguard demo``): header
#: lines that an app has encoded and checked itself (``b"name: value\r\n"`` each), written as they
#: are after the ``headers`` of a response's start. The server offers it as a function in
#: ``scope["extensions"][HEADER_LINES]``; the app calls it with the lines right before it sends
#: that response's ``http.response.start``, and puts the same lines in that
#: message under this key, so that whatever stands between it and the server sees them. noaiguard
#: sends its constant signal headers this way: checked once at start-up, instead of by the server on
#: every response (two regular expressions a line in uvicorn).
HEADER_LINES = "noaiguard.header_lines"
