"""FastAPI (and so Starlette): ``app.add_middleware(NoAIGuardMiddleware, config=...)`` with
StaticFiles, FileResponse, StreamingResponse, background tasks, the decision as a dependency,
and events written when the lifespan ends, under a real uvicorn server."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

import httpx
import pytest
from fastapi import BackgroundTasks, Depends, FastAPI
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from noaiguard import Decision, Guard, NoAIGuardMiddleware, load_config
from noaiguard.backends import open_event_store
from noaiguard.integrations.starlette import noaiguard_decision

from ..conftest import BROWSER_UA, GPTBOT_UA
from .contract import IMAGES, PAGE, ROBOTS, STREAMED_PARTS, check_site, recorded, tagged, untrapped
from .servers import http_fetch, uvicorn_thread


def create_app(files: Path, middleware: dict[str, object], tasks_done: threading.Event) -> FastAPI:
    """The contract's site in FastAPI; ``middleware`` are NoAIGuardMiddleware's options."""
    for name, data in IMAGES.items():
        (files / f"{name}.png").write_bytes(data)
    (files / "page.html").write_bytes(PAGE)
    app = FastAPI()
    app.add_middleware(NoAIGuardMiddleware, **middleware)  # type: ignore[arg-type]
    app.mount("/img", StaticFiles(directory=files), name="img")

    @app.get("/", response_class=HTMLResponse)
    def page() -> HTMLResponse:
        return HTMLResponse(PAGE)

    @app.get("/stream")
    def stream() -> StreamingResponse:
        async def parts() -> AsyncIterator[bytes]:
            for part in STREAMED_PARTS:
                yield part

        return StreamingResponse(parts(), media_type="text/html")

    @app.get("/file.html")
    def html_file() -> FileResponse:
        return FileResponse(files / "page.html", media_type="text/html")

    @app.get("/verdict")
    def verdict(
        decision: Annotated[Decision | None, Depends(noaiguard_decision)],
    ) -> dict[str, str]:
        assert decision is not None
        return {"category": str(decision.verdict.category), "action": str(decision.action)}

    @app.get("/later")
    def later(background: BackgroundTasks) -> PlainTextResponse:
        background.add_task(tasks_done.set)
        return PlainTextResponse("queued")

    @app.get("/robots.txt")
    def robots() -> PlainTextResponse:
        return PlainTextResponse(ROBOTS)

    return app


def write_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "noaiguard.yaml"
    path.write_text(f"store:\n  url: {store_url(tmp_path)}\n{extra}agents:\n  verify: false\n")
    return path


def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/events.db"


def test_fastapi_app_meets_the_contract(tmp_path: Path) -> None:
    guard = Guard(load_config(write_config(tmp_path)))
    done = threading.Event()
    app = create_app(_files(tmp_path), {"guard": guard}, done)

    with uvicorn_thread(app, lifespan="on") as base, httpx.Client(base_url=base) as http:
        fetch = http_fetch(http)
        check_site(fetch, lambda: recorded(store_url(tmp_path), guard))

        page = fetch("/file.html", BROWSER_UA)  # FileResponse: Content-Length grown by the tag
        assert untrapped(page.body) == tagged(PAGE)
        assert int(page.headers["content-length"]) == len(page.body)

        later = fetch("/later", BROWSER_UA)
        assert (later.status, later.body) == (200, b"queued")
        assert later.headers["x-robots-tag"] == "noai, noimageai"
        assert done.wait(5)  # the background task ran after the response

        name, data = next(iter(IMAGES.items()))
        ranged = http.get(
            f"/img/{name}.png", headers={"user-agent": BROWSER_UA, "range": "bytes=0-9"}
        )
        assert (ranged.status_code, ranged.content) == (206, data[:10])
        assert ranged.headers["x-robots-tag"] == "noai, noimageai"


def test_counts_are_written_when_the_lifespan_ends(tmp_path: Path) -> None:
    """Request counts are handed to the store once a minute, and at shutdown: the last
    request's count can reach the store only through the lifespan's end."""
    app = create_app(_files(tmp_path), {"config": write_config(tmp_path)}, threading.Event())
    with uvicorn_thread(app, lifespan="on") as base, httpx.Client(base_url=base) as http:
        assert http.get("/", headers={"user-agent": GPTBOT_UA}).status_code == 403
        assert http.get("/", headers={"user-agent": BROWSER_UA}).status_code == 200
    store = open_event_store(store_url(tmp_path))
    try:
        assert sum(rollup.count for rollup in store.rollups()) == 2
        assert [(e.agent, e.action) for e in store.query()] == [("GPTBot", "block")]
    finally:
        store.close()


def test_broken_config_stops_the_app_at_startup(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("mode: loud\n")
    app = FastAPI()
    app.add_middleware(NoAIGuardMiddleware, config=bad)
    with pytest.raises(RuntimeError, match="did not start"), uvicorn_thread(app, lifespan="on"):
        pass


def _files(tmp_path: Path) -> Path:
    files = tmp_path / "files"
    files.mkdir()
    return files
