"""The sandbox's Inbound Parse: candidates' replies POSTed as SendGrid's parse webhook posts them.

SendGrid's default (parsed) mode posts one multipart/form-data request per received email, with
from, to, cc, subject, text, html, headers (the raw header block), envelope and charsets (JSON),
SPF, dkim, spam_score, sender_ip and attachments (a count). It retries only on 5xx answers and
failed connections, with growing waits, and drops a reply after 3 days of failures; any other
answer ends it. So does this poster, on its own thread. A reply's Date is the business time it
happened at; the retries follow the real clock (DESIGN.md, "Two clocks").
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from email.header import Header
from email.utils import format_datetime, formataddr
from typing import Any
from urllib.parse import urlsplit

from followup.sandbox.behaviour.phrasebook import Original, write
from followup.sandbox.behaviour.replies import Reply
from followup.sandbox.events import event_id

log = logging.getLogger(__name__)

GIVE_UP_AFTER_S = 3 * 24 * 3600  # SendGrid drops a reply after 3 days of failed posts
_MAX_BACKOFF_S = 60.0

Form = list[tuple[str, str]]


def _address(value: Any) -> tuple[str, str]:
    return (str(value.get("name") or ""), str(value.get("email") or "")) if isinstance(value, dict) else ("", "")


def _header_value(message: dict, name: str) -> str | None:
    headers = message.get("headers") if isinstance(message.get("headers"), dict) else {}
    return next((str(v) for k, v in headers.items() if k.lower() == name.lower()), None)


def original_of(message: dict[str, Any], email: str, delivered_at: datetime) -> Original:
    """What a reply quotes, from the /v3/mail/send body it answers."""
    personalizations = [p for p in message.get("personalizations") or [] if isinstance(p, dict)]
    recipient = next((r for p in personalizations for r in p.get("to") or []
                      if isinstance(r, dict) and str(r.get("email", "")).lower() == email), {})  # fmt: skip
    subject = next((p["subject"] for p in personalizations if "subject" in p), message.get("subject")) or ""
    contents = [c for c in message.get("content") or [] if isinstance(c, dict)]
    text = next((c.get("value") for c in contents if c.get("type") == "text/plain"), "") or ""
    sender_name, sender_email = _address(message.get("from"))
    # The recruiter is the Reply-To, when it has a name; the From is often a company's.
    recruiter = _address(message.get("reply_to"))[0].split()
    # An address with no name signs with its local part, as people do: "ana.lima" -> "Ana Lima".
    name = recipient.get("name") or " ".join(w.capitalize() for w in email.split("@")[0].replace("_", ".").split("."))
    return Original(str(subject), str(text), sender_name or sender_email, sender_email,
                    recruiter[0] if recruiter else "", str(name), delivered_at)  # fmt: skip


def form(seed: int, message_key: str, email: str, index: int, reply: Reply, message: dict[str, Any],
         delivered_at: datetime, zone: tzinfo) -> Form:  # fmt: skip
    """The fields of one Inbound Parse POST: reply number `index` of this message to this address."""
    original = original_of(message, email, delivered_at)
    rng = random.Random(f"{seed}\x1fwords\x1f{message_key}\x1f{email}\x1f{index}")
    written = write(reply, original, rng)
    reply_to, sender = _address(message.get("reply_to")), _address(message.get("from"))
    to = reply_to[1] or sender[1]
    domain = email.rsplit("@", 1)[-1]
    headers = [("From", formataddr((original.candidate_name, email), "utf-8")), ("To", to),
               ("Subject", _encoded(written.subject)), ("Date", format_datetime(reply.at.astimezone(zone))),
               ("Message-ID", f"<{event_id(seed, message_key, email, 'reply', str(index))}@{domain}>")]  # fmt: skip
    in_reply_to = _header_value(message, "Message-ID")
    if in_reply_to:
        headers += [("In-Reply-To", in_reply_to), ("References", in_reply_to)]
    headers += [("MIME-Version", "1.0"), *written.headers]
    fields = [("headers", "".join(f"{name}: {value}\n" for name, value in headers)),
              ("dkim", f"{{@{domain} : pass}}"), ("to", to), ("from", f"{original.candidate_name} <{email}>"),
              ("cc", ""), ("subject", written.subject)]  # fmt: skip
    charsets = {"to": "UTF-8", "cc": "UTF-8", "from": "UTF-8", "subject": "UTF-8"}
    for part in ("text", "html"):
        if getattr(written, part) is not None:
            fields.append((part, getattr(written, part)))
            charsets[part] = "utf-8"
    digest = hashlib.sha256(f"{seed}:{email}".encode()).digest()
    fields += [("sender_ip", f"198.51.100.{digest[0] % 254 + 1}"),  # TEST-NET-2: documentation addresses
               ("envelope", json.dumps({"to": [to], "from": email})), ("attachments", "0"),
               ("spam_score", f"{rng.uniform(-0.5, 2.0):.3f}"), ("charsets", json.dumps(charsets)),
               ("SPF", "pass")]  # fmt: skip
    return fields


def _encoded(value: str) -> str:
    """A header value as it travels: RFC 2047 words when it is not ASCII."""
    return value if value.isascii() else Header(value, "utf-8").encode()


def where(url: str) -> str:
    """The URL without its path and query, which may carry a secret token: fit for logs."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/..."


def encode_form(fields: Form) -> tuple[bytes, str]:
    """(body, Content-Type) of multipart/form-data. Written here because no dependency encodes it,
    and the stdlib email package base64-encodes non-ASCII parts, which RFC 7578 forbids and
    form-data readers (Starlette's python-multipart among them) do not decode."""
    boundary = f"sandbox-{uuid.uuid4().hex}"
    chunks = []
    for name, value in fields:
        chunks.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        chunks.append(value.encode("utf-8") + b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


@dataclass(eq=False)  # removed from the queue by identity
class _Pending:
    fields: Form
    first_try: float | None = None  # real time of the first attempt
    next_try: float = 0.0
    backoff: float = 0.0


class ReplyPoster:
    """Posts each reply `source` says is due to `url`, one POST each, retried as Inbound Parse does."""

    def __init__(self, url: str, interval_s: float = 2.0, source: Callable[[], list[Form]] | None = None,
                 give_up_after_s: float = GIVE_UP_AFTER_S) -> None:  # fmt: skip
        self.url = url
        # Logs name the host only: the path holds the receiver's secret token (FOLLOWUP_INBOUND_TOKEN).
        self.where = where(url)
        self.interval_s = interval_s
        self.source = source  # asked every interval for the replies due by now
        self.give_up_after_s = give_up_after_s
        self._pending: list[_Pending] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self.posted = 0
        self.dropped = 0  # refused (not 5xx) or failing for longer than give_up_after_s
        self.failures = 0
        self._thread = threading.Thread(target=self._run, name="sandbox-replies", daemon=True)
        self._thread.start()

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._pending)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stopped.wait(self.interval_s):
            with self._lock:
                if self.source is not None:
                    # Taken and queued under one lock: `waiting` never misses them in between.
                    self._pending.extend(_Pending(fields) for fields in self.source())
                now = time.monotonic()
                due = [item for item in self._pending if item.next_try <= now]
            for item in due:
                if self._stopped.is_set():
                    return
                self._attempt(item)

    def _attempt(self, item: _Pending) -> None:
        now = time.monotonic()
        item.first_try = now if item.first_try is None else item.first_try
        status = self._post(item.fields)
        with self._lock:
            if status is not None and 200 <= status < 300:
                self.posted += 1
            elif status is not None and status < 500:
                self.dropped += 1
                log.warning("inbound post to %s answered %s: reply dropped, as SendGrid does", self.where, status)
            elif now - item.first_try >= self.give_up_after_s:
                self.failures += 1
                self.dropped += 1
                log.warning("inbound post to %s failing for %.0f s: reply dropped", self.where, now - item.first_try)
            else:
                self.failures += 1
                item.backoff = min(max(item.backoff * 2, self.interval_s), _MAX_BACKOFF_S)
                item.next_try = now + item.backoff
                return
            self._pending.remove(item)

    def _post(self, fields: Form) -> int | None:
        """The answer's status, or None when there was none (refused, reset, timed out)."""
        body, content_type = encode_form(fields)
        parts = urlsplit(self.url)
        connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        connection = connection_class(parts.hostname, parts.port, timeout=30)
        target = parts.path or "/"
        try:
            connection.request("POST", f"{target}?{parts.query}" if parts.query else target, body=body,
                               headers={"Content-Type": content_type})  # fmt: skip
            answer = connection.getresponse()
            answer.read()
            return answer.status
        except OSError as exc:
            log.debug("inbound post to %s failed: %s", self.where, exc)
            return None
        finally:
            connection.close()
