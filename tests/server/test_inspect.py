"""``noaiguard inspect`` against real sites on 127.0.0.1: one behind noaiguard, a bare one, one
whose signals contradict each other, and sites that fail in the ways real ones do."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from noaiguard import NoAIGuardMiddleware, parse_config
from noaiguard.inspect import Report, Status, inspect_site
from noaiguard.inspect.command import add_parser
from noaiguard.stamping import Outcome, data_mining_uri, stamp_bytes
from tests.integrations.servers import uvicorn_thread

pytestmark = pytest.mark.server

PAGE = b'<html><head><title>x</title></head><body><img src="/img/a.png"></body></html>'
TRAINING_CRAWLERS = (
    "GPTBot",
    "ClaudeBot",
    "CCBot",
    "Google-Extended",
    "Applebot-Extended",
    "Bytespider",
    "meta-externalagent",
)


def png(data_mining: str | None = None) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "green").save(out, "PNG")
    if data_mining is None:
        return out.getvalue()
    stamped = stamp_bytes(out.getvalue(), data_mining_uri(data_mining))
    assert stamped.outcome is Outcome.STAMPED and stamped.data is not None
    return stamped.data


def gallery(**routes: Response) -> Starlette:
    """The page and its image, plus ``routes`` (path with slashes as ``__``) answered as given."""
    answers: dict[str, Response] = {
        "/": HTMLResponse(PAGE),
        "/img/a.png": Response(png(), media_type="image/png"),
    }
    answers.update({"/" + name.replace("__", "/"): response for name, response in routes.items()})

    async def serve(request: Request) -> Response:
        response = answers.get(request.url.path)
        return response if response is not None else PlainTextResponse("not here", 404)

    return Starlette(routes=[Route("/{path:path}", serve)])


def inspect(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``noaiguard inspect ARGV`` through its own argument parser."""
    parser = argparse.ArgumentParser(prog="noaiguard")
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["inspect", *argv])
    code: int = args.run(args)
    out, err = capsys.readouterr()
    return code, out, err


def status(report: Report, place: str, signal: str) -> Status:
    finding = report.find(place, signal)
    assert finding is not None, f"no finding for {place} {signal}"
    return finding.status


@pytest.fixture
def protected(tmp_path: Path) -> Iterator[str]:
    """The gallery behind noaiguard with its default policy."""
    config = parse_config(
        f"store:\n  url: sqlite:///{tmp_path}/events.db\nagents:\n  verify: false\n"
    )
    with uvicorn_thread(NoAIGuardMiddleware(gallery(), config=config)) as base:
        yield base


def test_a_site_behind_noaiguard_has_every_essential_signal(
    protected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    report = inspect_site(protected + "/")
    assert report.image_url == protected + "/img/a.png"
    for token in TRAINING_CRAWLERS:
        assert status(report, "robots.txt", token) is Status.PRESENT, token
    for place, signal in [
        ("robots.txt", "Content-Usage"),
        ("robots.txt", "Content-Signal"),
        ("tdmrep.json", "tdmrep.json"),
        ("tdmrep.json", "rule for the page"),
        ("tdmrep.json", "rule for the image"),
        ("ai.txt", "ai.txt"),
        ("page", "X-Robots-Tag"),
        ("page", "meta robots"),
        ("page", "tdm-reservation header"),
        ("page", "Content-Usage header"),
        ("image", "X-Robots-Tag"),
        ("image", "tdm-reservation header"),
        ("image", "Content-Usage header"),
    ]:
        assert status(report, place, signal) is Status.PRESENT, (place, signal)
    assert status(report, "image", "plus:DataMining") is Status.MISSING  # stamping is off
    assert not report.contradictions
    assert all(essential.met for essential in report.essentials)

    code, out, err = inspect(capsys, protected + "/")
    assert (code, err) == (0, "")
    assert "  [ok] GPTBot" in out
    assert "  [--] plus:DataMining" in out
    assert out.rstrip().endswith("none contradicts another (exit 0)")


def test_json_output_has_the_documented_structure(
    protected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = inspect(capsys, protected + "/", "--format", "json")
    document = json.loads(out)
    assert code == document["exit_code"] == 0
    assert document["format"] == 1
    assert document["url"] == document["page"] == protected + "/"
    assert document["image"] == protected + "/img/a.png"
    places = {"robots.txt", "tdmrep.json", "ai.txt", "page", "image"}
    statuses = {"present", "missing", "contradictory", "unreadable"}
    for check in document["checks"]:
        assert set(check) == {"place", "signal", "status", "detail"}
        assert check["place"] in places and check["status"] in statuses
        assert isinstance(check["signal"], str) and isinstance(check["detail"], str)
    assert {check["place"] for check in document["checks"]} == places
    assert [e["status"] for e in document["essentials"]] == ["present"] * 4


def test_the_extra_signals_and_the_image_stamp_noaiguard_can_send(tmp_path: Path) -> None:
    config = parse_config(
        f"store:\n  url: sqlite:///{tmp_path}/events.db\nagents:\n  verify: false\n"
        "signals:\n"
        "  tdmrep:\n    html_meta: true\n    policy_url: https://example.org/tdm.json\n"
        "  extras:\n    noml: true\n    agent_lines: [img2dataset]\n    nopin: true\n"
        "  stamp_images:\n    enabled: true\n"
    )
    with uvicorn_thread(NoAIGuardMiddleware(gallery(), config=config)) as base:
        report = inspect_site(base + "/")
    x_robots = report.find("page", "X-Robots-Tag")
    assert x_robots is not None
    assert x_robots.detail == "noai, noimageai, noml; for img2dataset: noai, noimageai, noml"
    for signal in (
        "meta tdm-reservation",
        "meta tdm-policy",
        "tdm-policy header",
        "meta pinterest",
    ):
        assert status(report, "page", signal) is Status.PRESENT, signal
    data_mining = report.find("image", "plus:DataMining")
    assert data_mining is not None and data_mining.status is Status.PRESENT
    assert data_mining.detail == "http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING"
    assert report.exit_code == 0


def test_a_bare_site_misses_everything(capsys: pytest.CaptureFixture[str]) -> None:
    with uvicorn_thread(gallery()) as base:
        report = inspect_site(base + "/")
        code, out, _ = inspect(capsys, base + "/")
    assert code == report.exit_code == 1
    signals = [f for f in report.findings if f.signal not in ("page", "image")]
    assert signals and {f.status for f in signals} == {Status.MISSING}
    assert [e.met for e in report.essentials] == [False, False, False, False]
    robots = report.find("robots.txt", "robots.txt")
    assert robots is not None and robots.detail.startswith("HTTP 404: no robots.txt")
    assert out.rstrip().endswith("result: 4 essential signals missing (exit 1)")


def contradictory_site() -> Starlette:
    opt_out = {"x-robots-tag": "noai", "tdm-reservation": "0", "content-usage": "train-ai=y"}
    return gallery(
        **{
            "robots.txt": PlainTextResponse(
                "User-agent: GPTBot\nDisallow: /\n\n"
                "User-agent: *\nAllow: /\nContent-Signal: search=yes, ai-train=yes\n"
            ),
            ".well-known__tdmrep.json": Response(
                b'[{"location": "/", "tdm-reservation": 1}]', media_type="application/json"
            ),
            "": HTMLResponse(PAGE, headers=opt_out),
            "img__a.png": Response(
                png("DMI-ALLOWED"), media_type="image/png", headers={"x-robots-tag": "noimageai"}
            ),
        }
    )


def test_signals_that_contradict_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with uvicorn_thread(contradictory_site()) as base:
        report = inspect_site(base + "/")
        code, out, _ = inspect(capsys, base + "/")
    contradictory = {(f.place, f.signal): f.detail for f in report.contradictions}
    assert set(contradictory) == {
        ("robots.txt", "Content-Signal"),
        ("page", "tdm-reservation header"),
        ("page", "Content-Usage header"),
        ("image", "plus:DataMining"),
    }
    assert contradictory["page", "tdm-reservation header"] == (
        "0: TDM rights not reserved; contradicts tdm-reservation 1 (tdmrep.json, location '/'), "
        "X-Robots-Tag noai on the page"
    )
    assert contradictory["page", "Content-Usage header"].startswith(
        "train-ai=y: allows AI training; contradicts "
    )
    assert "X-Robots-Tag noai on the page" in contradictory["robots.txt", "Content-Signal"]
    assert "X-Robots-Tag noimageai on the image" in contradictory["image", "plus:DataMining"]
    assert "only robots.txt stops the fetch" in report.essentials[0].detail
    assert code == report.exit_code == 1
    assert sum(line.startswith("  [!!] ") for line in out.splitlines()) == 4
    assert out.rstrip().endswith(
        "result: 1 essential signal missing, 4 contradictory signals (exit 1)"
    )


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_an_unreachable_site_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = inspect(capsys, f"http://127.0.0.1:{closed_port()}/", "--timeout", "2")
    assert (code, out) == (2, "")
    assert err.startswith("noaiguard inspect: cannot reach http://127.0.0.1:")
    assert "could not connect" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("example.org", "is not a full URL; try https://example.org"),
        ("ftp://example.org/", "only http:// and https:// URLs can be inspected"),
        ("http:///nohost", "has no host"),
        ("http://example.org:99999/", "is not a valid URL"),
    ],
)
def test_bad_urls_are_usage_errors(
    capsys: pytest.CaptureFixture[str], url: str, message: str
) -> None:
    code, out, err = inspect(capsys, url)
    assert (code, out) == (2, "")
    assert message in err


def test_bad_options_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        inspect(capsys, "https://example.org/", "--timeout", "soon")
    assert exit_info.value.code == 2
    assert "not a number of seconds: 'soon'" in capsys.readouterr().err


def test_failing_files_a_page_that_is_not_html_and_a_missing_image(
    capsys: pytest.CaptureFixture[str],
) -> None:
    site = gallery(
        **{
            "robots.txt": PlainTextResponse("oops", 500),
            "ai.txt": PlainTextResponse("User-Agent: *\nDisallow: /\n", 503),
            "doc.pdf": Response(b"%PDF-1.7\n", media_type="application/pdf"),
        }
    )
    with uvicorn_thread(site) as base:
        report = inspect_site(base + "/doc.pdf", image_url="/img/missing.png")
        code, out, _ = inspect(capsys, base + "/doc.pdf", "--image", "/img/missing.png")
    robots = report.find("robots.txt", "robots.txt")
    assert robots is not None and robots.status is Status.UNREADABLE
    assert robots.detail.startswith("could not be read: HTTP 500")
    assert status(report, "robots.txt", "GPTBot") is Status.UNREADABLE
    assert status(report, "ai.txt", "ai.txt") is Status.UNREADABLE
    page = report.find("page", "page")
    assert page is not None and page.status is Status.PRESENT
    assert page.detail.endswith(
        "application/pdf, 9 bytes: not HTML, so only its headers are checked"
    )
    assert report.find("page", "meta robots") is None
    image = report.find("image", "image")
    assert image is not None and image.status is Status.UNREADABLE
    assert image.detail == f"{base}/img/missing.png (--image) could not be read: HTTP 404"
    assert code == 1
    assert "  [??] robots.txt" in out


def test_a_page_that_is_not_there_is_unreadable() -> None:
    with uvicorn_thread(gallery()) as base:
        report = inspect_site(base + "/gone")
    page = report.find("page", "page")
    assert page is not None and page.status is Status.UNREADABLE
    assert page.detail == f"{base}/gone: HTTP 404, so its signals cannot be checked"
    assert report.exit_code == 1


def test_redirects_are_followed_and_the_user_agent_is_sent() -> None:
    seen: list[tuple[str, str]] = []

    async def record(request: Request) -> Response:
        seen.append((request.url.path, request.headers.get("user-agent", "")))
        if request.url.path == "/robots.txt":
            return RedirectResponse("/static/robots.txt", 301)
        if request.url.path == "/static/robots.txt":
            return PlainTextResponse("User-agent: *\nDisallow: /\n")
        if request.url.path == "/old":
            return RedirectResponse("/", 302)
        return HTMLResponse(PAGE) if request.url.path == "/" else PlainTextResponse("", 404)

    app = Starlette(routes=[Route("/{path:path}", record)])
    with uvicorn_thread(app) as base:
        default = inspect_site(base + "/old")
        inspect_site(base + "/", user_agent="GPTBot/1.2")
    assert default.page_url == base + "/"
    assert status(default, "robots.txt", "GPTBot") is Status.PRESENT
    user_agents = {ua for _, ua in seen}
    assert {ua.split("/")[0] for ua in user_agents} == {"noaiguard-inspect", "GPTBot"}
    assert any(ua.endswith("(+https://github.com/noaiguard/noaiguard)") for ua in user_agents)
    assert ("/static/robots.txt", "GPTBot/1.2") in seen


def test_slow_and_huge_answers_are_cut_short() -> None:
    async def slow(request: Request) -> Response:
        await asyncio.sleep(2)
        return PlainTextResponse("User-agent: *\nDisallow: /\n")

    huge = Response(png() + b"\0" * (5 * 1024 * 1024), media_type="image/png")
    app = Starlette(
        routes=[
            Route("/robots.txt", slow),
            Route("/", lambda _: HTMLResponse(PAGE)),
            Route("/img/a.png", lambda _: huge),
        ]
    )
    with uvicorn_thread(app, timeout_graceful_shutdown=1) as base:
        report = inspect_site(base + "/", timeout=0.5)
    robots = report.find("robots.txt", "robots.txt")
    assert robots is not None and robots.status is Status.UNREADABLE
    assert "timed out after 0.5 s" in robots.detail
    image = report.find("image", "image")
    assert image is not None and image.status is Status.PRESENT
    assert image.detail.endswith("4194304 bytes (read up to 4096 KiB)")
