"""``noaiguard report`` from the command line, on a SQLite store."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from noaiguard.backends.sqlite import SQLiteEventStore
from noaiguard.cli import main

from .seed import seed

NOW = "2026-11-24T09:00"


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    store = SQLiteEventStore(str(tmp_path / "events.db"))
    seed(store)
    store.close()
    return f"sqlite:///{tmp_path}/events.db"


def test_the_default_is_last_weeks_html_in_a_file_whose_path_is_printed(
    store_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["report", "--store", store_url, "--now", NOW]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == "noaiguard-report-2026-11-16-to-2026-11-22.html"
    html = (tmp_path / printed).read_text("utf-8")
    assert html.startswith("<!doctype html>") and "week 47 of 2026" in html
    assert not list(tmp_path.glob(".*.tmp"))  # written whole, then renamed
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / printed).stat().st_mode & 0o777 == 0o666 & ~mask


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--period", "day"], ("2026-11-23T00:00:00+00:00", "2026-11-24T00:00:00+00:00")),
        (["--period", "month"], ("2026-10-01T00:00:00+00:00", "2026-11-01T00:00:00+00:00")),
        (["--since", "2026-11-17"], ("2026-11-17T00:00:00+00:00", "2026-11-24T09:00:00+00:00")),
        (
            ["--since", "2026-11-17", "--until", "2026-11-19T12:00"],
            ("2026-11-17T00:00:00+00:00", "2026-11-19T12:00:00+00:00"),
        ),
    ],
)
def test_periods_from_the_command_line(
    store_url: str,
    arguments: list[str],
    expected: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["report", "--store", store_url, "--now", NOW, "--format", "json", "-o", "-"]
    assert main([*argv, *arguments]) == 0
    period = json.loads(capsys.readouterr().out)["period"]
    assert (period["since"], period["until"]) == expected


def test_each_format_to_a_named_file(store_url: str, tmp_path: Path) -> None:
    for fmt, start in (("md", "# noaiguard report"), ("csv", "agent,operator"), ("json", "{")):
        out = tmp_path / "out" / f"r.{fmt}"
        assert (
            main(["report", "--store", store_url, "--now", NOW, "--format", fmt, "-o", str(out)])
            == 0
        )
        assert out.read_text("utf-8").startswith(start)


def test_the_site_name_comes_from_the_config_or_the_flag(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "site.yaml"
    config.write_text("report:\n  site_name: mara-lind.example\n")
    base = ["report", "--config", str(config), "--store", store_url, "--now", NOW, "--format", "md"]
    assert main([*base, "-o", "-"]) == 0
    assert capsys.readouterr().out.startswith("# noaiguard report for mara-lind.example:")
    assert main([*base, "-o", "-", "--site", "Mara"]) == 0
    assert capsys.readouterr().out.startswith("# noaiguard report for Mara:")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--until", "2026-11-20"], "--until needs --since"),
        (["--since", "2026-11-20", "--period", "week"], "give --period or --since, not both"),
        (["--since", "2026-11-20", "--until", "2026-11-19"], "before it starts"),
        (["--since", "last tuesday"], "is not a time"),
    ],
)
def test_bad_periods_exit_2_with_a_message(
    store_url: str, arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--store", store_url, "--now", NOW, *arguments]) == 2
    assert message in capsys.readouterr().err


def test_a_broken_config_or_an_unreachable_store_fails_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("report:\n  site_nam: x\n")
    assert main(["report", "--config", str(config)]) == 2
    assert "report.site_nam" in capsys.readouterr().err
    assert main(["report", "--store", "postgresql://127.0.0.1:1/none", "-o", "-"]) == 1
    assert "cannot open PostgreSQL store" in capsys.readouterr().err


def test_email_to_sends_the_report_through_smtp_with_the_password_from_the_environment(
    store_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.unit.test_report_email import PASSWORD, USERNAME, Inbox, check_login, smtp_server

    inbox = Inbox()
    with smtp_server(inbox, authenticator=check_login, auth_require_tls=False) as port:
        config = tmp_path / "mail.yaml"
        config.write_text(
            "report:\n  site_name: mara.example\n  email:\n"
            f"    host: 127.0.0.1\n    port: {port}\n    security: none\n"
            f"    username: {USERNAME}\n    sender: noaiguard <reports@mara.example>\n"
        )
        monkeypatch.setenv("NOAIGUARD_SMTP_PASSWORD", "wrong")
        argv = ["report", "--config", str(config), "--store", store_url, "--now", NOW]
        argv += ["-o", str(tmp_path / "r.html"), "--email-to", "owner@mara.example"]
        assert main(argv) == 1  # refused login: a clear error, no password in it
        assert "wrong" not in capsys.readouterr().err
        monkeypatch.setenv("NOAIGUARD_SMTP_PASSWORD", PASSWORD)
        assert main(argv) == 0
    envelope, message = inbox.only_message()
    assert envelope.rcpt_tos == ["owner@mara.example"]
    assert message["Subject"] == (
        "noaiguard report mara.example: 2026-11-16 to 2026-11-22, 25 blocked"
    )
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and "## robots.txt: who read it" in text.get_content()
    assert html is not None and "<svg" in html.get_content()
    names = [part.get_filename() for part in message.iter_attachments()]
    assert names == [
        "noaiguard-report-2026-11-16-to-2026-11-22.csv",
        "noaiguard-report-2026-11-16-to-2026-11-22.json",
    ]
