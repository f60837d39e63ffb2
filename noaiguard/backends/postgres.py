"""Events in PostgreSQL, for several noaiguard instances writing to one place (psycopg 3, pooled).

    store:
      url: postgresql://noaiguard@db.internal:5432/noaiguard

Needs the ``[postgres]`` extra (psycopg and psycopg-pool). Connections come from a small pool
that checks each one before lending it, so a database that restarted costs one failed write, not
a stuck pool.
Schema upgrades take an advisory lock, so instances starting together upgrade once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

from ..errors import StoreError
from .sql import POSTGRES, Cursor, SQLEventStore

#: pg_advisory_xact_lock key for schema upgrades ("noaiguard" in ASCII, folded to 63 bits).
_SCHEMA_LOCK = int.from_bytes(b"noaiguard", "big") & (2**63 - 1)


def redacted(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class PostgresEventStore(SQLEventStore):
    dialect = POSTGRES

    def __init__(
        self, url: str, *, min_size: int = 1, max_size: int = 4, timeout: float = 5.0
    ) -> None:
        try:
            import psycopg
            import psycopg_pool
        except ImportError as exc:
            raise StoreError(
                f"{redacted(url)}: PostgreSQL needs psycopg: "
                "pip install 'psycopg[binary]' psycopg-pool (the [postgres] extra)"
            ) from exc
        self.name = redacted(url)
        self._timeout = timeout
        self._errors: tuple[type[Exception], ...] = (psycopg.Error, psycopg_pool.PoolTimeout)
        self._pool = psycopg_pool.ConnectionPool(
            url.replace("postgres://", "postgresql://", 1),
            min_size=min_size,
            max_size=max_size,
            open=False,
            timeout=timeout,
            check=psycopg_pool.ConnectionPool.check_connection,
            kwargs={"connect_timeout": max(1, round(timeout))},
            name="noaiguard",
        )
        try:
            self._pool.open(wait=True, timeout=timeout)
            self._migrate()
        except self._errors as exc:
            self._pool.close()
            raise StoreError(f"cannot open PostgreSQL store {self.name}: {exc}") from exc
        except StoreError:
            self._pool.close()
            raise

    @classmethod
    def from_url(cls, url: str) -> PostgresEventStore:
        return cls(url)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Cursor]:
        try:
            with self._pool.connection(timeout=self._timeout) as conn, conn.cursor() as cursor:
                yield cursor
        except self._errors as exc:
            raise StoreError(f"{self.name}: {exc}") from exc

    def _lock_schema(self, cursor: Cursor) -> None:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))

    def check(self) -> bool:
        try:
            with self._transaction() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
        except StoreError:
            return False
        return True

    def close(self) -> None:
        self._pool.close()
