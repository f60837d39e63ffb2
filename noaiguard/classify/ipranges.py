"""The IP ranges crawler operators publish, as tables that answer "is this address theirs?" in
memory, in microseconds.

Operators publish JSON lists (Google's shape: ``{"creationTime": ..., "prefixes": [{"ipv4Prefix":
"66.249.64.0/27"}, {"ipv6Prefix": "2001:4860:4801:10::/64"}]}``; OpenAI and others wrap the same
entries differently). :func:`parse_prefixes` takes every ``ipv4Prefix``/``ipv6Prefix`` value it
finds anywhere in the document, tolerates bare addresses, and skips what is not a network.

The lists ship with the package (``noaiguard/agents/ipranges/``); ``noaiguard agents update``
downloads fresh copies into a data folder, which is read first. A list is named after its URL
(:func:`file_name`).
"""

from __future__ import annotations

import bisect
import functools
import ipaddress
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import httpx

logger = logging.getLogger("noaiguard.verify")

SHIPPED = Path(__file__).resolve().parent.parent / "agents" / "ipranges"
_NAME_JUNK = re.compile(r"[^a-z0-9.]+")


def default_data_dir() -> Path:
    """Where ``noaiguard agents update`` keeps its downloads: $XDG_DATA_HOME/noaiguard/ipranges."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "noaiguard" / "ipranges"


def file_name(url: str) -> str:
    """``https://openai.com/gptbot.json`` -> ``openai.com-gptbot.json``."""
    rest = url.split("://", 1)[-1].lower()
    return _NAME_JUNK.sub("-", rest).strip("-")


def parse_prefixes(document: Any) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Every network named by an ``ipv4Prefix`` or ``ipv6Prefix`` field, at any depth."""
    networks = []
    for value in _prefix_values(document):
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            logger.warning("skipped %r: not an IP network", value)
    return networks


def _prefix_values(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("ipv4Prefix", "ipv6Prefix") and isinstance(value, str):
                yield value
            else:
                yield from _prefix_values(value)
    elif isinstance(node, list):
        for item in node:
            yield from _prefix_values(item)


class RangeTable:
    """Sorted, merged integer ranges for IPv4 and IPv6: membership by binary search.

    Answers are cached per address (a crawler comes back from the same few addresses, and
    parsing one costs more than the search): a bounded LRU, so a flood of addresses cannot
    fill memory.
    """

    def __init__(self, networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> None:
        by_version: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
        for network in networks:
            by_version[network.version].append(
                (int(network.network_address), int(network.broadcast_address))
            )
        self._starts: dict[int, list[int]] = {}
        self._ends: dict[int, list[int]] = {}
        for version, ranges in by_version.items():
            merged: list[tuple[int, int]] = []
            for start, end in sorted(ranges):
                if merged and start <= merged[-1][1] + 1:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], end))
                else:
                    merged.append((start, end))
            self._starts[version] = [start for start, _ in merged]
            self._ends[version] = [end for _, end in merged]
        self.size = sum(len(v) for v in self._starts.values())
        self._contains = functools.lru_cache(maxsize=65536)(self._lookup)

    def __contains__(self, address: str) -> bool:
        return self._contains(address)

    def _lookup(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        value = int(ip)
        starts = self._starts[ip.version]
        index = bisect.bisect_right(starts, value) - 1
        return index >= 0 and value <= self._ends[ip.version][index]


def load_table(url: str, data_dir: Path | None) -> RangeTable | None:
    """The table for the list at ``url``: the downloaded copy if there is a good one, else the
    shipped one, else None."""
    name = file_name(url)
    for folder in (data_dir, SHIPPED):
        if folder is None:
            continue
        path = folder / name
        if not path.is_file():
            continue
        try:
            networks = parse_prefixes(json.loads(path.read_text("utf-8")))
        except (OSError, ValueError) as exc:
            logger.warning("%s: unreadable IP range list, skipped: %s", path, exc)
            continue
        if networks:
            return RangeTable(networks)
    return None


class Update(NamedTuple):
    url: str
    ok: bool
    detail: str


def update_lists(urls: Iterable[str], directory: Path, client: httpx.Client) -> list[Update]:
    """Download each list into ``directory``; a list that fails keeps its old copy.

    A download counts only if it is JSON that names at least one network: an error page or an
    empty answer must never replace a good list. Files are replaced atomically.
    """
    directory.mkdir(parents=True, exist_ok=True)
    results = []
    for url in sorted(set(urls)):
        try:
            response = client.get(url)
            response.raise_for_status()
            document = response.json()
            networks = parse_prefixes(document)
            if not networks:
                raise ValueError("no ipv4Prefix or ipv6Prefix in it")
        except (httpx.HTTPError, ValueError) as exc:
            results.append(Update(url, False, f"kept the old list: {exc}"))
            continue
        target = directory / file_name(url)
        partial = target.with_suffix(".part")
        partial.write_bytes(response.content)
        os.replace(partial, target)
        created = document.get("creationTime", "") if isinstance(document, dict) else ""
        dated = f", list dated {created[:10]}" if isinstance(created, str) and created else ""
        results.append(Update(url, True, f"{len(networks)} networks{dated}"))
    return results
