"""Live metrics: off by default, a token on the site's port, counts that match the traffic."""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Callable

import httpx
import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from noaiguard import ConfigError, Guard, NoAIGuardMiddleware, load_config, parse_config
from noaiguard.backends.memory import MemoryEventStore
from noaiguard.config import Config, MetricsConfig
from noaiguard.errors import NoAIGuardError
from noaiguard.metrics import LATENCY_BUCKETS, Metrics
from tests.conftest import BROWSER_UA, GPTBOT_UA, ROOT

pytestmark = pytest.mark.anyio

PATH = "/.noaiguard/metrics"
TOKEN = "s3cret-Token_1"
PATH_MODE = f"agents: {{verify: false}}\nmetrics: {{enabled: true, path: {PATH}, token: {TOKEN}}}\n"
AUTH = {"authorization": f"Bearer {TOKEN}"}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def site() -> Starlette:
    async def page(request: Request) -> Response:
        return PlainTextResponse("a page")

    return Starlette(routes=[Route("/", page), Route("/{rest:path}", page)])


def client(app: NoAIGuardMiddleware) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def samples(text: str) -> Samples:
    """Every sample of a Prometheus text exposition, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def series(found: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: v for (sample, labels), v in found.items() if sample == name}


def judged(found: Samples) -> Samples:
    """The samples about judged requests (not the event sink's, not the process's)."""
    names = ("noaiguard_requests", "noaiguard_agent_requests", "noaiguard_guard_latency")
    return {k: v for k, v in found.items() if k[0].startswith(names)}


async def send_traffic(http: httpx.AsyncClient, browsers: int = 3, gptbots: int = 2) -> None:
    for _ in range(browsers):
        assert (await http.get("/", headers={"user-agent": BROWSER_UA})).status_code == 200
    for _ in range(gptbots):
        assert (await http.get("/", headers={"user-agent": GPTBOT_UA})).status_code == 403


async def scrape(http: httpx.AsyncClient) -> Samples:
    response = await http.get(PATH, headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return samples(response.text)


# -- off by default -----------------------------------------------------------------------------


async def test_metrics_are_off_by_default(make_guard: Callable[..., Guard]) -> None:
    guard = make_guard()
    assert Config().metrics == MetricsConfig()
    assert guard.metrics is None
    async with client(NoAIGuardMiddleware(site(), guard=guard)) as http:
        response = await http.get(PATH, headers={"user-agent": BROWSER_UA, **AUTH})
    # Nothing answers for noaiguard: the request reaches the app like any other page.
    assert response.text == "a page"
    assert "x-robots-tag" in response.headers


async def test_a_disabled_section_opens_nothing(make_guard: Callable[..., Guard]) -> None:
    port = free_port()
    guard = make_guard(f"metrics: {{enabled: false, port: {port}, path: {PATH}}}\n")
    assert guard.metrics is None
    async with client(NoAIGuardMiddleware(site(), guard=guard)) as http:
        response = await http.get(PATH, headers={"user-agent": BROWSER_UA})
    assert response.text == "a page"
    assert nothing_listens(port)


def test_the_default_file_spells_out_the_metrics_section() -> None:
    assert load_config(ROOT / "configs" / "default.yaml").metrics == MetricsConfig()


# -- on the site's own port, behind a token ----------------------------------------------------


async def test_the_path_needs_the_token(make_guard: Callable[..., Guard]) -> None:
    app = NoAIGuardMiddleware(site(), guard=make_guard(PATH_MODE))
    async with client(app) as http:
        missing = await http.get(PATH, headers={"user-agent": BROWSER_UA})
        wrong = await http.get(PATH, headers={"authorization": "Bearer nope"})
        basic = await http.get(PATH, headers={"authorization": f"Basic {TOKEN}"})
        right = await http.get(PATH, headers={"authorization": f"bearer  {TOKEN}"})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="noaiguard metrics"'
    assert TOKEN not in missing.text
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"].startswith("Bearer ")
    assert 'error="invalid_token"' in wrong.headers["www-authenticate"]
    assert basic.status_code == 401
    assert right.status_code == 200  # the scheme is case-insensitive (RFC 7235 section 2.1)
    assert right.headers["cache-control"] == "no-store"
    assert "x-robots-tag" not in right.headers  # answered before any policy applies


async def test_counts_match_the_traffic(
    make_guard: Callable[..., Guard], memory_store: MemoryEventStore
) -> None:
    guard = make_guard(PATH_MODE)
    app = NoAIGuardMiddleware(site(), guard=guard)
    async with client(app) as http:
        await send_traffic(http, browsers=3, gptbots=2)
        await http.get(PATH)  # refused scrapes are neither judged nor counted
        found = await scrape(http)
        again = await scrape(http)

    assert series(found, "noaiguard_requests_total") == {
        frozenset({("category", "browser"), ("action", "allow")}): 3.0,
        frozenset({("category", "ai-training"), ("action", "block")}): 2.0,
    }
    # Only known agents get a series of their own; browsers are counted by category alone.
    assert series(found, "noaiguard_agent_requests_total") == {
        frozenset({("agent", "GPTBot"), ("category", "ai-training"), ("action", "block")}): 2.0
    }
    assert value(found, "noaiguard_guard_latency_seconds_count") == 5.0
    assert value(found, "noaiguard_guard_latency_seconds_bucket", le="+Inf") == 5.0
    assert 0 < value(found, "noaiguard_guard_latency_seconds_sum") < 5.0
    buckets = [
        v for (name, _), v in found.items() if name == "noaiguard_guard_latency_seconds_bucket"
    ]
    assert len(buckets) == len(LATENCY_BUCKETS) + 1
    # Reading does not change what is read: a second scrape with no traffic between is the same.
    assert judged(again) == judged(found)
    # The scrapes were not recorded as crawler traffic: the two GPTBot requests are the events.
    assert guard.sink.flush(5)
    events = list(memory_store.query())
    assert [(e.agent, e.action, e.path) for e in events] == [("GPTBot", "block", "/")] * 2
    async with client(app) as http:
        written = await scrape(http)
    assert value(written, "noaiguard_events_written_total") == 2.0
    assert value(written, "noaiguard_events_queued") == 0.0
    assert value(written, "noaiguard_events_dropped_total") == 0.0
    assert value(written, "noaiguard_events_spilled_total") == 0.0
    assert value(written, "process_cpu_seconds_total") > 0


async def test_the_slow_path_is_counted_and_timed_too(make_guard: Callable[..., Guard]) -> None:
    # A path rule turns the User-Agent fast path off: every request is inspected in full.
    guard = make_guard(PATH_MODE + "policy:\n  rules:\n    - {paths: ['/press/**'], action: log}\n")
    async with client(NoAIGuardMiddleware(site(), guard=guard)) as http:
        await send_traffic(http, browsers=2, gptbots=1)
        assert (await http.get("/press/kit", headers={"user-agent": BROWSER_UA})).status_code == 200
        found = await scrape(http)
    assert series(found, "noaiguard_requests_total") == {
        frozenset({("category", "browser"), ("action", "allow")}): 2.0,
        frozenset({("category", "browser"), ("action", "log")}): 1.0,
        frozenset({("category", "ai-training"), ("action", "block")}): 1.0,
    }
    assert value(found, "noaiguard_guard_latency_seconds_count") == 4.0


async def test_a_false_claim_is_counted_under_the_name_it_used(
    make_guard: Callable[..., Guard],
) -> None:
    # With verification on, GPTBot's User-Agent from the test client's address is not OpenAI's.
    guard = make_guard(f"metrics: {{enabled: true, path: {PATH}, token: {TOKEN}}}\n")
    async with client(NoAIGuardMiddleware(site(), guard=guard)) as http:
        await send_traffic(http, browsers=0, gptbots=1)
        found = await scrape(http)
    assert series(found, "noaiguard_agent_requests_total") == {
        frozenset({("agent", "GPTBot"), ("category", "spoofed-bot"), ("action", "block")}): 1.0
    }


async def test_head_other_methods_and_openmetrics(make_guard: Callable[..., Guard]) -> None:
    async with client(NoAIGuardMiddleware(site(), guard=make_guard(PATH_MODE))) as http:
        await send_traffic(http, browsers=1, gptbots=0)
        head = await http.head(PATH, headers=AUTH)
        post = await http.post(PATH, headers=AUTH)
        open_metrics = await http.get(
            PATH, headers={**AUTH, "accept": "application/openmetrics-text; version=1.0.0"}
        )
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) > 0
    assert post.status_code == 405 and post.headers["allow"] == "GET, HEAD"
    assert open_metrics.headers["content-type"].startswith("application/openmetrics-text")
    families = {f.name: f for f in openmetrics_families(open_metrics.text)}
    assert families["noaiguard_guard_latency_seconds"].unit == "seconds"
    assert families["noaiguard_requests"].samples[0].value == 1.0


async def test_the_token_may_come_from_the_environment(
    make_guard: Callable[..., Guard], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOAIGUARD_METRICS_TOKEN", "from-the-environment")
    guard = make_guard(f"metrics: {{enabled: true, path: {PATH}}}\n")
    async with client(NoAIGuardMiddleware(site(), guard=guard)) as http:
        refused = await http.get(PATH, headers=AUTH)
        allowed = await http.get(PATH, headers={"authorization": "Bearer from-the-environment"})
    assert refused.status_code == 401
    assert allowed.status_code == 200


# -- the counters themselves --------------------------------------------------------------------


def test_threads_lose_no_counts(make_guard: Callable[..., Guard]) -> None:
    """Eight threads count at once with no lock between them, and every step is kept."""
    guard = make_guard(PATH_MODE)
    metrics = guard.metrics
    assert metrics is not None
    allowed = guard.decide_by_user_agent(BROWSER_UA.encode())
    blocked = guard.decide_by_user_agent(GPTBOT_UA.encode())
    assert allowed is not None and blocked is not None
    per_thread = 5000
    start = threading.Barrier(8)

    def work(index: int) -> None:
        start.wait()
        decision = allowed if index % 2 else blocked
        for _ in range(per_thread):
            metrics.decided(decision, 0.00001)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    found = samples(metrics.render()[0].decode())
    assert value(found, "noaiguard_requests_total", category="browser", action="allow") == 20000
    assert value(found, "noaiguard_requests_total", category="ai-training", action="block") == (
        20000
    )
    assert value(found, "noaiguard_guard_latency_seconds_count") == 40000
    assert value(found, "noaiguard_guard_latency_seconds_bucket", le="5e-06") == 0
    assert value(found, "noaiguard_guard_latency_seconds_bucket", le="1e-05") == 40000
    assert value(found, "noaiguard_guard_latency_seconds_sum") == pytest.approx(0.4)


def test_a_missing_prometheus_client_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # as if it were not installed
    config = parse_config(PATH_MODE)
    with pytest.raises(NoAIGuardError, match=r"pip install 'noaiguard\[metrics\]'"):
        Metrics(config.metrics)
    with pytest.raises(NoAIGuardError, match="prometheus-client"):
        Guard(config, store=MemoryEventStore())
    Guard(Config(), store=MemoryEventStore()).close()  # off, it is never imported


# -- config ---------------------------------------------------------------------------------------


def issues_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "site.yaml")
    return [str(issue) for issue in caught.value.issues]


def test_a_path_needs_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOAIGUARD_METRICS_TOKEN", raising=False)
    assert issues_of(f"metrics:\n  enabled: true\n  path: {PATH}\n") == [
        "site.yaml:2:3: metrics.token: metrics on the site's own port need a token here or in "
        "$NOAIGUARD_METRICS_TOKEN"
    ]


def test_a_listener_beyond_this_machine_needs_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOAIGUARD_METRICS_TOKEN", raising=False)
    assert issues_of("metrics: {enabled: true, port: 9464, host: 0.0.0.0}\n") == [
        "site.yaml:1:10: metrics.token: a metrics listener on 0.0.0.0, beyond this machine, "
        "needs a token here or in $NOAIGUARD_METRICS_TOKEN"
    ]
    parse_config("metrics: {enabled: true, port: 9464, host: 0.0.0.0, token: t0ken}\n")


def test_path_or_port_but_not_both_nor_neither() -> None:
    assert issues_of(f"metrics:\n  enabled: true\n  path: {PATH}\n  token: t\n  port: 9464\n") == [
        "site.yaml:5:9: metrics.port: give path or port, not both"
    ]
    assert issues_of("metrics:\n  enabled: true\n") == [
        "site.yaml:2:12: metrics.enabled: give a path (served on the site's own port) or a port "
        "(a listener of its own)"
    ]


@pytest.mark.parametrize("port", ["70000", "-1"])
def test_a_bad_port_is_refused(port: str) -> None:
    assert issues_of(f"metrics:\n  enabled: true\n  port: {port}\n") == [
        f"site.yaml:3:9: metrics.port: expected 1 to 65535 (or 0 for no listener), got {port}"
    ]


def test_bad_paths_hosts_and_tokens_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    assert issues_of("metrics:\n  port: soon\n  path: metrics\n  host: ''\n") == [
        "site.yaml:2:9: metrics.port: expected a whole number, got 'soon'",
        "site.yaml:3:9: metrics.path: expected a plain path starting with /, such as "
        "/.noaiguard/metrics",
        "site.yaml:4:9: metrics.host: expected an address or host name to listen on, such as "
        "127.0.0.1, got ''",
    ]
    assert issues_of("metrics: {enabled: true, path: /robots.txt, token: t}\n") == [
        "site.yaml:1:32: metrics.path: robots.txt is served by noaiguard already; pick another path"
    ]
    assert issues_of("metrics: {enabled: true, port: 9464, token: 'two words'}\n") == [
        "site.yaml:1:45: metrics.token: the token may hold only letters, digits and -._~+/ "
        "(then = signs)"
    ]
    monkeypatch.setenv("NOAIGUARD_METRICS_TOKEN", "bad token")
    assert issues_of("metrics: {enabled: true, port: 9464}\n") == [
        "site.yaml:1:10: metrics.token: the token (from $NOAIGUARD_METRICS_TOKEN) may hold only "
        "letters, digits and -._~+/ (then = signs)"
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def nothing_listens(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0
