"""The response report as `followup report` and the weekly flow run it: read the ledger, build the
document (followup.analytics), write it out (followup.reporting), and say it briefly for the
Prefect artifacts and the terminal.

    document = response_report(setup, since=None, until=now)
    files = write_outputs(document, setup.out_dir)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from followup.analytics import response_document
from followup.analytics.stats import MIN_N
from followup.config import Settings
from followup.models import utcnow
from followup.store import open_ledger
from followup.store.report_data import report_data


@dataclass(frozen=True)
class ReportSetup:
    ledger_url: str
    out_dir: Path  # where the HTML, CSV and JSON go
    company_zone: str | None = None  # the zone of candidates without one
    company_country: str | None = None  # the holidays of candidates without a country
    machine_seconds: float = 10.0  # FOLLOWUP_MACHINE_OPEN_SECONDS: opens sooner are a machine's
    min_n: int = MIN_N

    @classmethod
    def of(cls, settings: Settings, out_dir: Path | None = None) -> ReportSetup:
        return cls(settings.ledger_url, out_dir or settings.data_dir / "reports", settings.timezone, settings.country,
                   settings.machine_open_seconds)  # fmt: skip


def response_report(setup: ReportSetup, *, since: datetime | None, until: datetime,
                    campaign: str | None = None) -> dict:  # fmt: skip
    """The report document for contacts from `since` (None: all time) with what was recorded by `until`."""
    data = report_data(open_ledger(setup.ledger_url), until, campaign)
    document = response_document(data, since=since, until=until, company_zone=setup.company_zone,
                                 company_country=setup.company_country, min_n=setup.min_n,
                                 machine_seconds=setup.machine_seconds, generated_at=utcnow())  # fmt: skip
    document["campaign"] = campaign
    return document


def write_outputs(document: dict, out_dir: Path) -> dict[str, str]:
    """The HTML report, the CSV tables and the JSON document under `out_dir`: the page's path, the
    document's, and the folder holding the tables."""
    from followup.reporting import write_report  # matplotlib and the template: only when writing

    files = write_report(document, out_dir)
    return {"html": str(files.html), "json": str(files.json), "csv": str(files.html.parent)}


def channel_rows(document: dict) -> list[dict]:
    """The rates by channel as table rows (the Prefect table artifact)."""
    return [{"channel": name, "contacted": c["n"], "responded": c["responses"],
             "rate": None if c["rate"] is None else round(c["rate"], 4),
             "ci_low": None if c["ci_low"] is None else round(c["ci_low"], 4),
             "ci_high": None if c["ci_high"] is None else round(c["ci_high"], 4),
             "flagged": c["flagged"]} for name, c in document["by_channel"].items()]  # fmt: skip


def markdown_summary(document: dict, files: dict[str, str]) -> str:
    """The report in a few lines (the Prefect markdown artifact)."""
    funnel = document["funnel"]
    lines = [f"# Response report (until {document['window']['until']})", "",
             f"{funnel['contacted']} contacted, {funnel['delivered']} delivered, {funnel['opened']} opened by a "
             f"person, {funnel['clicked']} clicked, {funnel['responded']} responded, {funnel['accepted']} accepted.",
             "", f"Timing cells from: {document['timing_source']}.", "", "## Recommendations", ""]  # fmt: skip
    lines += [f"- {r['sentence']}" for r in document["recommendations"]] or ["- No one was contacted in this window."]
    if files.get("html"):
        lines += ["", f"Full report: `{files['html']}`"]
    return "\n".join(lines)
