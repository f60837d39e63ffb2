"""The examples in examples/ run as their READMEs say, and do what step 3 promises."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ..conftest import BROWSER_UA, GPTBOT_UA, ROOT

EXAMPLES = ROOT / "examples"
BIN = Path(sys.executable).parent


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


COMMANDS = {
    "fastapi": [str(BIN / "uvicorn"), "app:app", "--host", "127.0.0.1", "--port", "{port}"],
    "flask": [str(BIN / "flask"), "--app", "app", "run", "--host", "127.0.0.1", "--port", "{port}"],
    "django": [sys.executable, "manage.py", "runserver", "127.0.0.1:{port}", "--noreload"],
}


@pytest.fixture(params=sorted(COMMANDS))
def example(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    name = request.param
    folder = tmp_path / name
    shutil.copytree(EXAMPLES / name, folder)  # its noaiguard.db goes here, not into the checkout
    port = _free_port()
    command = [part.format(port=port) for part in COMMANDS[name]]
    env = {**os.environ, "PYTHONPATH": str(folder)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    server = subprocess.Popen(
        command, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(base + "/robots.txt", timeout=1)
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        server.stderr.read().decode() if server.stderr else ""
                    ) from None
                time.sleep(0.1)
        yield name, base
    finally:
        server.terminate()
        server.wait(10)
        if server.stderr:
            server.stderr.close()


def test_example_does_what_its_readme_says(example: tuple[str, str]) -> None:
    name, base = example
    page = httpx.get(base + "/", headers={"user-agent": BROWSER_UA})
    assert page.status_code == 200
    assert page.headers["x-robots-tag"] == "noai, noimageai"
    assert b'<meta name="robots" content="noai, noimageai">' in page.content
    assert b"Hello, browser." in page.content  # the view saw the decision
    assert httpx.get(base + "/", headers={"user-agent": "GPTBot/1.2"}).status_code == 403
    robots = httpx.get(base + "/robots.txt").text
    assert "User-agent: GPTBot" in robots
    if name == "django":
        assert "Disallow: /drafts/" in robots
        health = httpx.get(base + "/health", headers={"user-agent": GPTBOT_UA})
        assert (health.status_code, "x-robots-tag" in health.headers) == (200, False)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_broken_config_stops_the_example_before_it_serves(name: str, tmp_path: Path) -> None:
    """Started the way its README says (uvicorn's default ``--lifespan auto`` included), an
    example whose config is broken exits with the file, line and key, and never serves."""
    folder = tmp_path / name
    shutil.copytree(EXAMPLES / name, folder)
    (folder / "noaiguard.yaml").write_text("signals:\n  x_robots_tag:\n    directivs: [noai]\n")
    command = [part.format(port=_free_port()) for part in COMMANDS[name]]
    env = {**os.environ, "PYTHONPATH": str(folder)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, timeout=60)
    assert done.returncode != 0
    assert "noaiguard.yaml:3:" in done.stderr.decode() + done.stdout.decode()
    assert "directivs" in done.stderr.decode() + done.stdout.decode()
