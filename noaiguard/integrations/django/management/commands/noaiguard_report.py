"""``manage.py noaiguard_report``: ``noaiguard report`` with the config of ``settings.NOAIGUARD``.

Takes the same options (``--period``, ``--since``/``--until``, ``--format``, ``-o``, ``--site``,
``--email-to``...), without ``--config``.
"""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from noaiguard.errors import NoAIGuardError
from noaiguard.reports import command as report_command

from ...conf import config_from_settings


class Command(BaseCommand):
    help = (
        "The weekly report from noaiguard's event store: who came, what was refused, who ignored "
        "robots.txt (the config is settings.NOAIGUARD)."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        report_command.add_arguments(parser, config_option=False)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            config = config_from_settings()
            status = report_command.run(argparse.Namespace(**options), config=config)
        except NoAIGuardError as exc:
            raise CommandError(str(exc)) from exc
        if status != report_command.EXIT_OK:
            raise CommandError("the report was not made (see above)", returncode=status)
