"""Campaign benchmark (issue F7): a 100,000-candidate campaign end to end against the sandbox at
50 ms latency, beside the send stage alone and the two ways one would write it without the
project, all in one run.

- **whole run**: `bin/followup run FILE` as a subprocess, as a user runs it (FOLLOWUP_TRANSPORT=
  sendgrid, SENDGRID_API_HOST at a sandbox of its own, a fresh data dir, Prefect's temporary
  server unless PREFECT_API_URL names one): import, validate, plan, render, send, outcome. Where
  its time went comes from the flow's own task runs (read from Prefect's database when it is
  the SQLite file under PREFECT_HOME, as for the temporary server or a local one on that home).
- **send stage alone**: the same batch imported, planned and rendered into another fresh ledger
  by the plain stage functions (each timed, no Prefect), then the send stage timed on it against
  a fresh sandbox, as the flow runs it (followup.stages.sending).
- **(a) serial loop**: pandas reads the batch, Jinja2 renders an offer or rejection email per row
  (templates compiled once), the official client sends it (`SendGridAPIClient(host=sandbox)`),
  one after another; on `--serial-messages` rows, extrapolated to the whole batch.
- **(b) Prefect, one task per message**: a flow mapping one task (render, then send with the
  official client) over `--prefect-messages` rows on Prefect's default task runner, after a
  first flow run has started the server; extrapolated.

The whole run and the stage alone alternate (`--rounds`, the first of the pair swapping each
round), so a load that comes and goes falls on both. The batch is the project's sample
generator's, kept to candidates in European zones decided three days or more before the run's
business time (a Thursday at 09:00 UTC), so every first message is due in an open window.

    python benchmarks/campaign_bench.py [--rows 100000] [--rounds 1] [--latency-ms 50]
        [--serial-messages 100] [--prefect-messages 2000]

Prints one JSON document, then a one-line summary. Targets (issues F3, F7): the send stage at
least 1,000 messages/s and 50 times (a); the whole run at least 85% of the stage's rate.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from statistics import median

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
# Prefect's 20 s for its temporary server to answer is not enough on a loaded machine.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

from benchkit import API_KEY, FROM_EMAIL, FROM_NAME, NOW, followup_command, load, machine, time_send_stage  # noqa: E402

TARGET_RATE = 1_000.0
TARGET_RATIO = 50.0
TARGET_SHARE = 0.85
CAMPAIGN = "bench-campaign"

SUBJECT = "{% if offer %}An offer for the {{ role }} role{% else %}Your application for {{ role }}{% endif %}"
TEXT = """Hi {{ first_name }},
{% if offer %}
Great news: we would like to offer you the {{ role }} position at {{ company }}.
{% if reasons %}What stood out:{% for r in reasons %}
- {{ r }}{% endfor %}{% endif %}
The salary range is {{ salary_min }}-{{ salary_max }} {{ currency }}, starting {{ start_date }}.
Please let us know by {{ offer_deadline }}.
{% else %}
Thank you for the time you gave us for the {{ role }} role. We will not move forward this time.
{% if reasons %}Some feedback:{% for r in reasons %}
- {{ r }}{% endfor %}{% endif %}
We would like to keep in touch about future openings.
{% endif %}
{{ recruiter_name }}, {{ company }}
"""
HTML = """<html><body><p>Hi {{ first_name }},</p>
{% if offer %}<p>Great news: we would like to offer you the <b>{{ role }}</b> position at {{ company }}.</p>
{% if reasons %}<ul>{% for r in reasons %}<li>{{ r }}</li>{% endfor %}</ul>{% endif %}
<p>The salary range is {{ salary_min }}-{{ salary_max }} {{ currency }}, starting {{ start_date }}.
Please let us know by {{ offer_deadline }}.</p>
{% else %}<p>Thank you for the time you gave us for the {{ role }} role. We will not move forward this time.</p>
{% if reasons %}<ul>{% for r in reasons %}<li>{{ r }}</li>{% endfor %}</ul>{% endif %}
<p>We would like to keep in touch about future openings.</p>{% endif %}
<p>{{ recruiter_name }}<br>{{ company }}</p></body></html>
"""


def make_batch(rows: int, path: Path) -> dict:
    """`rows` candidates, every one reachable by email in an open window at NOW."""
    from followup.samples import generate_batch, write_batch

    started = time.perf_counter()
    frame = generate_batch(rows * 3, seed=11, bad_share=0.0, channel_mix=(1.0, 0.0, 0.0), now=NOW - timedelta(days=3))
    frame = frame[frame["timezone"].str.startswith("Europe/")].head(rows)
    if len(frame) < rows:
        raise SystemExit(f"the generator gave only {len(frame)} European rows")
    write_batch(frame, path)
    return {"rows": rows, "seconds": round(time.perf_counter() - started, 2), "bytes": path.stat().st_size,
            "offers": int((frame["decision"] == "offer").sum())}  # fmt: skip


def sandbox_config(latency_ms: float):
    from followup.sandbox import SandboxConfig

    return SandboxConfig(api_key=API_KEY, latency_ms=latency_ms, validate_share=0.01)


def prefect_db() -> Path | None:
    """Prefect's SQLite database, where the temporary server (or a local one on the same home)
    records the flow's task runs."""
    home = Path(os.environ.get("PREFECT_HOME", "~/.prefect")).expanduser()
    found = home / "prefect.db"
    return found if found.is_file() else None


def task_timeline(since: float) -> dict | None:
    """The campaign flow run started after `since` (unix time): its own length and each of its
    task and subflow runs, seconds from the flow's start to their start and their length."""
    db = prefect_db()
    if db is None:
        return None
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        flow = conn.execute(
            "SELECT id, start_time, end_time FROM flow_run WHERE name IS NOT NULL AND parent_task_run_id IS NULL "
            "AND start_time >= datetime(?, 'unixepoch') ORDER BY start_time DESC LIMIT 1", (since,),
        ).fetchone()  # fmt: skip
        if flow is None:
            return None
        rows = conn.execute(
            "SELECT name, (julianday(start_time) - julianday(?)) * 86400, "
            "(julianday(end_time) - julianday(start_time)) * 86400 FROM task_run "
            "WHERE start_time >= ? AND end_time <= ? ORDER BY start_time", (flow[1], flow[1], flow[2]),
        ).fetchall()  # fmt: skip
        flow_start = conn.execute("SELECT (julianday(?) - julianday(datetime(?, 'unixepoch'))) * 86400",
                                  (flow[1], since)).fetchone()[0]  # fmt: skip
        length = conn.execute("SELECT (julianday(?) - julianday(?)) * 86400", (flow[2], flow[1])).fetchone()[0]
    return {
        "flow_starts_after_s": round(flow_start, 2),
        "flow_s": round(length, 2),
        "tasks": [{"task": name.rsplit("-", 1)[0], "at_s": round(at, 2), "s": round(s, 2)} for name, at, s in rows],
    }


def keys_accepted_twice(sandbox) -> int:
    return sum(1 for n in Counter(key for _, key in sandbox.message_keys()).values() if n > 1)


def whole_run(batch: Path, latency_ms: float, senders: int, concurrency: int) -> dict:
    """`followup run` end to end, as a subprocess against a sandbox of its own, fresh data dir."""
    from followup.sandbox import Sandbox

    workdir = Path(tempfile.mkdtemp(prefix="campaign-bench-run-"))
    try:
        with Sandbox(sandbox_config(latency_ms), process=True) as sandbox:
            env = {**os.environ, "FOLLOWUP_DATA_DIR": str(workdir), "FOLLOWUP_TRANSPORT": "sendgrid",
                   "SENDGRID_API_KEY": API_KEY, "SENDGRID_API_HOST": sandbox.url, "FOLLOWUP_FROM_EMAIL": FROM_EMAIL,
                   "FOLLOWUP_FROM_NAME": FROM_NAME, "FOLLOWUP_SENDERS": str(senders),
                   "FOLLOWUP_SEND_CONCURRENCY": str(concurrency)}  # fmt: skip
            env.pop("FOLLOWUP_DATABASE_URL", None)
            load_before, since = load(), time.time()
            started = time.perf_counter()
            done = subprocess.run(
                [followup_command(), "run", str(batch), "--campaign", CAMPAIGN, "--now", NOW.isoformat(), "--json"],
                env=env, capture_output=True, text=True,
            )  # fmt: skip
            seconds = time.perf_counter() - started
            load_after = load()
            stats = sandbox.stats()
            twice = keys_accepted_twice(sandbox)
        try:
            summary = json.loads(done.stdout)
        except ValueError:
            summary = {}
        sent = summary.get("counts", {}).get("sent", 0)
        return {
            "seconds": round(seconds, 2),
            "sent": sent,
            "messages_per_s": round(sent / seconds, 1),
            "exit_code": done.returncode,
            "accepted_by_sandbox": stats["accepted"],
            "keys_accepted_more_than_once": twice,
            "counts": summary.get("counts"),
            "load_average": {"start": load_before, "end": load_after},
            "timeline": task_timeline(since),
            "stderr_tail": done.stderr[-2000:] if done.returncode else None,
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def settings_for(workdir: Path, sandbox_url: str, senders: int, concurrency: int):
    from followup.config import Settings

    return Settings(data_dir=workdir, database_url=f"sqlite:///{workdir / 'followup.db'}", transport="sendgrid",
                    SENDGRID_API_KEY=API_KEY, SENDGRID_API_HOST=sandbox_url, from_email=FROM_EMAIL,
                    from_name=FROM_NAME, senders=senders, send_concurrency=concurrency)  # fmt: skip


def prepare_ledger(batch: Path, settings) -> dict:
    """Import, plan and render the batch by the plain stage functions, each timed."""
    from followup.stages import importing, planning, rendering

    times = {}
    started = time.perf_counter()
    setup = importing.ImportSetup.of(settings)
    record = importing.open_batch(batch, setup)
    raw = importing.read(batch, None, record, setup)
    checked, quarantine = importing.validate(raw, record, setup)
    imported = importing.store(record, raw, checked, quarantine, setup)
    times["import"] = time.perf_counter() - started
    started = time.perf_counter()
    plan = planning.plan_batch(planning.PlanSetup.of(settings), CAMPAIGN, imported.batch_id, NOW)
    times["plan"] = time.perf_counter() - started
    started = time.perf_counter()
    ids = rendering.planned(settings.ledger_url, CAMPAIGN)
    done = rendering.render_in_processes(settings.ledger_url, ids, rendering.RenderSetup.of(settings), NOW,
                                         settings.render_processes)  # fmt: skip
    times["render"] = time.perf_counter() - started
    return {"seconds": {k: round(v, 2) for k, v in times.items()}, "valid": imported.valid, "planned": plan.planned,
            **done}  # fmt: skip


def stage_alone(batch: Path, latency_ms: float, senders: int, concurrency: int) -> dict:
    """The send stage on the same batch, rendered beforehand into a fresh ledger."""
    from followup.sandbox import Sandbox
    from followup.store import close_ledgers

    workdir = Path(tempfile.mkdtemp(prefix="campaign-bench-stage-"))
    try:
        with Sandbox(sandbox_config(latency_ms), process=True) as sandbox:
            settings = settings_for(workdir, sandbox.url, senders, concurrency)
            prepared = prepare_ledger(batch, settings)
            load_before = load()
            stage = time_send_stage(settings, sandbox, NOW, CAMPAIGN)
            stage["load_average"] = {"start": load_before, "end": load()}
            stage["accepted_by_sandbox"] = sandbox.stats()["accepted"]
            stage["keys_accepted_more_than_once"] = keys_accepted_twice(sandbox)
        stage["prepared_without_prefect"] = prepared
        close_ledgers()
        return stage
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def batch_rows(batch: Path, count: int):
    import pandas as pd

    frame = pd.read_csv(batch, nrows=count, dtype=str, keep_default_na=False)
    return frame


def context(row) -> dict:
    """One row as the naive loop's templates see it."""
    return {**row, "offer": row["decision"] == "offer", "reasons": [r for r in row["reasons"].split(";") if r]}


def plain_templates():
    import jinja2

    env = jinja2.Environment(autoescape=False)
    html = jinja2.Environment(autoescape=True)
    return env.from_string(SUBJECT), env.from_string(TEXT), html.from_string(HTML)


def mail_for(row: dict, templates, n: int):
    from sendgrid.helpers.mail import CustomArg, Mail

    subject, text, html = templates
    values = context(row)
    mail = Mail(from_email=(FROM_EMAIL, FROM_NAME), to_emails=row["email"], subject=subject.render(values),
                plain_text_content=text.render(values), html_content=html.render(values))  # fmt: skip
    mail.custom_arg = CustomArg("message_key", f"plain:{n}")
    return mail


def serial_loop(batch: Path, rows: int, count: int, latency_ms: float) -> dict:
    """(a): pandas, Jinja2 and the official client, one message after another."""
    from followup.sandbox import Sandbox
    from sendgrid import SendGridAPIClient

    with Sandbox(sandbox_config(latency_ms), process=True) as sandbox:
        started = time.perf_counter()
        frame = batch_rows(batch, count)
        templates = plain_templates()
        client = SendGridAPIClient(api_key=API_KEY, host=sandbox.url)
        for n, row in enumerate(frame.to_dict("records")):
            if client.send(mail_for(row, templates, n)).status_code != 202:
                raise RuntimeError("the sandbox refused a message of the serial loop")
        seconds = time.perf_counter() - started
    rate = count / seconds
    return {"messages": count, "seconds": round(seconds, 2), "messages_per_s": round(rate, 1),
            "extrapolated_s": round(rows / rate, 1)}  # fmt: skip


def prefect_per_message(batch: Path, rows: int, count: int, latency_ms: float) -> dict:
    """(b): one Prefect task per message (render, send with the official client), mapped on the
    default task runner; the server started by a first flow run, outside the timing."""
    from followup.sandbox import Sandbox
    from prefect import flow, task
    from prefect.settings import PREFECT_TASK_RUNNER_THREAD_POOL_MAX_WORKERS
    from sendgrid import SendGridAPIClient

    templates = plain_templates()

    @task
    def send_one(row: dict, n: int, host: str) -> int:
        return SendGridAPIClient(api_key=API_KEY, host=host).send(mail_for(row, templates, n)).status_code

    @flow
    def per_message(path: str, count: int, host: str) -> list[int]:
        records = batch_rows(Path(path), count).to_dict("records")
        return send_one.map(records, range(len(records)), host).result()

    @flow
    def warm_up() -> None:
        pass

    started = time.perf_counter()
    warm_up()
    server_s = time.perf_counter() - started
    with Sandbox(sandbox_config(latency_ms), process=True) as sandbox:
        started = time.perf_counter()
        codes = per_message(str(batch), count, sandbox.url)
        seconds = time.perf_counter() - started
    rate = count / seconds
    return {"messages": count, "seconds": round(seconds, 2), "messages_per_s": round(rate, 1),
            "extrapolated_s": round(rows / rate, 1), "accepted": codes.count(202),
            "task_runner_threads": PREFECT_TASK_RUNNER_THREAD_POOL_MAX_WORKERS.value() or min(32, (os.cpu_count() or 1) + 4),
            "first_flow_run_s": round(server_s, 2)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=1, help="pairs of whole run and stage alone, alternating")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--serial-messages", type=int, default=100)
    parser.add_argument("--prefect-messages", type=int, default=2_000)
    parser.add_argument("--senders", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=128)
    opts = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="campaign-bench-"))
    batch = workdir / "batch.csv"
    load_before = load()
    made = make_batch(opts.rows, batch)
    runs, stages = [], []
    for n in range(opts.rounds):
        pair = [lambda: runs.append(whole_run(batch, opts.latency_ms, opts.senders, opts.concurrency)),
                lambda: stages.append(stage_alone(batch, opts.latency_ms, opts.senders, opts.concurrency))]  # fmt: skip
        for measure in pair if n % 2 == 0 else reversed(pair):
            measure()
    # After the pairs: this process's own Prefect server is not running beside them.
    serial = serial_loop(batch, opts.rows, min(opts.serial_messages, opts.rows), opts.latency_ms)
    per_task = prefect_per_message(batch, opts.rows, min(opts.prefect_messages, opts.rows), opts.latency_ms)
    shutil.rmtree(workdir, ignore_errors=True)

    stage_rate = median(s["messages_per_s"] for s in stages)
    run_rate = median(r["messages_per_s"] for r in runs)
    ratio = stage_rate / serial["messages_per_s"]
    shares = [r["messages_per_s"] / s["messages_per_s"] for r, s in zip(runs, stages)]
    share = median(shares)
    # Every message planned is due: sent once, by both, and the same number.
    due = {s["prepared_without_prefect"]["planned"] for s in stages}
    every_sent = len(due) == 1 and all(
        m["sent"] == m["accepted_by_sandbox"] == next(iter(due)) and not m["keys_accepted_more_than_once"]
        for m in [*runs, *({**s, "sent": s["report"]["sent"]} for s in stages)]
    ) and all(r["exit_code"] == 0 for r in runs)
    result = {
        "benchmark": "campaign",
        "rows": opts.rows,
        "latency_ms": opts.latency_ms,
        "settings": {"senders": opts.senders, "send_concurrency": opts.concurrency},
        "prefect_server": "PREFECT_API_URL" if os.environ.get("PREFECT_API_URL") else "temporary (ephemeral)",
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "load_average_at_start": load_before,
        "batch": made,
        "whole_run": runs,
        "send_stage_alone": stages,
        "serial_loop": serial,
        "prefect_task_per_message": per_task,
        "send_stage_messages_per_s": stage_rate,
        "whole_run_messages_per_s": run_rate,
        "speedup_over_serial": round(ratio, 1),
        "speedup_over_prefect_per_message": round(stage_rate / per_task["messages_per_s"], 1),
        "whole_run_share_of_stage_rate": [round(s, 3) for s in shares],
        "every_message_sent_once": every_sent,
        "targets": {"messages_per_s": TARGET_RATE, "speedup_over_serial": TARGET_RATIO,
                    "whole_run_share": TARGET_SHARE},  # fmt: skip
        "met": {"send_stage": stage_rate >= TARGET_RATE and ratio >= TARGET_RATIO,
                "whole_run": share >= TARGET_SHARE, "exactly_once": every_sent},  # fmt: skip
    }
    print(json.dumps(result, indent=2))
    print(
        f"campaign of {opts.rows:,}: whole `followup run` {median(r['seconds'] for r in runs):.1f} s = "
        f"{run_rate:,.0f}/s, {share:.0%} of the send stage alone ({stage_rate:,.0f}/s; target "
        f"{TARGET_SHARE:.0%}); serial pandas+jinja2+sendgrid {serial['messages_per_s']:.1f}/s "
        f"(x{ratio:.0f}, target x{TARGET_RATIO:.0f}, {serial['extrapolated_s'] / 3600:.1f} h for all); Prefect task "
        f"per message {per_task['messages_per_s']:.0f}/s ({per_task['extrapolated_s']:.0f} s for all); "
        f"all sent once: {'yes' if every_sent else 'NO'}; load {load_before[0]}-{load()[0]}"
    )


if __name__ == "__main__":
    main()
