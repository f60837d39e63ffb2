"""``noaiguard proxy`` as a user runs it: flags, bad input refused before listening, workers."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import BROWSER_UA, GPTBOT_UA, ROOT
from tests.proxy.test_memory import free_port, process

pytestmark = pytest.mark.server

NOAIGUARD = str(Path(sys.executable).parent / "noaiguard")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NOAIGUARD, "proxy", *args], capture_output=True, text=True, timeout=60, cwd=ROOT
    )


def nothing_listens(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "no upstream"),
        (("--upstream", "ftp://x"), "is not an http:// or https:// URL"),
        (("--upstream", "http://127.0.0.1:8000/blog"), "without a path"),
        (("--upstream", "http://127.0.0.1:8000", "--workers", "0"), "--workers 0"),
        (("--upstream", "http://127.0.0.1:8000", "--port", "70000"), "--port 70000"),
    ],
)
def test_bad_flags_exit_non_zero_before_listening(args: tuple[str, ...], message: str) -> None:
    port = free_port()
    result = run(*args) if "--port" in args else run(*args, "--port", str(port))
    assert result.returncode == 2
    assert message in result.stderr
    assert nothing_listens(port)


def test_an_unknown_flag_is_refused() -> None:
    result = run("--upstrem", "http://127.0.0.1:8000")
    assert result.returncode == 2
    assert "unrecognized arguments" in result.stderr


def test_a_broken_config_exits_2_with_its_problems(tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    config.write_text("proxy:\n  timeouts:\n    read: soon\n  upstraem: http://x\n")
    port = free_port()
    result = run(
        "--upstream", "http://127.0.0.1:8000", "--config", str(config), "--port", str(port)
    )
    assert result.returncode == 2
    assert f"{config}:3:11: proxy.timeouts.read: expected a number, got 'soon'" in result.stderr
    assert f"{config}:4:3: proxy.upstraem: unknown key; did you mean 'upstream'?" in result.stderr
    assert nothing_listens(port)


@pytest.mark.slow
def test_several_workers_serve_with_one_policy(tmp_path: Path) -> None:
    site_port, proxy_port = free_port(), free_port()
    site = [
        sys.executable,
        "-m",
        "uvicorn",
        "tests.proxy.site_main:app",
        "--port",
        str(site_port),
        "--log-level",
        "warning",
    ]
    proxy = [
        NOAIGUARD,
        "proxy",
        "--upstream",
        f"http://127.0.0.1:{site_port}",
        "--port",
        str(proxy_port),
        "--workers",
        "2",
        "--store",
        f"sqlite:///{tmp_path}/e.db",
    ]
    with process(site, site_port), process(proxy, proxy_port):
        url = f"http://127.0.0.1:{proxy_port}"
        with httpx.Client(headers={"user-agent": BROWSER_UA}) as http:
            statuses = {http.get(f"{url}/img/dawn.png").status_code for _ in range(20)}
            blocked = http.get(f"{url}/", headers={"user-agent": GPTBOT_UA})
    assert statuses == {200}
    assert blocked.status_code == 403
