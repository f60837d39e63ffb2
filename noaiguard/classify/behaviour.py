"""Behaviour: what a client does over time, for the clients that do not say who they are.

img2dataset's default User-Agent is a plain Firefox string; scrapers rotate browser User-Agents.
What gives them away is their traffic: hundreds of images a minute and not one page, stylesheet or
script (a person's browser fetches those with every page), or a rate no person reaches. This
module keeps, per client address and per network (/24 for IPv4, /64 for IPv6), sliding-window
counts of requests, images and pages, and scores them with the rules of
:class:`~noaiguard.config.BehaviourConfig`.

Memory is bounded: :class:`ClientTable` keeps its counters in one flat ``array`` (40 bytes per
client) indexed through a dict, holds at most ``capacity`` clients, and when full replaces the
least recently seen of a few sampled ones. A window is two fixed buckets, the current and the
previous, with the previous weighted by how much of it still lies in the window (the usual
sliding-window-counter estimate, within a few percent of an exact count).

This runs on every request a site serves, and nearly every client is far below every limit. So
each estimate also yields a *budget*: how many more requests the client can make in the same
bucket before any rule could possibly fire (the estimate only falls as the previous bucket's
weight shrinks, and each request adds at most one to each count). Until the budget is spent, a
request is only counted; the estimate is made again when it is, or when a new bucket begins.

Counting within a budget in the table itself still costs a dozen operations on its array, each
boxing and unboxing a number, for two tables. So a client's budget is handed out as a *pass*: a
small list that :meth:`Behaviour.count` updates in a few cheap steps, together with the pass of
its network. What a pass counted goes into the table (is *settled*) before the table looks at
that client again, so every estimate sees every request; and a pass ends with its client's
bucket, so its counts land in the bucket they belong to. Passes are kept for at most
:data:`MAX_PASSES` clients at a time (the others are counted in the table, as before).
"""

from __future__ import annotations

import array
import functools
import ipaddress
import math
import random
from collections.abc import Sequence
from typing import Any, NamedTuple

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

# Fields of one client in ClientTable's array, at these offsets from slot * 10 (observe() writes
# them as literals: it runs twice per request). _BUDGET: requests left before the next estimate.
_LAST, _START, _REQ, _REQ_PREV, _IMG, _IMG_PREV, _PAGE, _PAGE_PREV, _FLAGGED, _BUDGET = range(10)
_FIELDS = 10
# Fields of a pass (a list): requests left in it, requests granted, images and pages counted,
# the last request's time and the end of its bucket (table seconds), its slot in the table,
# and (for a client) its network's pass, or None when networks are not tracked.
_LEFT, _GRANTED, _P_IMG, _P_PAGE, _P_LAST, _P_END, _P_SLOT, _P_NETWORK = range(8)
#: The most clients (and networks) holding a pass at a time.
MAX_PASSES = 65536
_EVICTION_SAMPLE = 8
_NEVER = float("inf")
#: The most requests counted without an estimate (with every rule off, the budget is unbounded).
_MAX_BUDGET = 1 << 20


@functools.lru_cache(maxsize=8192)
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


#: Sliding-window estimates for one client: requests, images, pages, and the seconds since the
#: table's epoch until which it is in the penalty box (0: not). A plain tuple: it is made twice
#: per request.
Counts = tuple[float, float, float, int]


class ClientTable:
    """Sliding-window counts for up to ``capacity`` keys, in bounded memory."""

    def __init__(
        self,
        capacity: int,
        window_seconds: int,
        epoch: float,
        *,
        limits: tuple[float, float] | None = None,
    ) -> None:
        """``limits``: the request and image counts at which the caller's rules may fire. With
        them, :meth:`observe` counts a client within its budget without estimating (see the
        module's docstring); without them it estimates every time."""
        self.capacity = capacity
        self.window = window_seconds
        self.epoch = int(epoch)
        self._slots: dict[str, int] = {}
        self._keys: list[str] = []
        self._data = array.array("I")
        self._random = random.Random(0x6E6F6169)  # noqa: S311 - eviction sampling, not secrets
        self._limits = limits
        #: Clients that had to make room for others.
        self.evicted = 0
        #: The passes handed out, by key (see the module's docstring and :meth:`hand_out`).
        self.passes: dict[str, list[Any]] = {}
        self._sweep_after = 0

    def __len__(self) -> int:
        return len(self._slots)

    def observe(self, key: str, kind: int, now: float) -> Counts | None:
        """Count one request of ``kind`` from ``key`` at ``now``; return the window's counts,
        or None when the client is within its budget, where no rule can fire.

        This runs twice per request (client and network), so it is written for speed: the
        field offsets are literals (see the layout at the top of the module) and the result is a
        plain tuple (:data:`Counts`).
        """
        t = int(now) - self.epoch
        if self.passes:
            held = self.passes.get(key)
            if held is not None:
                self._settle(key, held)
        slot = self._slots.get(key)
        if slot is None:
            slot = self._new_slot(key, t)
        b = slot * 10
        data = self._data
        data[b] = t  # _LAST
        elapsed = t - data[b + 1]  # _START
        window = self.window
        if elapsed < window:
            budget = data[b + 9]
            if budget:  # the common case: count, and nothing to estimate
                data[b + 9] = budget - 1
                data[b + 2] += 1
                if kind == IMAGE:
                    data[b + 4] += 1
                elif kind == PAGE:
                    data[b + 6] += 1
                return None
        else:  # a new bucket: the current one becomes the previous
            if elapsed >= 2 * window:
                data[b + 3] = data[b + 5] = data[b + 7] = 0
            else:
                data[b + 3], data[b + 5], data[b + 7] = data[b + 2], data[b + 4], data[b + 6]
            data[b + 2] = data[b + 4] = data[b + 6] = 0
            elapsed %= window
            data[b + 1] = t - elapsed
        requests = data[b + 2] = data[b + 2] + 1
        images = data[b + 4]
        pages = data[b + 6]
        if kind == IMAGE:
            images = data[b + 4] = images + 1
        elif kind == PAGE:
            pages = data[b + 6] = pages + 1
        share = 1.0 - elapsed / window
        counts = (
            requests + data[b + 3] * share,
            images + data[b + 5] * share,
            pages + data[b + 7] * share,
            data[b + 8],
        )
        if self._limits is not None:
            data[b + 9] = self._budget(counts, t)
        return counts

    def _budget(self, counts: Counts, t: int) -> int:
        """How many more requests, in this bucket, cannot bring ``counts`` to a limit.

        Within a bucket an estimate only rises by the requests counted (the previous bucket's
        share falls), and each request adds one at most to each count; a rule fires when the
        requests exceed their limit or the images reach theirs. A client in the penalty box
        gets none: each of its requests must be checked.
        """
        requests, images, _, flagged = counts
        if flagged > t:
            return 0
        request_limit, image_limit = self._limits or (_NEVER, _NEVER)
        room = _MAX_BUDGET
        if request_limit < _NEVER:  # fires above the limit: up to it is room
            room = min(room, math.floor(request_limit - requests))
        if image_limit < _NEVER:  # fires at the limit: room stops one short of it
            room = min(room, math.ceil(image_limit - images) - 1)
        return max(0, room)

    def hand_out(self, key: str, now: float) -> list[Any] | None:
        """Hand ``key``'s budget out as its pass, right after :meth:`observe` counted it; the
        pass (its budget may be 0), or None when :data:`MAX_PASSES` others hold one.

        The table keeps the key marked as seen until the pass ends, so that a client counted
        only in its pass is not taken for an idle one and evicted.
        """
        passes = self.passes
        held = passes.get(key)
        slot = self._slots[key]
        b = slot * _FIELDS
        data = self._data
        left = data[b + _BUDGET]
        if held is None:
            if not left or (len(passes) >= MAX_PASSES and not self._sweep(int(now) - self.epoch)):
                return None
            held = passes[key] = [0, 0, 0, 0, 0, 0, slot, None]
        data[b + _BUDGET] = 0
        held[_LEFT] = held[_GRANTED] = left
        held[_P_IMG] = held[_P_PAGE] = 0
        held[_P_LAST] = data[b + _LAST]
        held[_P_END] = end = data[b + _START] + self.window
        held[_P_SLOT] = slot
        data[b + _LAST] = end
        return held

    def _settle(self, key: str, held: list[Any]) -> None:
        """Put what ``key``'s pass counted into the table, with the budget it did not spend;
        the pass stays, empty, until it is handed out again."""
        slot = held[_P_SLOT]
        left = held[_LEFT]
        if self._keys[slot] == key:  # (else the key was evicted, and its counts with it)
            b = slot * _FIELDS
            data = self._data
            data[b + _REQ] += held[_GRANTED] - left
            data[b + _IMG] += held[_P_IMG]
            data[b + _PAGE] += held[_P_PAGE]
            data[b + _LAST] = held[_P_LAST]
            data[b + _BUDGET] = left
        held[_LEFT] = held[_GRANTED] = held[_P_IMG] = held[_P_PAGE] = 0

    def _sweep(self, t: int) -> bool:
        """Settle and drop the passes whose bucket has ended; whether any room was made. A
        sweep that finds none is not tried again within the same second."""
        if t < self._sweep_after:
            return False
        passes = self.passes
        ended = [key for key, held in passes.items() if held[_P_END] <= t]
        for key in ended:
            self._settle(key, passes.pop(key))
        if not ended:
            self._sweep_after = t + 1
        return bool(ended)

    def flag(self, key: str, until: float, now: float) -> None:
        """Put ``key`` in the penalty box until ``until`` (epoch seconds)."""
        held = self.passes.get(key)
        if held is not None:
            self._settle(key, held)
        slot = self._slots.get(key)
        if slot is None:
            slot = self._new_slot(key, int(now) - self.epoch)
            self._data[slot * _FIELDS + _LAST] = int(now) - self.epoch
        self._data[slot * _FIELDS + _FLAGGED] = max(0, int(until) - self.epoch)
        self._data[slot * _FIELDS + _BUDGET] = 0  # its next request is checked

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
            evicted = self._keys[slot]
            del self._slots[evicted]
            held = self.passes.pop(evicted, None)
            if held is not None:
                held[_LEFT] = 0  # what it counts from now on goes with it
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
        self.exempt = frozenset(config.exempt_categories)
        #: Counts shared with other instances (Redis), or None for this process alone.
        self.shared = shared
        # The limits as plain numbers (a rule that is off never fires), read on every request.
        self._burst_limit = float(config.burst.requests) if config.burst.enabled else _NEVER
        self._image_limit = (
            float(config.image_burst.images) if config.image_burst.enabled else _NEVER
        )
        self._page_ratio = config.image_burst.max_page_ratio
        self._network_limit = (
            float(config.network_burst.requests) if config.network_burst.enabled else _NEVER
        )
        # Budgets need every count to be in this process: none with shared counters.
        alone = shared is None
        self.clients = ClientTable(
            config.max_clients,
            config.window_seconds,
            epoch,
            limits=(self._burst_limit, self._image_limit) if alone else None,
        )
        self.networks = ClientTable(
            config.max_networks,
            config.window_seconds,
            epoch,
            limits=(self._network_limit, _NEVER) if alone else None,
        )
        self._epoch = self.clients.epoch
        #: Whether budgets are handed out as passes (not with shared counters: no budgets).
        self._passing = alone

    def _combined(self, key: str, kind: int, local: Counts) -> Counts:
        """This instance's counts, or every instance's where those are higher."""
        shared = self.shared
        assert shared is not None
        shared.add("r:" + key)
        if kind == IMAGE:
            shared.add("i:" + key)
        elif kind == PAGE:
            shared.add("p:" + key)
        requests, images, pages, flagged = local
        return (
            max(requests, shared.total("r:" + key)),
            max(images, shared.total("i:" + key)),
            max(pages, shared.total("p:" + key)),
            flagged,
        )

    def count(self, client_ip: str, path: str, now: float) -> bool:
        """Count a request on its client's pass and its network's: True when both had room
        left in their bucket; False when either had none, and nothing was counted: then
        :meth:`observe` must judge it (see the module's docstring on passes).

        This is the request path of nearly every visit: a look-up and a few steps on two lists.
        """
        held = self.clients.passes.get(client_ip)
        if held is None:
            return False
        t = int(now) - self._epoch
        if not held[0] or t >= held[5]:  # _LEFT, _P_END
            return False
        network = held[7]  # _P_NETWORK
        if network is not None and (not network[0] or t >= network[5]):
            return False
        held[0] -= 1
        held[4] = t  # _P_LAST
        kind = request_kind(path)
        if kind == PAGE:
            held[3] += 1  # _P_PAGE
        elif kind == IMAGE:
            held[2] += 1  # _P_IMG
        if network is not None:
            network[0] -= 1
            network[4] = t
            if kind == PAGE:
                network[3] += 1
            elif kind == IMAGE:
                network[2] += 1
        return True

    def _hand_out(self, client_ip: str, network: str, now: float) -> None:
        """After :meth:`observe`: the budgets left to the client and its network, as passes
        for :meth:`count`; none while either has no room, so that it is estimated again."""
        network_pass = None
        if network:
            network_pass = self.networks.hand_out(network, now)
            if network_pass is None or not network_pass[_LEFT]:
                return
        held = self.clients.hand_out(client_ip, now)
        if held is not None:
            held[_P_NETWORK] = network_pass

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
        kind = request_kind(path)
        shared = self.shared
        # None from a table: counted within the budget, where no rule can fire (the common case).
        mine = self.clients.observe(client_ip, kind, now)
        if shared is not None:  # (no budgets then: the counts are always there)
            assert mine is not None
            mine = self._combined(client_ip, kind, mine)
        requests = images = pages = 0.0
        burst = image_burst = network_burst = False
        if mine is not None:
            requests, images, pages, flagged = mine
            if flagged and now < flagged + self.clients.epoch:
                until = flagged + self.clients.epoch
                return Finding(
                    self.config.block_score,
                    (f"in the penalty box for another {int(until - now)} s",),
                    penalised=True,
                )
            burst = requests > self._burst_limit
            image_burst = images >= self._image_limit and pages <= images * self._page_ratio
        network_requests = 0.0
        network = network_of(client_ip) if self._network_limit < _NEVER else ""
        if network:
            theirs = self.networks.observe(network, kind, now)
            if shared is not None:
                assert theirs is not None
                theirs = self._combined(network, kind, theirs)
            if theirs is not None:
                network_requests = theirs[0]
                network_burst = network_requests > self._network_limit
        if not (burst or image_burst or network_burst):
            if self._passing:
                self._hand_out(client_ip, network, now)
            return None
        config = self.config
        window = config.window_seconds
        score = 0
        reasons: list[str] = []
        if burst:
            score += config.burst.weight
            reasons.append(f"{requests:.0f} requests in {window} s (limit {self._burst_limit:.0f})")
        if image_burst:
            score += config.image_burst.weight
            reasons.append(
                f"{images:.0f} images and {pages:.0f} pages in {window} s: "
                "downloading images without viewing pages"
            )
        if network_burst:
            score += config.network_burst.weight
            reasons.append(
                f"{network_requests:.0f} requests from {network} in {window} s "
                f"(limit {self._network_limit:.0f})"
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
