"""Planning benchmark (issue F4): the sweep's planning stage over 100,000 cadences under way.

Seeds a ledger, in bulk SQL, with candidates whose first message went out days ago: a mix of
channels (email, voicemail, in person), zones (none, New York, Los Angeles, London, Berlin,
Tokyo, Sydney), phones, offers and rejections, some a nudge further on, some with a reply, an
out-of-office, a bounce or a stop by hand. Then times followup.stages.planning.plan_next alone
(the ledger already open and migrated), a few rounds; between rounds the rows it planned are
deleted, so every round plans the same steps from the same ledger.

    python benchmarks/plan_bench.py [--candidates 100000] [--rounds 3] [--database-url URL]
        [--profile N]

Prints one JSON document, then a one-line summary. Target (issue F4): the planning stage of a
sweep for 100,000 candidates within 10 s, start-up excluded.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

TARGET_SECONDS = 10.0
# Wednesday 2 December 2026, 15:00 UTC: 10:00 in New York, the evening in Europe, night in Asia.
NOW = datetime(2026, 12, 2, 15, 0, tzinfo=timezone.utc)
CAMPAIGN = "bench"
ZONES = (None, "America/New_York", "America/Los_Angeles", "Europe/London", "Europe/Berlin", "Asia/Tokyo",
         "Australia/Sydney")  # fmt: skip
CHANNELS = (("email", 0.7), ("voicemail", 0.2), ("in_person", 0.1))
_SEED_CHUNK = 20_000


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _people(count: int, seed: int) -> list[dict]:
    """Who each candidate is and how far their cadence has come, the same for the same seed."""
    rng = random.Random(seed)
    people = []
    for n in range(count):
        channel = rng.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0]
        zone = rng.choice(ZONES)
        decision = "offer" if rng.random() < 0.85 else "reject"
        sent_days_ago = rng.choice((1, 2, 3, 4, 5, 6, 8))
        # A fifth of the offers are a nudge further on: step 0 and step 1 went out.
        steps = 2 if decision == "offer" and rng.random() < 0.2 else 1
        fate = rng.random()
        people.append({
            "n": n, "channel": channel, "zone": zone, "decision": decision,
            "country": {"Europe/London": "GB", "Europe/Berlin": "DE"}.get(zone) if rng.random() < 0.5 else None,
            "phone": rng.random() < 0.6, "sent_at": NOW - timedelta(days=sent_days_ago, minutes=rng.randrange(600)),
            "steps": steps,
            # What happened since: 8% replied, 3% out of office, 2% bounced, 1% stopped by hand.
            "fate": "replied" if fate < 0.08 else "out_of_office" if fate < 0.11 else "bounce" if fate < 0.13
            else "stop" if fate < 0.14 else None,
        })  # fmt: skip
    return people


def _first_two(person: dict) -> list[tuple[int, str, str]]:
    """(step, kind, channel) of the messages the seeded cadence has sent, as the defaults plan them."""
    if person["decision"] == "reject":
        return [(0, "rejection", person["channel"])]
    # Every default offer cadence's step 1 is an email: the offer in writing after a voicemail, else a nudge.
    steps = [(0, "offer", person["channel"]), (1, "offer" if person["channel"] == "voicemail" else "offer_nudge", "email")]
    return steps[: person["steps"]]


def seed(url: str, count: int, seed_value: int) -> dict:
    """Batch, candidates, decisions, the messages sent so far, responses, suppressions and stops,
    by executemany in chunks."""
    from followup.models import Batch, Candidate, CandidateStop, Decision, Message, Response, Suppression
    from followup.store import open_ledger

    people = _people(count, seed_value)
    engine = open_ledger(url)
    started = time.perf_counter()
    totals: Counter = Counter()
    with engine.begin() as conn:
        conn.execute(sa.insert(Batch), [{"id": "bench", "source_name": "bench.csv", "file_sha256": "0" * 64,
                                         "status": "imported", "rows": count, "valid": count}])  # fmt: skip
        for start in range(0, count, _SEED_CHUNK):
            chunk = people[start : start + _SEED_CHUNK]
            conn.execute(sa.insert(Candidate), [
                {"candidate_id": f"c{p['n']:07d}", "email": f"candidate.{p['n']}@example.com", "first_name": "Ana",
                 "last_name": "Silva", "phone": f"+1212555{p['n'] % 10000:04d}" if p["phone"] else None,
                 "timezone": p["zone"], "country": p["country"], "channel": p["channel"], "locale": "en-US",
                 "first_batch_id": "bench", "last_batch_id": "bench"}
                for p in chunk
            ])  # fmt: skip
            conn.execute(sa.insert(Decision), [
                {"id": p["n"] + 1, "candidate_id": f"c{p['n']:07d}", "batch_id": "bench", "source_line": p["n"] + 2,
                 "role": "Data Engineer", "decision": p["decision"], "decided_at": p["sent_at"] - timedelta(days=1),
                 "offer_deadline": NOW + timedelta(days=21) if p["decision"] == "offer" else None}
                for p in chunk
            ])  # fmt: skip
            messages = []
            for p in chunk:
                for step, kind, channel in _first_two(p):
                    at = p["sent_at"] + timedelta(days=2 * step)
                    messages.append({
                        "message_key": f"{CAMPAIGN}:{p['n']}:{step}", "campaign": CAMPAIGN,
                        "candidate_id": f"c{p['n']:07d}", "decision_id": p["n"] + 1, "kind": kind, "step": step,
                        "channel": channel, "status": "sent", "cadence": f"{p['decision']}:{p['channel']}",
                        "scheduled_for": at, "sent_at": at, "cadence_started_at": p["sent_at"] if step else None,
                    })  # fmt: skip
            conn.execute(sa.insert(Message), messages)
            totals["messages"] += len(messages)
            answers = [
                {"candidate_id": f"c{p['n']:07d}", "channel": "email", "outcome": p["fate"],
                 "received_at": p["sent_at"] + timedelta(hours=3),
                 "note": "back on 2026-12-07" if p["n"] % 2 else None}
                for p in chunk if p["fate"] in ("replied", "out_of_office")
            ]  # fmt: skip
            if answers:
                conn.execute(sa.insert(Response), answers)
            bounces = [{"email": f"candidate.{p['n']}@example.com", "reason": "bounce", "source": "bench"}
                       for p in chunk if p["fate"] == "bounce"]  # fmt: skip
            if bounces:
                conn.execute(sa.insert(Suppression), bounces)
            stops = [{"candidate_id": f"c{p['n']:07d}", "reason": "asked", "source": "bench", "stopped_at": NOW}
                     for p in chunk if p["fate"] == "stop"]  # fmt: skip
            if stops:
                conn.execute(sa.insert(CandidateStop), stops)
            totals["responses"] += len(answers)
            totals["suppressions"] += len(bounces)
            totals["stops"] += len(stops)
    return {"seconds": round(time.perf_counter() - started, 2), "candidates": count, **totals,
            "channels": dict(Counter(p["channel"] for p in people)),
            "decisions": dict(Counter(p["decision"] for p in people))}  # fmt: skip


def planned_rows(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM messages WHERE status = 'planned'")).scalar_one()


def forget_planned(engine) -> None:
    """Delete what the round planned: the seeded messages are all sent."""
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM messages WHERE status = 'planned'"))


def time_round(setup, engine, profile_lines: int) -> dict:
    from followup.stages.planning import plan_next

    profiler = cProfile.Profile() if profile_lines else None
    cpu = time.process_time()
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    steps = plan_next(setup, NOW)
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    round_ = {
        "seconds": round(seconds, 2),
        "cpu_s": round(cpu, 2),
        "planned": steps.planned,
        "rows_per_s": round(steps.planned / seconds),
        "not_planned": steps.verdicts,
        "moved_on": len(steps.moved_on),
        "postponed": steps.postponed,
        "by_day": steps.by_day,
    }
    if profiler:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(profile_lines)
        print(text.getvalue(), file=sys.stderr)
    if planned_rows(engine) != steps.planned:
        raise SystemExit(f"the ledger holds {planned_rows(engine)} planned rows, plan_next reported {steps.planned}")
    return round_


def split(setup, engine) -> dict:
    """Where a round's time goes: the facts read alone, then the planner's rules alone over them
    (CPU seconds; the rest of a round is writing the rows)."""
    from followup.cadence.planner import next_step
    from followup.stages.planning import last_steps
    from followup.store.cadences import open_cadences

    forget_planned(engine)
    cpu = time.process_time()
    cadences = open_cadences(engine, last_steps(setup.cadence))
    read = time.process_time() - cpu
    cpu = time.process_time()
    for facts in cadences:
        next_step(setup.cadence, setup.company, facts, NOW)
    rules = time.process_time() - cpu
    return {"open_cadences": len(cadences), "read_cpu_s": round(read, 2), "rules_cpu_s": round(rules, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--database-url", help="a PostgreSQL ledger (an empty schema); default: SQLite in a temp dir")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="profile the last round and print its N costliest calls to stderr")  # fmt: skip
    opts = parser.parse_args()

    from followup.cadence.planner import Company
    from followup.cadence.file import load_cadence
    from followup.stages.planning import PlanSetup
    from followup.store import open_ledger

    workdir = Path(tempfile.mkdtemp(prefix="plan-bench-"))
    url = opts.database_url or f"sqlite:///{workdir / 'ledger.db'}"
    load_before = load()
    seeded = seed(url, opts.candidates, opts.seed)
    engine = open_ledger(url)
    setup = PlanSetup(url, load_cadence(None), Company("America/New_York", "US"))
    rounds = []
    for number in range(opts.rounds):
        if number:
            forget_planned(engine)
        rounds.append({"load_start": load()[0], **time_round(setup, engine, opts.profile if number == opts.rounds - 1 else 0)})
    where = split(setup, engine)
    shutil.rmtree(workdir, ignore_errors=True)
    seconds = sorted(r["seconds"] for r in rounds)
    median = seconds[len(seconds) // 2]
    result = {
        "benchmark": "plan_next",
        "candidates": opts.candidates,
        "ledger": sa.make_url(url).get_backend_name(),
        "machine": f"{platform.node()} {os.cpu_count()} cores {platform.machine()} Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "business_now": NOW.isoformat(),
        "load_average": {"before_seeding": load_before, "end": load()},
        "seed": seeded,
        "rounds": rounds,
        "where_the_time_goes": where,
        "median_seconds": median,
        "target_seconds": TARGET_SECONDS,
        "met": median <= TARGET_SECONDS,
    }
    print(json.dumps(result, indent=2))
    planned = rounds[-1]["planned"]
    each = ", ".join(f"{r['seconds']:.2f}" for r in rounds)
    print(
        f"plan_next ({result['ledger']}): {opts.candidates:,} cadences, {planned:,} next steps planned in "
        f"{each} s (median {median:.2f} s, {planned / median:,.0f} rows/s; CPU: read {where['read_cpu_s']:.1f} s, "
        f"rules {where['rules_cpu_s']:.1f} s); "
        f"load {rounds[0]['load_start']}-{result['load_average']['end'][0]} (target <= {TARGET_SECONDS:.0f} s)"
    )


if __name__ == "__main__":
    main()
