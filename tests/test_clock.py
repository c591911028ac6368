"""The business clock as a deployment hands it to a flow: a parameter arrives as JSON, so a time
arrives as its ISO 8601 text, and the flows must read it as the time it names."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from flows.campaign import run_campaign
from flows.followup_sweep import sweep
from followup.clock import business_time
from followup.config import Settings
from followup.samples import SAMPLE_NOW, generate_batch, write_batch
from followup.transports.memory import MemoryTransport

ANYTIME = Path(__file__).parent / "cadences" / "anytime.yaml"

T = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("given", [T, "2026-11-26T09:00:00Z", "2026-11-26T09:00:00+00:00", "2026-11-26T10:00:00+01:00",
                                   "2026-11-26T09:00:00"])  # fmt: skip
def test_a_time_or_its_iso_text_is_the_same_business_time(given):
    assert business_time(given) == T and business_time(given).tzinfo is not None


def test_no_time_is_now():
    assert abs(business_time(None) - datetime.now(timezone.utc)) < timedelta(seconds=5)


def test_a_time_that_is_not_one_is_refused():
    with pytest.raises(ValueError):
        business_time("next Tuesday")


@pytest.mark.usefixtures("prefect_harness")
def test_a_sweep_given_its_time_as_text_sends_what_is_due_at_that_time(tmp_path):
    frame = generate_batch(8, seed=8, bad_share=0.0, channel_mix=(1.0, 0.0, 0.0), now=SAMPLE_NOW)
    offers = int((frame["decision"] == "offer").sum())
    frame.loc[frame["decision"] == "offer", "offer_deadline"] = "2027-01-29"  # no deadline passes in the test
    settings = Settings(data_dir=tmp_path / "data", transport="memory", from_email="jobs@acme.example", senders=1,
                        cadence_file=ANYTIME)  # fmt: skip
    assert run_campaign(write_batch(frame, tmp_path / "round.csv"), "nov", None, settings, SAMPLE_NOW,
                        email=MemoryTransport()).counts == {"sent": 8}  # fmt: skip
    too_early, due = MemoryTransport(), MemoryTransport()
    sweep(settings, (SAMPLE_NOW + timedelta(hours=1)).isoformat(), email=too_early)
    summary = sweep(settings, (SAMPLE_NOW + timedelta(days=6)).strftime("%Y-%m-%dT%H:%M:%SZ"), email=due)
    assert too_early.outbox == [] and offers > 0
    assert [e.custom_args["kind"] for e in due.outbox] == ["offer_nudge"] * offers
    assert summary.campaigns["nov"]["sent"] == offers
