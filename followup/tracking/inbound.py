"""An Inbound Parse POST as one reply: who wrote, to which address, in answer to which Message-ID,
and what it says.

SendGrid posts multipart/form-data (../shared/sendgrid/README.md). In its default mode the fields
are from, to, cc, subject, text, html, headers (the raw header block), envelope (JSON), charsets
(JSON: each field's character set) and attachmentN files; in "raw" mode the whole MIME message
comes as the field `email` instead. Both become the same InboundReply.

The form is parsed with python-multipart directly, not Starlette's request.form(): Starlette
decodes every field as UTF-8 (Latin-1 when that fails), while Inbound Parse sends each field in
the character set the sender used and names it in `charsets`; only the raw bytes can be decoded
right.
"""

from __future__ import annotations

import email.policy
import hashlib
import io
import json
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser, HeaderParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from datetime import datetime, timezone

import python_multipart

# Attachments are counted, never kept: an offer's answer is in its words, and a file from a
# stranger is nothing the ledger should hold. The recruiter's forward says how many there were.
_KEPT_FIELDS = frozenset({"from", "to", "cc", "subject", "text", "html", "headers", "envelope", "charsets", "email"})
MAX_FIELDS = 200


class NotInbound(ValueError):
    """The body is not an Inbound Parse post (the message says what is wrong)."""


@dataclass(frozen=True)
class InboundReply:
    sender: str  # the address in From, lower case
    sender_name: str | None
    recipients: tuple[str, ...]  # every address it was sent to: To, Cc and the SMTP envelope
    subject: str
    text: str
    html: str | None
    headers: dict[str, str]  # names in lower case
    message_id: str | None  # its own Message-ID, as written
    thread: tuple[str, ...]  # In-Reply-To, then References
    written_at: datetime | None  # its Date header, UTC
    attachments: int

    @property
    def dedupe_key(self) -> str:
        """Inbound Parse posts a reply again after a 5xx: the same Message-ID is the same reply.
        Without one (rare: every mail system sets it), the sender, date and text stand in."""
        basis = self.message_id or "\x1f".join((self.sender, self.headers.get("date", ""), self.subject, self.text))
        return hashlib.sha256(basis.strip().encode("utf-8")).hexdigest()


def parse_form(body: bytes, content_type: str) -> InboundReply:
    """The reply an Inbound Parse body holds; NotInbound for anything else."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise NotInbound("Inbound Parse posts multipart/form-data")
    fields: dict[str, bytes] = {}
    files = seen = 0

    def on_field(field) -> None:
        nonlocal seen
        name = (field.field_name or b"").decode("latin-1")
        seen += 1
        if seen > MAX_FIELDS:
            raise NotInbound(f"more than {MAX_FIELDS} fields")
        if name in _KEPT_FIELDS:
            fields[name] = field.value or b""

    def on_file(file) -> None:
        nonlocal files
        files += 1
        file.close()

    try:
        python_multipart.parse_form({"Content-Type": content_type.encode("latin-1")}, io.BytesIO(body),
                                    on_field, on_file)  # fmt: skip
    except NotInbound:
        raise
    except Exception as exc:  # the parser raises its own FormParserError family and ValueError
        raise NotInbound(f"not a readable multipart form: {exc}") from None
    if "email" in fields:
        return _from_mime(fields["email"], files)
    if "headers" not in fields or "from" not in fields:
        raise NotInbound("an Inbound Parse post has the fields from and headers")
    return _from_fields(fields, files)


def _from_fields(fields: dict[str, bytes], files: int) -> InboundReply:
    try:
        charsets = json.loads(fields.get("charsets") or b"{}")
    except ValueError:
        charsets = {}
    charsets = charsets if isinstance(charsets, dict) else {}

    def text(name: str) -> str:
        raw = fields.get(name, b"")
        try:
            return raw.decode(str(charsets.get(name) or "utf-8"), errors="replace")
        except LookupError:  # a character set Python does not know
            return raw.decode("utf-8", errors="replace")

    headers = HeaderParser(policy=email.policy.default).parsestr(text("headers"))
    envelope_to: list[str] = []
    try:
        envelope = json.loads(fields.get("envelope") or b"{}")
        if isinstance(envelope, dict) and isinstance(envelope.get("to"), list):
            envelope_to = [str(a) for a in envelope["to"]]
    except ValueError:
        pass
    html = text("html") if "html" in fields else None
    return _reply(headers, text("from"), [text("to"), text("cc"), *envelope_to], text("subject"),
                  text("text"), html, files)  # fmt: skip


def _from_mime(raw: bytes, files: int) -> InboundReply:
    message = BytesParser(policy=email.policy.default).parsebytes(raw)
    if not isinstance(message, EmailMessage):
        raise NotInbound("the email field holds no message")
    plain = message.get_body(preferencelist=("plain",))
    rich = message.get_body(preferencelist=("html",))
    attachments = sum(1 for _ in message.iter_attachments())
    return _reply(message, str(message.get("from", "")), [str(message.get("to", "")), str(message.get("cc", ""))],
                  str(message.get("subject", "")), plain.get_content() if plain else "",
                  rich.get_content() if rich else None, files + attachments)  # fmt: skip


def _reply(headers, sender_field: str, recipient_fields: list[str], subject: str, text: str, html: str | None,
           files: int) -> InboundReply:  # fmt: skip
    name, address = parseaddr(str(headers.get("from") or sender_field))
    recipients = tuple(a.lower() for _, a in getaddresses(recipient_fields + [str(headers.get("to", ""))]) if a)
    thread = tuple(str(headers.get(h, "")) for h in ("in-reply-to", "references") if headers.get(h))
    return InboundReply(
        sender=address.strip().lower(),
        sender_name=name or None,
        recipients=recipients,
        subject=subject or str(headers.get("subject", "")),
        text=text,
        html=html if html and html.strip() else None,
        headers={k.lower(): str(v) for k, v in headers.items()},
        message_id=str(headers.get("message-id", "")).strip() or None,
        thread=thread,
        written_at=_date(headers.get("date")),
        attachments=files,
    )


def _date(value) -> datetime | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # RFC 5322's -0000: the zone is unknown; UTC is the usual reading
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)
