"""Stamping decisions remembered per image, so an image served again is not planned again.

Planning a stamp means reading the file's header and, for a file that already has XMP, parsing
that packet twice (to read it, then to check the merge): a few hundred microseconds, while sending
the bytes on costs a few dozen. A site serves the same images over and over, so the decision is
kept for the response it was made for (path, query, length, ETag) together with the bytes it was
made on. A later response with that key is trusted only if its body starts with exactly those
bytes: the decision is a function of them (and of the length, in the key), so the same bytes give
the same edit, and any other bytes, such as a file replaced in place, are planned afresh.

An edit is kept as the span of the header it replaces and the bytes that replace it, not as a
second copy of the header; a pass (already stamped, signed with C2PA, not an image...) as no span.
Memory is bounded by a byte budget, least recently used first out.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

from .stream import StreamEdit, StreamPass

#: A header larger than this is planned every time rather than kept.
_LARGEST = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Remembered:
    """A decision and the first bytes of the body it was made on."""

    head: bytes
    #: The stamp as ``head[:keep] + middle + head[resume:]``, or None: send the body unchanged.
    keep: int
    resume: int
    middle: bytes
    suffix: bytes
    stamped: bool

    @classmethod
    def of(cls, head: bytes, decision: StreamEdit | StreamPass) -> Remembered:
        if isinstance(decision, StreamPass):
            return cls(head, 0, 0, b"", b"", stamped=False)
        prefix = decision.prefix
        keep = _common_prefix(head, prefix)
        tail = _common_suffix(head, prefix, limit=min(len(head), len(prefix)) - keep)
        middle = prefix[keep : len(prefix) - tail]
        return cls(head, keep, len(head) - tail, middle, decision.suffix, stamped=True)

    @property
    def size(self) -> int:
        return len(self.head) + len(self.middle) + len(self.suffix) + 64

    def matches(self, body: bytes | bytearray) -> bool:
        """Does ``body`` begin with the bytes this decision was made on?"""
        return body.startswith(self.head)

    def decide(self, body: bytes) -> StreamEdit | StreamPass:
        """The decision for ``body`` (which :meth:`matches`), covering all of it."""
        if not self.stamped:
            return StreamPass("remembered")
        prefix = b"".join((body[: self.keep], self.middle, body[self.resume :]))
        return StreamEdit(prefix, self.suffix, len(prefix) - len(body) + len(self.suffix))


class RememberedPlans:
    """Decisions by response key, within ``budget`` bytes, least recently used dropped first."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self._plans: OrderedDict[Hashable, Remembered] = OrderedDict()

    def __len__(self) -> int:
        return len(self._plans)

    def get(self, key: Hashable) -> Remembered | None:
        plan = self._plans.get(key)
        if plan is not None:
            self._plans.move_to_end(key)
        return plan

    def forget(self, key: Hashable) -> None:
        plan = self._plans.pop(key, None)
        if plan is not None:
            self.used -= plan.size

    def keep(
        self, key: Hashable, head: bytes | bytearray, decision: StreamEdit | StreamPass
    ) -> None:
        """Remember ``decision``, made on ``head`` (all the body's bytes fed to decide)."""
        if len(head) > min(_LARGEST, self.budget):
            return
        plan = Remembered.of(bytes(head), decision)
        if plan.size > self.budget:
            return
        self.forget(key)
        self._plans[key] = plan
        self.used += plan.size
        while self.used > self.budget:
            _, dropped = self._plans.popitem(last=False)
            self.used -= dropped.size


def _common_prefix(a: bytes, b: bytes) -> int:
    """How many leading bytes ``a`` and ``b`` share (binary search: C compares, few of them)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[low:middle] == b[low:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _common_suffix(a: bytes, b: bytes, *, limit: int) -> int:
    """How many trailing bytes ``a`` and ``b`` share, at most ``limit``."""
    low, high = 0, limit
    while low < high:
        middle = (low + high + 1) // 2
        if a[len(a) - middle : len(a) - low] == b[len(b) - middle : len(b) - low]:
            low = middle
        else:
            high = middle - 1
    return low
