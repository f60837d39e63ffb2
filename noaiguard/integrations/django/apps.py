"""The Django app: add ``"noaiguard.integrations.django"`` to ``INSTALLED_APPS`` for the system
checks and the ``noaiguard_report`` management command."""

from __future__ import annotations

from django.apps import AppConfig


class NoAIGuardConfig(AppConfig):
    name = "noaiguard.integrations.django"
    label = "noaiguard"
    verbose_name = "noaiguard"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the checks)
