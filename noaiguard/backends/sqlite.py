"""The default event store: one SQLite file, in WAL mode so that reports can read while it writes.

The schema carries a version (table ``meta``); a database written by a newer noaiguard is refused
instead of being misread.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from ..errors import StoreError

if TYPE_CHECKING:
    from ..events import Event

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    method TEXT NOT NULL,
    host TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    bytes_sent INTEGER NOT NULL,
    client_ip TEXT,
    user_agent TEXT NOT NULL,
    agent TEXT,
    category TEXT NOT NULL,
    action TEXT NOT NULL,
    enforced INTEGER NOT NULL,
    rule TEXT NOT NULL,
    reasons TEXT NOT NULL,
    x_robots_tag TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_time ON events (time);
"""

_COLUMNS = (
    "time, method, host, path, status, bytes_sent, client_ip, user_agent, agent, category, "
    "action, enforced, rule, reasons, x_robots_tag"
)


def path_from_url(url: str) -> str:
    """``sqlite:///./a.db`` is ``./a.db``, ``sqlite:////var/lib/a.db`` is ``/var/lib/a.db``."""
    parts = urlsplit(url)
    if parts.netloc:
        raise StoreError(f"{url!r}: write sqlite:///relative/path or sqlite:////absolute/path")
    path = unquote(parts.path)[1:]
    if not path:
        raise StoreError(f"{url!r} names no file")
    return path


class SQLiteEventStore:
    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)
            self._check_version()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open SQLite store {path!r}: {exc}") from exc

    @classmethod
    def from_url(cls, url: str) -> SQLiteEventStore:
        return cls(path_from_url(url))

    def _check_version(self) -> None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            with self._conn:
                self._conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
            return
        found = int(row[0])
        if found > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {found}, written by a newer noaiguard; this one "
                f"understands up to {SCHEMA_VERSION}. Upgrade noaiguard to read it."
            )

    def append(self, events: Sequence[Event]) -> None:
        rows = [
            (
                e.time,
                e.method,
                e.host,
                e.path,
                e.status,
                e.bytes_sent,
                e.client_ip,
                e.user_agent,
                e.agent,
                e.category,
                e.action,
                int(e.enforced),
                e.rule,
                json.dumps(list(e.reasons)),
                e.x_robots_tag,
            )
            for e in events
        ]
        try:
            with self._lock, self._conn:
                self._conn.executemany(
                    f"INSERT INTO events ({_COLUMNS}) VALUES ({', '.join('?' * 15)})",  # noqa: S608
                    rows,
                )
        except sqlite3.Error as exc:
            raise StoreError(f"writing to {self.path} failed: {exc}") from exc

    def query(self, since: float | None = None, until: float | None = None) -> Iterator[Event]:
        from ..events import Event

        # _COLUMNS is a constant; values go in as parameters.
        sql = f"SELECT {_COLUMNS} FROM events WHERE time >= ? AND time < ? ORDER BY time, id"  # noqa: S608
        bounds = (
            since if since is not None else float("-inf"),
            until if until is not None else float("inf"),
        )
        try:
            with self._lock:
                rows = self._conn.execute(sql, bounds).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"reading {self.path} failed: {exc}") from exc
        for row in rows:
            (
                time,
                method,
                host,
                path,
                status,
                bytes_sent,
                client_ip,
                user_agent,
                agent,
                category,
                action,
                enforced,
                rule,
                reasons,
                x_robots_tag,
            ) = row
            yield Event(
                time=time,
                method=method,
                host=host,
                path=path,
                status=status,
                bytes_sent=bytes_sent,
                client_ip=client_ip,
                user_agent=user_agent,
                agent=agent,
                category=category,
                action=action,
                enforced=bool(enforced),
                rule=rule,
                reasons=tuple(json.loads(reasons)),
                x_robots_tag=x_robots_tag,
            )

    def count(self) -> int:
        try:
            with self._lock:
                return int(self._conn.execute("SELECT count(*) FROM events").fetchone()[0])
        except sqlite3.Error as exc:
            raise StoreError(f"reading {self.path} failed: {exc}") from exc

    def check(self) -> bool:
        try:
            with self._lock:
                self._conn.execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def close(self) -> None:
        with self._lock:
            self._conn.close()
