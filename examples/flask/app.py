"""A Flask gallery behind noaiguard: pages get the signals, AI crawlers get a 403."""

from __future__ import annotations

from flask import Flask, request

from noaiguard import NoAIGuardWSGI, get_decision

app = Flask(__name__)
app.wsgi_app = NoAIGuardWSGI(app.wsgi_app, config="noaiguard.yaml")  # type: ignore[method-assign]


@app.get("/")
def gallery() -> str:
    decision = get_decision(request)
    who = decision.verdict.category if decision is not None else "unknown"
    return (
        f"<!doctype html><html><head><title>Gallery</title></head><body>Hello, {who}.</body></html>"
    )
