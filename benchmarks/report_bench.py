"""Response report benchmark (issue F6): the whole report over a big default SQLite ledger.

A synthetic season is written once into a SQLite ledger made by the project's own migrations
(kept under the temp dir and reused while its size matches): candidates across six zones and
countries, each with a cadence of 1 to 4 messages on three channels, 1,000,000 messages sent,
5,000,000 events (processed, delivered, Apple's machine opens, human opens, clicks, proxy opens)
and responses for about a fifth of the candidates.

Three measurements, each in a fresh process so that its peak memory is its own:
- report: `followup report`'s work without Prefect: read the ledger (stages.reporting), build
  the document, write the HTML, CSV and JSON;
- floor: the same messages and events read into pandas whole, and one groupby (events per
  message joined to the messages' channel): what any pandas report over this data starts from;
- warm list: who is warming up (stages.engagement, warm only), as each sweep publishes it and
  `followup candidates --warm` prints it; no target, measured because every sweep pays it.

    python benchmarks/report_bench.py [--messages 1000000] [--events 5000000] [--db PATH]

Prints one JSON document, then a one-line summary. Target (issue F6): the report in at most 15 s
and at most 4 GB peak memory on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

TARGET_SECONDS, TARGET_PEAK_MB = 15.0, 4096
START = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
ZONES = (("Europe/London", "GB"), ("Europe/Berlin", "DE"), ("America/New_York", "US"), ("Asia/Tokyo", "JP"),
         ("America/Sao_Paulo", "BR"), ("Asia/Kolkata", "IN"))  # fmt: skip
_TIME = "%Y-%m-%d %H:%M:%S.%f"


def _times(base: np.ndarray) -> list[str]:
    text = np.datetime_as_string(base.astype("datetime64[us]"), unit="us")
    return [t.replace("T", " ") for t in text]


def generate(path: Path, messages: int, events: int, seed: int = 7) -> None:
    """The synthetic ledger: migrations first, then rows straight through sqlite3 (the fastest way in)."""
    from followup.store import close_ledgers, open_ledger

    url = f"sqlite:///{path}"
    open_ledger(url)
    close_ledgers()
    rng = np.random.default_rng(seed)
    steps = rng.integers(1, 5, size=messages)  # messages per cadence, until the total is reached
    cadence_sizes = []
    total = 0
    for size in steps:
        size = int(min(size, messages - total))
        if size <= 0:
            break
        cadence_sizes.append(size)
        total += size
    people = len(cadence_sizes)
    zone = rng.integers(0, len(ZONES), size=people)
    channel = rng.choice(np.array(["email", "voicemail", "in_person"]), p=[0.7, 0.2, 0.1], size=people)
    offer = rng.random(people) < 0.4
    arm = np.where(rng.random(people) < 0.3, "timing", "control")
    decided = np.datetime64(START.replace(tzinfo=None)) + (rng.integers(0, 120 * 24, size=people) * 3600).astype(
        "timedelta64[s]")
    first_sent = decided + (rng.integers(0, 5 * 24, size=people) * 3600).astype("timedelta64[s]")
    names = np.array(["processed", "delivered", "open", "open", "click", "open"])
    message_of = rng.integers(1, messages + 1, size=events)
    which = rng.integers(0, len(names), size=events)
    machine = (which == 2) & (rng.random(events) < 0.5)
    offsets = rng.integers(1, 72 * 3600, size=events)
    proxy = rng.random(events) < 0.1
    agents = np.where(proxy, "Mozilla/5.0 (via ggpht.com GoogleImageProxy)", "Safari")
    base = np.datetime64(START.replace(tzinfo=None)) + (rng.integers(0, 130 * 24, size=events) * 3600).astype(
        "timedelta64[s]") + offsets.astype("timedelta64[s]")
    # Each message's summary of its events, as store.events keeps it while they arrive.
    stamp = base.astype("datetime64[us]").astype("int64")
    never_min, never_max = np.iinfo("int64").max, np.iinfo("int64").min
    delivered_at = np.full(messages + 1, never_min)
    last_open = np.full(messages + 1, never_max)
    last_click = np.full(messages + 1, never_max)
    is_delivered, is_click = names[which] == "delivered", names[which] == "click"
    is_open = (names[which] == "open") & ~machine & ~proxy
    np.minimum.at(delivered_at, message_of[is_delivered], stamp[is_delivered])
    np.maximum.at(last_open, message_of[is_open], stamp[is_open])
    np.maximum.at(last_click, message_of[is_click], stamp[is_click])

    def summary(values: np.ndarray, never: int) -> list[str | None]:
        found: list[str | None] = [None] * len(values)
        valid = np.flatnonzero(values != never)
        for index, text in zip(valid, _times(values[valid].astype("datetime64[us]"))):
            found[index] = text
        return found

    delivered_text, open_text = summary(delivered_at, never_min), summary(last_open, never_max)
    click_text = summary(last_click, never_max)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    now = START.strftime(_TIME)
    db.execute("INSERT INTO batches (id, source_name, file_sha256, status, rows, valid, quarantined, created_at) "
               "VALUES ('b1', 'season.csv', ?, 'imported', 0, 0, 0, ?)", ("0" * 64, now))  # fmt: skip
    ids = [f"C-{n:07d}" for n in range(people)]
    db.executemany(
        "INSERT INTO candidates (candidate_id, email, first_name, last_name, timezone, country, channel, "
        "first_batch_id, last_batch_id, updated_at) VALUES (?, ?, 'Ana', 'Lima', ?, ?, ?, 'b1', 'b1', ?)",
        [(ids[n], f"p{n}@example.org", ZONES[zone[n]][0], ZONES[zone[n]][1], str(channel[n]), now)
         for n in range(people)])  # fmt: skip
    decided_text = _times(decided)
    db.executemany(
        "INSERT INTO decisions (id, candidate_id, batch_id, source_line, role, decision, decided_at) "
        "VALUES (?, ?, 'b1', ?, 'Engineer', ?, ?)",
        [(n + 1, ids[n], n + 2, "offer" if offer[n] else "reject", decided_text[n]) for n in range(people)])
    rows, key = [], 0
    sent_text = _times(first_sent)
    for n, size in enumerate(cadence_sizes):
        kind = "offer" if offer[n] else "rejection"
        decision = "offer" if offer[n] else "reject"
        for step in range(size):
            key += 1
            at = sent_text[n] if step == 0 else (first_sent[n] + np.timedelta64(2 * step, "D")).astype(
                "datetime64[us]").astype(str).replace("T", " ")
            call = ('{"local_time_to_call": "' + sent_text[n][:16] + ' CET"}') if channel[n] == "voicemail" else None
            rows.append((key, f"{key:064x}", "season", ids[n], n + 1, f"{decision}:{channel[n]}",
                         kind if step == 0 else f"{kind}_nudge", step, str(channel[n]),
                         "b" if key % 2 else "a", "sent", at, 1, now, now, str(arm[n]), call, delivered_text[key],
                         open_text[key], click_text[key]))  # fmt: skip
        if len(rows) >= 200_000:
            _messages(db, rows)
            rows = []
    _messages(db, rows)
    for start in range(0, events, 250_000):
        end = min(events, start + 250_000)
        at = _times(base[start:end])
        db.executemany(
            "INSERT INTO events (id, sg_event_id, message_key, event, occurred_at, machine_open, payload, received_at,"
            " matched) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)",
            [(i + 1, f"e{i}", f"{int(message_of[i]):064x}", str(names[which[i]]), at[i - start], int(machine[i]),
              '{"useragent": "' + agents[i] + '"}', now) for i in range(start, end)])  # fmt: skip
    answered = rng.random(people) < 0.2
    outcomes = np.array(["accepted", "declined", "replied", "question", "called_back", "attended"])
    picks = rng.integers(0, len(outcomes), size=people)
    db.executemany(
        "INSERT INTO responses (candidate_id, channel, outcome, received_at) VALUES (?, ?, ?, ?)",
        [(ids[n], str(channel[n]), str(outcomes[picks[n]]),
          (first_sent[n] + np.timedelta64(30, "h")).astype("datetime64[us]").astype(str).replace("T", " "))
         for n in range(people) if answered[n]])  # fmt: skip
    db.commit()
    db.execute("ANALYZE")
    db.close()


def _messages(db: sqlite3.Connection, rows: list[tuple]) -> None:
    db.executemany(
        "INSERT INTO messages (id, message_key, campaign, candidate_id, decision_id, cadence, kind, step, channel, "
        "variant, status, sent_at, attempts, created_at, updated_at, experiment_arm, call_sheet, delivered_at, "
        "last_open_at, last_click_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def run_report(db: Path, out: Path) -> dict:
    from followup.stages.reporting import ReportSetup, response_report, write_outputs

    started = time.perf_counter()
    setup = ReportSetup(f"sqlite:///{db}", out, "Europe/London", "GB")
    document = response_report(setup, since=None, until=START + timedelta(days=400))
    files = write_outputs(document, out)
    return {"seconds": time.perf_counter() - started, "contacted": document["funnel"]["contacted"],
            "files": sorted(files)}  # fmt: skip


def run_floor(db: Path) -> dict:
    import pandas as pd

    started = time.perf_counter()
    conn = sqlite3.connect(db)
    messages = pd.DataFrame(conn.execute("SELECT message_key, channel FROM messages").fetchall(),
                            columns=["message_key", "channel"])  # fmt: skip
    events = pd.DataFrame(conn.execute("SELECT message_key, event FROM events").fetchall(),
                          columns=["message_key", "event"])  # fmt: skip
    counts = events.merge(messages, on="message_key").groupby(["channel", "event"]).size()
    return {"seconds": time.perf_counter() - started, "groups": int(len(counts))}


def run_warm(db: Path) -> dict:
    """The sweep's warm list (and `followup candidates --warm`) over the same season."""
    from followup.stages.engagement import EngagementSetup, candidate_engagement

    started = time.perf_counter()
    listed = candidate_engagement(EngagementSetup(f"sqlite:///{db}"), START + timedelta(days=400), warm_only=True)
    return {"seconds": time.perf_counter() - started, "listed": len(listed)}


def _child(stage: str, db: Path, out: Path) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", stage, "--db", str(db), "--out", str(out)],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--db", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--child", choices=("report", "floor", "warm"))
    args = parser.parse_args()
    if args.child:
        run = {"report": lambda: run_report(args.db, args.out), "floor": lambda: run_floor(args.db),
               "warm": lambda: run_warm(args.db)}[args.child]
        figures = run()
        figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        print(json.dumps(figures))
        return
    db = args.db or Path(tempfile.gettempdir()) / f"followup-report-bench-{args.messages}-{args.events}.db"
    if not db.exists():
        began = time.perf_counter()
        partial = db.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        generate(partial, args.messages, args.events)
        partial.rename(db)
        print(f"generated {db} in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    out = Path(tempfile.mkdtemp(prefix="followup-report-bench-"))
    floor = _child("floor", db, out)
    report = _child("report", db, out)
    warm = _child("warm", db, out)
    result = {
        "benchmark": "report", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load": os.getloadavg()},
        "messages": args.messages, "events": args.events, "report": report, "floor": floor, "warm_list": warm,
        "target": {"seconds": TARGET_SECONDS, "peak_mb": TARGET_PEAK_MB},
        "met": report["seconds"] <= TARGET_SECONDS and report["peak_rss_mb"] <= TARGET_PEAK_MB,
    }  # fmt: skip
    print(json.dumps(result))
    print(f"report over {args.messages:,} messages and {args.events:,} events: {report['seconds']:.1f} s, peak "
          f"{report['peak_rss_mb']} MB (target {TARGET_SECONDS:.0f} s, {TARGET_PEAK_MB} MB); floor (pandas read "
          f"+ one groupby): {floor['seconds']:.1f} s, peak {floor['peak_rss_mb']} MB; the warm list "
          f"({warm['listed']:,} candidates): {warm['seconds']:.1f} s, peak {warm['peak_rss_mb']} MB")  # fmt: skip


if __name__ == "__main__":
    main()
