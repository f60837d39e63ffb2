"""What noaiguard records: events, robots.txt versions and hourly roll-ups, and the batches in
which they travel to the store (see :mod:`noaiguard.sink`)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

#: Event kinds: a decision about a request, a fetch of robots.txt, a request the upstream failed.
REQUEST, ROBOTS_FETCH, UPSTREAM_ERROR = "request", "robots.txt", "upstream-error"


@dataclass(frozen=True, slots=True)
class Event:
    """One thing worth keeping: who came, what they asked for, what they were served."""

    time: float
    method: str
    path: str
    status: int
    category: str
    action: str
    client_ip: str | None = None
    host: str = ""
    bytes_sent: int = 0
    user_agent: str = ""
    agent: str | None = None
    #: False when the action was only recorded (monitor mode), not carried out.
    enforced: bool = True
    rule: str = ""
    reasons: tuple[str, ...] = ()
    #: The X-Robots-Tag value the response carried: evidence the opt-out was served.
    x_robots_tag: str = ""
    kind: str = REQUEST
    #: The robots.txt version (see :class:`RobotsVersion`) last served before this event.
    robots_version: str = ""
    #: For a refused request: the size of what was asked for, as last served to a client that
    #: was let through (0 when unknown). What the refusal kept from the crawler.
    bytes_withheld: int = 0


@dataclass(frozen=True, slots=True)
class RobotsVersion:
    """One distinct robots.txt body, and when it was first and last served."""

    version: str
    body: str
    first_served: float
    last_served: float

    @staticmethod
    def version_of(body: bytes) -> str:
        """The version name of a robots.txt body: its SHA-256, in hex."""
        return hashlib.sha256(body).hexdigest()

    def widened(self, other: RobotsVersion) -> RobotsVersion:
        """This version, served over both its own and ``other``'s time span."""
        return RobotsVersion(
            self.version,
            self.body,
            min(self.first_served, other.first_served),
            max(self.last_served, other.last_served),
        )


@dataclass(frozen=True, slots=True)
class Rollup:
    """Requests counted in one hour (``hour`` is its start, in epoch seconds) for one kind."""

    hour: int
    category: str
    action: str
    #: The status code divided by 100: 2 for 2xx, 4 for 4xx.
    status_class: int
    count: int

    @property
    def key(self) -> tuple[int, str, str, int]:
        return (self.hour, self.category, self.action, self.status_class)


@dataclass(frozen=True, slots=True)
class Batch:
    """What the writer hands the store in one transaction.

    ``id`` makes writing idempotent: a store applies a batch id once, so a batch retried after a
    write whose acknowledgement was lost, or replayed from the spill file, is never counted twice.
    """

    id: str
    events: tuple[Event, ...] = ()
    robots: tuple[RobotsVersion, ...] = ()
    rollups: tuple[Rollup, ...] = ()

    @classmethod
    def new(
        cls,
        events: Sequence[Event] = (),
        robots: Sequence[RobotsVersion] = (),
        rollups: Sequence[Rollup] = (),
    ) -> Batch:
        return cls(uuid.uuid4().hex, tuple(events), tuple(robots), tuple(rollups))

    def __len__(self) -> int:
        return len(self.events) + len(self.robots) + len(self.rollups)
