"""The machine's PostgreSQL and Redis for the tests that need them, and servers of our own.

On a developer's machine without them, those tests skip with the reason; under CI (``CI=true``)
a missing service fails the test instead, because there they must run.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from noaiguard.backends import EventStore, open_event_store

POSTGRES_URL = os.environ.get(
    "NOAIGUARD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("NOAIGUARD_TEST_REDIS", "redis://127.0.0.1:6379/0")


def unavailable(what: str, why: str) -> None:
    """Skip (or, under CI, fail) a test whose service is missing."""
    message = f"{what} is not available here: {why}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: this test must run)")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def postgres_schema(url: str = POSTGRES_URL) -> Iterator[str]:
    """A fresh schema in the machine's PostgreSQL; yields a URL whose search_path is that schema."""
    psycopg = pytest.importorskip("psycopg")
    schema = f"noaiguard_test_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
    except psycopg.OperationalError as exc:
        unavailable("PostgreSQL at 127.0.0.1:5432", str(exc).strip())
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _postgres_bin(name: str) -> str | None:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(found[-1]) if found else shutil.which(name)


class OwnPostgres:
    """A PostgreSQL server of the test's own, in a folder of its own, on a free port.

    initdb refuses to run as root, so as root it runs as the ``postgres`` user, in a folder under
    the system's temporary directory that this user owns (pytest's folders are closed to it).
    """

    def __init__(self) -> None:
        initdb, pg_ctl = _postgres_bin("initdb"), _postgres_bin("pg_ctl")
        if initdb is None or pg_ctl is None:
            unavailable("PostgreSQL's initdb and pg_ctl", "not installed")
        assert initdb is not None and pg_ctl is not None
        self._pg_ctl = pg_ctl
        self.folder = Path(tempfile.mkdtemp(prefix="noaiguard-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            self._as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.folder, "postgres")
        self._running = False
        self._run(initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def _run(self, *command: str) -> None:
        done = subprocess.run(
            [*self._as_user, *command], capture_output=True, text=True, check=False, timeout=120
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")

    def start(self) -> None:
        options = f"-p {self.port} -h 127.0.0.1 -k {self.folder} -F"
        log = str(self.folder / "log")
        self._run(self._pg_ctl, "-D", str(self.data), "-o", options, "-w", "-l", log, "start")
        self._running = True

    def stop(self) -> None:
        if self._running:
            self._run(self._pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")
            self._running = False

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class OwnRedis:
    """A Redis server of the test's own on a free port, keeping nothing on disk."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._binary = shutil.which("redis-server")
        if self._binary is None:
            unavailable("redis-server", "not installed")
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert self._binary is not None
        self._process = subprocess.Popen(
            [
                self._binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not port_open(self.port):
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)
            self._process = None


@contextmanager
def event_store(kind: str, directory: Path) -> Iterator[EventStore]:
    """A fresh event store of ``kind`` (memory, sqlite or postgresql), closed afterwards."""
    if kind == "postgresql":
        with postgres_schema() as url:
            opened = open_event_store(url)
            yield opened
            opened.close()
        return
    url = "memory://" if kind == "memory" else f"sqlite:///{directory}/events.db"
    opened = open_event_store(url)
    yield opened
    opened.close()
