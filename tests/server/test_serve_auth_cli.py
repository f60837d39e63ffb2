"""``noaiguard serve-auth`` as a user runs it: bad input refused before listening, a clean stop."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from noaiguard.auth import AUTH_PATH, HEALTH_PATH
from noaiguard.backends import open_event_store
from tests.conftest import GPTBOT_UA, ROOT
from tests.nginx.servers import serve_auth_command
from tests.proxy.test_memory import free_port, wait_for_port

pytestmark = pytest.mark.server

TRUSTED = "network: {trusted_proxies: [127.0.0.1]}\nagents: {verify_rdns: false}\n"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "noaiguard", "serve-auth", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def nothing_listens(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize(
    ("config", "args", "message"),
    [
        ("", (), "network.trusted_proxies is empty"),
        (TRUSTED, ("--port", "70000"), "--port 70000: expected 1 to 65535"),
        (TRUSTED + "metrics: {enabled: true, port: PORT}\n", (), "is serve-auth's own --port"),
        ("policy:\n  tarpit: {seconds: soon}\n", (), "policy.tarpit.seconds: expected a number"),
    ],
    ids=["untrusted", "port", "metrics-port", "broken-config"],
)
def test_bad_input_exits_2_before_listening(
    tmp_path: Path, config: str, args: tuple[str, ...], message: str
) -> None:
    port = free_port()
    path = tmp_path / "noaiguard.yaml"
    path.write_text(config.replace("PORT", str(port)))
    result = run("--config", str(path), *(args or ("--port", str(port))))
    assert result.returncode == 2
    assert message in result.stderr
    assert nothing_listens(port)


def test_a_port_in_use_exits_1(tmp_path: Path) -> None:
    (tmp_path / "noaiguard.yaml").write_text(TRUSTED)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("--config", str(tmp_path / "noaiguard.yaml"), "--port", str(port))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_it_answers_and_writes_every_event_when_stopped(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'events.db'}"
    config = tmp_path / "noaiguard.yaml"
    config.write_text(
        TRUSTED + "store: {flush_seconds: 60}\n"
    )  # nothing is written before the stop
    port = free_port()
    command = serve_auth_command(config, port, "--store", store)
    process = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        wait_for_port(port, process)
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(base + HEALTH_PATH).json() == {"status": "ok"}
        headers = {
            "user-agent": GPTBOT_UA,
            "x-original-uri": "/a.jpg",
            "x-forwarded-for": "198.51.100.9",
        }
        assert httpx.get(base + AUTH_PATH, headers=headers).status_code == 403
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert f"noaiguard serve-auth: http://127.0.0.1:{port}{AUTH_PATH}" in out.decode()
    events = open_event_store(store)
    try:
        (event,) = [e for e in events.query() if getattr(e, "agent", None) == "GPTBot"]
    finally:
        events.close()
    assert (event.path, event.status) == ("/a.jpg", 403)


def test_it_is_on_the_command_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "noaiguard", "--help"], capture_output=True, text=True, timeout=60
    )
    assert "serve-auth" in result.stdout
