"""The opt-out written into images on the way out: ``plus:DataMining`` in JPEG, PNG and WebP
responses, as they stream (see :mod:`noaiguard.stamping`).

Only a whole, uncompressed ``200`` image of a known type and size gets it: ``GET`` without
``Range`` (a part cannot be stamped, and its offsets would no longer match the whole), no
``Content-Encoding``, no ``Content-Range`` and no digest header that the new bytes would
contradict, at most ``max_mb``. The response start is held while the image's header arrives (at
most ``max_hold_kb``); then ``Content-Length`` grows by what the stamp adds and a strong ``ETag``
becomes weak, since the bytes are no longer the ones it named; the rest of the body streams on
untouched. Anything else, including an image the planner passes (already stamped, signed with
C2PA, corrupt), goes out exactly as the app sent it.

Each decision is remembered (:mod:`noaiguard.stamping.remembered`) with the bytes it was made on,
so an image served again costs a comparison of its header, not a new plan.
"""

from __future__ import annotations

from collections.abc import Awaitable

from .._types import Message, Scope, Send
from ..config import ImageStampConfig
from ..stamping import StreamEdit, StreamStamper, data_mining_uri
from ..stamping.remembered import Remembered, RememberedPlans
from .response import DONE

_START = "http.response.start"
_BODY = "http.response.body"
_STAMPED_TYPES = frozenset({b"image/jpeg", b"image/png", b"image/webp"})
#: Headers whose presence means the body must not change.
_UNTOUCHABLE = frozenset(
    {b"content-encoding", b"content-range", b"content-md5", b"digest", b"repr-digest"}
)


class ImageStamping:
    """Which responses get stamped, and the ``send`` that stamps them."""

    def __init__(self, config: ImageStampConfig) -> None:
        self.uri = data_mining_uri(config.value)
        self.max_bytes = int(config.max_mb * 1024 * 1024)
        self.max_hold = config.max_hold_kb * 1024
        self.plans = RememberedPlans(int(config.cache_mb * 1024 * 1024))

    def wrap(self, scope: Scope, send: Send) -> Send:
        """``send`` for a request whose image response may be stamped, else ``send`` itself."""
        if scope.get("method", "GET") != "GET":
            return send
        for name, _ in scope.get("headers") or ():
            if name == b"range":
                return send
        target = (scope.get("raw_path") or scope.get("path", ""), scope.get("query_string", b""))
        return StampingSend(self, send, target)


class StampingSend:
    """One response's ``send``: holds an image's start and header until the stamp is planned."""

    __slots__ = (
        "_held",
        "_key",
        "_pending",
        "_remembered",
        "_send",
        "_stamper",
        "_stamping",
        "_suffix",
        "_target",
    )

    def __init__(self, stamping: ImageStamping, send: Send, target: tuple[object, ...]) -> None:
        self._stamping = stamping
        self._send = send
        self._target = target  # the request's path and query
        self._held: Message | None = None  # the start, while the image's header is read
        self._pending = bytearray()  # the body bytes held with it
        self._stamper: StreamStamper | None = None
        self._key: tuple[object, ...] = ()  # the response's, for the remembered plans
        self._remembered: Remembered | None = None  # the plan for an image seen before
        self._suffix = b""  # what goes after the last byte (WebP's XMP chunk)

    def __call__(self, message: Message) -> Awaitable[None]:
        if self._held is None:
            if message["type"] == _START and self._stampable(message):
                self._held = message
                return DONE
            if self._suffix and message["type"] == _BODY and not message.get("more_body"):
                message = {**message, "body": message.get("body", b"") + self._suffix}
                self._suffix = b""
            return self._send(message)
        return self._while_held(message)

    def _stampable(self, start: Message) -> bool:
        if start.get("status", 200) != 200:
            return False
        content_type = b""
        length: int | None = None
        etag = b""
        for name, value in start.get("headers") or ():
            if name == b"content-type":
                content_type = value.split(b";", 1)[0].strip().lower()
            elif name == b"content-length":
                if not value.isdigit():
                    return False
                length = int(value)
            elif name == b"etag":
                etag = value
            elif name in _UNTOUCHABLE:
                return False
        if content_type not in _STAMPED_TYPES:
            return False
        if length is not None and length > self._stamping.max_bytes:
            return False
        self._stamper = StreamStamper(
            self._stamping.uri, max_hold=self._stamping.max_hold, total_size=length
        )
        self._key = (*self._target, length, etag)
        self._remembered = self._stamping.plans.get(self._key)
        return True

    async def _while_held(self, message: Message) -> None:
        stamper = self._stamper
        assert stamper is not None
        if message["type"] != _BODY:  # pathsend, trailers...: everything goes as it came
            await self._release(None, more=True)
            await self._send(message)
            return
        body = message.get("body", b"")
        more = bool(message.get("more_body", False))
        self._pending += body
        remembered = self._remembered
        if remembered is not None:
            if more and len(self._pending) < len(remembered.head):
                return
            self._remembered = None
            if remembered.matches(self._pending):
                decision = remembered.decide(bytes(self._pending))
                await self._release(
                    decision if isinstance(decision, StreamEdit) else None, more=more
                )
                return
            body = bytes(self._pending)  # not the bytes it was planned on: plan them afresh
        plan = stamper.feed(body) if body else None
        if plan is None and not more:
            plan = stamper.finish()
        if plan is None:
            return
        self._stamping.plans.keep(self._key, self._pending, plan)
        await self._release(plan if isinstance(plan, StreamEdit) else None, more=more)

    async def _release(self, edit: StreamEdit | None, *, more: bool) -> None:
        """Send the held start and bytes: stamped by ``edit``, or as they came."""
        start = self._held
        assert start is not None
        self._held = None
        body = bytes(self._pending)
        self._pending = bytearray()
        if edit is not None:
            start["headers"] = _edited_headers(start.get("headers") or (), edit.size_delta)
            body = edit.prefix
            if more:
                self._suffix = edit.suffix
            else:
                body += edit.suffix
        await self._send(start)
        await self._send({"type": _BODY, "body": body, "more_body": more})


def _edited_headers(
    headers: list[tuple[bytes, bytes]] | tuple[tuple[bytes, bytes], ...], delta: int
) -> list[tuple[bytes, bytes]]:
    """Content-Length grown by ``delta``; a strong ETag made weak (the bytes changed)."""
    edited = []
    for name, value in headers:
        if name == b"content-length":
            edited.append((name, b"%d" % (int(value) + delta)))
        elif name == b"etag" and not value.startswith(b"W/"):
            edited.append((name, b"W/" + value))
        else:
            edited.append((name, value))
    return edited
