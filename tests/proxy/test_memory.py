"""Bodies stream both ways: a 1 GiB download and a 200 MiB upload through the real proxy
process, with its memory measured from /proc while they pass."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import BROWSER_UA, ROOT

pytestmark = [pytest.mark.server, pytest.mark.slow]

MIB = 1024 * 1024
LIMIT = 50 * MIB
NO_PROC = not Path("/proc/self/status").exists()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


@contextlib.contextmanager
def process(
    args: list[str], port: int, log: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``args`` until the block ends, once ``port`` accepts connections. With ``log``, its
    output goes there and is shown if it does not start."""
    with log.open("wb") if log is not None else contextlib.nullcontext() as out:
        target = out if out is not None else subprocess.DEVNULL
        proc = subprocess.Popen(args, cwd=ROOT, stdout=target, stderr=subprocess.STDOUT)
    try:
        try:
            wait_for_port(port, proc)
        except (RuntimeError, TimeoutError) as exc:
            output = log.read_text(errors="replace") if log is not None else ""
            raise RuntimeError(f"{args[0]}: {exc}\n{output}") from exc
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


class PeakMemory:
    """Samples a process's resident memory every few milliseconds while the block runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.start = rss(pid)
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss(self.pid))
            time.sleep(0.005)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.start


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, int]]:
    site_port, proxy_port = free_port(), free_port()
    python = sys.executable
    site = [
        python,
        "-m",
        "uvicorn",
        "tests.proxy.site_main:app",
        "--port",
        str(site_port),
        "--log-level",
        "warning",
    ]
    proxy = [
        str(Path(python).parent / "noaiguard"),
        "proxy",
        "--upstream",
        f"http://127.0.0.1:{site_port}",
        "--port",
        str(proxy_port),
        "--store",
        "memory://",
    ]
    with process(site, site_port), process(proxy, proxy_port) as proxy_process:
        url = f"http://127.0.0.1:{proxy_port}"
        httpx.get(f"{url}/", headers={"user-agent": BROWSER_UA})  # warm up
        yield url, proxy_process.pid


@pytest.mark.skipif(NO_PROC, reason="memory is read from /proc, which this system lacks")
def test_a_1_gib_download_streams_in_bounded_memory(servers: tuple[str, int]) -> None:
    url, pid = servers
    size = 1024 * MIB
    received = 0
    with (
        PeakMemory(pid) as memory,
        httpx.stream(
            "GET", f"{url}/big?size={size}", headers={"user-agent": BROWSER_UA}, timeout=120
        ) as response,
    ):
        assert response.headers["x-robots-tag"] == "noai, noimageai"
        for chunk in response.iter_raw(1024 * 1024):
            received += len(chunk)
    assert received == size
    print(
        f"\nproxy memory for 1 GiB down: {memory.start / MIB:.1f} MiB -> "
        f"peak {memory.peak / MIB:.1f} MiB (+{memory.growth / MIB:.1f})"
    )
    assert memory.growth < LIMIT


@pytest.mark.skipif(NO_PROC, reason="memory is read from /proc, which this system lacks")
def test_a_200_mib_upload_streams_in_bounded_memory(servers: tuple[str, int]) -> None:
    url, pid = servers
    size = 200 * MIB
    block = os.urandom(MIB)
    digest = hashlib.sha256()

    def body() -> Iterator[bytes]:
        for _ in range(size // MIB):
            digest.update(block)
            yield block

    with PeakMemory(pid) as memory:
        response = httpx.post(
            f"{url}/upload", content=body(), headers={"user-agent": BROWSER_UA}, timeout=120
        )
    assert response.status_code == 200
    result = response.json()
    assert result["size"] == size and result["sha256"] == digest.hexdigest()
    print(
        f"\nproxy memory for 200 MiB up: {memory.start / MIB:.1f} MiB -> "
        f"peak {memory.peak / MIB:.1f} MiB (+{memory.growth / MIB:.1f})"
    )
    assert memory.growth < LIMIT
