"""Event stores, chosen by URL: ``memory://``, ``sqlite:///path`` or ``postgresql://...``.

Each scheme maps to a ``"module:Class"`` string imported only when used, so an optional driver is
loaded only by the sites that pick it.
"""

from __future__ import annotations

import importlib
from urllib.parse import urlsplit

from ..errors import StoreError
from .base import EventStore

__all__ = ["EventStore", "open_event_store"]

_EVENT_STORES = {
    "memory": "noaiguard.backends.memory:MemoryEventStore",
    "sqlite": "noaiguard.backends.sqlite:SQLiteEventStore",
    "postgresql": "noaiguard.backends.postgres:PostgresEventStore",
    "postgres": "noaiguard.backends.postgres:PostgresEventStore",
}


def open_event_store(url: str) -> EventStore:
    """Open the event store ``url`` names; raise StoreError if it cannot be opened."""
    scheme = urlsplit(url).scheme
    target = _EVENT_STORES.get(scheme)
    if target is None:
        known = ", ".join(f"{s}://" for s in _EVENT_STORES)
        raise StoreError(f"unknown event store {url!r}; expected one of {known}")
    module_name, class_name = target.split(":")
    store_class = getattr(importlib.import_module(module_name), class_name)
    store: EventStore = store_class.from_url(url)
    return store
