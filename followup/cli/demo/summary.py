"""What `followup demo` prints at the end of its round: a few lines a new user reads top to
bottom, or one JSON document with --json."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

from followup.cli.common import err, out
from followup.cli.local_prefect import DEFAULT_PORT
from followup.models import Message
from followup.stages.engagement import EngagementSetup, candidate_engagement
from followup.store import open_ledger
from followup.tracking.engagement import WARM, WARMING

LOG_NAME = "demo.log"  # the round's log, unless --verbose sent it to the terminal
WARM_SHOWN = 5  # the warmest few; `followup candidates --warm` lists them all


def round_json(result, world, stats: dict, batch: Path) -> dict:
    """The round's outcome as one document (what print_round says, and the counts behind it)."""
    settings = world.settings
    campaign = result.campaign
    document = {"status": campaign.status, "reason": campaign.reason, "batch_file": str(batch),
                "batch": campaign.batch.to_json(), "ledger": settings.ledger_url,
                "prefect_flow_run": _flow_run(result)}  # fmt: skip
    if campaign.status == "refused":
        return document
    messages = _messages(settings.ledger_url)
    sent = [m for m in messages if m[0] == "sent"]
    warm = [row for row in candidate_engagement(EngagementSetup.of(settings), result.until)
            if row.engagement.state in (WARM, WARMING)]
    document.update({
        "until": result.until.isoformat(),
        "sweeps": len(result.sweeps),
        "seconds": result.seconds,
        "messages": dict(Counter(status for status, *_ in messages)),
        "sent": {"total": len(sent), "first": sum(1 for m in sent if m[2] == 0),
                 "follow_ups": sum(1 for m in sent if m[2] > 0),
                 "by_channel": dict(Counter(m[1] for m in sent))},
        "funnel": result.report.get("funnel", {}),
        "warm": {"count": len(warm), "warmest": [row.to_json() for row in warm[:WARM_SHOWN]]},
        "recommendations": [r["sentence"] for r in result.report.get("recommendations", [])],
        "outcomes_recorded": sum(s.recorded for s in world.outcomes),
        "sandbox": {"accepted": stats.get("accepted"), "accepted_twice": stats.get("accepted_twice"),
                    "answers": stats.get("answers"),
                    "events_posted": stats.get("events_posted"), "replies_posted": stats.get("replies_posted")},
        "files": {"report": result.report_files.get("html"), "report_json": result.report_files.get("json"),
                  "call_sheets": str(settings.call_sheet_dir), "outcomes": str(settings.data_dir / "outcomes"),
                  "quarantine": campaign.batch.quarantine_file, "log": _log(settings.data_dir)},
    })  # fmt: skip
    return document


def print_round(result, world, stats: dict, batch: Path) -> None:
    doc = round_json(result, world, stats, batch)
    imported = doc["batch"]
    if doc["status"] == "refused":  # what a refused batch says, as `followup run` says it
        err.print(f"Refused: {doc['reason']}", markup=False)
        return
    say = lambda text: out.print(text, markup=False)  # noqa: E731  (names, paths: never markup)
    seconds = doc["seconds"]
    say(f"Round of {imported['rows']:,} candidates ({batch}), played to {doc['until'][:16]} UTC in {doc['sweeps']} "
        f"sweeps; it took {seconds['campaign']:.0f} s for the campaign, {seconds['follow_ups']:.0f} s for the "
        f"follow-ups and {seconds['report']:.0f} s for the report")
    say(f"Imported: {imported['valid']:,} valid, {imported['quarantined']:,} quarantined"
        + (f" ({imported['quarantine_file']})" if imported["quarantine_file"] else ""))
    sent = doc["sent"]
    channels = ", ".join(f"{n:,} {channel}" for channel, n in sorted(sent["by_channel"].items()))
    say(f"Sent: {sent['total']:,} messages ({sent['first']:,} first messages, {sent['follow_ups']:,} follow-ups; "
        f"{channels}); the sandbox answered {_answers(doc['sandbox']['answers'])} and accepted "
        f"{doc['sandbox']['accepted_twice'] or 'no'} message twice")
    funnel = doc["funnel"]
    say(f"Candidates: {funnel.get('delivered', 0):,} delivered to, {funnel.get('opened', 0):,} opened (a person, not "
        f"a machine), {funnel.get('clicked', 0):,} clicked; {funnel.get('responded', 0):,} of "
        f"{funnel.get('contacted', 0):,} contacted responded, {funnel.get('accepted', 0):,} accepted "
        f"({doc['outcomes_recorded']:,} call and meeting outcomes recorded)")
    warm = doc["warm"]
    names = "; ".join(f"{w['name']} ({w['label']})" for w in warm["warmest"])
    say(f"Warming up, no answer yet: {warm['count']:,}" + (f", warmest: {names}" if names else ""))
    for sentence in doc["recommendations"]:
        say(f"  {sentence}")
    files = doc["files"]
    say(f"Report: {files['report']}")
    if files["log"]:
        say(f"Log of the round: {files['log']}")
    say(f"Call sheets: {files['call_sheets']}   Outcomes recorded from: {files['outcomes']}")
    say(f"Ledger: {doc['ledger']}")
    run = doc["prefect_flow_run"]
    say(f"Prefect flow run: {run['name']} ({run['id']}); {run['see']}")


def _answers(answers: dict | None) -> str:
    return ", ".join(f"{n:,} × {status}" for status, n in sorted((answers or {}).items())) or "nothing"


def _messages(ledger_url: str) -> list[tuple]:
    with open_ledger(ledger_url).connect() as conn:
        return [tuple(row) for row in conn.execute(sa.select(Message.status, Message.channel, Message.step))]


def _flow_run(result) -> dict:
    """Where the round's flow run is kept, and how to look at it."""
    api = os.environ.get("PREFECT_API_URL")
    if api:
        see = f"{api.removesuffix('/').removesuffix('/api')}/runs/flow-run/{result.flow_run_id}"
    else:  # Prefect's temporary server kept it in the Prefect home's database, which a local server serves
        see = (f"kept in the Prefect home's database: `followup server start`, then "
               f"http://127.0.0.1:{DEFAULT_PORT}/runs/flow-run/{result.flow_run_id}")
    return {"id": result.flow_run_id, "name": result.flow_run_name, "see": see}


def _log(demo_dir: Path) -> str | None:
    path = demo_dir / LOG_NAME
    return str(path) if path.exists() else None
