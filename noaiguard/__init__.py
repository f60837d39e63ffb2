"""noaiguard: say "not for AI training" and make it stick.

Opt-out signals on every response, AI crawlers and dataset tools refused by policy, and a record of
who came. The public API::

    from noaiguard import NoAIGuardMiddleware
    app.add_middleware(NoAIGuardMiddleware, config="configs/portfolio.yaml")
"""

from __future__ import annotations

from .config import Config, load_config, parse_config
from .errors import ConfigError, ConfigIssue, NoAIGuardError, StoreError
from .guard import Guard
from .integrations.decision import get_decision
from .integrations.wsgi import NoAIGuardWSGI
from .middleware import NoAIGuardMiddleware
from .policy import Decision

__version__ = "0.1.0"

__all__ = [
    "Config",
    "ConfigError",
    "ConfigIssue",
    "Decision",
    "Guard",
    "NoAIGuardError",
    "NoAIGuardMiddleware",
    "NoAIGuardWSGI",
    "StoreError",
    "__version__",
    "get_decision",
    "load_config",
    "parse_config",
]
