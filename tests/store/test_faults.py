"""Faults with real servers: the store stops in the middle of traffic, the proxy gets SIGTERM.

The PostgreSQL server here is the test's own (initdb into a temporary folder, on a free port), so
the machine's own database is never stopped. The proxy and the site run as processes of their
own, as a site owner runs them.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import BROWSER_UA, GPTBOT_UA, ROOT
from tests.proxy.test_memory import free_port, process, wait_for_port

from .services import OwnPostgres

pytestmark = pytest.mark.slow
NOAIGUARD = str(Path(sys.executable).parent / "noaiguard")


@contextmanager
def site() -> Iterator[str]:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "tests.proxy.site_main:app",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    with process(command, port):
        yield f"http://127.0.0.1:{port}"


def write_config(folder: Path, store_url: str) -> Path:
    config = folder / "noaiguard.yaml"
    config.write_text(
        "store:\n"
        f"  url: {store_url}\n"
        "  flush_seconds: 0.1\n"
        "  retry_seconds: 0.3\n"
        f"  spill_dir: {folder / 'spill'}\n"
    )
    return config


def proxy_command(upstream: str, port: int, config: Path) -> list[str]:
    return [
        NOAIGUARD,
        "proxy",
        "--upstream",
        upstream,
        "--port",
        str(port),
        "--config",
        str(config),
    ]


def blocked_requests(http: httpx.Client, url: str, count: int) -> int:
    """Send ``count`` GPTBot requests; each must be refused at once. Returns how many were."""
    refused = 0
    for n in range(count):
        started = time.monotonic()
        response = http.get(f"{url}/img/dawn.png?n={n}", headers={"user-agent": GPTBOT_UA})
        assert response.status_code == 403
        assert time.monotonic() - started < 1.0, "a request waited on the store"
        refused += 1
    assert http.get(f"{url}/").status_code == 200  # visitors are served all along
    return refused


def postgres_count(url: str) -> int:
    import psycopg

    with psycopg.connect(url, connect_timeout=3) as conn:
        row = conn.execute("SELECT count(*) FROM events").fetchone()
    assert row is not None
    return int(row[0])


def test_postgres_stopped_mid_traffic_then_back_every_event_arrives_once(tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    database = OwnPostgres()
    database.start()
    port = free_port()
    config = write_config(tmp_path, database.url)
    try:
        with site() as upstream, process(proxy_command(upstream, port, config), port):
            url = f"http://127.0.0.1:{port}"
            with httpx.Client(headers={"user-agent": BROWSER_UA}, timeout=10) as http:
                sent = blocked_requests(http, url, 40)
                wait_until(lambda: postgres_count(database.url) == sent)
                database.stop()
                sent += blocked_requests(http, url, 120)
                # The writer gives up on the pool after its timeout and spills what it holds.
                wait_until(lambda: list((tmp_path / "spill").glob("*.jsonl")))
                database.start()
                sent += blocked_requests(http, url, 40)
                wait_until(lambda: postgres_count(database.url) == sent, timeout=30)
                time.sleep(1)  # replays done: nothing arrives twice
                stored = postgres_count(database.url)
                print(f"PostgreSQL stopped mid-traffic: {sent} blocked, {stored} events stored")
                assert stored == sent == 200
    finally:
        database.remove()


def test_sigterm_under_load_writes_every_queued_event(tmp_path: Path) -> None:
    port = free_port()
    store = tmp_path / "events.db"
    config = write_config(tmp_path, f"sqlite:///{store}")
    # Slow flushes: at SIGTERM, events are still waiting in the queue.
    config.write_text(config.read_text().replace("flush_seconds: 0.1", "flush_seconds: 30"))
    refused = 0
    stop = threading.Event()
    errors: list[str] = []

    def load() -> None:
        nonlocal refused
        with httpx.Client(timeout=5) as http:
            while not stop.is_set():
                try:
                    response = http.get(
                        f"http://127.0.0.1:{port}/img/dawn.png", headers={"user-agent": GPTBOT_UA}
                    )
                except httpx.TransportError:
                    continue  # the proxy is shutting down
                if response.status_code == 403:
                    refused += 1
                else:
                    errors.append(str(response.status_code))

    with site() as upstream:
        proxy = subprocess.Popen(
            proxy_command(upstream, port, config),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        wait_for_port(port, proxy)
        clients = [threading.Thread(target=load) for _ in range(4)]
        for client in clients:
            client.start()
        time.sleep(2)
        proxy.send_signal(signal.SIGTERM)
        _, stderr = proxy.communicate(timeout=30)
        stop.set()
        for client in clients:
            client.join()
    # uvicorn shuts down gracefully, then re-raises the signal it caught: exit by SIGTERM.
    assert proxy.returncode in (0, -signal.SIGTERM), stderr.decode()
    assert refused > 100 and not errors
    with sqlite3.connect(store) as db:
        (stored,) = db.execute("SELECT count(*) FROM events").fetchone()
    print(f"SIGTERM under load: {refused} refused, {stored} events stored")
    assert stored == refused


def wait_until(condition: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():  # type: ignore[operator]
                return
        except Exception:  # the database may still be starting
            pass
        time.sleep(0.1)
    assert condition(), "timed out"  # type: ignore[operator]
