"""deploy/: the systemd timer and service and the cron line for the weekly report.

The command lines they run are parsed by noaiguard's own argument parser, so a renamed option
breaks this test rather than a Monday morning.
"""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from noaiguard.cli import _parser
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
CONFIG = Path("/etc/noaiguard/noaiguard.yaml")
STORE_DIR = "/var/lib/noaiguard"


def unit(path: Path) -> configparser.ConfigParser:
    """A systemd unit file as sections of options (a repeated option keeps its last value)."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(path.read_text("utf-8"), source=str(path))
    return parser


def check_report_command(argv: list[str]) -> None:
    """``argv`` runs the installed noaiguard's weekly report by email, and parses."""
    assert argv[0] == "/opt/noaiguard/bin/noaiguard"
    args = _parser().parse_args(argv[1:])
    assert argv[1] == "report"
    assert args.config == CONFIG
    assert args.period == "week"
    assert args.email_to in ("webmaster@example.org", ["webmaster@example.org"])


def test_the_service_runs_the_weekly_report_in_a_sandbox() -> None:
    service = unit(DEPLOY / "systemd" / "noaiguard-report.service")["Service"]
    assert service["Type"] == "oneshot"
    check_report_command(shlex.split(service["ExecStart"]))
    assert service["User"] == "noaiguard"
    assert service["WorkingDirectory"] == STORE_DIR
    # The password comes from the environment file, which may be missing.
    assert service["EnvironmentFile"] == "-/etc/noaiguard/env"
    assert {key: service[key] for key in ("ProtectSystem", "ProtectHome", "PrivateTmp")} == {
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
    }
    assert service["NoNewPrivileges"] == "yes"
    assert service["ReadWritePaths"].split() == [STORE_DIR]
    assert service["CapabilityBoundingSet"] == ""


def test_the_timer_fires_on_monday_mornings_and_catches_up() -> None:
    timer = unit(DEPLOY / "systemd" / "noaiguard-report.timer")
    assert timer["Timer"]["OnCalendar"] == "Mon *-*-* 07:00:00 UTC"
    assert timer["Timer"]["Persistent"] == "true"
    assert timer["Timer"]["RandomizedDelaySec"] == "30min"
    assert "Unit" not in timer["Timer"]  # the service of the same name
    assert timer["Install"]["WantedBy"] == "timers.target"


def cron_job() -> tuple[list[str], str, str]:
    """The schedule, user and command of the one job in deploy/cron/noaiguard-report."""
    lines = (DEPLOY / "cron" / "noaiguard-report").read_text("utf-8").splitlines()
    jobs = [line for line in lines if line and not line.startswith("#") and "=" not in line[:20]]
    assert len(jobs) == 1
    *schedule, user, command = jobs[0].split(None, 6)
    return schedule, user, command


def test_the_cron_line_runs_the_same_command_on_mondays() -> None:
    schedule, user, command = cron_job()
    assert schedule == ["0", "7", "*", "*", "1"]  # minute hour day month weekday (Monday)
    assert user == "noaiguard"
    assert "%" not in command  # cron would turn it into a line break
    (run,) = [step.strip() for step in command.split(";") if step.strip().startswith("exec ")]
    check_report_command(shlex.split(run)[1:])
    service = unit(DEPLOY / "systemd" / "noaiguard-report.service")["Service"]
    assert shlex.split(run)[1:] == shlex.split(service["ExecStart"])


def test_the_cron_command_exports_the_password_and_works_in_the_store(tmp_path: Path) -> None:
    """The cron command under sh, with its paths moved into tmp_path and noaiguard faked."""
    _, _, command = cron_job()
    store, env = tmp_path / "store", tmp_path / "env"
    store.mkdir()
    fake = tmp_path / "noaiguard"
    fake.write_text('#!/bin/sh\necho "$PWD|$NOAIGUARD_SMTP_PASSWORD|$*"\n')
    fake.chmod(0o755)
    moved = (
        command.replace(STORE_DIR, str(store))
        .replace("/etc/noaiguard/env", str(env))
        .replace("/opt/noaiguard/bin/noaiguard", str(fake))
    )
    sh = shutil.which("sh")
    assert sh is not None

    def run() -> str:
        done = subprocess.run([sh, "-c", moved], capture_output=True, text=True, env={}, timeout=30)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    arguments = "report --config /etc/noaiguard/noaiguard.yaml --period week --email-to "
    assert run() == f"{store}||{arguments}webmaster@example.org"  # no env file: no password
    env.write_text("NOAIGUARD_SMTP_PASSWORD='p4ss w$rd'\n")
    assert run() == f"{store}|p4ss w$rd|{arguments}webmaster@example.org"


def test_the_readme_installs_every_file() -> None:
    readme = (DEPLOY / "README.md").read_text("utf-8")
    for path in sorted(DEPLOY.rglob("*")):
        if path.is_file() and path.name != "README.md":
            assert f"deploy/{path.relative_to(DEPLOY)}" in readme


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    """``systemd-analyze verify``, with ExecStart pointed at a program that exists here."""
    program = shutil.which("true")
    assert program is not None
    service = (DEPLOY / "systemd" / "noaiguard-report.service").read_text("utf-8")
    (tmp_path / "noaiguard-report.service").write_text(
        service.replace("/opt/noaiguard/bin/noaiguard", program)
    )
    shutil.copy(DEPLOY / "systemd" / "noaiguard-report.timer", tmp_path)
    result = subprocess.run(
        ["systemd-analyze", "verify", "noaiguard-report.service", "noaiguard-report.timer"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
