"""Drill: a malformed batch arrives in the middle of a scheduled round.

A round as the schedule runs it: a campaign on a good batch, then a campaign on a broken one
(its export lost the email column; then one cut off mid-byte, not text at all), a sweep, and a
campaign on the next good batch. Each broken file is refused whole, with a reason that names
the problem, and leaves nothing of itself in the ledger but the record of its refusal; the runs
around it send what they should, each message once.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from drillkit import backend, check_delivery
from flows.campaign import run_campaign
from flows.followup_sweep import sweep
from followup.config import Settings
from followup.models import Batch, Candidate, Message
from followup.samples import SAMPLE_NOW, generate_batch, write_batch
from followup.sandbox import Sandbox, SandboxConfig
from followup.store import open_ledger

pytestmark = [pytest.mark.drill, pytest.mark.usefixtures("prefect_harness")]

KEY = "SG.drill"
ANYTIME = Path(__file__).parents[1] / "cadences" / "anytime.yaml"  # every moment a send window


def good_batch(path: Path, prefix: str, seed: int) -> Path:
    frame = generate_batch(20, seed=seed, bad_share=0.0, channel_mix=(1.0, 0.0, 0.0), now=SAMPLE_NOW)
    frame["candidate_id"] = prefix + frame["candidate_id"]
    return write_batch(frame, path)


def test_a_malformed_batch_mid_round_is_refused_whole_and_the_round_goes_on(ledger_url, tmp_path):
    first = good_batch(tmp_path / "round-1.csv", "A", seed=11)
    frame = generate_batch(20, seed=13, bad_share=0.0, channel_mix=(1.0, 0.0, 0.0), now=SAMPLE_NOW)
    no_email = write_batch(frame.drop(columns=["email"]).assign(candidate_id="X" + frame["candidate_id"]),
                           tmp_path / "round-2-no-email.csv")  # fmt: skip
    cut_off = tmp_path / "round-2-cut-off.xlsx"
    cut_off.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)  # the first bytes of a ZIP, then noise
    second = good_batch(tmp_path / "round-3.csv", "B", seed=12)

    with Sandbox(SandboxConfig(api_key=KEY, validate_share=0.0)) as sandbox:
        settings = Settings(data_dir=tmp_path / "data", database_url=ledger_url, from_email="jobs@acme.example",
                            from_name="Acme Recruiting", send_concurrency=8, senders=1, cadence_file=ANYTIME,
                            transport="sendgrid", sendgrid_api_key=SecretStr(KEY), sendgrid_api_host=sandbox.url)
        before = run_campaign(first, "round-1", None, settings, SAMPLE_NOW)
        broken = [run_campaign(path, "round-2", None, settings, SAMPLE_NOW) for path in (no_email, cut_off)]
        swept = sweep(settings, SAMPLE_NOW)
        after = run_campaign(second, "round-3", None, settings, SAMPLE_NOW)
        accepted = sandbox.message_keys()

    engine = open_ledger(ledger_url)
    with engine.connect() as conn:
        keys = list(conn.execute(sa.select(Message.message_key)).scalars())
        campaigns = Counter(conn.execute(sa.select(Message.campaign)).scalars())
        people = set(conn.execute(sa.select(Candidate.candidate_id)).scalars())
        batches = dict(conn.execute(sa.select(Batch.source_name, Batch.status)).all())
    delivery = check_delivery(engine, accepted, keys)

    assert [summary.status for summary in broken] == ["refused", "refused"]
    assert "email" in broken[0].reason
    assert broken[1].reason
    assert all(summary.exit_code() == 2 for summary in broken)
    assert (before.exit_code(), after.exit_code()) == (0, 0)
    assert campaigns == {"round-1": 20, "round-3": 20}  # nothing planned for the broken round
    assert len(people) == 40 and not any(person.startswith("X") for person in people)
    assert batches[no_email.name] == batches[cut_off.name] == "refused"
    assert delivery.sent == delivery.accepted == 40 and delivery.unknown == 0
    assert sum(report["requests"] for report in swept.campaigns.values()) == 0  # the sweep found nothing left
    print(f"\ndrill malformed-batch [{backend(engine)}]: round-1 sent {before.counts.get('sent', 0)}; "
          f"refused: {no_email.name} ({broken[0].reason.splitlines()[0]}), {cut_off.name} ({broken[1].reason.splitlines()[0]}); "
          f"round-3 sent {after.counts.get('sent', 0)}; {delivery.line()}")
