"""The Signed Event Webhook check: SendGrid signs each POST with ECDSA P-256 over SHA-256 of the
timestamp header followed by the raw body, and puts the base64 DER signature in a header.

The signature itself is checked by the `sendgrid` package's EventWebhook helper. What it leaves
to its caller is here: a missing header, a malformed signature (the helper raises on bad base64
instead of answering False), and a stale timestamp, judged by the real clock whatever business
clock a simulated round runs on (DESIGN.md, "Two clocks").
"""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec
from sendgrid.helpers.eventwebhook import EventWebhook
from sendgrid.helpers.eventwebhook.eventwebhook_header import EventWebhookHeader

SIGNATURE_HEADER = EventWebhookHeader.SIGNATURE
TIMESTAMP_HEADER = EventWebhookHeader.TIMESTAMP
# SendGrid's own guidance and the rule: a signed POST older than this is a replay.
MAX_AGE_SECONDS = 600


class BadPublicKey(ValueError):
    """SENDGRID_WEBHOOK_PUBLIC_KEY is not a base64 P-256 public key as SendGrid shows it."""


@dataclass(frozen=True)
class Refusal:
    status: int  # 403: not signed by SendGrid, or too old; 400: a signature that is not one
    reason: str


def load_public_key(text: str) -> ec.EllipticCurvePublicKey:
    """The key as SendGrid's settings page shows it (base64 DER, no PEM lines); PEM is accepted too."""
    body = "".join(line for line in text.strip().splitlines() if not line.startswith("-----"))
    try:
        key = EventWebhook().convert_public_key_to_ecdsa(body)
    except (ValueError, TypeError) as exc:
        raise BadPublicKey(f"not a public key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise BadPublicKey("not an ECDSA P-256 public key, which SendGrid's signed webhook uses")
    return key


def check_signature(
    key: ec.EllipticCurvePublicKey,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    real_now: float | None = None,
) -> Refusal | None:
    """None when `body` was signed with `key`'s private half at `timestamp` no more than
    MAX_AGE_SECONDS ago (or ahead: a clock far ahead is no better); the refusal otherwise."""
    if not signature or not timestamp:
        return Refusal(403, "missing signature headers")
    try:
        stamped = int(timestamp)
    except ValueError:
        return Refusal(400, "malformed timestamp")
    try:
        # validate=True: b64decode would otherwise drop stray characters and check what is left.
        base64.b64decode(signature, validate=True)
        text = body.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return Refusal(400, "malformed signature or body")
    if not EventWebhook().verify_signature(text, signature, timestamp, key):
        return Refusal(403, "signature does not match")
    # Checked after the signature: the timestamp is only worth reading once it is SendGrid's.
    if abs((time.time() if real_now is None else real_now) - stamped) > MAX_AGE_SECONDS:
        return Refusal(403, "timestamp more than 10 minutes from now")
    return None
