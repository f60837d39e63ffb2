"""Behaviour: what a client does over time, for the clients that do not say who they are.

img2dataset's default User-Agent is a plain Firefox string; scrapers rotate browser User-Agents.
What gives them away is their traffic: hundreds of images a minute and not one page, stylesheet or
script (a person's browser fetches those with every page), or a rate no person reaches. This
module keeps, per client address and per network (/24 for IPv4, /64 for IPv6), sliding-window
counts of requests, images and pages, and scores them with the rules of
:class:`~noaiguard.config.BehaviourConfig`.

Memory is bounded: :class:`ClientTable` keeps its counters in one flat ``array`` (36 bytes per
client) indexed through a dict, holds at most ``capacity`` clients, and when full replaces the
least recently seen of a few sampled ones. A window is two fixed buckets, the current and the
previous, with the previous weighted by how much of it still lies in the window (the usual
sliding-window-counter estimate, within a few percent of an exact count).
"""

from __future__ import annotations

import array
import functools
import ipaddress
import random
from collections.abc import Sequence
from typing import NamedTuple

from ..config import BehaviourConfig
from ..counters import SharedCounters

# Request kinds, from the path's extension.
OTHER, PAGE, IMAGE = 0, 1, 2

_IMAGE_EXTENSIONS = frozenset(
    [
        ".jpg",
        ".jpeg",
        ".png",
        ".gif",
        ".webp",
        ".avif",
        ".bmp",
        ".tif",
        ".tiff",
        ".heic",
        ".heif",
        ".jxl",
        ".ico",
        ".svg",
    ]
)
# A person's browser fetches these around its pages; a downloader of images does not.
_PAGE_EXTENSIONS = frozenset(
    [".html", ".htm", ".php", ".asp", ".aspx", ".css", ".js", ".mjs", ".xml", ".json"]
)

# Fields of one client in ClientTable's array.
_LAST, _START, _REQ, _REQ_PREV, _IMG, _IMG_PREV, _PAGE, _PAGE_PREV, _FLAGGED = range(9)
_FIELDS = 9
_EVICTION_SAMPLE = 8


def request_kind(path: str) -> int:
    """PAGE, IMAGE or OTHER, from the last path segment's extension (none: a page)."""
    dot = path.rfind(".")
    if dot <= path.rfind("/"):
        return PAGE  # /gallery/, /about: pages
    extension = path[dot:].lower()
    if extension in _IMAGE_EXTENSIONS:
        return IMAGE
    if extension in _PAGE_EXTENSIONS:
        return PAGE
    return OTHER


@functools.lru_cache(maxsize=65536)
def network_of(address: str) -> str:
    """The /24 of an IPv4 address, the /64 of an IPv6 one ("" for anything else)."""
    if "." in address and ":" not in address:
        return address.rpartition(".")[0] + ".0/24"
    try:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    except ValueError:
        return ""


class Counts(NamedTuple):
    """Sliding-window estimates for one client."""

    requests: float
    images: float
    pages: float
    #: Seconds since the table's epoch until which the client is in the penalty box (0: not).
    flagged_until: int


class ClientTable:
    """Sliding-window counts for up to ``capacity`` keys, in bounded memory."""

    def __init__(self, capacity: int, window_seconds: int, epoch: float) -> None:
        self.capacity = capacity
        self.window = window_seconds
        self.epoch = int(epoch)
        self._slots: dict[str, int] = {}
        self._keys: list[str] = []
        self._data = array.array("I")
        self._random = random.Random(0x6E6F6169)  # noqa: S311 - eviction sampling, not secrets
        #: Clients that had to make room for others.
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._slots)

    def observe(self, key: str, kind: int, now: float) -> Counts:
        """Count one request of ``kind`` from ``key`` at ``now``; return the window's counts."""
        t = int(now) - self.epoch
        slot = self._slots.get(key)
        if slot is None:
            slot = self._new_slot(key, t)
        base = slot * _FIELDS
        data = self._data
        data[base + _LAST] = t
        elapsed = t - data[base + _START]
        window = self.window
        if elapsed >= window:  # a new bucket: the current one becomes the previous
            if elapsed >= 2 * window:
                data[base + _REQ_PREV] = data[base + _IMG_PREV] = data[base + _PAGE_PREV] = 0
            else:
                data[base + _REQ_PREV] = data[base + _REQ]
                data[base + _IMG_PREV] = data[base + _IMG]
                data[base + _PAGE_PREV] = data[base + _PAGE]
            data[base + _REQ] = data[base + _IMG] = data[base + _PAGE] = 0
            elapsed %= window
            data[base + _START] = t - elapsed
        data[base + _REQ] += 1
        if kind == IMAGE:
            data[base + _IMG] += 1
        elif kind == PAGE:
            data[base + _PAGE] += 1
        share = 1.0 - elapsed / window
        return Counts(
            data[base + _REQ] + data[base + _REQ_PREV] * share,
            data[base + _IMG] + data[base + _IMG_PREV] * share,
            data[base + _PAGE] + data[base + _PAGE_PREV] * share,
            data[base + _FLAGGED],
        )

    def flag(self, key: str, until: float, now: float) -> None:
        """Put ``key`` in the penalty box until ``until`` (epoch seconds)."""
        slot = self._slots.get(key)
        if slot is None:
            slot = self._new_slot(key, int(now) - self.epoch)
            self._data[slot * _FIELDS + _LAST] = int(now) - self.epoch
        self._data[slot * _FIELDS + _FLAGGED] = max(0, int(until) - self.epoch)

    def flagged_until(self, key: str) -> float:
        """When ``key``'s penalty ends (epoch seconds), or 0."""
        slot = self._slots.get(key)
        if slot is None:
            return 0.0
        until = self._data[slot * _FIELDS + _FLAGGED]
        return float(until + self.epoch) if until else 0.0

    def _new_slot(self, key: str, t: int) -> int:
        if len(self._keys) < self.capacity:
            slot = len(self._keys)
            self._keys.append(key)
            self._data.extend((0,) * _FIELDS)
        else:
            slot = self._victim()
            del self._slots[self._keys[slot]]
            self._keys[slot] = key
            base = slot * _FIELDS
            self._data[base : base + _FIELDS] = array.array("I", (0,) * _FIELDS)
            self.evicted += 1
        self._slots[key] = slot
        self._data[slot * _FIELDS + _START] = t
        return slot

    def _victim(self) -> int:
        """The least recently seen of a few random clients (never one in the penalty box,
        unless all sampled are)."""
        data = self._data
        best, best_key = 0, None
        for slot in self._random.sample(range(len(self._keys)), _EVICTION_SAMPLE):
            base = slot * _FIELDS
            rank = (data[base + _FLAGGED] > data[base + _LAST], data[base + _LAST])
            if best_key is None or rank < best_key:
                best, best_key = slot, rank
        return best


class Finding(NamedTuple):
    score: int
    reasons: tuple[str, ...]
    #: True when the client was already in the penalty box.
    penalised: bool = False


class Behaviour:
    """Scores what clients do; one per Guard."""

    def __init__(
        self, config: BehaviourConfig, epoch: float, shared: SharedCounters | None = None
    ) -> None:
        self.config = config
        self.clients = ClientTable(config.max_clients, config.window_seconds, epoch)
        self.networks = ClientTable(config.max_networks, config.window_seconds, epoch)
        self.exempt = frozenset(config.exempt_categories)
        #: Counts shared with other instances (Redis), or None for this process alone.
        self.shared = shared

    def _combined(self, key: str, kind: int, local: Counts) -> Counts:
        """This instance's counts, or every instance's where those are higher."""
        shared = self.shared
        assert shared is not None
        shared.add("r:" + key)
        if kind == IMAGE:
            shared.add("i:" + key)
        elif kind == PAGE:
            shared.add("p:" + key)
        return Counts(
            max(local.requests, shared.total("r:" + key)),
            max(local.images, shared.total("i:" + key)),
            max(local.pages, shared.total("p:" + key)),
            local.flagged_until,
        )

    def observe(
        self,
        client_ip: str,
        path: str,
        now: float,
        *,
        headers: Sequence[tuple[bytes, bytes]] = (),
        http_version: str = "1.1",
        browser: bool = True,
    ) -> Finding | None:
        """Count the request; a finding when the client's behaviour scores above zero."""
        config = self.config
        kind = request_kind(path)
        mine = self.clients.observe(client_ip, kind, now)
        if self.shared is not None:
            mine = self._combined(client_ip, kind, mine)
        if mine.flagged_until and now < mine.flagged_until + self.clients.epoch:
            until = mine.flagged_until + self.clients.epoch
            return Finding(
                config.block_score,
                (f"in the penalty box for another {int(until - now)} s",),
                penalised=True,
            )
        score = 0
        reasons: list[str] = []
        window = config.window_seconds
        rule = config.burst
        if rule.enabled and mine.requests > rule.requests:
            score += rule.weight
            reasons.append(f"{mine.requests:.0f} requests in {window} s (limit {rule.requests})")
        image_rule = config.image_burst
        if (
            image_rule.enabled
            and mine.images >= image_rule.images
            and mine.pages <= mine.images * image_rule.max_page_ratio
        ):
            score += image_rule.weight
            reasons.append(
                f"{mine.images:.0f} images and {mine.pages:.0f} pages in {window} s: "
                "downloading images without viewing pages"
            )
        network_rule = config.network_burst
        if network_rule.enabled:
            network = network_of(client_ip)
            if network:
                theirs = self.networks.observe(network, kind, now)
                if self.shared is not None:
                    theirs = self._combined(network, kind, theirs)
                if theirs.requests > network_rule.requests:
                    score += network_rule.weight
                    reasons.append(
                        f"{theirs.requests:.0f} requests from {network} in {window} s "
                        f"(limit {network_rule.requests})"
                    )
        if not score:
            return None
        if config.header_anomalies.enabled and browser:
            anomalies = header_anomalies(headers, http_version)
            score += config.header_anomalies.weight * len(anomalies)
            reasons.extend(anomalies)
        if score >= config.block_score and config.penalty_seconds:
            self.clients.flag(client_ip, now + config.penalty_seconds, now)
            reasons.append(f"penalty box for {config.penalty_seconds} s")
        return Finding(score, tuple(reasons))


def header_anomalies(headers: Sequence[tuple[bytes, bytes]], http_version: str) -> list[str]:
    """What a real browser would have sent and this client did not."""
    names = {name.lower() for name, _ in headers}
    found = []
    if b"accept" not in names:
        found.append("no Accept header, as no browser sends")
    if b"accept-language" not in names:
        found.append("no Accept-Language header, as no browser sends")
    if http_version == "1.0":
        found.append("HTTP/1.0 with a browser User-Agent")
    return found
