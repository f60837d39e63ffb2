"""Stamping a response body as it streams through: an incremental planner, no I/O of its own.

The caller feeds body chunks and holds them until :meth:`StreamStamper.feed` returns a decision,
then sends either the edit (``prefix`` instead of everything fed, the rest of the body unchanged,
``suffix`` after it; Content-Length grows by ``size_delta``) or the held bytes unchanged. A
decision needs the file's header only: up to the first scan (JPEG), the first IDAT (PNG) or the
first image chunk (WebP), and the planner never looks past the first ``max_hold`` bytes.

The bytes sent for an edit are exactly what :func:`~.stamp.stamp_bytes` makes of the whole file,
except where a stream cannot see: XMP or C2PA data after the image data (a PNG chunk after IDAT,
a JPEG segment between scans, a WebP chunk at the end), and a body cut short after its header
(at rest refused as truncated). Files stamped at rest do not have those limits; a WebP whose VP8X
says it has XMP is passed on for that reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from .formats import image_kind, plan_for
from .plan import NOT_AN_IMAGE, NeedMore, Unchanged
from .stamp import Outcome, stamp_bytes

#: How many bytes identify the container.
_SNIFF = 12
HOLD_LIMIT = "header larger than hold limit"


@dataclass(frozen=True, slots=True)
class StreamEdit:
    """Send ``prefix`` instead of all bytes fed so far, then the rest, then ``suffix``."""

    prefix: bytes
    suffix: bytes
    #: len(prefix) - bytes fed so far + len(suffix): the new Content-Length is the old plus this.
    size_delta: int


@dataclass(frozen=True, slots=True)
class StreamPass:
    """Send the body unchanged; ``reason`` says why (already stamped, C2PA, not an image...)."""

    reason: str


class StreamStamper:
    """Decide, from a body's first bytes, how to stamp it on the way through."""

    def __init__(self, uri: str, *, max_hold: int = 262144, total_size: int | None = None) -> None:
        self._uri = uri
        self._max_hold = max_hold
        self._total = total_size
        self._held = bytearray()
        self._needed = _SNIFF  # nothing to try before this many bytes are held
        self._done = False

    def feed(self, chunk: bytes) -> StreamEdit | StreamPass | None:
        """Take the next bytes of the body; None while more are needed to decide."""
        self._check_open()
        self._held += chunk
        if len(self._held) < self._needed:
            return None
        data = bytes(self._held)
        kind = image_kind(data)
        if kind is None:
            return self._decide(StreamPass(NOT_AN_IMAGE))
        try:  # only the first max_hold bytes count, however the body was cut into chunks
            view = data[: self._max_hold]
            plan = plan_for(kind, view, self._uri, whole=False, total=self._total)
        except NeedMore as more:
            if more.needed > self._max_hold:
                return self._decide(StreamPass(HOLD_LIMIT))
            self._needed = more.needed
            return None
        except Unchanged as unchanged:
            return self._decide(StreamPass(unchanged.reason))
        prefix = plan.apply(data)
        delta = len(prefix) - len(data) + len(plan.suffix)
        return self._decide(StreamEdit(prefix, plan.suffix, delta))

    def finish(self) -> StreamEdit | StreamPass:
        """The body ended before a decision: the held bytes are the whole file, stamped at rest."""
        self._check_open()
        data = bytes(self._held)
        result = stamp_bytes(data, self._uri)
        if result.outcome is Outcome.STAMPED and result.data is not None:
            return self._decide(StreamEdit(result.data, b"", len(result.data) - len(data)))
        return self._decide(StreamPass(result.reason or str(result.outcome)))

    def _decide(self, decision: StreamEdit | StreamPass) -> StreamEdit | StreamPass:
        self._done = True
        self._held = bytearray()
        return decision

    def _check_open(self) -> None:
        if self._done:
            raise RuntimeError("StreamStamper has decided already; feed() and finish() end there")
