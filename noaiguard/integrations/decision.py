"""``get_decision``: the decision noaiguard made for a request, from any front door's request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..policy import Decision
from .gate import ENVIRON_KEY

#: Where the ASGI middleware leaves the decision: ``scope["state"][STATE_KEY]``.
STATE_KEY = "noaiguard"


def get_decision(request: Any) -> Decision | None:
    """The decision for ``request``; None if noaiguard did not decide it (or failed on it).

    ``request`` is what the app has in hand: a Starlette or FastAPI ``Request`` (or an ASGI
    scope), a Django ``HttpRequest``, a Flask ``request`` or a WSGI environ. The decision says
    who the client is (``decision.verdict.category``, ``decision.verdict.agent_name``, the
    reasons) and what the policy does (``decision.action``); a view can use it to serve a lighter
    page to a logged crawler, for instance.
    """
    scope = getattr(request, "scope", None)
    if isinstance(scope, Mapping):  # Starlette / FastAPI
        request = scope
    environ = getattr(request, "environ", None)
    if isinstance(environ, Mapping):  # Flask / Werkzeug
        request = environ
    if isinstance(request, Mapping):
        if ENVIRON_KEY in request:  # a WSGI environ
            return _decision(request[ENVIRON_KEY])
        state = request.get("state")
        return _decision(state.get(STATE_KEY) if isinstance(state, Mapping) else None)
    return _decision(getattr(request, STATE_KEY, None))  # Django sets request.noaiguard


def _decision(value: object) -> Decision | None:
    return value if isinstance(value, Decision) else None
