"""From the ledger to a transport: which transport the settings choose, and the envelope of a
claimed message (DESIGN.md, Configuration; issue F3 part 1).

Email goes through the configured transport; a voicemail goes onto the recruiter's call sheet.
No key and no explicit transport is a refusal, never a silent no-op.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from followup.config import Settings
from followup.transports import make_transport
from followup.transports.base import Envelope, SendOutcome, Transport
from followup.transports.callsheet import CallSheetTransport

# Categories group messages in SendGrid's statistics; ids and kinds only, never personal data.
PRODUCT_CATEGORY = "candidate-followup"
CUSTOM_ARG_KEYS = ("message_key", "campaign", "candidate_id", "kind", "step", "channel", "variant")


class SendingRefused(Exception):
    """The settings cannot send: the message says what to set."""


def email_transport(settings: Settings) -> Transport:
    """The email transport the settings choose, or SendingRefused naming what is missing."""
    kind = settings.transport or ("sendgrid" if settings.sendgrid_api_key else None)
    if kind is None:
        raise SendingRefused(
            "no way to send email is configured. Set SENDGRID_API_KEY to send through SendGrid; "
            "or rehearse without sending: run `followup sandbox` and set SENDGRID_API_HOST="
            "http://127.0.0.1:3030 SENDGRID_API_KEY=SG.sandbox, or set FOLLOWUP_TRANSPORT=file "
            f"to write .eml files under {settings.outbox_dir}. (`followup demo` needs none of this.)"
        )
    if kind == "sendgrid":
        if settings.sendgrid_api_key is None:
            raise SendingRefused("FOLLOWUP_TRANSPORT=sendgrid needs SENDGRID_API_KEY")
        return make_transport(
            "sendgrid",
            api_key=settings.sendgrid_api_key.get_secret_value(),
            host=settings.sendgrid_api_host,
            timeout=settings.sendgrid_timeout_s,
            pool_size=settings.send_concurrency,
        )
    if kind == "smtp":
        if not settings.smtp_host:
            raise SendingRefused("FOLLOWUP_TRANSPORT=smtp needs FOLLOWUP_SMTP_HOST")
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return make_transport(
            "smtp",
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=password,
            require_tls=settings.smtp_require_tls,
        )
    if kind == "file":
        return make_transport("file", directory=settings.outbox_dir)
    return make_transport(kind)


def sender_address(settings: Settings) -> tuple[str, str | None]:
    if not settings.from_email:
        raise SendingRefused(
            "set FOLLOWUP_FROM_EMAIL to the address you send from (a sender SendGrid has verified); "
            "replies go to each candidate's recruiter"
        )
    return settings.from_email, settings.from_name


def check_can_send(settings: Settings) -> None:
    """SendingRefused unless the settings name a sender, a way to send email, and (when set) a
    readable suppression list: checked before a run stores anything."""
    problems = []
    for check in (sender_address, lambda s: email_transport(s).close()):
        try:
            check(settings)
        except SendingRefused as exc:
            problems.append(str(exc))  # every problem at once, not one per attempt
    if settings.suppression_file is not None and not settings.suppression_file.is_file():
        problems.append(f"FOLLOWUP_SUPPRESSION_FILE {settings.suppression_file} is not a readable file")
    if problems:
        raise SendingRefused("; and ".join(problems))


class ChannelRouter:
    """One transport for the sender: voicemail rows go to the call sheet, the rest to email."""

    name = "router"

    def __init__(self, email: Transport, call_sheet: CallSheetTransport) -> None:
        self.email = email
        self.call_sheet = call_sheet

    def send(self, envelope: Envelope) -> SendOutcome:
        if envelope.call_sheet is not None:
            return self.call_sheet.send(envelope)
        return self.email.send(envelope)

    def close(self) -> None:
        self.email.close()
        self.call_sheet.close()


def router_for(settings: Settings, email: Transport | None = None) -> ChannelRouter:
    """The transport a campaign sends through (`email`: one already made, e.g. the demo's)."""
    return ChannelRouter(email or email_transport(settings), CallSheetTransport(settings.call_sheet_dir))


def _json(value: Any) -> Any:
    # JSON columns come back decoded from PostgreSQL and as text from SQLite's raw rows.
    return json.loads(value) if isinstance(value, str) else value


@dataclass(frozen=True)
class EnvelopeBuilder:
    """Builds the envelope of a claimed message row (see followup.store.sending.claim)."""

    from_email: str
    from_name: str | None = None

    def __call__(self, row: dict) -> Envelope:
        custom_args = {key: "" if row.get(key) is None else str(row[key]) for key in CUSTOM_ARG_KEYS}
        call_sheet = _json(row.get("call_sheet")) if row["channel"] == "voicemail" else None
        if row["channel"] == "voicemail" and not call_sheet:
            raise ValueError("a voicemail message has no call-sheet row; render it again")
        attachments = tuple(
            (item["filename"], item["content_type"], base64.b64decode(item["content_b64"]))
            for item in _json(row.get("attachments")) or ()
        )
        full_name = " ".join(part for part in (row.get("first_name"), row.get("last_name")) if part)
        return Envelope(
            message_key=row["message_key"],
            to_email=row["email"],
            to_name=full_name or None,
            from_email=self.from_email,
            from_name=self.from_name,
            reply_to=row.get("recruiter_email"),
            subject=row.get("subject") or "",
            text=row.get("text_body") or "",
            html=row.get("html_body"),
            custom_args=custom_args,
            categories=(PRODUCT_CATEGORY, str(row["kind"])),
            headers=dict(_json(row.get("headers")) or {}),
            attachments=attachments,
            call_sheet=call_sheet,
        )
