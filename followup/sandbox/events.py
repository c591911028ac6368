"""The sandbox's Event Webhook: signed event POSTs to the receiver, batched and retried as SendGrid does.

SendGrid signs each POST with its ECDSA P-256 key over the timestamp header followed by the body,
posts a JSON array every few seconds (at most 768 KB), and posts again, with growing waits, what
was not answered 2xx. So does this poster, on its own thread, so that /v3/mail/send never waits
for it. Its key pair is made from the sandbox's seed, so a seeded sandbox serves the same public
key every run; the signature's timestamp is the real clock's (DESIGN.md, "Two clocks"), the
events' own timestamps the business clock the sandbox was told.

This module signs with `cryptography`, the library the `sendgrid` package's own check uses; it
does not import followup.tracking (the receiver's side): a test pairs the two.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

log = logging.getLogger(__name__)

MAX_POST_BYTES = 768 * 1000  # SendGrid's largest Event Webhook POST
_MAX_BACKOFF_S = 60.0
# P-256's group order: a private scalar must lie in [1, n-1].
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


class Signer:
    """The sandbox's key pair, derived from its seed."""

    def __init__(self, seed: int) -> None:
        digest = hashlib.sha256(f"followup-sandbox-key:{seed}".encode()).digest()
        self._private = ec.derive_private_key(int.from_bytes(digest, "big") % (_P256_ORDER - 1) + 1, ec.SECP256R1())
        der = self._private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_key = base64.b64encode(der).decode()  # as SendGrid's settings page shows it

    def headers(self, body: bytes) -> dict[str, str]:
        stamp = str(int(time.time()))
        signature = self._private.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
            "Content-Type": "application/json",
            "User-Agent": "SendGrid Event API",
        }


def event_id(seed: int, *parts: str) -> str:
    """A stable sg_event_id: base64url of a digest of the seed and what the event is (22 characters,
    the length of SendGrid's own)."""
    digest = hashlib.sha256("\x1f".join((str(seed), *parts)).encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def batches(events: list[bytes]) -> list[bytes]:
    """JSON arrays of at most MAX_POST_BYTES from encoded events, in order."""
    posts, current, size = [], [], 2
    for event in events:
        if current and size + len(event) + 1 > MAX_POST_BYTES:
            posts.append(b"[" + b",".join(current) + b"]")
            current, size = [], 2
        current.append(event)
        size += len(event) + 1
    if current:
        posts.append(b"[" + b",".join(current) + b"]")
    return posts


class EventPoster:
    """Posts queued events to `url` every `interval_s` seconds, until stopped; retries with backoff."""

    def __init__(self, url: str, signer: Signer, interval_s: float = 2.0, duplicate_rate: float = 0.0,
                 seed: int = 0, source: Callable[[], list[dict]] | None = None) -> None:  # fmt: skip
        self.url = url
        self.signer = signer
        self.interval_s = interval_s
        self.duplicate_rate = duplicate_rate
        self.source = source  # asked before each batch for more events that are due by now
        self._rng = random.Random(seed)
        self._queue: list[bytes] = []
        self._pending: list[bytes] = []  # posts refused or unanswered, in order, posted again first
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self.posted_events = 0
        self.posts = 0
        self.failures = 0
        self._thread = threading.Thread(target=self._run, name="sandbox-events", daemon=True)
        self._thread.start()

    def add(self, events: list[dict]) -> None:
        with self._lock:
            self._queue.extend(self._encoded(events))

    def _encoded(self, events: list[dict]) -> list[bytes]:
        encoded = [json.dumps(event, separators=(",", ":")).encode() for event in events]
        # SendGrid delivers events at least once: some again, so receivers' dedupe is exercised.
        return encoded + [e for e in encoded if self.duplicate_rate and self._rng.random() < self.duplicate_rate]

    @property
    def waiting(self) -> int:
        """Events not yet acknowledged by the receiver (queued or in a refused post)."""
        with self._lock:
            return len(self._queue) + sum(body.count(b'"sg_event_id"') for body in self._pending)

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        backoff = self.interval_s
        while not self._stopped.is_set():
            self._wake.wait(backoff)
            with self._lock:
                if self.source is not None:
                    # Taken and queued under one lock: `waiting` never misses them in between.
                    self._queue.extend(self._encoded(self.source()))
                self._pending.extend(batches(self._queue))
                self._queue.clear()
                posts = list(self._pending)
            delivered = 0
            for body in posts:
                if self._stopped.is_set() or not self._post(body):
                    break
                delivered += 1
            with self._lock:
                del self._pending[:delivered]
                failed = bool(self._pending)
            # A receiver that is down is waited for longer and longer, as SendGrid does.
            backoff = min(backoff * 2, _MAX_BACKOFF_S) if failed else self.interval_s

    def _post(self, body: bytes) -> bool:
        parts = urlsplit(self.url)
        connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        connection = connection_class(parts.hostname, parts.port, timeout=30)
        try:
            connection.request("POST", parts.path or "/", body=body, headers=self.signer.headers(body))
            answer = connection.getresponse()
            answer.read()
            ok = 200 <= answer.status < 300
        except OSError as exc:
            log.debug("event post to %s failed: %s", self.url, exc)
            ok = False
        finally:
            connection.close()
        self.posts += 1
        if ok:
            self.posted_events += body.count(b'"sg_event_id"')
        else:
            self.failures += 1
        return ok
