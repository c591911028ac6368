"""The response report, run weekly (prefect.yaml: Monday 08:00, company time zone) or by
`followup report`: response rates by channel and timing with their intervals, as HTML, CSV and
JSON under the data dir's reports/, and as Prefect artifacts (the rates by channel as a table,
the summary and recommendations as Markdown).

    followup report [--since T] [--until T] [--campaign NAME] [--out DIR] [--json]
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from followup.clock import business_time
from followup.config import Settings
from followup.stages.reporting import ReportSetup, channel_rows, markdown_summary
from flows.secret_blocks import run_settings
from tasks.reporting import build_report, write_report_files


@flow(name="response-report", validate_parameters=False)
def response_report(
    settings: Settings | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    campaign: str | None = None,
    out_dir: Path | None = None,
) -> tuple[dict, dict[str, str]]:
    """(the document, the paths of the files written). `until` defaults to now (the business clock)."""
    settings = run_settings(settings)
    until, since = business_time(until), None if since is None else business_time(since)
    setup = ReportSetup.of(settings, out_dir)
    document = build_report(setup, since, until, campaign)
    files = write_report_files(document, setup.out_dir)
    # One key each: the UI keeps every week's report as the key's history.
    create_table_artifact(key="response-rates-by-channel", table=channel_rows(document),
                          description="Response rate by channel of first contact, with Wilson 95% intervals")  # fmt: skip
    create_markdown_artifact(key="response-report", markdown=markdown_summary(document, files),
                             description="Response report: funnel and recommendations")  # fmt: skip
    return document, files
