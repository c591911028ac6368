"""Send benchmark (issue F3): the send stage of a 100,000-message campaign against the sandbox.

Seeds a ledger with rendered offer emails (bodies rendered by followup.rendering from sample
candidates, reused across generated candidates), starts the SendGrid-compatible sandbox in its
own process with added latency, and times, side by side in one run:

- the send stage as a campaign and the sweep run it (followup.stages.sending: the passes before
  a claim, claim, send, record; FOLLOWUP_SENDERS processes of FOLLOWUP_SEND_CONCURRENCY threads),
  then checks that every message it may send is `sent`, and the sandbox accepted each message_key
  exactly once, under the X-Message-Id the ledger stored;
- a plain serial loop over the official client, SendGridAPIClient(...).send(Mail(...)).

`followup run` end to end, beside the send stage on the same rendered ledger, is
campaign_bench.py's.

    python benchmarks/send_bench.py [--messages 100000] [--latency-ms 50] [--senders N]
        [--concurrency N] [--serial-messages 100] [--database-url URL] [--held-share 0.01]

The rows carry what a cadence's step carries (issue F4): a send window (scheduled_for,
window_closes) and when the cadence began (cadence_started_at), so the claim checks the window
and looks up each candidate's answers; the ledger holds answers and suppressions that do not stop
a message (a reply from before the cadence began for a fifth of the candidates, a wrong number
for a tenth, 10,000 suppressed addresses of other people) beside those that do: `--held-share`
of the messages, a third each, have a reply since the cadence began (cancelled before the
claim), a bounced address (suppressed), or a window that closed (moved to the next one). The
bodies are the offer emails either way, so a body costs what it cost before.

Prints one JSON document, then a one-line summary. Targets (issue F3): at least 1,000 messages/s,
and at least 50 times the serial loop.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from benchkit import API_KEY, FROM_EMAIL, FROM_NAME, NOW, load, machine, rendered_offers, serial_official_client
from benchkit import time_send_stage

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

TARGET_RATE = 1_000.0
TARGET_RATIO = 50.0
CAMPAIGN = "bench"
CADENCE_STARTED = NOW - timedelta(days=3)
_SEED_CHUNK = 20_000


def held(n: int, share: float) -> str | None:
    """What holds message `n` back, spread evenly: "replied", "bounced", "closed", or None."""
    every = round(3 / share) if share > 0 else 0
    if not every or n % every >= 3:
        return None
    return ("replied", "bounced", "closed")[n % every]


def answers(n: int, share: float) -> list[tuple[str, datetime]]:
    """Candidate `n`'s recorded answers (outcome, when)."""
    found = []
    if n % 5 == 0:  # to last year's message: stops nothing now
        found.append(("replied", CADENCE_STARTED - timedelta(days=300)))
    if n % 10 == 1:  # stops the phone steps, not these emails
        found.append(("wrong_number", CADENCE_STARTED + timedelta(days=1)))
    if held(n, share) == "replied":
        found.append(("replied", CADENCE_STARTED + timedelta(days=1)))
    return found


def seed(url: str, messages: int, held_share: float) -> dict:
    """A batch, and per message its own candidate, offer decision and rendered message row in an
    open window; the answers and suppressions described above."""
    from followup.models import Batch, Candidate, Decision, Message, Response, Suppression
    from followup.store import open_ledger

    offers = rendered_offers()
    engine = open_ledger(url)
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(sa.insert(Batch), [{"id": "bench", "source_name": "bench.csv", "file_sha256": "0" * 64,
                                         "status": "imported", "rows": messages, "valid": messages}])  # fmt: skip
        for start in range(0, messages, _SEED_CHUNK):
            numbers = range(start, min(start + _SEED_CHUNK, messages))
            conn.execute(sa.insert(Candidate), [
                {"candidate_id": f"c{n:07d}", "email": f"candidate.{n}@example.com", "first_name": f"Ana{n}",
                 "last_name": "Silva", "channel": "email", "locale": "en-US",
                 "first_batch_id": "bench", "last_batch_id": "bench"}
                for n in numbers
            ])  # fmt: skip
            conn.execute(sa.insert(Decision), [
                {"id": n + 1, "candidate_id": f"c{n:07d}", "batch_id": "bench", "source_line": n + 2,
                 "role": "Data Engineer", "decision": "offer", "recruiter_name": "Maya Chen",
                 "recruiter_email": "maya.chen@acme.example"}
                for n in numbers
            ])  # fmt: skip
            conn.execute(sa.insert(Message), [
                {"message_key": f"{CAMPAIGN}:c{n:07d}:offer:0:email", "campaign": CAMPAIGN,
                 "candidate_id": f"c{n:07d}", "decision_id": n + 1, "kind": "offer", "step": 0,
                 "channel": "email", "variant": offer.variant, "template": offer.template, "status": "rendered",
                 "subject": offer.subject, "text_body": offer.text, "html_body": offer.html,
                 "headers": offer.headers or None, "scheduled_for": NOW - timedelta(hours=1),
                 "window_closes": NOW - timedelta(minutes=1) if held(n, held_share) == "closed"
                 else NOW + timedelta(hours=8), "cadence_started_at": CADENCE_STARTED}
                for n in numbers
                for offer in [offers[n % len(offers)]]
            ])  # fmt: skip
            conn.execute(sa.insert(Response), [
                {"candidate_id": f"c{n:07d}", "channel": "email", "outcome": outcome, "received_at": at,
                 "source": "bench", "dedupe_key": f"bench-{n}-{i}"}
                for n in numbers
                for i, (outcome, at) in enumerate(answers(n, held_share))
            ])  # fmt: skip
            bounced = [{"email": f"candidate.{n}@example.com", "reason": "bounce", "source": "bench"}
                       for n in numbers if held(n, held_share) == "bounced"]  # fmt: skip
            if bounced:
                conn.execute(sa.insert(Suppression), bounced)
        conn.execute(sa.insert(Suppression), [{"email": f"someone.else.{n}@example.com", "reason": "unsubscribe",
                                               "source": "bench"} for n in range(10_000)])  # fmt: skip
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "distinct_bodies": len(offers),
        "body_chars": sorted({len(o.subject) + len(o.text) + len(o.html or "") for o in offers}),
    }


# What becomes of a held message: a reply cancels it, a bounce suppresses it, and one whose window
# closed moves to the next window, which at NOW (09:00 UTC on a Thursday) is open already.
_HELD_STATUS = {None: "sent", "replied": "cancelled", "bounced": "suppressed", "closed": "sent"}


def expected_statuses(messages: int, held_share: float) -> Counter:
    return Counter(_HELD_STATUS[held(n, held_share)] for n in range(messages))


def verify(url: str, sandbox, expected: Counter) -> dict:
    """Every message the stage may send `sent`, the others as the stop rules leave them, each
    sent key accepted exactly once, under the id the ledger holds."""
    from followup.store import open_ledger

    with open_ledger(url).connect() as conn:
        ledger = conn.execute(
            sa.text("SELECT message_key, status, provider_message_id FROM messages WHERE campaign = :c"),
            {"c": CAMPAIGN},
        ).all()
    accepted = [(mid, key) for mid, key in sandbox.message_keys() if key and key.startswith(f"{CAMPAIGN}:")]
    times = Counter(key for _, key in accepted)
    id_of = {key: mid for mid, key in accepted}
    statuses = Counter(row.status for row in ledger)
    checks = {
        "ledger_statuses": dict(statuses),
        "accepted_by_sandbox": len(accepted),
        "keys_accepted_more_than_once": sum(1 for n in times.values() if n > 1),
        "expected_statuses": dict(expected),
        "keys_never_accepted": sum(1 for row in ledger if row.status == "sent" and row.message_key not in times),
        "unsent_keys_accepted": sum(1 for row in ledger if row.status != "sent" and row.message_key in times),
        "provider_id_mismatches": sum(
            1 for row in ledger if row.status == "sent" and id_of.get(row.message_key) != row.provider_message_id
        ),
    }
    checks["ok"] = (
        statuses == expected
        and len(accepted) == expected["sent"]
        and checks["keys_accepted_more_than_once"] == checks["keys_never_accepted"] == 0
        and checks["unsent_keys_accepted"] == 0
        and checks["provider_id_mismatches"] == 0
    )
    return checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--senders", type=int, help="sender processes (default: the Settings default)")
    parser.add_argument("--concurrency", type=int, help="sending threads per process (default: the Settings default)")
    parser.add_argument("--serial-messages", type=int, default=100)
    parser.add_argument("--validate-share", type=float, default=0.01,
                        help="share of bodies the sandbox checks against SendGrid's schema")  # fmt: skip
    parser.add_argument("--database-url", help="a PostgreSQL ledger (an empty schema); default: SQLite in a temp dir")
    parser.add_argument("--held-share", type=float, default=0.01,
                        help="share of messages a reply, a bounce or a closed window holds back")  # fmt: skip
    opts = parser.parse_args()

    from followup.config import Settings
    from followup.sandbox import Sandbox, SandboxConfig

    workdir = Path(tempfile.mkdtemp(prefix="send-bench-"))
    url = opts.database_url or f"sqlite:///{workdir / 'ledger.db'}"
    load_before = load()
    seeded = seed(url, opts.messages, opts.held_share)
    chosen = {"senders": opts.senders, "send_concurrency": opts.concurrency}
    config = SandboxConfig(api_key=API_KEY, latency_ms=opts.latency_ms, validate_share=opts.validate_share)
    with Sandbox(config, process=True) as sandbox:
        settings = Settings(
            data_dir=workdir,
            database_url=url,
            transport="sendgrid",
            SENDGRID_API_KEY=API_KEY,
            SENDGRID_API_HOST=sandbox.url,
            from_email=FROM_EMAIL,
            from_name=FROM_NAME,
            **{name: value for name, value in chosen.items() if value is not None},
        )
        serial = serial_official_client(sandbox, opts.serial_messages)
        load_at_start = load()
        stage = time_send_stage(settings, sandbox, NOW, CAMPAIGN)
        load_after = load()
        checks = verify(url, sandbox, expected_statuses(opts.messages, opts.held_share))
        sandbox_stats = sandbox.stats()
    shutil.rmtree(workdir, ignore_errors=True)
    ratio = stage["messages_per_s"] / serial["messages_per_s"]
    result = {
        "benchmark": "send_stage",
        "messages": opts.messages,
        "held_share": opts.held_share,
        "latency_ms": opts.latency_ms,
        "sandbox_validate_share": opts.validate_share,
        "ledger": sa.make_url(url).get_backend_name(),
        "settings": {"senders": settings.senders, "send_concurrency": settings.send_concurrency},
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "load_average": {"before_seeding": load_before, "stage_start": load_at_start, "stage_end": load_after},
        "seed": seeded,
        "send_stage": stage,
        "exactly_once": checks,
        "sandbox": {key: sandbox_stats[key] for key in ("mail_send_requests", "connections", "answers")},
        "serial_official_client": serial,
        "speedup_over_serial": round(ratio, 1),
        "targets": {"messages_per_s": TARGET_RATE, "speedup_over_serial": TARGET_RATIO},
        "met": stage["messages_per_s"] >= TARGET_RATE and ratio >= TARGET_RATIO and checks["ok"],
    }
    print(json.dumps(result, indent=2))
    print(
        f"send stage: {stage['report']['sent']:,} messages in {stage['seconds']:.1f} s = "
        f"{stage['messages_per_s']:,.0f}/s ({settings.senders} x {settings.send_concurrency} threads, "
        f"{opts.latency_ms:g} ms latency, exactly once: {'yes' if checks['ok'] else 'NO'}); "
        f"serial official client {serial['messages_per_s']:.1f}/s, x{ratio:.0f}; "
        f"load {load_at_start[0]}-{load_after[0]} (targets >= {TARGET_RATE:,.0f}/s, x{TARGET_RATIO:.0f})"
    )
    if not checks["ok"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
