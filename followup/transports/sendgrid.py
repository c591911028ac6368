"""Sends through SendGrid's v3 mail send API, with the official `sendgrid` package.

The request body is always built by the official helpers (sendgrid.helpers.mail), so it is
exactly what SendGrid's own client would send. Two ways to post it:

- pooled (default, the hot path): the same JSON, URL and headers over reused keep-alive
  connections (followup.transports.http_pool). The official client opens a new connection per
  request; at 50 ms of latency that tops out near ~930 messages/s with 128 threads on a quiet
  machine, while reused connections, with little Python work per request, go past 1,000/s.
- official: `SendGridAPIClient.client.mail.send.post`, exactly as SendGrid documents it.

Answers: 2xx -> sent (X-Message-Id); 429, 5xx -> retry (retry_after from X-RateLimit-Reset);
any other 4xx -> failed with SendGrid's body. A request that never went out in full (refused
connection, connect timeout, DNS, a connection broken while writing) -> retry: SendGrid cannot
have taken it. Once it is written, no whole answer (a read timeout, a reset or closed
connection, an answer cut short) -> unknown: SendGrid may have taken it, and an offer sent
twice is worse than one settled later from its events.
The API key never reaches a log: python_http_client logs request headers at DEBUG, so its
logger is held at WARNING.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import time
import urllib.error
from typing import Any, Callable
from urllib.parse import urlsplit

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import (
    Attachment,
    Category,
    ClickTracking,
    CustomArg,
    Disposition,
    FileContent,
    FileName,
    FileType,
    From,
    Header,
    HtmlContent,
    Mail,
    OpenTracking,
    PlainTextContent,
    ReplyTo,
    Subject,
    To,
    TrackingSettings,
)

from followup.transports.base import Envelope, SendOutcome, check_limits, log_unsent
from followup.transports.http_pool import KeepAlivePool

log = logging.getLogger(__name__)

# Its DEBUG records hold the Authorization header (the API key) and every payload.
logging.getLogger("python_http_client").setLevel(logging.WARNING)

SENDGRID_HOST = "https://api.sendgrid.com"


def build_request_body(envelope: Envelope) -> dict[str, Any]:
    """The POST /v3/mail/send JSON, built by the official helpers.

    custom_args, categories and headers go at the message level; the helpers raise for what
    they refuse (an API key pasted into the content, for one)."""
    mail = Mail(
        from_email=From(envelope.from_email, envelope.from_name),
        to_emails=To(envelope.to_email, envelope.to_name),
        subject=Subject(envelope.subject),
        plain_text_content=PlainTextContent(envelope.text) if envelope.text else None,
        html_content=HtmlContent(envelope.html) if envelope.html else None,
    )
    if envelope.reply_to:
        mail.reply_to = ReplyTo(envelope.reply_to, envelope.reply_to_name)
    # The helpers insert each item at the front of its list: adding them in reverse keeps the
    # envelope's order in the JSON.
    for key, value in reversed(envelope.custom_args.items()):
        mail.custom_arg = CustomArg(key, value)
    for category in reversed(envelope.categories):
        mail.category = Category(category)
    for name, value in reversed(envelope.headers.items()):
        mail.header = Header(name, value)
    if envelope.message_id:
        # SendGrid's documentation neither lists Message-ID among the headers a message may not
        # set nor promises to keep it: replies are matched by their address first (stages.replies).
        mail.header = Header("Message-ID", envelope.message_id)
    # Said on every email either way, so that the account's own tracking defaults never decide.
    # Links are rewritten in the HTML part only: a tracking URL in the plain text is what the
    # candidate would read.
    mail.tracking_settings = TrackingSettings(
        click_tracking=ClickTracking(envelope.track_engagement, False),
        open_tracking=OpenTracking(envelope.track_engagement),
    )
    for filename, content_type, content in reversed(envelope.attachments):
        mail.attachment = Attachment(
            FileContent(base64.b64encode(content).decode("ascii")),
            FileName(filename),
            FileType(content_type),
            Disposition("attachment"),
        )
    return mail.get()


class SendGridTransport:
    name = "sendgrid"

    def __init__(
        self,
        api_key: str,
        host: str = SENDGRID_HOST,
        timeout: float = 10.0,
        pooled: bool = True,
        pool_size: int = 256,
    ) -> None:
        """`host`: SendGrid's own, or the sandbox's URL. `timeout` (seconds) bounds connecting
        and waiting for the answer. `pool_size`: idle keep-alive connections kept for
        concurrent senders (match the number of sending threads)."""
        self.host = host.rstrip("/")
        self.timeout = timeout
        self._client = SendGridAPIClient(api_key=api_key, host=self.host)
        self._client.client.timeout = timeout  # the official client has none unless set
        self._pool: KeepAlivePool | None = None
        self._post: Callable[[dict[str, Any]], tuple[int, Any, bytes]] = self._post_official
        if pooled:
            # Same URL and headers the official client would use, taken from it, not restated.
            url = urlsplit(self._client.client.mail.send._build_url(None))
            self._path = url.path
            self._headers = {**self._client.client.request_headers, "Content-Type": "application/json"}
            self._pool = KeepAlivePool(f"{url.scheme}://{url.netloc}", timeout=timeout, maxsize=pool_size)
            self._post = self._post_pooled

    def send(self, envelope: Envelope) -> SendOutcome:
        problem = check_limits(envelope)
        if problem:
            return SendOutcome.failed(problem)
        try:
            body = build_request_body(envelope)
        except Exception as exc:  # the helpers' validators raise plain exceptions of their own
            return SendOutcome.failed(f"the sendgrid helpers refused the message: {type(exc).__name__}: {exc}")
        outcome = self._post_and_classify(body)
        if outcome.status == "sent":
            log.debug(
                "SendGrid accepted %s for %s as %s", envelope.message_key, envelope.to_email, outcome.provider_message_id
            )
        else:
            log_unsent(log, "SendGrid", envelope, outcome)
        return outcome

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()

    def _post_and_classify(self, body: dict[str, Any]) -> SendOutcome:
        try:
            status, headers, payload = self._post(body)
        except HTTPError as exc:  # the official client raises for every status >= 400
            status, headers, payload = exc.status_code, exc.headers, exc.body
        except urllib.error.URLError as exc:  # both paths: the request did not go out in full
            return SendOutcome.retry(f"cannot reach {self.host}: {_reason(exc)}")
        except TimeoutError:  # written, then no answer in time: both paths raise a bare TimeoutError
            return SendOutcome.unknown(f"no answer within {self.timeout:g}s (SendGrid may have accepted the message)")
        except (http.client.HTTPException, OSError) as exc:  # written, then the connection broke
            return SendOutcome.unknown(
                f"connection to {self.host} lost before SendGrid's answer (it may have accepted the message): "
                f"{type(exc).__name__}: {exc}"
            )
        except ValueError as exc:  # both paths check the request's head before writing a byte of it
            return SendOutcome.failed(f"the request to SendGrid could not be built: {exc}")
        return classify_response(status, headers, payload)

    def _post_official(self, body: dict[str, Any]) -> tuple[int, Any, bytes]:
        response = self._client.client.mail.send.post(request_body=body)
        return response.status_code, response.headers, response.body

    def _post_pooled(self, body: dict[str, Any]) -> tuple[int, Any, bytes]:
        # json.dumps(...).encode("utf-8"): byte for byte what python_http_client posts.
        return self._pool.post(self._path, json.dumps(body).encode("utf-8"), self._headers)  # type: ignore[union-attr]


def classify_response(status: int, headers: Any, body: bytes | str | None) -> SendOutcome:
    """SendGrid's answer as an outcome. `headers` is any case-insensitive mapping with .get()."""
    if 200 <= status < 300:
        return SendOutcome.sent(headers.get("X-Message-Id"))
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    error = f"HTTP {status}: {text}".strip()
    if status == 429 or status >= 500:
        return SendOutcome.retry(error, retry_after=_seconds_until(headers.get("X-RateLimit-Reset")))
    return SendOutcome.failed(error)


def _seconds_until(reset: str | None) -> float | None:
    """X-RateLimit-Reset is a unix time (real clock); the wait is never negative."""
    try:
        return max(0.0, float(reset) - time.time()) if reset is not None else None
    except ValueError:
        return None


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    return f"{type(reason).__name__}: {reason}"
