"""An Envelope as an RFC 5322 message, for the backends that hand over whole emails (SMTP, files)."""

from __future__ import annotations

import hashlib
import json
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate

from followup.transports.base import Envelope

# What build_email_message raises for an address or header that cannot be encoded.
BUILD_ERRORS = (ValueError, TypeError, MessageError)


def message_id_for(envelope: Envelope) -> str:
    """A Message-ID derived from the message_key: the same email sent again keeps its id, so
    receivers can drop the duplicate, and a reply's In-Reply-To leads back to the ledger row.
    Hashed because message_key is ours, not the recipient's business."""
    digest = hashlib.sha256(envelope.message_key.encode("utf-8")).hexdigest()[:32]
    domain = envelope.from_email.rpartition("@")[2] or "localhost"
    return f"<{digest}@{domain}>"


def build_email_message(envelope: Envelope, smtpapi: bool = True) -> EmailMessage:
    """text (+ html alternative) (+ attachments), the envelope's headers, and a stable Message-ID.

    With `smtpapi`, custom_args and categories travel in an X-SMTPAPI header, the way SendGrid's
    SMTP relay reads them (it strips the header before delivery, and events carry them back).
    Raises one of BUILD_ERRORS for an address or header the email package cannot encode.
    """
    message = EmailMessage()
    message["Subject"] = envelope.subject
    message["From"] = _address(envelope.from_email, envelope.from_name)
    message["To"] = _address(envelope.to_email, envelope.to_name)
    if envelope.reply_to:
        message["Reply-To"] = _address(envelope.reply_to, envelope.reply_to_name)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = envelope.message_id or message_id_for(envelope)
    for name, value in envelope.headers.items():
        message[name] = value
    if smtpapi:
        message["X-SMTPAPI"] = json.dumps({"unique_args": envelope.custom_args, "category": list(envelope.categories)})
    message.set_content(envelope.text)
    if envelope.html is not None:
        message.add_alternative(envelope.html, subtype="html")
    for filename, content_type, content in envelope.attachments:
        maintype, _, subtype = content_type.partition("/")
        message.add_attachment(content, maintype=maintype, subtype=subtype or "octet-stream", filename=filename)
    return message


def _address(email: str, name: str | None) -> Address:
    return Address(display_name=name or "", addr_spec=email)
