"""A sender process for the kill drill: sends every due message of the ledger to the sandbox.

    python sender_child.py LEDGER_URL SANDBOX_URL API_KEY CONCURRENCY

It builds each email as every drill does (drillkit.envelope_for) and sends through the SendGrid
transport; the drill kills it with SIGKILL partway.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone

from drillkit import envelope_for
from followup.sending import SendPolicy, send_due
from followup.store import open_ledger
from followup.store.owners import Owner
from followup.transports.sendgrid import SendGridTransport


def main(ledger_url: str, sandbox_url: str, api_key: str, concurrency: str) -> None:
    transport = SendGridTransport(api_key, host=sandbox_url, pool_size=int(concurrency))
    report = send_due(
        open_ledger(ledger_url),
        transport,
        envelope_for,
        owner=Owner.current(),
        policy=SendPolicy(concurrency=int(concurrency)),
        business_now=datetime.now(timezone.utc),
    )
    print(report, flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
