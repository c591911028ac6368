"""Replies: one that Inbound Parse posted, matched to the message it answers, read, and stored
with its response (receive_reply, what `followup serve` does before its 2xx); and their forwards
to the recruiters, sent by the sweep through the configured transport (forward_replies).

Matching order (the first that finds a message decides):
1. "address": a signed reply address of ours among To, Cc and the SMTP envelope;
2. "thread": our Message-ID in In-Reply-To or References (a client that answered another
   address, e.g. the From);
3. "sender": the last mail sent to the sender's address.
Each works alone: SendGrid's documentation does not promise that a Message-ID a message sets
survives, and a reply from another address of the candidate's still carries our token.
A reply that matches nothing is stored all the same, unmatched, and forwarded to FROM_EMAIL.
"""

from __future__ import annotations

import hashlib
import html as html_lib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import SecretStr

from followup.config import Settings
from followup.logs import mask_email
from followup.models import ForwardStatus, Outcome, utcnow
from followup.secret_key import signing_secret
from followup.sending.envelopes import PRODUCT_CATEGORY
from followup.sending.setup import SendSetup, email_transport, sender_address
from followup.store import open_ledger
from followup.store import replies as store
from followup.store.owners import Owner
from followup.tracking.inbound import InboundReply
from followup.tracking.intent import read_reply
from followup.tracking.reply_address import ReplyAddresses
from followup.transports.base import Envelope, SendOutcome, Transport

log = logging.getLogger(__name__)

# A forward the provider did not take waits and goes again, up to this many times (real clock).
FORWARD_ATTEMPTS = 8
_RETRY_FIRST, _RETRY_MOST = timedelta(minutes=1), timedelta(hours=1)


@dataclass(frozen=True)
class InboundSetup:
    """What receiving replies needs: the token the Inbound Parse URL carries, the reply addresses
    (None without FOLLOWUP_REPLY_DOMAIN: only the sender route matches), and where replies go
    that name no recruiter (FOLLOWUP_FROM_EMAIL)."""

    token: SecretStr | None
    addresses: ReplyAddresses | None
    fallback_forward_to: str | None
    # Where a post that is no Inbound Parse form is kept (keep_unreadable); None: only logged.
    unreadable_dir: Path | None = None

    @classmethod
    def of(cls, settings: Settings) -> InboundSetup:
        secret = signing_secret(settings) if settings.reply_domain else None
        addresses = ReplyAddresses(settings.reply_domain, secret) if settings.reply_domain and secret else None
        return cls(settings.inbound_token, addresses, settings.from_email, settings.quarantine_dir / "inbound")


@dataclass(frozen=True)
class Received:
    stored: bool  # False: this reply was stored before (Inbound Parse posted it again)
    outcome: str
    matched_by: str | None


def match(engine, setup: InboundSetup, reply: InboundReply) -> tuple[store.Answered | None, str | None]:
    """The message the reply answers and the route that found it (module docstring)."""
    if setup.addresses is not None:
        for route, values in (("address", reply.recipients), ("thread", reply.thread)):
            message_id = setup.addresses.find(values)
            if message_id is not None:
                answered = store.message_by_id(engine, message_id)
                if answered is not None:
                    return answered, route
    if reply.sender:
        answered = store.latest_mail_to(engine, reply.sender)
        if answered is not None:
            return answered, "sender"
    return None, None


def keep_unreadable(directory: Path, body: bytes, content_type: str, problem: str, received_at: datetime) -> Path:
    """A post refused as no Inbound Parse form, kept whole for a person to read: SendGrid does not
    post again after a 4xx, so this file is all that is left of what may be a candidate's answer.
    The body with its Content-Type is a MIME entity: a mail client or Python's email package opens
    it as it came."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{received_at:%Y%m%dT%H%M%S%fZ}-{hashlib.sha256(body).hexdigest()[:12]}.eml"
    headers = (f"Content-Type: {content_type or 'application/octet-stream'}\r\n"
               f"X-Followup-Refused: {' '.join(problem.split())}\r\n"
               f"X-Followup-Received-At: {received_at.isoformat()}\r\n\r\n")  # fmt: skip
    path.write_bytes(headers.encode("utf-8", "replace") + body)
    return path


def receive_reply(engine, setup: InboundSetup, reply: InboundReply, received_at: datetime) -> Received:
    """Match, read and store one reply (with its response, and for an opt-out the suppression)
    in one transaction. `received_at`: when it arrived (real clock), for a reply with no Date."""
    answered, route = match(engine, setup, reply)
    # The business time of the answer is the candidate's own Date, as an event's is its timestamp;
    # never before the message it answers, or a wrong clock on their side would hide the answer
    # from the stop rules (only answers since the cadence began stop it).
    at = reply.written_at or received_at
    if answered is not None and answered.sent_at is not None:
        at = max(at, answered.sent_at)
    reading = read_reply(text=reply.text, html=reply.html, subject=reply.subject, headers=reply.headers,
                         sender=reply.sender, received_at=at)  # fmt: skip
    returns = reading.returns_on if reading.returns_on and reading.returns_on > at.date() else None
    # The planner takes the first ISO date of an out-of-office note as the return date.
    note = "; ".join(([f"returns {returns.isoformat()}"] if returns else []) + list(reading.reasons))
    forward_to = _forward_address(setup, answered)
    suppress = []
    if reading.outcome == Outcome.OPT_OUT.value:
        suppress = [reply.sender] + ([answered.email] if answered else [])
    row = store.NewReply(
        dedupe_key=reply.dedupe_key, message_id_header=(reply.message_id or "")[:998] or None, answered=answered,
        matched_by=route, from_email=reply.sender[:320], from_name=(reply.sender_name or "")[:200] or None,
        to_email=(reply.recipients[0] if reply.recipients else None), subject=reply.subject, text_body=reply.text,
        html_body=reply.html, headers=reply.headers, attachments=reply.attachments, outcome=reading.outcome,
        reasons=list(reading.reasons), language=reading.language, note=note, received_at=at, forward_to=forward_to,
    )  # fmt: skip
    response_key = hashlib.sha256(f"inbound\x1f{reply.dedupe_key}".encode("ascii")).hexdigest()
    reply_id = store.store_reply(engine, row, response_key, [a for a in suppress if a])
    if reply_id is None:
        log.info("a reply from %s was stored before; not stored again", mask_email(reply.sender))
    else:
        log.info("reply %d from %s: %s (matched by %s)", reply_id, mask_email(reply.sender), reading.outcome,
                 route or "nothing: kept unmatched")  # fmt: skip
    return Received(reply_id is not None, reading.outcome, route)


def _forward_address(setup: InboundSetup, answered: store.Answered | None) -> str | None:
    """The recruiter's address; else the sender's, whose inbox replies reached before. Never an
    address at the reply domain: Inbound Parse would receive the forward, and forward it again."""
    for address in ((answered.recruiter_email if answered else None), setup.fallback_forward_to):
        domain = setup.addresses.domain if setup.addresses else None
        if address and not (domain and address.lower().endswith("@" + domain)):
            return address
    return None


def forward_replies(setup: SendSetup, email: Transport | None = None) -> dict[str, int]:
    """Send each reply's forward that is due, once: claimed, sent, settled like a message. A
    forward a dead sweep left in flight becomes unknown, never resent blindly. `email`: a
    transport already made (the demo's, tests'); else the setup's. Returns counts by outcome."""
    engine = open_ledger(setup.ledger_url)
    counts = {"forwarded": 0, "retry_wait": 0, "failed": 0, "unknown": store.unknown_dead_forwards(engine)}
    owner = Owner.current()
    # The sender and the transport before any claim: a refusal then leaves every forward pending,
    # where one after a claim would leave them in `sending`, unknown to the next sweep.
    from_email, from_name = sender_address(setup)
    transport = email or email_transport(setup.email)  # no connection until the first send
    # A few at once, each claimed just before it goes: one at a time, a sweep with a round's
    # replies to forward would wait a round trip to SendGrid for each. The threads start on the
    # first forward; the answers are settled here, one by one.
    try:
        with ThreadPoolExecutor(_FORWARDS_AT_ONCE, thread_name_prefix="followup-forward") as pool:
            while batch := store.claim_forwards(engine, owner, limit=_FORWARDS_AT_ONCE):
                outcomes = pool.map(transport.send, [forward_envelope(f, from_email, from_name) for f in batch])
                for forward, outcome in zip(batch, outcomes):
                    counts[_settle(engine, owner, forward, outcome)] += 1
    finally:
        if email is None:
            transport.close()
    return counts


_FORWARDS_AT_ONCE = 8


def _settle(engine, owner: Owner, forward: store.Forward, outcome: SendOutcome) -> str:
    if outcome.status == "sent":
        store.settle_forward(engine, forward.id, owner, ForwardStatus.SENT, provider_id=outcome.provider_message_id)
        return "forwarded"
    if outcome.status == "retry" and forward.attempts < FORWARD_ATTEMPTS:
        wait = min(_RETRY_MOST, _RETRY_FIRST * 2 ** (forward.attempts - 1))
        if outcome.retry_after:
            wait = max(wait, timedelta(seconds=outcome.retry_after))
        store.settle_forward(engine, forward.id, owner, ForwardStatus.RETRY_WAIT, error=outcome.error,
                             retry_at=utcnow() + wait)  # fmt: skip
        return "retry_wait"
    status = ForwardStatus.UNKNOWN if outcome.status == "unknown" else ForwardStatus.FAILED
    store.settle_forward(engine, forward.id, owner, status, error=outcome.error)
    log.warning("the forward of reply %d to %s %s: %s", forward.id, mask_email(forward.forward_to),
                "may not have arrived" if status is ForwardStatus.UNKNOWN else "failed", outcome.error)  # fmt: skip
    return status.value


def forward_envelope(forward: store.Forward, from_email: str, from_name: str | None) -> Envelope:
    """The reply as the recruiter gets it: from us (the authenticated sender), Reply-To the
    candidate, so answering it answers them; what it was read as, on top."""
    who = forward.from_name or forward.from_email
    answered = f' to "{forward.answered_subject}"' if forward.answered_subject else ""
    candidate = f" (candidate {forward.candidate_id})" if forward.candidate_id else " (it matched no candidate)"
    lines = [f"{who} <{forward.from_email}> replied{answered}{candidate}.",
             f"Read as: {forward.outcome} ({'; '.join(forward.reasons or []) or 'no reasons'})."]  # fmt: skip
    if forward.attachments:
        lines.append(f"{forward.attachments} attachment(s) were not forwarded: ask the candidate for them.")
    preamble = "\n".join(lines)
    html = None
    if forward.html_body:
        html = "".join(f"<p>{html_lib.escape(line)}</p>" for line in lines) + "<hr>" + forward.html_body
    return Envelope(
        message_key=f"reply-forward-{forward.id}",
        to_email=forward.forward_to,
        to_name=None,
        from_email=from_email,
        from_name=f"{who} via {from_name}" if from_name else who,
        reply_to=forward.from_email,
        reply_to_name=forward.from_name,
        subject=forward.subject or "(no subject)",
        text=f"{preamble}\n\n{'-' * 60}\n{forward.text_body or ''}",
        html=html,
        # The custom_args contract's keys, ids only: events for a forward join no message.
        custom_args={"message_key": f"reply-forward-{forward.id}", "campaign": "", "kind": "reply_forward",
                     "candidate_id": forward.candidate_id or "", "step": "", "channel": "email", "variant": ""},
        categories=(PRODUCT_CATEGORY, "reply_forward"),
        track_engagement=False,  # the recruiter's reading is nobody's metric
    )
