"""Front doors for apps that are not plain ASGI: WSGI apps and Django's ``MIDDLEWARE``.

``wsgi``     :class:`~noaiguard.integrations.wsgi.NoAIGuardWSGI`, for Flask and any WSGI app
``django``   an installable Django app with the ``MIDDLEWARE`` entry, system checks, the
             ``noaiguard_report`` command and the :func:`noaiguard_exempt` view decorator
``starlette`` :func:`~noaiguard.integrations.starlette.noaiguard_decision`, the verdict as a
             FastAPI dependency (the middleware itself is :class:`noaiguard.NoAIGuardMiddleware`)

They share :class:`~noaiguard.integrations.gate.Gate`, so a YAML file behaves the same behind
each of them and behind the proxy.
"""

from __future__ import annotations
