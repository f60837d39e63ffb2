"""The report by email: the message, and delivery to a real SMTP server (aiosmtpd) on 127.0.0.1.

Every delivery test starts aiosmtpd's threaded server on a free port and asserts what it
received: the envelope, the headers, both alternatives, the attachments decoded back. Logins are
checked by the server's authenticator; TLS uses a certificate made for 127.0.0.1 in the test.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from noaiguard import ConfigError, parse_config
from noaiguard.config import Config, EmailConfig, ReportConfig, SmtpSecurity
from noaiguard.errors import DeliveryError, NoAIGuardError
from noaiguard.reports.email import build_message, format_subject, send_report
from tests.conftest import ROOT

SENDER = "noaiguard <reports@example.org>"
USERNAME = "reports"
PASSWORD = "correct horse battery staple"
WRONG_PASSWORD = "Tr0ub4dor&3"

TEXT = "# Wöchentlicher Bericht für café.example\n\nGPTBot: 1 234 blockiert ✓\n日本語の行\n"
HTML = "<!doctype html><html><body><h1>Bericht für café.example</h1><p>✓ 日本語</p></body></html>"
CSV = "agent,blocked\nGPTBot,1234\nBytespider,17\nÉtude-Bot,1\n".encode()
JSON = b'{"format": 1, "site": "caf\\u00e9.example", "blocked": 1252}'
SUBJECT = "noaiguard report café.example: 2025-01-06 to 2025-01-13, 1252 blocked — ✓"


# -- a real SMTP server -------------------------------------------------------------------------


class Inbox:
    """aiosmtpd handler: keeps every message, refuses the listed recipients."""

    def __init__(self, refuse: tuple[str, ...] = ()) -> None:
        self.refuse = refuse
        self.envelopes: list[Envelope] = []
        self.sessions: list[Session] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        self.sessions.append(session)
        return "250 2.0.0 queued"

    def only_message(self) -> tuple[Envelope, EmailMessage]:
        assert len(self.envelopes) == 1
        envelope = self.envelopes[0]
        assert isinstance(envelope.content, bytes)
        # SMTP lines end in CRLF; a mailbox stores them as LF, as a local delivery agent does.
        stored = envelope.content.replace(b"\r\n", b"\n")
        parsed = email.message_from_bytes(stored, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return envelope, parsed


class FreePortController(Controller):
    """aiosmtpd's threaded controller on a port the system picks.

    The controller probes its server on ``self.port`` once it listens; with port 0 that is the
    port actually bound, read from the listening socket first.
    """

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@contextmanager
def smtp_server(inbox: Inbox, **options: Any) -> Iterator[int]:
    """Run an SMTP server for ``inbox`` on 127.0.0.1; yield its port."""
    controller = FreePortController(
        inbox, hostname="127.0.0.1", port=0, server_hostname="mail.test", **options
    )
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


def check_login(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    """The server's authenticator: one user, one password."""
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USERNAME.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for IP address 127.0.0.1, and its key."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a TLS certificate for 127.0.0.1")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def settings(port: int, **changes: Any) -> EmailConfig:
    base = EmailConfig(
        host="127.0.0.1", port=port, security=SmtpSecurity.NONE, sender=SENDER, timeout=5.0
    )
    return dataclasses.replace(base, **changes)


def report_message(config: EmailConfig, *to: str) -> EmailMessage:
    return build_message(
        config,
        to or ("webmaster@example.org",),
        SUBJECT,
        TEXT,
        HTML,
        attachments=[
            ("noaiguard-2025-01-06.csv", CSV, "text/csv"),
            ("noaiguard-2025-01-06 résumé.json", JSON, "application/json"),
        ],
        clock=lambda: 1736150400.0,  # 2025-01-06 08:00:00 UTC
    )


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# -- delivery -----------------------------------------------------------------------------------


def test_the_server_receives_both_alternatives_and_the_attachments() -> None:
    inbox = Inbox()
    with smtp_server(inbox) as port:
        config = settings(port)
        send_report(config, report_message(config, "webmaster@example.org", "Ops <ops@x.test>"))
    envelope, received = inbox.only_message()

    assert envelope.mail_from == "reports@example.org"
    assert envelope.rcpt_tos == ["webmaster@example.org", "ops@x.test"]
    assert received["Subject"] == SUBJECT
    assert received["From"] == SENDER
    assert received["To"] == "webmaster@example.org, Ops <ops@x.test>"
    assert parsedate_to_datetime(received["Date"]).timestamp() == 1736150400.0
    assert received["Message-ID"].endswith("@example.org>")
    assert received["Auto-Submitted"] == "auto-generated"

    assert received.get_content_type() == "multipart/mixed"
    body, *attachments = received.iter_parts()
    assert isinstance(body, EmailMessage)
    assert body.get_content_type() == "multipart/alternative"
    plain, html = body.iter_parts()
    assert isinstance(plain, EmailMessage)
    assert isinstance(html, EmailMessage)
    # Plain first, HTML last: clients show the last alternative they can (RFC 2046 5.1.4).
    assert plain.get_content_type() == "text/plain"
    assert plain.get_content_charset() == "utf-8"
    assert plain.get_content() == TEXT
    assert html.get_content_type() == "text/html"
    assert html.get_content().rstrip("\n") == HTML
    assert received.get_body(("html", "plain")) == html

    assert [(a.get_filename(), a.get_content_type()) for a in attachments] == [
        ("noaiguard-2025-01-06.csv", "text/csv"),
        ("noaiguard-2025-01-06 résumé.json", "application/json"),
    ]
    assert [a.get_payload(decode=True) for a in attachments] == [CSV, JSON]
    # Nothing on the wire needs 8BITMIME or SMTPUTF8: the bodies are quoted-printable.
    assert envelope.content is not None
    assert max(envelope.content) < 128


def test_without_html_the_text_goes_alone() -> None:
    inbox = Inbox()
    with smtp_server(inbox) as port:
        config = settings(port)
        send_report(config, build_message(config, ["a@example.org"], "Weekly", TEXT))
    _, received = inbox.only_message()
    assert received.get_content_type() == "text/plain"
    assert received.get_content() == TEXT


def test_recipients_come_from_the_config_when_none_are_given() -> None:
    inbox = Inbox()
    with smtp_server(inbox) as port:
        config = settings(port, to=("one@example.org", "two@example.org"))
        send_report(config, build_message(config, [], "Weekly", TEXT))
    envelope, received = inbox.only_message()
    assert envelope.rcpt_tos == ["one@example.org", "two@example.org"]
    assert received["To"] == "one@example.org, two@example.org"


def test_login_with_the_password_from_the_caller() -> None:
    # The command line passes $NOAIGUARD_SMTP_PASSWORD when the file has no password.
    inbox = Inbox()
    with smtp_server(inbox, authenticator=check_login, auth_require_tls=False) as port:
        config = settings(port, username=USERNAME)
        send_report(config, report_message(config), password=PASSWORD)
    assert inbox.sessions[0].authenticated
    assert inbox.sessions[0].auth_data == USERNAME.encode()
    inbox.only_message()


def test_the_password_in_the_file_comes_first() -> None:
    inbox = Inbox()
    with smtp_server(inbox, authenticator=check_login, auth_require_tls=False) as port:
        config = settings(port, username=USERNAME, password=PASSWORD)
        send_report(config, report_message(config), password=WRONG_PASSWORD)
    assert inbox.sessions[0].authenticated


def test_a_wrong_password_is_a_clear_error_without_the_password() -> None:
    inbox = Inbox()
    with smtp_server(inbox, authenticator=check_login, auth_require_tls=False) as port:
        config = settings(port, username=USERNAME)
        with pytest.raises(DeliveryError) as caught:
            send_report(config, report_message(config), password=WRONG_PASSWORD)
    message = str(caught.value)
    assert message.startswith(f"cannot send the report through 127.0.0.1:{port}: ")
    assert "the server refused the login as 'reports': 535" in message
    assert WRONG_PASSWORD not in message
    assert isinstance(caught.value, NoAIGuardError)
    assert caught.value.__cause__ is not None
    assert inbox.envelopes == []


def test_a_username_without_any_password_fails_before_connecting() -> None:
    config = settings(closed_port(), username=USERNAME)
    with pytest.raises(DeliveryError, match=r"no password; set report\.email\.password or "):
        send_report(config, report_message(config))
    with pytest.raises(DeliveryError, match=r"\$NOAIGUARD_SMTP_PASSWORD"):
        send_report(config, report_message(config))


def test_a_server_that_is_down_is_a_clear_error() -> None:
    port = closed_port()
    config = settings(port)
    with pytest.raises(DeliveryError) as caught:
        send_report(config, report_message(config))
    assert str(caught.value) == (
        f"cannot send the report through 127.0.0.1:{port}: connection refused; is the mail "
        "server running and is this its port?"
    )
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)


def test_a_server_that_never_answers_times_out() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # connections complete in the backlog; no greeting ever comes
        port = silent.getsockname()[1]
        config = settings(port, timeout=0.3)
        with pytest.raises(DeliveryError) as caught:
            send_report(config, report_message(config))
    assert str(caught.value) == (
        f"cannot send the report through 127.0.0.1:{port}: no answer within 0.3 seconds "
        "(while trying to connect)"
    )


def test_refused_recipients_are_named() -> None:
    inbox = Inbox(refuse=("gone@example.org",))
    with smtp_server(inbox) as port:
        config = settings(port)
        with pytest.raises(DeliveryError) as every:
            send_report(config, report_message(config, "gone@example.org"))
        with pytest.raises(DeliveryError) as some:
            send_report(config, report_message(config, "gone@example.org", "here@example.org"))
    assert str(every.value) == (
        f"cannot send the report through 127.0.0.1:{port}: the server refused every recipient: "
        "gone@example.org (550 5.1.1 no such mailbox here)"
    )
    assert str(some.value) == (
        f"127.0.0.1:{port} refused some recipients (the others have the report): "
        "gone@example.org (550 5.1.1 no such mailbox here)"
    )
    envelope, _ = inbox.only_message()
    assert envelope.rcpt_tos == ["here@example.org"]


# -- TLS ----------------------------------------------------------------------------------------


def test_starttls_with_a_verified_certificate_then_login(certificate: tuple[Path, Path]) -> None:
    inbox = Inbox()
    # The server offers AUTH only after STARTTLS and refuses mail before it.
    options = {"tls_context": server_tls(certificate), "require_starttls": True}
    with smtp_server(inbox, authenticator=check_login, **options) as port:
        config = settings(
            port, security=SmtpSecurity.STARTTLS, ca_file=str(certificate[0]), username=USERNAME
        )
        send_report(config, report_message(config), password=PASSWORD)
    assert inbox.sessions[0].authenticated
    _, received = inbox.only_message()
    assert received["Subject"] == SUBJECT


def test_starttls_refuses_a_certificate_it_cannot_verify(certificate: tuple[Path, Path]) -> None:
    inbox = Inbox()
    with smtp_server(inbox, tls_context=server_tls(certificate)) as port:
        config = settings(port, security=SmtpSecurity.STARTTLS)  # the system's CAs only
        with pytest.raises(DeliveryError) as caught:
            send_report(config, report_message(config))
    assert str(caught.value).startswith(
        f"cannot send the report through 127.0.0.1:{port}: the server's certificate does not "
        "verify: self-signed certificate"
    )
    assert "report.email.ca_file" in str(caught.value)
    assert inbox.envelopes == []


def test_starttls_is_never_skipped_when_the_server_lacks_it() -> None:
    inbox = Inbox()
    with smtp_server(inbox) as port:
        config = settings(port, security=SmtpSecurity.STARTTLS)
        with pytest.raises(DeliveryError, match="the server does not offer STARTTLS"):
            send_report(config, report_message(config))
    assert inbox.envelopes == []


def test_implicit_tls(certificate: tuple[Path, Path]) -> None:
    inbox = Inbox()
    with smtp_server(inbox, ssl_context=server_tls(certificate)) as port:
        config = settings(port, security=SmtpSecurity.SSL, ca_file=str(certificate[0]))
        send_report(config, report_message(config))
    envelope, _ = inbox.only_message()
    assert envelope.mail_from == "reports@example.org"


def test_an_unreadable_ca_file_is_a_clear_error(tmp_path: Path) -> None:
    config = settings(closed_port(), security=SmtpSecurity.SSL, ca_file=str(tmp_path / "no.pem"))
    with pytest.raises(DeliveryError, match=r"report\.email\.ca_file: cannot load '.*no\.pem': "):
        send_report(config, report_message(config))


# -- the message --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "to", "attachment", "error"),
    [
        (EmailConfig(), ["a@example.org"], None, "report.email.sender: give the From address"),
        (EmailConfig(sender=SENDER), [], None, "no recipients: give --email-to or report.email"),
        (EmailConfig(sender=SENDER), ["a@b@c"], None, "'a@b@c' is not an email address"),
        (EmailConfig(sender=SENDER), ["webmaster"], None, "'webmaster' is not an email address"),
        (
            EmailConfig(sender=SENDER),
            ["a@example.org"],
            ("r.csv", b"", "csv"),
            "attachment 'r.csv': 'csv' is not a content type like text/csv",
        ),
    ],
    ids=["no-sender", "no-recipient", "two-at-signs", "no-at-sign", "bad-content-type"],
)
def test_a_message_that_cannot_be_built_says_why(
    config: EmailConfig, to: list[str], attachment: tuple[str, bytes, str] | None, error: str
) -> None:
    with pytest.raises(DeliveryError) as caught:
        build_message(config, to, "s", "t", attachments=[attachment] if attachment else [])
    assert str(caught.value).startswith(error)


def test_the_subject_template() -> None:
    template = EmailConfig().subject
    subject = format_subject(
        template, site="example.org", since="2025-01-06", until="2025-01-13", blocked=1234
    )
    assert subject == "noaiguard report example.org: 2025-01-06 to 2025-01-13, 1234 blocked"
    thousands = format_subject("{site}: {blocked:,}", site="a", since="", until="", blocked=1234567)
    assert thousands == "a: 1,234,567"
    # A line break in a value cannot start a header of its own.
    injected = format_subject(
        "{site}", site="x\r\nBcc: victim@example.org", since="", until="", blocked=0
    )
    assert injected == "x Bcc: victim@example.org"
    with pytest.raises(DeliveryError, match=r"report\.email\.subject: cannot fill in '\{nope\}'"):
        format_subject("{nope}", site="", since="", until="", blocked=0)


# -- the config section -------------------------------------------------------------------------


def issues_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "site.yaml")
    return [str(issue) for issue in caught.value.issues]


def test_the_report_section_binds() -> None:
    config = parse_config(
        """\
report:
  site_name: café.example
  email:
    host: smtp.example.org
    security: ssl
    username: reports@example.org
    sender: "noaiguard <reports@example.org>"
    to: webmaster@example.org
    subject: "{site}: {blocked:,} blocked"
    timeout: 10
    ca_file: /etc/ssl/private-ca.pem
"""
    )
    assert config.report == ReportConfig(
        site_name="café.example",
        email=EmailConfig(
            host="smtp.example.org",
            security=SmtpSecurity.SSL,
            username="reports@example.org",
            sender="noaiguard <reports@example.org>",
            to=("webmaster@example.org",),
            subject="{site}: {blocked:,} blocked",
            timeout=10.0,
            ca_file="/etc/ssl/private-ca.pem",
        ),
    )
    assert config.report.email.server_port == 465


def test_the_port_follows_the_security_unless_given() -> None:
    assert Config().report.email.security is SmtpSecurity.STARTTLS
    assert Config().report.email.server_port == 587
    assert EmailConfig(security=SmtpSecurity.SSL).server_port == 465
    assert EmailConfig(security=SmtpSecurity.NONE).server_port == 25
    assert EmailConfig(security=SmtpSecurity.NONE, port=2525).server_port == 2525


def test_the_password_never_shows_in_a_repr() -> None:
    config = parse_config(f"report: {{email: {{username: u, password: {PASSWORD!r}}}}}")
    assert config.report.email.password == PASSWORD
    assert PASSWORD not in repr(config)


def test_every_problem_in_the_report_section_is_reported() -> None:
    text = """\
report:
  site_name: "two\\nlines"
  email:
    host: "smtp.example.org:587"
    port: 70000
    security: tls
    password: secret
    sender: reports
    to: [ok@example.org, "not an address"]
    subject: "{site} {blocks}"
    timeout: 0
"""
    assert issues_of(text) == [
        "site.yaml:2:14: report.site_name: keep the site name on one line, without control "
        "characters",
        "site.yaml:4:11: report.email.host: expected a host name or address, got "
        "'smtp.example.org:587' (the port goes in port)",
        "site.yaml:6:15: report.email.security: unknown value 'tls'; expected one of starttls, "
        "ssl, none",
        "site.yaml:8:13: report.email.sender: 'reports' is not an email address like "
        "reports@example.org",
        "site.yaml:9:9: report.email.to: 'not an address' is not an email address like "
        "reports@example.org",
        "site.yaml:10:14: report.email.subject: unknown placeholder {blocks}; use {site}, "
        "{since}, {until}, {blocked}; did you mean 'blocked'?",
        "site.yaml:11:14: report.email.timeout: expected a number above zero, got 0.0",
    ]
    cross = "report:\n  email:\n    port: 70000\n    password: secret\n"
    assert issues_of(cross) == [
        "site.yaml:3:11: report.email.port: expected 1 to 65535, or 0 for the usual port of "
        "security",
        "site.yaml:4:15: report.email.password: a password is only used with a username; give "
        "username too",
    ]


def test_no_password_in_the_clear_to_another_machine() -> None:
    remote = "report:\n  email: {host: mail.example.org, security: none, username: u}\n"
    assert issues_of(remote) == [
        "site.yaml:2:45: report.email.security: security: none would send the password "
        "unencrypted to mail.example.org; use starttls or ssl"
    ]
    local = "report:\n  email: {host: 127.0.0.1, security: none, username: u}\n"
    assert parse_config(local).report.email.username == "u"


@pytest.mark.parametrize(
    ("subject", "error"),
    [
        ("{site.__class__}", "unknown placeholder {site.__class__}"),
        ("{0}", "unknown placeholder {0}"),
        ("{}", "unknown placeholder {}"),
        ("{site", "cannot read the template"),
        ("{blocked:x<y}", "cannot fill in the template"),
        ("{site:d}", "cannot fill in the template"),
    ],
)
def test_subject_templates_use_plain_placeholders(subject: str, error: str) -> None:
    (issue,) = issues_of(f"report:\n  email:\n    subject: {subject!r}\n")
    assert error in issue


def test_default_yaml_spells_out_the_report_defaults() -> None:
    written = parse_config((ROOT / "configs" / "default.yaml").read_text("utf-8"))
    assert written.report == ReportConfig()
