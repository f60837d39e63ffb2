"""What a container module decides for one file: byte splices plus a tail, or why not.

Every format is edited the same way, so at rest and in a stream give the same bytes: a
:class:`Plan` lists splices (replace ``data[start:end]``) in ascending order and a suffix appended
after the last original byte (WebP's XMP chunk). A file that is left alone raises
:class:`Unchanged` with the reason; a stream that has not shown enough bytes yet raises
:class:`NeedMore`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: Why a file with a C2PA manifest is left alone: re-embedding XMP breaks its signed hard binding.
SIGNED = "signed C2PA manifest"
NOT_AN_IMAGE = "not a JPEG, PNG or WebP"
#: Why a file with two XMP packets is left alone: readers differ on which one counts, so a value
#: left in the other could still say the opposite of ours.
SEVERAL_PACKETS = "more than one XMP packet"


@dataclass(frozen=True, slots=True)
class Splice:
    """Replace ``data[start:end]`` by ``replacement`` (an insertion when start == end)."""

    start: int
    end: int
    replacement: bytes


@dataclass(frozen=True, slots=True)
class Plan:
    """The edits that stamp one file; ``note`` is what the result reports (a replaced value)."""

    splices: tuple[Splice, ...]
    suffix: bytes = b""
    note: str = ""

    @property
    def size_delta(self) -> int:
        """How much longer the stamped file is than the original."""
        grown = sum(len(s.replacement) - (s.end - s.start) for s in self.splices)
        return grown + len(self.suffix)

    def apply(self, data: bytes) -> bytes:
        """``data`` with the splices made (``data`` may be only the first bytes of the file)."""
        parts = _spliced(data, self.splices)
        return b"".join(parts)


def _spliced(data: bytes, splices: Sequence[Splice]) -> list[bytes]:
    parts: list[bytes] = []
    position = 0
    for splice in splices:
        parts.append(data[position : splice.start])
        parts.append(splice.replacement)
        position = splice.end
    parts.append(data[position:])
    return parts


class Unchanged(Exception):
    """The file is left as it is; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Skip(Unchanged):
    """Not stamped: corrupt, signed (C2PA), unsafe XMP, or a limit of the container."""


class AlreadyStamped(Unchanged):
    """The file already carries the configured value."""

    def __init__(self) -> None:
        super().__init__("already stamped")


class NeedMore(Exception):
    """A stream has not shown enough bytes yet; ``needed`` is the length to wait for."""

    def __init__(self, needed: int) -> None:
        super().__init__(needed)
        self.needed = needed


def want(data: bytes, needed: int, *, whole: bool, truncated: str) -> None:
    """Check that ``data`` has ``needed`` bytes: NeedMore in a stream, Skip for a whole file."""
    if len(data) < needed:
        if whole:
            raise Skip(truncated)
        raise NeedMore(needed)
