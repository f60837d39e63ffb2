"""noaiguard for Django: one app, one ``MIDDLEWARE`` entry, sync (WSGI) and async (ASGI) alike.

::

    INSTALLED_APPS = [..., "noaiguard.integrations.django"]
    MIDDLEWARE = [
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.gzip.GZipMiddleware",          # compression above noaiguard
        "noaiguard.integrations.django.NoAIGuardMiddleware",
        ...
    ]
    NOAIGUARD = {"config": BASE_DIR / "noaiguard.yaml"}

Views read the decision as ``request.noaiguard``; :func:`noaiguard_exempt` leaves a view alone.
``manage.py check`` reports a broken config (checks ``noaiguard.E001``... in :mod:`.checks`);
``manage.py noaiguard_report`` writes the weekly report.
"""

from __future__ import annotations

from .decorators import noaiguard_exempt
from .middleware import NoAIGuardMiddleware

__all__ = ["NoAIGuardMiddleware", "noaiguard_exempt"]
