"""Delivery of a report by email: one MIME message, handed to one SMTP server.

:func:`build_message` makes the message. The Markdown rendering (text/plain) and the HTML
rendering (text/html) are the two alternatives of one multipart/alternative part (RFC 2046
section 5.1.4), so every mail client shows the best one it can; the other renderings (CSV, JSON)
follow as attachments. :func:`send_report` hands the message to the server of ``report.email``
with :mod:`smtplib`: TLS from the first byte (``ssl``, RFC 8314), STARTTLS (RFC 3207) or, for a
relay on the same machine, no encryption. The server's certificate is always verified and a
connection is never downgraded: a server that does not offer STARTTLS is an error.

The library never reads the environment. The command line passes the password, taken from
``report.email.password`` or else ``$NOAIGUARD_SMTP_PASSWORD``, and every failure comes out as
one :class:`~noaiguard.errors.DeliveryError` naming the server, never the password.

    settings = config.report.email
    subject = format_subject(settings.subject, site="example.org", since="2025-01-06",
                             until="2025-01-13", blocked=1234)
    message = build_message(settings, ["webmaster@example.org"], subject, markdown, html,
                            attachments=[("report.csv", csv_bytes, "text/csv"),
                                         ("report.json", json_bytes, "application/json")])
    send_report(settings, message, password=os.environ.get(SMTP_PASSWORD_ENVIRONMENT, ""))
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from ..config import SMTP_PASSWORD_ENVIRONMENT, EmailConfig, SmtpSecurity, address_problem
from ..errors import DeliveryError

__all__ = ["Attachment", "build_message", "format_subject", "send_report"]

logger = logging.getLogger("noaiguard.report")

#: An attachment: file name, content, content type (``("report.csv", data, "text/csv")``).
Attachment = tuple[str, bytes, str]


def format_subject(template: str, *, site: str, since: str, until: str, blocked: int) -> str:
    """Fill in a subject template such as ``report.email.subject``.

    ``site`` is the site's name (``report.site_name``, or a fallback the caller picks when that
    is empty), ``since`` and ``until`` the period as the report prints it (``2025-01-06``),
    ``blocked`` the number of blocked requests. Runs of white space, line breaks included,
    become one space, so no value can add a header line.
    """
    try:
        subject = template.format(site=site, since=since, until=until, blocked=blocked)
    except (KeyError, IndexError, AttributeError, ValueError, TypeError) as exc:
        raise DeliveryError(f"report.email.subject: cannot fill in {template!r}: {exc}") from exc
    return " ".join(subject.split())


def build_message(
    settings: EmailConfig,
    to: Sequence[str],
    subject: str,
    text: str,
    html: str | None = None,
    *,
    attachments: Sequence[Attachment] = (),
    clock: Callable[[], float] = time.time,
) -> EmailMessage:
    """The report as one email from ``settings.sender`` to ``to``.

    :param settings: ``config.report.email``; its ``sender`` is the From address.
    :param to: the recipients (``--email-to``); empty means ``settings.to``. Each is
        ``a@example.org`` or ``Name <a@example.org>``.
    :param subject: the Subject line, e.g. from :func:`format_subject`.
    :param text: the plain-text body (the Markdown rendering).
    :param html: the HTML body (the HTML rendering), sent as the preferred alternative to
        ``text``; ``None`` sends the text alone.
    :param attachments: ``(file name, content, content type)`` triples, e.g.
        ``("noaiguard-2025-01-06.csv", data, "text/csv")``, attached in this order.
    :param clock: the time of the Date header, in seconds since the epoch.

    The bodies are UTF-8 in quoted-printable, so they pass any server (no 8BITMIME needed) and
    long lines are safe; attachments are base64. Raises :class:`DeliveryError` when there is no
    sender, no recipient, an address is malformed or a content type is not ``type/subtype``.
    """
    if not settings.sender:
        raise DeliveryError(
            "report.email.sender: give the From address of the report, "
            "e.g. noaiguard <reports@example.org>"
        )
    recipients = tuple(to) or settings.to
    if not recipients:
        raise DeliveryError("no recipients: give --email-to or report.email.to")
    for address in recipients:
        problem = address_problem(address)
        if problem:
            raise DeliveryError(problem)

    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = " ".join(subject.split())
    message["Date"] = format_datetime(datetime.fromtimestamp(clock(), UTC))
    message["Message-ID"] = make_msgid("noaiguard", domain=_domain(settings.sender))
    # RFC 3834: written by a program, so vacation responders do not answer it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text, subtype="plain", cte="quoted-printable")
    if html is not None:
        message.add_alternative(html, subtype="html", cte="quoted-printable")
    for name, data, content_type in attachments:
        maintype, _, subtype = content_type.partition("/")
        if not maintype or not subtype or "/" in subtype:
            raise DeliveryError(
                f"attachment {name!r}: {content_type!r} is not a content type like text/csv"
            )
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message


def send_report(settings: EmailConfig, message: EmailMessage, *, password: str = "") -> None:
    """Hand ``message`` to the SMTP server of ``settings``; return once the server took it.

    :param settings: ``config.report.email``: host, port, security, username, timeout, ca_file.
    :param message: from :func:`build_message`. The envelope sender and recipients are taken
        from its From and To headers.
    :param password: the password to log in with when ``settings.password`` is empty; the
        command line passes ``$NOAIGUARD_SMTP_PASSWORD`` here. Only used with a username.

    Connects with ``settings.security``: ``ssl`` speaks TLS from the start, ``starttls`` upgrades
    the connection before anything else is said (and fails if the server does not offer it),
    ``none`` stays unencrypted. Then logs in when ``settings.username`` is set, and sends.

    Raises :class:`DeliveryError` when the server cannot be reached, its certificate does not
    verify, the login or the sender is refused, or any recipient is refused (naming them; the
    others have then received the report). The message names ``host:port`` and the server's
    reply or the network error, never the password; the original exception is the __cause__.
    """
    where = _where(settings)
    secret = settings.password or password
    if settings.username and not secret:
        raise DeliveryError(
            f"cannot log in to {where} as {settings.username!r}: no password; set "
            f"report.email.password or ${SMTP_PASSWORD_ENVIRONMENT}"
        )
    context = _tls_context(settings) if settings.security is not SmtpSecurity.NONE else None

    step = "connect"
    try:
        if settings.security is SmtpSecurity.SSL:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host, settings.server_port, timeout=settings.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(settings.host, settings.server_port, timeout=settings.timeout)
        with smtp:
            if settings.security is SmtpSecurity.STARTTLS:
                step = "start TLS"
                smtp.starttls(context=context)
            if settings.username:
                step = "log in"
                smtp.login(settings.username, secret)
            step = "send"
            refused = smtp.send_message(message)
    except (smtplib.SMTPException, OSError, UnicodeError) as exc:
        reason = _explain(exc, step, settings)
        if secret:
            reason = reason.replace(secret, "***")
        raise DeliveryError(f"cannot send the report through {where}: {reason}") from exc
    if refused:
        raise DeliveryError(
            f"{where} refused some recipients (the others have the report): {_refused(refused)}"
        )
    logger.info("report %s sent through %s", message["Message-ID"], where)


# -- helpers --------------------------------------------------------------------------------------


def _where(settings: EmailConfig) -> str:
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"{host}:{settings.server_port}"


def _domain(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2]


def _tls_context(settings: EmailConfig) -> ssl.SSLContext:
    """A verifying client context (hostname and certificate chain), from ``ca_file`` if set."""
    try:
        return ssl.create_default_context(cafile=settings.ca_file or None)
    except (OSError, ValueError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise DeliveryError(
            f"report.email.ca_file: cannot load {settings.ca_file!r}: {detail}"
        ) from exc


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{exc.smtp_code} {' '.join(text.split())}"


def _refused(recipients: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(
        f"{address} ({code} {' '.join(reply.decode('utf-8', 'replace').split())})"
        for address, (code, reply) in recipients.items()
    )


def _explain(exc: BaseException, step: str, settings: EmailConfig) -> str:
    """What went wrong, in words a person can act on."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"the server refused the login as {settings.username!r}: {_reply(exc)}"
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return f"the server refused the sender {exc.sender}: {_reply(exc)}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return f"the server refused every recipient: {_refused(exc.recipients)}"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        if step == "start TLS":
            return (
                "the server does not offer STARTTLS (security: starttls); use security: ssl if "
                "it speaks TLS from the start (port 465)"
            )
        if step == "log in":
            return "the server does not offer AUTH, so it cannot log in; leave username empty"
        return str(exc)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        if isinstance(exc.__context__, TimeoutError):  # smtplib turns a timeout into this
            return f"no answer within {settings.timeout:g} seconds (while trying to {step})"
        return f"the server closed the connection (while trying to {step})"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"the server answered {_reply(exc)} (while trying to {step})"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"the server's certificate does not verify: {exc.verify_message}; for a private CA "
            "set report.email.ca_file"
        )
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed (while trying to {step}): {exc.reason or exc}"
    if isinstance(exc, TimeoutError):
        return f"no answer within {settings.timeout:g} seconds (while trying to {step})"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused; is the mail server running and is this its port?"
    if isinstance(exc, socket.gaierror):
        return f"cannot find the host: {exc.strerror}"
    if isinstance(exc, UnicodeError) and step == "log in":
        return "SMTP login needs a user name and password in ASCII"
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc} (while trying to {step})"
    return str(exc)
