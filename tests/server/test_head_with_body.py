"""noaiguard's server protocol writes a response's head and a body sent right after it in one
write, and never holds a head back for a body that comes later (noaiguard/_httpprotocol.py).

The first tests watch the writes themselves, on a transport that records them, in a real event
loop; the others run the protocol in a real uvicorn server and read its answers from a socket.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from noaiguard._httpprotocol import RequestTargetProtocol, _HeadWithBody
from noaiguard._types import HEADER_LINES, Receive, Scope, Send
from tests.conftest import live_server

pytestmark = pytest.mark.anyio

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"


class RecordingTransport:
    """What reaches the socket: one entry per write call (a writelines is one writev)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes]] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.calls.append(("write", data))

    def writelines(self, pieces: Any) -> None:
        self.calls.append(("writelines", b"".join(pieces)))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def writer() -> tuple[_HeadWithBody, RecordingTransport]:
    transport = RecordingTransport()
    return _HeadWithBody(transport, asyncio.get_running_loop()), transport  # type: ignore[arg-type]


async def test_a_head_and_the_body_right_behind_it_leave_in_one_write() -> None:
    out, transport = writer()
    out.expect_head = True
    out.write(HEAD)
    assert transport.calls == []  # the head waits for the rest of the turn
    out.write(b"hello")
    assert transport.calls == [("writelines", HEAD + b"hello")]
    await asyncio.sleep(0)  # the end of the turn finds nothing left to write
    out.write(b" more")  # later pieces of the body go straight out
    assert transport.calls[1:] == [("write", b" more")]


async def test_a_head_alone_leaves_at_the_end_of_the_turn() -> None:
    out, transport = writer()
    out.expect_head = True
    out.write(HEAD)
    await asyncio.sleep(0)
    assert transport.calls == [("write", HEAD)]
    out.write(b"hello")  # the body, later: a write of its own
    assert transport.calls == [("write", HEAD), ("write", b"hello")]


async def test_closing_writes_a_waiting_head_first() -> None:
    out, transport = writer()
    out.expect_head = True
    out.write(HEAD)
    out.close()
    assert transport.calls == [("write", HEAD)] and transport.closed
    await asyncio.sleep(0)
    assert transport.calls == [("write", HEAD)]  # not twice


async def test_header_lines_go_into_the_next_head_only() -> None:
    out, transport = writer()
    out.add_header_lines(b"x-robots-tag: noai\r\n")
    out.expect_head = True
    out.write(HEAD)
    out.write(b"hello")
    out.expect_head = True
    out.write(HEAD)  # the next response's head: nothing added
    out.write(b"again")
    assert transport.calls == [
        ("writelines", HEAD[:-2] + b"x-robots-tag: noai\r\n\r\nhello"),
        ("writelines", HEAD + b"again"),
    ]


async def test_only_a_head_waits() -> None:
    out, transport = writer()
    out.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # no response head expected: straight out
    assert transport.calls == [("write", b"HTTP/1.1 100 Continue\r\n\r\n")]


# -- in a real uvicorn server ------------------------------------------------------------------

release = asyncio.Event()


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/lines":
        # What noaiguard's proxy does with its checked signal lines (HEADER_LINES).
        scope["extensions"][HEADER_LINES](b"x-robots-tag: noai\r\ncontent-usage: train-ai=n\r\n")
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
        )
        await send({"type": "http.response.body", "body": b"ok"})
        return
    if scope["path"] == "/whole":
        body = b"the whole page"
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"%d" % len(body))],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return
    # /stream: the head, then the body only once the client has read the head.
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4")]}
    )
    await release.wait()
    await send({"type": "http.response.body", "body": b"late"})


async def exchange(url: str, raw: bytes, answers: int) -> list[bytes]:
    """Send ``raw`` and read until ``answers`` responses have come (the last one with a body)."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(raw)
        data = b""
        while data.count(b"HTTP/1.1 200 OK") < answers or not data.endswith(b"page"):
            chunk = await asyncio.wait_for(reader.read(65536), 5)
            assert chunk, f"closed after {data!r}"
            data += chunk
        return data.split(b"HTTP/1.1 200 OK")[1:]
    finally:
        writer.close()


async def test_responses_are_whole_one_after_another_on_one_connection() -> None:
    async with live_server(app, http=RequestTargetProtocol) as url:
        answers = await exchange(
            url,
            b"GET /whole HTTP/1.1\r\nHost: x\r\n\r\n"
            b"HEAD /whole HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /whole HTTP/1.1\r\nHost: x\r\n\r\n",
            3,
        )
        assert len(answers) == 3
        assert answers[0].endswith(b"content-length: 14\r\n\r\nthe whole page")
        assert answers[1].endswith(b"content-length: 14\r\n\r\n")  # HEAD: the head alone
        assert answers[2].endswith(b"content-length: 14\r\n\r\nthe whole page")


async def test_a_head_is_not_held_for_a_body_that_comes_later() -> None:
    release.clear()
    async with live_server(app, http=RequestTargetProtocol) as url:
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            writer.write(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
            assert head.startswith(b"HTTP/1.1 200 OK")
            release.set()
            assert await asyncio.wait_for(reader.readexactly(4), 2) == b"late"
        finally:
            release.set()  # a failing test must not leave the app waiting (and the server)
            writer.close()


async def test_a_server_writes_an_apps_header_lines_once_in_that_response() -> None:
    async with live_server(app, http=RequestTargetProtocol) as url:
        answers = await exchange(
            url,
            b"GET /lines HTTP/1.1\r\nHost: x\r\n\r\nGET /whole HTTP/1.1\r\nHost: x\r\n\r\n",
            2,
        )
    with_lines, without = (answer.split(b"\r\n\r\n") for answer in answers)
    assert with_lines[1] == b"ok"
    assert with_lines[0].count(b"\r\nx-robots-tag: noai\r\n") == 1
    assert with_lines[0].endswith(b"\r\ncontent-usage: train-ai=n")
    assert b"x-robots-tag" not in without[0] and without[1] == b"the whole page"
