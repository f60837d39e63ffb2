"""System checks, run by ``manage.py check`` and before ``runserver`` and ``migrate``.

Stable ids, so that a project can silence one in ``SILENCED_SYSTEM_CHECKS``:

noaiguard.E001  the ``NOAIGUARD`` setting has the wrong shape
noaiguard.E002  the config file it names cannot be read
noaiguard.E003  the config is invalid (one message per problem, with file, line and key)
noaiguard.W001  the app is installed but its middleware is not in ``MIDDLEWARE``
noaiguard.W002  a compressing middleware sits below noaiguard's, so pages reach noaiguard
                compressed and get no robots meta tag
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from ...errors import ConfigError
from .conf import SETTING_KEY, config_from_settings

MIDDLEWARE_PATH = "noaiguard.integrations.django.NoAIGuardMiddleware"
#: Middleware that compress responses; they belong above noaiguard's in MIDDLEWARE.
COMPRESSING = frozenset({"django.middleware.gzip.GZipMiddleware"})
_SETTING_HINT = (
    'NOAIGUARD = {"config": BASE_DIR / "noaiguard.yaml"}, or a mapping with the keys of a '
    "config file"
)


@register("noaiguard")
def check_config(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The config the ``NOAIGUARD`` setting describes loads without a problem."""
    try:
        config_from_settings()
    except ConfigError as exc:
        return [_message(issue) for issue in exc.issues]
    return []


def _message(issue: Any) -> CheckMessage:
    if issue.key == SETTING_KEY:
        return Error(f"settings.NOAIGUARD {issue.message}", hint=_SETTING_HINT, id="noaiguard.E001")
    if issue.key == "(file)":
        hint = (
            "check the path and the file's permissions"
            if os.path.isabs(issue.path)
            else "a relative NOAIGUARD['config'] is read from the directory the server starts "
            "in; BASE_DIR / 'noaiguard.yaml' does not depend on it"
        )
        return Error(
            f"noaiguard config {issue.path}: {issue.message}", hint=hint, id="noaiguard.E002"
        )
    return Error(
        f"noaiguard config: {issue}",
        hint="`noaiguard check-config FILE` checks a file on its own",
        id="noaiguard.E003",
    )


@register("noaiguard")
def check_middleware(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The middleware is in MIDDLEWARE, below any compression."""
    middleware = list(getattr(settings, "MIDDLEWARE", None) or ())
    if MIDDLEWARE_PATH not in middleware:
        return [
            Warning(
                "noaiguard is installed, but its middleware is not in MIDDLEWARE: no signals "
                "are sent and no crawler is refused",
                hint=f"add {MIDDLEWARE_PATH!r} to MIDDLEWARE, below SecurityMiddleware and "
                "GZipMiddleware",
                id="noaiguard.W001",
            )
        ]
    ours = middleware.index(MIDDLEWARE_PATH)
    return [
        Warning(
            f"{name} is below noaiguard's middleware in MIDDLEWARE, so pages reach noaiguard "
            "compressed and get no robots meta tag",
            hint=f"move {name!r} above {MIDDLEWARE_PATH!r}",
            id="noaiguard.W002",
        )
        for name in middleware[ours + 1 :]
        if name in COMPRESSING
    ]
