"""The default event store: one SQLite file, in WAL mode so that reports can read while it writes.

One connection, shared under a lock: the sink's writer thread is the only steady writer, and a
command that reads (``noaiguard evidence``, reports) opens its own.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..errors import StoreError
from .sql import SCHEMA_VERSION, SQLITE, Cursor, SQLEventStore

__all__ = ["SCHEMA_VERSION", "SQLiteEventStore", "path_from_url"]


def path_from_url(url: str) -> str:
    """``sqlite:///./a.db`` is ``./a.db``, ``sqlite:////var/lib/a.db`` is ``/var/lib/a.db``."""
    parts = urlsplit(url)
    if parts.netloc:
        raise StoreError(f"{url!r}: write sqlite:///relative/path or sqlite:////absolute/path")
    path = unquote(parts.path)[1:]
    if not path:
        raise StoreError(f"{url!r} names no file")
    return path


class SQLiteEventStore(SQLEventStore):
    dialect = SQLITE

    def __init__(self, path: str) -> None:
        self.path = self.name = path
        self._lock = threading.Lock()
        self._readers = threading.local()
        self._reader_connections: list[sqlite3.Connection] = []
        try:
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            # Transactions are begun and ended here, explicitly (isolation_level=None).
            self._conn = sqlite3.connect(
                path, check_same_thread=False, timeout=30, isolation_level=None
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open SQLite store {path!r}: {exc}") from exc
        try:
            self._migrate()
        except StoreError:
            self._conn.close()
            raise

    @contextlib.contextmanager
    def _reading(self) -> Iterator[Cursor]:
        """Reads from a connection of the calling thread's own: in WAL mode readers do not wait
        for each other or for the writer, and sqlite3 lets go of the GIL while a query runs, so a
        report's queries run side by side."""
        if self.path == ":memory:":
            with self._transaction() as cursor:
                yield cursor
            return
        conn = getattr(self._readers, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: {exc}") from exc
            self._readers.conn = conn
            with self._lock:
                self._reader_connections.append(conn)
        cursor = conn.cursor()
        try:
            yield cursor
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from exc
        finally:
            cursor.close()

    @classmethod
    def from_url(cls, url: str) -> SQLiteEventStore:
        return cls(path_from_url(url))

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Cursor]:
        with self._lock:
            try:
                cursor = self._conn.cursor()
                cursor.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: {exc}") from exc
            try:
                yield cursor
                cursor.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise StoreError(f"{self.path}: {exc}") from exc
            except BaseException:
                self._rollback()
                raise
            finally:
                cursor.close()

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._conn.execute("ROLLBACK")

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
            for reader in self._reader_connections:
                reader.close()
            self._reader_connections.clear()
