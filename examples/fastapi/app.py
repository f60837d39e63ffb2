"""A FastAPI gallery behind noaiguard: pages get the signals, AI crawlers get a 403."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse

from noaiguard import Decision, NoAIGuardMiddleware, load_config
from noaiguard.integrations.starlette import noaiguard_decision

# Loaded at import, so a broken file stops uvicorn before it serves (see the README).
CONFIG = load_config(Path(__file__).with_name("noaiguard.yaml"))

app = FastAPI()
app.add_middleware(NoAIGuardMiddleware, config=CONFIG)


@app.get("/", response_class=HTMLResponse)
def gallery(decision: Annotated[Decision | None, Depends(noaiguard_decision)]) -> str:
    who = decision.verdict.category if decision is not None else "unknown"
    return (
        f"<!doctype html><html><head><title>Gallery</title></head><body>Hello, {who}.</body></html>"
    )
