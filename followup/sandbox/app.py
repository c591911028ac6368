"""What the sandbox answers: SendGrid's POST /v3/mail/send, and pages to look at what it accepted.

Pure request -> response logic, independent of the HTTP server that carries it, so every rule
(auth, rate-limit bursts, injected errors, size, schema, limits, sandbox mode) is in one place.
Everything it keeps lives in memory, for the life of the process.
"""

from __future__ import annotations

import base64
import heapq
import html
import itertools
import json
import logging
import math
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from followup.sandbox import behaviour
from followup.sandbox.behaviour import replies
from followup.sandbox.events import EventPoster, Signer, event_id
from followup.sandbox.inbound import Form, ReplyPoster, form
from followup.sandbox.validation import limit_problems, load_validator, problem, schema_problems

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 30 * 1024 * 1024  # SendGrid: the whole request must stay under 30 MB
OUTBOX_PAGE_SIZE = 500  # the HTML outbox shows the newest messages; /sandbox/messages has them all

_JSON = ("Content-Type", "application/json")


@dataclass(frozen=True)
class SandboxConfig:
    api_key: str = "SG.sandbox"  # the Bearer key it accepts
    latency_ms: float = 0.0  # added to every /v3/mail/send answer
    error_rate: float = 0.0  # share of requests answered 500 or 503 (seeded)
    burst_429_every: int = 0  # every Nth request starts a burst of 429s ...
    burst_429_length: int = 0  # ... this many requests long
    validate_share: float = 1.0  # share of bodies validated against the schema (limits are always checked)
    seed: int = 0
    webhook_url: str | None = None  # FOLLOWUP_SANDBOX_WEBHOOK_URL: where signed events are posted
    event_interval_s: float = 2.0  # a POST of what happened every so often, as SendGrid batches them
    duplicate_rate: float = 0.0  # share of events posted a second time (SendGrid: about 3 times each)
    # Recipients act (sandbox.behaviour): opens, clicks, bounces, unsubscribes, as the clock advances,
    # and reply, when inbound_url is set.
    behaviour: bool = False
    inbound_url: str | None = None  # FOLLOWUP_SANDBOX_INBOUND_URL: where replies are posted as Inbound Parse


@dataclass(slots=True)
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    delay: float = 0.0  # seconds to hold the answer back, without blocking anyone else


def _errors(status: int, *problems: dict, headers: list[tuple[str, str]] | None = None) -> Response:
    """SendGrid's error shape: {"errors": [{"message", "field", "help"}]}."""
    body = json.dumps({"errors": list(problems)}).encode()
    return Response(status, [_JSON, *(headers or [])], body)


def new_message_id() -> str:
    """22 characters of URL-safe base64 over 16 random bytes, the shape of SendGrid's X-Message-Id."""
    return base64.urlsafe_b64encode(os.urandom(16))[:22].decode()

# What a caller that knows more than the request body says about a message (its ledger: the
# candidate's time zone, when the decision was made): (message_key, body) -> Features fields plus
# "time_zone" and "decided_at", or None. See behaviour.replies.features_from.
FeaturesHook = Callable[[str, dict], "dict | None"]


class SandboxApp:
    def __init__(self, config: SandboxConfig, features: FeaturesHook | None = None) -> None:
        self.config = config
        self.features = features
        self._rng = random.Random(config.seed)
        self._delay = config.latency_ms / 1000.0
        self._bearer = f"Bearer {config.api_key}"
        self._sends = 0
        # (x_message_id, unix time received, raw JSON body, its custom_args.message_key or None)
        self._accepted: list[tuple[str, float, bytes, str | None]] = []
        self._answers: Counter[int] = Counter()
        self.connections = 0  # TCP connections accepted: shows whether clients reuse them
        self.signer = Signer(config.seed)
        # What recipients will do, by business time: (unix time, order, event), acted out as the
        # clock passes it. The poster's thread takes from it; /v3/mail/send adds to it.
        self._due: list[tuple[float, int, dict]] = []
        self._due_lock = threading.Lock()
        self._order = itertools.count()
        # The business clock it was told (set_clock, POST /sandbox/clock); None: the real one.
        self.business_now: datetime | None = None
        # Replies due by business time, as _due: (unix time, order, (message_key, email, index, reply, ...)).
        self._replies_due: list[tuple[float, int, tuple]] = []
        # Last: each poster's thread starts at once and reads the state above through its source.
        self.poster = (
            EventPoster(config.webhook_url, self.signer, config.event_interval_s, config.duplicate_rate, config.seed,
                        source=self._take_due if config.behaviour else None)  # fmt: skip
            if config.webhook_url
            else None
        )
        self.replier = (
            ReplyPoster(config.inbound_url, config.event_interval_s, source=self._take_replies)
            if config.inbound_url and config.behaviour
            else None
        )
        if config.validate_share > 0:
            load_validator()

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes | None) -> Response:
        """`headers` have lower-case names; `body` is None when it was over MAX_BODY_BYTES and discarded."""
        path = target.split("?", 1)[0]
        route = _ROUTES.get(path)
        if route is None:
            return _errors(404, problem(f"{path} is not an endpoint of this sandbox."))
        allowed, handler = route
        if method != allowed:
            return _errors(405, problem(f"{path} accepts {allowed} only."), headers=[("Allow", allowed)])
        return handler(self, headers, body)

    def mail_send(self, headers: dict[str, str], body: bytes | None) -> Response:
        response = self._mail_send(headers, body)
        response.delay = self._delay
        self._answers[response.status] += 1
        return response

    def _mail_send(self, headers: dict[str, str], body: bytes | None) -> Response:
        authorization = headers.get("authorization")
        if authorization is None:
            return _errors(401, problem("authorization required"))
        if authorization != self._bearer:
            return _errors(401, problem("The provided authorization grant is invalid, expired, or revoked"))

        self._sends += 1
        every, length = self.config.burst_429_every, self.config.burst_429_length
        if every > 0 and length > 0 and self._sends >= every and self._sends % every < length:
            now = time.time()
            return _errors(
                429,
                problem("too many requests"),
                headers=[
                    ("X-RateLimit-Limit", str(every)),
                    ("X-RateLimit-Remaining", "0"),
                    # A real unix time one to two seconds ahead, as SendGrid's window reset would be.
                    ("X-RateLimit-Reset", str(math.ceil(now) + 1)),
                ],
            )
        if self.config.error_rate > 0 and self._rng.random() < self.config.error_rate:
            status = self._rng.choice((500, 503))
            return _errors(status, problem("internal server error" if status == 500 else "service unavailable"))

        if body is None:
            return _errors(413, problem("The JSON payload you have included in your request is too large."))
        try:
            message = json.loads(body)
        except ValueError:
            return _errors(400, problem("Bad Request: the body is not valid JSON."))
        if not isinstance(message, dict):
            return _errors(400, problem("Bad Request: the body must be a JSON object."))

        problems = limit_problems(message)
        share = self.config.validate_share
        if share >= 1.0 or (share > 0 and self._rng.random() < share):
            problems += schema_problems(message)
        if problems:
            return _errors(400, *problems)

        settings = message.get("mail_settings")
        sandbox_mode = settings.get("sandbox_mode") if isinstance(settings, dict) else None
        if isinstance(sandbox_mode, dict) and sandbox_mode.get("enable") is True:
            return Response(200)  # SendGrid checks the body, answers 200 and delivers nothing

        message_id = new_message_id()
        custom_args = message.get("custom_args")
        message_key = custom_args.get("message_key") if isinstance(custom_args, dict) else None
        self._accepted.append((message_id, time.time(), body, message_key))
        if self.poster is not None or self.replier is not None:
            events = self._delivery_events(message, message_id)
            if self.poster is not None:
                self.poster.add(events)
        return Response(202, [("X-Message-Id", message_id)])

    def set_clock(self, now: datetime) -> None:
        """Stamp what happens from now on with this business time (aware), and act out what the
        recipients do up to it (posted with the next batch)."""
        self.business_now = now.astimezone(timezone.utc)

    def _due_by_now(self, due: list[tuple[float, int, Any]]) -> int:
        """What recipients have done by the clock's time and a poster has not yet taken."""
        now = self._now()
        with self._due_lock:
            return sum(1 for at, _, _ in due if at <= now)

    def _take_due(self) -> list[dict]:
        now = self._now()
        taken = []
        with self._due_lock:
            while self._due and self._due[0][0] <= now:
                taken.append(heapq.heappop(self._due)[2])
        return taken

    def _take_replies(self) -> list[Form]:
        now = self._now()
        with self._due_lock:
            taken = []
            while self._replies_due and self._replies_due[0][0] <= now:
                taken.append(heapq.heappop(self._replies_due)[2])
        # Written when due rather than when sent: /v3/mail/send stays fast, and most never come due in a test.
        return [form(self.config.seed, *entry) for entry in taken]

    def _now(self) -> float:
        return self.business_now.timestamp() if self.business_now is not None else time.time()

    def _delivery_events(self, message: dict[str, Any], message_id: str) -> list[dict]:
        """processed, then delivered a few seconds later, for each recipient, shaped as SendGrid's:
        custom_args as top-level keys, sg_message_id the X-Message-Id and a suffix."""
        custom_args = message.get("custom_args") if isinstance(message.get("custom_args"), dict) else {}
        name = custom_args.get("message_key") or message_id
        personalizations = [p for p in message.get("personalizations") or [] if isinstance(p, dict)]
        recipients = [str(r.get("email", "")).lower() for p in personalizations for r in p.get("to") or []
                      if isinstance(r, dict)]  # fmt: skip
        at = self._now()
        events = []
        known = self._known(name, message) if self.config.behaviour else None
        for index, email in enumerate(recipients):
            # The same seed and message give the same delay and ids, whatever order messages came in.
            delay = random.Random(f"{self.config.seed}:{name}:{email}").randint(1, 8)
            common = {**custom_args, "email": email, "sg_message_id": f"{message_id}.sandbox.{index}.0",
                      "smtp-id": f"<{message_id}@sandbox>",
                      "category": list(message.get("categories") or [])}  # fmt: skip
            events.append({**common, "event": "processed", "timestamp": int(at),
                           "sg_event_id": event_id(self.config.seed, name, email, "processed")})  # fmt: skip
            delivered = {**common, "event": "delivered", "timestamp": int(at) + delay, "response": "250 OK",
                         "sg_event_id": event_id(self.config.seed, name, email, "delivered")}  # fmt: skip
            if self.config.behaviour:
                delivered = self._behave(common, delivered, name, email, message, known)
            events.append(delivered)
        return events

    def _known(self, name: str, message: dict) -> dict | None:
        if self.features is None:
            return None
        try:
            return self.features(name, message)
        except Exception:
            # The sandbox must still answer as SendGrid would: this message gets neutral features.
            log.exception("the features hook failed for %s", name)
            return None

    def _behave(self, common: dict, delivered: dict, name: str, email: str, message: dict,
                known: dict | None) -> dict:  # fmt: skip
        """The delivered event, or the hard bounce in its place; what the recipient does next is due later."""
        at = datetime.fromtimestamp(delivered["timestamp"], timezone.utc)
        features = replies.features_from(common, at, known)  # custom_args, then what the hook knows
        bounced, actions = behaviour.act(self.config.seed, name, email, at, features.step)
        if bounced:
            return {**delivered, "event": "bounce", "type": "bounce", "status": "5.1.1",
                    "reason": "550 5.1.1 The email account that you tried to reach does not exist"}  # fmt: skip
        answers = replies.replies(self.config.seed, name, email, at, features) if self.replier else []
        with self._due_lock:
            for index, (when, fields) in enumerate(actions if self.poster else []):
                sg_event_id = event_id(self.config.seed, name, email, fields["event"], str(index))
                event = {**common, **fields, "timestamp": int(when.timestamp()), "sg_event_id": sg_event_id}
                heapq.heappush(self._due, (when.timestamp(), next(self._order), event))
            for index, reply in enumerate(answers):
                entry = (name, email, index, reply, message, at, features.zone)
                heapq.heappush(self._replies_due, (reply.at.timestamp(), next(self._order), entry))
        return delivered

    def public_key_json(self, headers: dict[str, str], body: bytes | None) -> Response:
        # The shape of SendGrid's GET /v3/user/webhooks/event/settings/signed.
        return Response(200, [_JSON], json.dumps({"public_key": self.signer.public_key}).encode())

    def clock_json(self, headers: dict[str, str], body: bytes | None) -> Response:
        try:
            now = datetime.fromisoformat(json.loads(body or b"")["now"].replace("Z", "+00:00"))
            if now.tzinfo is None:
                raise ValueError("no UTC offset")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return _errors(400, problem(f'expected {{"now": ISO 8601 with an offset}}: {exc}', "now"))
        self.set_clock(now)
        return Response(200, [_JSON], json.dumps({"now": self.business_now.isoformat()}).encode())

    def messages_json(self, headers: dict[str, str], body: bytes | None) -> Response:
        # Stored bodies are already valid JSON: splice them in rather than parse and re-serialise.
        items = [
            b'{"x_message_id":"%s","received_at":"%s","body":%s}' % (mid.encode(), _iso(at).encode(), raw)
            for mid, at, raw, _ in self._accepted
        ]
        return Response(200, [_JSON], b"[" + b",".join(items) + b"]")

    def message_keys_json(self, headers: dict[str, str], body: bytes | None) -> Response:
        # After a load test /sandbox/messages is hundreds of megabytes; checking that every
        # message arrived exactly once needs only its key and id.
        pairs = [[mid, key] for mid, _, _, key in self._accepted]
        return Response(200, [_JSON], json.dumps(pairs).encode())

    def stats_json(self, headers: dict[str, str], body: bytes | None) -> Response:
        stats = {
            "accepted": len(self._accepted),
            "mail_send_requests": sum(self._answers.values()),
            "connections": self.connections,
            "answers": {str(status): count for status, count in sorted(self._answers.items())},
            "events_posted": self.poster.posted_events if self.poster else 0,
            # What is due first: the poster moves it to its queue under its own lock, counted next.
            "events_waiting": (self._due_by_now(self._due) + self.poster.waiting) if self.poster else 0,
            "replies_posted": self.replier.posted if self.replier else 0,
            "replies_dropped": self.replier.dropped if self.replier else 0,
            "replies_waiting": (self._due_by_now(self._replies_due) + self.replier.waiting) if self.replier else 0,
        }
        return Response(200, [_JSON], json.dumps(stats).encode())

    def outbox_html(self, headers: dict[str, str], body: bytes | None) -> Response:
        newest = self._accepted[-OUTBOX_PAGE_SIZE:][::-1]
        rows = "\n".join(_outbox_row(mid, _iso(at), json.loads(raw)) for mid, at, raw, _ in newest)
        total = len(self._accepted)
        shown = f"the newest {len(newest)} of {total}" if total > len(newest) else f"{total}"
        page = _OUTBOX_PAGE.format(shown=shown, rows=rows)
        return Response(200, [("Content-Type", "text/html; charset=utf-8")], page.encode("utf-8"))


_ROUTES = {
    "/v3/mail/send": ("POST", SandboxApp.mail_send),
    "/sandbox/messages": ("GET", SandboxApp.messages_json),
    "/sandbox/stats": ("GET", SandboxApp.stats_json),
    "/sandbox/message-keys": ("GET", SandboxApp.message_keys_json),
    "/sandbox/outbox": ("GET", SandboxApp.outbox_html),
    "/sandbox/public-key": ("GET", SandboxApp.public_key_json),
    "/sandbox/clock": ("POST", SandboxApp.clock_json),
}

_OUTBOX_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sandbox outbox</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}}
td.text{{max-width:40em;white-space:pre-wrap}}</style></head>
<body><h1>Sandbox outbox</h1><p>Accepted messages, newest first: {shown}.</p>
<table><thead><tr><th>Received (UTC)</th><th>X-Message-Id</th><th>From</th><th>To</th><th>Subject</th>
<th>Categories</th><th>custom_args</th><th>Text</th></tr></thead>
<tbody>
{rows}
</tbody></table></body></html>
"""


def _iso(unix_time: float) -> str:
    return datetime.fromtimestamp(unix_time, timezone.utc).isoformat(timespec="milliseconds")


def _outbox_row(message_id: str, received_at: str, message: dict[str, Any]) -> str:
    """One row; every value is escaped, since bodies come from whoever posts them."""
    personalizations = [p for p in message.get("personalizations") or [] if isinstance(p, dict)]
    recipients = [r for p in personalizations for r in p.get("to") or [] if isinstance(r, dict)]
    subject = next((p["subject"] for p in personalizations if "subject" in p), message.get("subject"))
    contents = [c for c in message.get("content") or [] if isinstance(c, dict)]
    text = next((c.get("value") for c in contents if c.get("type") == "text/plain"), "")
    cells = [
        received_at,
        message_id,
        _address(message.get("from")),
        ", ".join(_address(r) for r in recipients),
        subject or "",
        ", ".join(map(str, message.get("categories") or [])),
        json.dumps(message.get("custom_args") or {}, ensure_ascii=False),
    ]
    escaped = "".join(f"<td>{html.escape(str(cell))}</td>" for cell in cells)
    return f'<tr>{escaped}<td class="text">{html.escape(str(text)[:300])}</td></tr>'


def _address(value: Any) -> str:
    if not isinstance(value, dict):
        return ""
    name, email = value.get("name"), value.get("email", "")
    return f"{name} <{email}>" if name else str(email)
