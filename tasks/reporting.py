"""The response report's tasks: thin Prefect tasks over followup.stages.reporting."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from followup.stages import reporting
from followup.stages.reporting import ReportSetup


@task(name="build-report", cache_policy=NO_CACHE)
def build_report(setup: ReportSetup, since: datetime | None, until: datetime, campaign: str | None) -> dict:
    return reporting.response_report(setup, since=since, until=until, campaign=campaign)


@task(name="write-report", cache_policy=NO_CACHE)
def write_report_files(document: dict, out_dir: Path) -> dict[str, str]:
    return reporting.write_outputs(document, out_dir)
