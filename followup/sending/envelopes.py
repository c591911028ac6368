"""The envelope of a claimed message: what a transport delivers, built from the ledger row."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from followup.channels import CHANNELS
from followup.tracking.reply_address import ReplyAddresses
from followup.transports.base import Envelope

# Categories group messages in SendGrid's statistics; ids and kinds only, never personal data.
PRODUCT_CATEGORY = "candidate-followup"
CUSTOM_ARG_KEYS = ("message_key", "campaign", "candidate_id", "kind", "step", "channel", "variant")


def _json(value: Any) -> Any:
    # JSON columns come back decoded from PostgreSQL and as text from SQLite's raw rows.
    return json.loads(value) if isinstance(value, str) else value


@dataclass(frozen=True)
class EnvelopeBuilder:
    """Builds the envelope of a claimed message row (see followup.store.sending.claim)."""

    from_email: str
    from_name: str | None = None
    track_engagement: bool = True  # FOLLOWUP_TRACK_ENGAGEMENT
    # FOLLOWUP_REPLY_DOMAIN's addresses: each email's Reply-To and Message-ID name its row, so
    # Inbound Parse can match the reply; None: replies go to the recruiter, untracked.
    replies: ReplyAddresses | None = None

    def __call__(self, row: dict) -> Envelope:
        custom_args = {key: "" if row.get(key) is None else str(row[key]) for key in CUSTOM_ARG_KEYS}
        channel = row["channel"]
        on_sheet = CHANNELS[channel].delivery == "call_sheet"
        call_sheet = _json(row.get("call_sheet")) if on_sheet else None
        if on_sheet and not call_sheet:
            raise ValueError(f"a {channel} message has no call-sheet row; render it again")
        attachments = tuple(
            (item["filename"], item["content_type"], base64.b64decode(item["content_b64"]))
            for item in _json(row.get("attachments")) or ()
        )
        full_name = " ".join(part for part in (row.get("first_name"), row.get("last_name")) if part)
        reply_to, message_id = row.get("recruiter_email"), None
        if self.replies is not None and CHANNELS[channel].by_mail:
            reply_to, message_id = self.replies.address(row["id"]), self.replies.message_id_header(row["id"])
        return Envelope(
            message_key=row["message_key"],
            channel=channel,
            to_email=row["email"],
            to_name=full_name or None,
            from_email=self.from_email,
            from_name=self.from_name,
            reply_to=reply_to,
            # The recruiter's name on the reply address too: the candidate sees whom they answer.
            reply_to_name=row.get("recruiter_name") or (self.from_name if message_id else None),
            subject=row.get("subject") or "",
            text=row.get("text_body") or "",
            html=row.get("html_body"),
            custom_args=custom_args,
            categories=(PRODUCT_CATEGORY, str(row["kind"])),
            headers=dict(_json(row.get("headers")) or {}),
            attachments=attachments,
            call_sheet=call_sheet,
            track_engagement=self.track_engagement and CHANNELS[channel].by_mail,
            message_id=message_id,
        )
