"""The decision as a FastAPI dependency (Starlette apps read ``request.state.noaiguard``).

::

    from fastapi import Depends, FastAPI
    from noaiguard import Decision, NoAIGuardMiddleware
    from noaiguard.integrations.starlette import noaiguard_decision

    app = FastAPI()
    app.add_middleware(NoAIGuardMiddleware, config="noaiguard.yaml")

    @app.get("/art/{name}")
    def art(name: str, decision: Annotated[Decision | None, Depends(noaiguard_decision)]): ...

The middleware itself is the pure ASGI :class:`noaiguard.NoAIGuardMiddleware`: it works with
``StaticFiles``, ``FileResponse``, ``StreamingResponse`` and background tasks as they are, and
writes the queued events when the app's lifespan ends.
"""

from __future__ import annotations

from starlette.requests import Request

from ..policy import Decision
from .decision import get_decision


def noaiguard_decision(request: Request) -> Decision | None:
    """FastAPI dependency: the decision noaiguard made for this request (None: not decided)."""
    return get_decision(request)
