"""Stamping decisions remembered per image: an image served again gets exactly the bytes a fresh
plan gives, however its body is cut into chunks, and a different body under the same key is
planned afresh."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from noaiguard._types import Message
from noaiguard.config import ImageStampConfig
from noaiguard.signals.imagestamp import ImageStamping
from noaiguard.stamping import StreamEdit, StreamPass, stamp_bytes
from noaiguard.stamping.remembered import Remembered, RememberedPlans

from .test_stamping import URI, image, stamped


def serve(
    stamping: ImageStamping,
    data: bytes,
    *,
    chunk: int = 65536,
    path: str = "/img/photo.jpg",
    content_type: bytes = b"image/jpeg",
    etag: bytes = b'"v1"',
) -> tuple[dict[bytes, bytes], bytes]:
    """One response through the stamping ``send``: the headers and the body the client gets."""
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def respond() -> None:
        wrapped = stamping.wrap(
            {"type": "http", "method": "GET", "path": path, "headers": []}, send
        )
        headers = [
            (b"content-type", content_type),
            (b"content-length", b"%d" % len(data)),
            (b"etag", etag),
        ]
        await wrapped({"type": "http.response.start", "status": 200, "headers": headers})
        pieces = [data[at : at + chunk] for at in range(0, len(data), chunk)]
        for number, piece in enumerate(pieces, 1):
            await wrapped(
                {"type": "http.response.body", "body": piece, "more_body": number < len(pieces)}
            )

    asyncio.run(respond())
    start, *bodies = sent
    return dict(start["headers"]), b"".join(message.get("body", b"") for message in bodies)


def stamping(cache_mb: float = 16.0) -> ImageStamping:
    return ImageStamping(ImageStampConfig(enabled=True, cache_mb=cache_mb))


@pytest.mark.parametrize("name", ["jpeg-xmp", "jpeg-exif", "png", "webp-lossy"])
@pytest.mark.parametrize("chunks", [(65536, 65536), (65536, 7), (1000, 65536), (3, 1)])
def test_an_image_served_again_gets_the_same_bytes(name: str, chunks: tuple[int, int]) -> None:
    data = image(name)
    expected = stamp_bytes(data, URI).data
    guard = stamping()
    first, second = (serve(guard, data, chunk=chunk) for chunk in chunks)
    assert first == second
    headers, body = second
    assert body == expected
    assert int(headers[b"content-length"]) == len(expected)
    assert headers[b"etag"] == b'W/"v1"'
    assert len(guard.plans) == 1


def test_what_is_remembered_is_the_edit_not_a_second_header() -> None:
    data = image("jpeg-xmp")
    guard = stamping()
    serve(guard, data)
    plan = guard.plans.get(("/img/photo.jpg", b"", len(data), b'"v1"'))
    assert plan is not None and plan.stamped
    assert len(plan.middle) < len(plan.head) // 2  # what the stamp changes, not the header again
    assert guard.plans.used == plan.size <= guard.plans.budget


def test_other_bytes_under_the_same_key_are_planned_afresh() -> None:
    guard = stamping()
    original = image("jpeg-xmp")
    serve(guard, original)
    # The same path, length and ETag, other bytes (in the packet the stamp is merged into): an app
    # that changed the file but not its tag.
    changed = original.replace(b"Test Studio 3", b"Test Studio 4")
    assert len(changed) == len(original) and changed != original
    assert serve(guard, changed)[1] == stamp_bytes(changed, URI).data
    assert serve(guard, original)[1] == stamp_bytes(original, URI).data


def test_a_shorter_body_than_the_remembered_header_is_planned_afresh() -> None:
    guard = stamping()
    data = image("png")
    serve(guard, data, path="/a.png", content_type=b"image/png")
    short = data[:40]
    _, body = serve(guard, short, path="/a.png", content_type=b"image/png")
    assert body == short  # truncated: the planner passes it, as it would have the first time


def test_a_pass_is_remembered_too() -> None:
    guard = stamping()
    data = stamped("jpeg")
    for chunk in (65536, 11):
        assert serve(guard, data, chunk=chunk)[1] == data
    plan = guard.plans.get(("/img/photo.jpg", b"", len(data), b'"v1"'))
    assert plan is not None and not plan.stamped


def test_without_a_cache_every_response_is_planned_and_stamped() -> None:
    guard = stamping(cache_mb=0)
    data = image("jpeg-xmp")
    assert serve(guard, data)[1] == serve(guard, data)[1] == stamp_bytes(data, URI).data
    assert len(guard.plans) == 0


def test_the_budget_drops_the_least_recently_used() -> None:
    data = image("jpeg-exif")
    edit = StreamEdit(b"X" + data[1:100], b"", 0)
    size = Remembered.of(data[:100], edit).size
    plans = RememberedPlans(budget=3 * size)
    for key in "abc":
        plans.keep(key, data[:100], edit)
    assert plans.get("a") is not None  # now the most recently used
    plans.keep("d", data[:100], edit)
    assert plans.get("b") is None
    assert [plans.get(key) is not None for key in "acd"] == [True, True, True]
    assert plans.used == 3 * size
    plans.keep("huge", b"x" * (4 * size), StreamPass("too big to keep"))
    assert plans.get("huge") is None and plans.used == 3 * size


@given(
    head=st.binary(min_size=1, max_size=300),
    cut=st.tuples(st.integers(0, 300), st.integers(0, 300)),
    middle=st.binary(max_size=40),
    rest=st.binary(max_size=50),
    suffix=st.binary(max_size=10),
)
def test_a_remembered_edit_is_the_edit(
    head: bytes, cut: tuple[int, int], middle: bytes, rest: bytes, suffix: bytes
) -> None:
    start, end = sorted(min(at, len(head)) for at in cut)
    prefix = head[:start] + middle + head[end:]
    edit = StreamEdit(prefix, suffix, len(prefix) - len(head) + len(suffix))
    remembered = Remembered.of(head, edit)
    assert remembered.matches(head + rest)
    decided = remembered.decide(head + rest)
    assert decided == StreamEdit(prefix + rest, suffix, edit.size_delta)
