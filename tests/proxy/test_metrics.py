"""Live metrics in the reverse proxy, and what ``noaiguard proxy`` refuses before listening."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

from noaiguard.cli import main
from tests.conftest import BROWSER_UA, GPTBOT_UA
from tests.proxy.conftest import ProxyFactory, Site
from tests.proxy.test_cli import NOAIGUARD, nothing_listens, run
from tests.proxy.test_memory import free_port, process
from tests.unit.test_metrics import AUTH, PATH, PATH_MODE, samples, series, value

pytestmark = [pytest.mark.anyio, pytest.mark.server]


async def test_the_proxy_answers_the_metrics_path_itself(
    site: Site, start_proxy: ProxyFactory
) -> None:
    async with (
        start_proxy(site.url, PATH_MODE) as proxy,
        httpx.AsyncClient(base_url=proxy.url) as http,
    ):
        for _ in range(3):
            page = await http.get("/", headers={"user-agent": BROWSER_UA})
            assert page.status_code == 200
        for _ in range(2):
            refused = await http.get("/img/dawn.png", headers={"user-agent": GPTBOT_UA})
            assert refused.status_code == 403
        missing = await http.get(PATH)
        response = await http.get(PATH, headers=AUTH)
    assert missing.status_code == 401
    assert response.status_code == 200
    assert response.text.startswith("# HELP")  # the proxy's own answer, not the site's page
    found = samples(response.text)
    assert series(found, "noaiguard_requests_total") == {
        frozenset({("category", "browser"), ("action", "allow")}): 3.0,
        frozenset({("category", "ai-training"), ("action", "block")}): 2.0,
    }
    assert value(found, "noaiguard_guard_latency_seconds_count") == 5.0
    assert [e.path for e in proxy.events()] == ["/img/dawn.png"] * 2


def test_workers_cannot_share_a_metrics_port(tmp_path: Path) -> None:
    proxy_port, metrics_port = free_port(), free_port()
    config = tmp_path / "site.yaml"
    config.write_text(f"metrics: {{enabled: true, port: {metrics_port}}}\n")
    result = run(
        "--upstream", "http://127.0.0.1:8000", "--config", str(config),
        "--port", str(proxy_port), "--workers", "2",
    )  # fmt: skip
    assert result.returncode == 2
    assert "metrics.port: 2 worker processes cannot share one metrics listener" in result.stderr
    assert "use metrics.path" in result.stderr
    assert nothing_listens(proxy_port) and nothing_listens(metrics_port)


def test_the_metrics_port_cannot_be_the_proxy_port(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "site.yaml"
    config.write_text(f"metrics: {{enabled: true, port: {port}}}\n")
    result = run(
        "--upstream", "http://127.0.0.1:8000", "--config", str(config), "--port", str(port)
    )
    assert result.returncode == 2
    assert f"metrics.port: {port} is the proxy's own --port" in result.stderr
    assert nothing_listens(port)


def test_a_missing_prometheus_client_stops_the_proxy_before_listening(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    config = tmp_path / "site.yaml"
    config.write_text(PATH_MODE)
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # as if it were not installed
    argv = ["proxy", "--upstream", "http://127.0.0.1:8000", "--config", str(config)]
    assert main([*argv, "--port", str(port), "--workers", "2"]) == 1
    assert "pip install 'noaiguard[metrics]'" in capsys.readouterr().err
    assert nothing_listens(port)


@pytest.mark.slow
def test_the_proxy_command_serves_a_metrics_port(tmp_path: Path) -> None:
    site_port, proxy_port, metrics_port = free_port(), free_port(), free_port()
    config = tmp_path / "site.yaml"
    config.write_text(
        f"agents: {{verify: false}}\nmetrics: {{enabled: true, port: {metrics_port}}}\n"
    )
    site = [
        sys.executable, "-m", "uvicorn", "tests.proxy.site_main:app",
        "--port", str(site_port), "--log-level", "warning",
    ]  # fmt: skip
    proxy = [
        NOAIGUARD, "proxy", "--upstream", f"http://127.0.0.1:{site_port}",
        "--port", str(proxy_port), "--config", str(config),
        "--store", f"sqlite:///{tmp_path}/e.db",
    ]  # fmt: skip
    with process(site, site_port), process(proxy, proxy_port):
        with httpx.Client(base_url=f"http://127.0.0.1:{proxy_port}") as http:
            assert http.get("/", headers={"user-agent": BROWSER_UA}).status_code == 200
            assert http.get("/", headers={"user-agent": GPTBOT_UA}).status_code == 403
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics")
    assert scraped.status_code == 200
    found = samples(scraped.text)
    assert value(found, "noaiguard_requests_total", category="browser", action="allow") == 1.0
    assert value(found, "noaiguard_requests_total", category="ai-training", action="block") == 1.0
    assert nothing_listens(metrics_port)
