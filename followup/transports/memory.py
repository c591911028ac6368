"""Keeps every sent envelope in a list: what tests and dry runs read instead of a mailbox."""

from __future__ import annotations

import threading

from followup.transports.base import Envelope, SendOutcome, check_limits
from followup.transports.mime import message_id_for


class MemoryTransport:
    name = "memory"

    def __init__(self) -> None:
        # Every accepted send in order, repeats included, so a test can see a message sent twice.
        self.outbox: list[Envelope] = []
        self._lock = threading.Lock()

    def send(self, envelope: Envelope) -> SendOutcome:
        problem = check_limits(envelope)
        if problem:
            return SendOutcome.failed(problem)
        with self._lock:
            self.outbox.append(envelope)
        return SendOutcome.sent(message_id_for(envelope))

    def close(self) -> None:
        """Nothing to release; the outbox stays readable."""
