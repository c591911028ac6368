"""Sends through any SMTP server with smtplib: STARTTLS when the server offers it, login when given credentials.

One connection is kept open between sends (SMTP servers are slow to greet) and used by one
sender at a time; after any error it is dropped and the next send opens a fresh one.
SMTP replies classify themselves: 4xx means try later, 5xx means the server refuses for good.
A session lost before the message's content went out in full is retried (a server queues a
message only on its final dot). Once the content is out, no final reply (a timeout, a dropped
connection) leaves the message unknown: the server may have queued it.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
import threading
import time

from followup.transports.base import Envelope, SendOutcome, check_limits, log_unsent
from followup.transports.mime import BUILD_ERRORS, build_email_message, message_id_for

log = logging.getLogger(__name__)

# Servers drop idle sessions after a few minutes; reconnecting beats discovering that mid-send.
IDLE_RECONNECT_SECONDS = 30.0


class SMTPTransport:
    name = "smtp"

    def __init__(
        self,
        host: str = "localhost",
        port: int = 25,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
        require_tls: bool = False,
        smtpapi: bool = True,
    ) -> None:
        """`require_tls` refuses to send (or log in) in clear text when the server offers no STARTTLS.
        `smtpapi` adds SendGrid's X-SMTPAPI header (custom_args, categories); SendGrid's relay
        strips it, other relays deliver it, so turn it off for them."""
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.timeout = timeout
        self.ssl_context = ssl_context
        self.require_tls = require_tls
        self.smtpapi = smtpapi
        self._connection: _Session | None = None
        self._last_used = 0.0
        self._lock = threading.Lock()

    def send(self, envelope: Envelope) -> SendOutcome:
        problem = check_limits(envelope)
        if problem:
            return SendOutcome.failed(problem)
        try:
            message = build_email_message(envelope, smtpapi=self.smtpapi)
        except BUILD_ERRORS as exc:
            return SendOutcome.failed(f"cannot build the email: {exc}")
        with self._lock:
            connection = None
            try:
                connection = self._session()
                connection.content_sent = False
                connection.send_message(message, from_addr=envelope.from_email, to_addrs=[envelope.to_email])
                self._last_used = time.monotonic()
            except Exception as exc:  # classified below; the session is not trusted afterwards
                self._drop()
                outcome = _classify(exc, content_sent=connection is not None and connection.content_sent)
                log_unsent(log, "SMTP", envelope, outcome)
                return outcome
        return SendOutcome.sent(message_id_for(envelope))

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                try:
                    self._connection.quit()
                except (smtplib.SMTPException, OSError):
                    pass  # already gone: nothing left to release
                self._connection = None

    def _session(self) -> _Session:
        if self._connection is not None and time.monotonic() - self._last_used < IDLE_RECONNECT_SECONDS:
            return self._connection
        self._drop()
        connection = _Session(self.host, self.port, timeout=self.timeout)
        try:
            connection.ehlo()
            if connection.has_extn("starttls"):
                connection.starttls(context=self.ssl_context or ssl.create_default_context())
                connection.ehlo()
            elif self.require_tls:
                raise smtplib.SMTPNotSupportedError(f"{self.host}:{self.port} does not offer STARTTLS")
            if self.username:
                connection.login(self.username, self.password or "")
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        return connection

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class _Session(smtplib.SMTP):
    """An SMTP session that notes when a message's content has gone out in full."""

    content_sent = False

    def data(self, msg: bytes) -> tuple[int, bytes]:
        # smtplib's own DATA (sendmail hands it bytes), noting the moment between writing the
        # content and reading the final reply: smtplib reports a failure on either side of it
        # as the same SMTPServerDisconnected, and only after it may the server have queued it.
        code, reply = self.docmd("data")
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        content = re.sub(rb"(?m)^\.", b"..", msg)  # dot-stuffing (RFC 5321, 4.5.2)
        self.send(content + (b"" if content.endswith(b"\r\n") else b"\r\n") + b".\r\n")
        self.content_sent = True
        return self.getreply()


def _classify(exc: Exception, content_sent: bool) -> SendOutcome:
    if content_sent and isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPResponseException):
        return SendOutcome.unknown(f"the message went out, no final reply came (the server may have queued it): {exc}")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(exc.recipients.values()))
        return _by_code(code, reply, "recipient refused")
    if isinstance(exc, smtplib.SMTPResponseException):
        return _by_code(exc.smtp_code, exc.smtp_error, type(exc).__name__)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return SendOutcome.retry(f"SMTP server disconnected: {exc}")
    if isinstance(exc, smtplib.SMTPException):  # before OSError, its base class
        return SendOutcome.failed(f"SMTP: {exc}")
    if isinstance(exc, OSError):  # refused, unreachable, timed out, TLS trouble
        return SendOutcome.retry(f"cannot reach the SMTP server: {exc or type(exc).__name__}")
    raise exc


def _by_code(code: int, reply: bytes | str, what: str) -> SendOutcome:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    error = f"{what}: {code} {text}"
    if 400 <= code < 500:
        return SendOutcome.retry(error)
    return SendOutcome.failed(error)
