"""Per-message reply addresses and Message-IDs, and reading them back from a reply.

With FOLLOWUP_REPLY_DOMAIN set, each email's Reply-To is `reply-<id>-<signature>@<domain>`,
where <id> is the message's ledger row id in hex and <signature> an HMAC of it with the secret
that signs unsubscribe links (FOLLOWUP_SECRET_KEY, S1). Inbound Parse receives what is sent
there, and the address names the message the candidate answered. The same token is the local
part of the Message-ID we set, so a reply's In-Reply-To or References lead back to the message
even when the candidate's client replies to another address.

Why not the message key, as unsubscribe links carry it: a key is 64 hex digits, and a local part
holds at most 64 characters (RFC 5321). Why lower-case base32: mail systems may change the case
of a local part, and base32 survives that. The signature is 80 bits: forging an address is
guessing one of 2**80, online, through Inbound Parse.
"""

from __future__ import annotations

import base64
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import SecretStr

# Signed with the purpose in front, so no signature the same secret makes for anything else (an
# unsubscribe link) ever passes as a reply address, and the reverse.
_PURPOSE = b"followup-reply\x1f"
_SIGNATURE_CHARS = 16  # base32 of 10 bytes
_TOKEN = re.compile(r"reply-([0-9a-f]{1,16})-([a-z2-7]{%d})" % _SIGNATURE_CHARS)


@dataclass(frozen=True)
class ReplyAddresses:
    """Makes and checks the reply addresses at `domain` (FOLLOWUP_REPLY_DOMAIN)."""

    domain: str
    secret: SecretStr

    def token(self, message_id: int) -> str:
        return f"reply-{message_id:x}-{self._signature(f'{message_id:x}')}"

    def address(self, message_id: int) -> str:
        """The Reply-To of message row `message_id`."""
        return f"{self.token(message_id)}@{self.domain}"

    def message_id_header(self, message_id: int) -> str:
        """The Message-ID of message row `message_id`: the same token, in angle brackets."""
        return f"<{self.address(message_id)}>"

    def find(self, values: Iterable[str | None]) -> int | None:
        """The message row id of the first genuine token at our domain in `values` (address
        headers, the envelope, In-Reply-To, References); None when none is there or every one is
        forged or mangled."""
        at_domain = "@" + self.domain
        for value in values:
            text = (value or "").lower()
            for match in _TOKEN.finditer(text):
                hex_id, signature = match.groups()
                if text.startswith(at_domain, match.end()) and hmac.compare_digest(signature, self._signature(hex_id)):
                    return int(hex_id, 16)
        return None

    def _signature(self, hex_id: str) -> str:
        digest = hmac.digest(self.secret.get_secret_value().encode("utf-8"), _PURPOSE + hex_id.encode("ascii"), "sha256")
        return base64.b32encode(digest[:10]).decode("ascii").lower()
