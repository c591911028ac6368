"""The one small interface every delivery backend implements, and what all of them share.

The message (what: an Envelope built from the ledger row and the rendered parts) is separate
from the transport (how: SendGrid, SMTP, files, memory). A transport never raises for a
delivery problem; it classifies it, so the sender can mark the ledger row and go on:

- sent: the provider took the message (SendGrid's 202); provider_message_id joins events back.
- retry: the provider did not take it, and trying again later may work: it said so (429, 5xx,
  SMTP 4xx), or the request never went out in full (a refused connection, a connect timeout,
  DNS, a connection that broke while the request was being written); retry_after is the wait in
  seconds when the provider said how long (X-RateLimit-Reset).
- unknown: the request went out and no answer came (a read timeout, a reset or closed
  connection, an answer cut short): the provider may have taken it, so it is never resent
  blindly. An event for its message_key settles it later (store.recovery.reconcile_unknown).
- failed: sending it again unchanged cannot succeed (4xx, SMTP 5xx, a limit it breaks);
  error keeps the provider's own words.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Literal, Protocol

from followup.channels import DEFAULT_CHANNEL
from followup.logs import mask_email

# SendGrid's limits (shared/sendgrid/README.md); every backend applies them so that a message
# accepted by the file or memory transport in a rehearsal is also accepted by SendGrid.
MAX_CATEGORIES = 10
MAX_CATEGORY_LENGTH = 255
MAX_CUSTOM_ARGS_BYTES = 10_000
MAX_TOTAL_BYTES = 30 * 1024 * 1024
ERROR_TEXT_LIMIT = 2000  # provider error bodies kept in the ledger, trimmed past this
# Headers SendGrid will not let a message override (its mail send reference).
RESERVED_HEADERS = frozenset(
    "x-sg-id x-sg-eid received dkim-signature content-type content-transfer-encoding "
    "to from subject reply-to cc bcc".split()
)


@dataclass(frozen=True)
class Envelope:
    """Everything a transport needs to deliver one message."""

    message_key: str
    to_email: str
    to_name: str | None
    from_email: str
    from_name: str | None
    reply_to: str | None
    subject: str
    text: str
    html: str | None
    # {message_key, campaign, candidate_id, kind, step, channel, variant}: opaque ids only, all
    # str. SendGrid keeps them for good as non-personal data, so never names or addresses.
    custom_args: dict[str, str]
    # Its channel (followup.channels) says how it is delivered: by the email transport, or as a
    # row on the recruiter's call sheet.
    channel: str = DEFAULT_CHANNEL
    categories: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)  # e.g. List-Unsubscribe
    attachments: tuple[tuple[str, str, bytes], ...] = ()  # (filename, content_type, content)
    # For a channel delivered onto the call sheet: its row (name, phone, local_time_to_call,
    # script), made at render time; None for everything that goes by mail.
    call_sheet: dict[str, str] | None = None
    # Ask the provider to track opens and clicks (FOLLOWUP_TRACK_ENGAGEMENT); mail only.
    track_engagement: bool = True
    reply_to_name: str | None = None  # shown with reply_to: the recruiter's name
    # Our own Message-ID (with FOLLOWUP_REPLY_DOMAIN: its reply token, so a reply's In-Reply-To
    # names the message); None: the backend's own (mime.message_id_for for whole emails).
    message_id: str | None = None


@dataclass(frozen=True)
class SendOutcome:
    status: Literal["sent", "retry", "unknown", "failed"]
    provider_message_id: str | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds

    @classmethod
    def sent(cls, provider_message_id: str | None) -> SendOutcome:
        return cls("sent", provider_message_id=provider_message_id)

    @classmethod
    def retry(cls, error: str, retry_after: float | None = None) -> SendOutcome:
        return cls("retry", error=error[:ERROR_TEXT_LIMIT], retry_after=retry_after)

    @classmethod
    def unknown(cls, error: str) -> SendOutcome:
        return cls("unknown", error=error[:ERROR_TEXT_LIMIT])

    @classmethod
    def failed(cls, error: str) -> SendOutcome:
        return cls("failed", error=error[:ERROR_TEXT_LIMIT])


class Transport(Protocol):
    name: str

    def send(self, envelope: Envelope) -> SendOutcome:
        """Deliver one email. Never raises for delivery problems: classifies them."""
        ...

    def close(self) -> None:
        """Release connections; the transport is not used afterwards."""
        ...


def check_limits(envelope: Envelope) -> str | None:
    """The first SendGrid limit the envelope breaks, in words, or None when it fits.

    Checked before sending: a message SendGrid would refuse is failed at once, and no bytes
    leave the machine for it.
    """
    for key, value in envelope.custom_args.items():
        if not isinstance(key, str) or not isinstance(value, str):
            # SendGrid answers a bare 400 for numeric custom_args; name the culprit instead.
            return f"custom_args keys and values must be strings: {key!r}: {value!r} is not"
    args_size = len(json.dumps(envelope.custom_args, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    if args_size >= MAX_CUSTOM_ARGS_BYTES:
        return f"custom_args take {args_size:,} bytes as JSON; SendGrid allows under {MAX_CUSTOM_ARGS_BYTES:,}"
    if len(envelope.categories) > MAX_CATEGORIES:
        return f"{len(envelope.categories)} categories; SendGrid allows at most {MAX_CATEGORIES}"
    if len(set(envelope.categories)) != len(envelope.categories):
        return "categories repeat; SendGrid requires them unique"
    if any(len(category) > MAX_CATEGORY_LENGTH for category in envelope.categories):
        return f"a category is longer than {MAX_CATEGORY_LENGTH} characters"
    reserved = sorted(name for name in envelope.headers if name.lower() in RESERVED_HEADERS)
    if reserved:
        return f"headers SendGrid does not let a message set: {', '.join(reserved)}"
    total = estimated_size(envelope)
    if total >= MAX_TOTAL_BYTES:
        return f"the message takes about {total / 1024 / 1024:.1f} MB; SendGrid allows under 30 MB"
    return None


def estimated_size(envelope: Envelope) -> int:
    """Bytes of the request SendGrid would receive: attachments grow by a third in base64."""
    parts = [envelope.subject, envelope.text, envelope.html or "", *envelope.headers.values()]
    text_bytes = sum(len(part.encode("utf-8")) for part in parts)
    attachment_bytes = sum(4 * ((len(content) + 2) // 3) for _, _, content in envelope.attachments)
    return text_bytes + attachment_bytes


def log_unsent(log: logging.Logger, transport: str, envelope: Envelope, outcome: SendOutcome) -> None:
    """One warning per message a provider did not take, the address masked (providers echo it)."""
    log.warning(
        "%s %s for %s (%s): %s",
        transport,
        outcome.status,
        envelope.message_key,
        mask_email(envelope.to_email),
        mask_email(outcome.error or ""),
    )
