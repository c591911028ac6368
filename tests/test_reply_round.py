"""A round with reply tracking on, through the campaign flow, `followup serve` on a real socket and
the sweep: each offer replies to its own address, a candidate's "I accept" stops their nudge, an
out-of-office reply holds it until the return date, and the recruiter gets each reply once."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from flows.campaign import run_campaign
from flows.followup_sweep import sweep
from followup.config import Settings
from followup.models import Message, Reply, Response
from followup.sandbox import Sandbox, SandboxConfig
from followup.samples import SAMPLE_NOW, generate_batch, write_batch
from followup.secret_key import signing_secret
from followup.stages.replies import InboundSetup
from followup.store import open_ledger
from followup.tracking.reply_address import ReplyAddresses
from followup.transports.memory import MemoryTransport
from followup.web import serving
from followup.web.inbound import PATH as INBOUND_PATH
from tests.test_inbound import parse_fields, post

pytestmark = pytest.mark.usefixtures("prefect_harness")
ANYTIME = Path(__file__).parent / "cadences" / "anytime.yaml"
DOMAIN = "replies.acme.example"
TOKEN = "inbound-token-0123456789abcdefghij"


def test_replies_stop_or_hold_the_nudges_and_reach_the_recruiter_once(ledger_url, tmp_path):
    frame = generate_batch(12, seed=8, bad_share=0.0, channel_mix=(1.0, 0.0, 0.0), now=SAMPLE_NOW)
    settings = Settings(data_dir=tmp_path / "data", database_url=ledger_url, from_email="jobs@acme.example",
                        from_name="Acme Recruiting", send_concurrency=4, senders=1, cadence_file=ANYTIME,
                        reply_domain=DOMAIN, inbound_token=SecretStr(TOKEN),
                        secret_key=SecretStr("reply-round-secret-0123456789abcdef"))  # fmt: skip
    first = MemoryTransport()
    assert run_campaign(write_batch(frame, tmp_path / "round.csv"), "nov", None, settings, SAMPLE_NOW,
                        email=first).counts == {"sent": 12}  # fmt: skip
    addresses = ReplyAddresses(DOMAIN, signing_secret(settings))
    with open_ledger(ledger_url).connect() as conn:
        row_of = dict(conn.execute(sa.select(Message.message_key, Message.id)).all())
    for envelope in first.outbox:  # every email answers to its own address, and names its row
        row = row_of[envelope.message_key]
        assert envelope.reply_to == addresses.address(row) and envelope.message_id == addresses.message_id_header(row)

    offers = {e.custom_args["candidate_id"]: e for e in first.outbox if e.custom_args["kind"] == "offer"}
    # The one away has the latest offer deadline, so their nudge can still go after they are back.
    deadlines = dict(zip(frame["candidate_id"], frame["offer_deadline"]))
    away = offers.pop(max(offers, key=lambda who: deadlines[who]))
    accepting = offers.pop(min(offers))
    silent = set(offers)
    engine = open_ledger(ledger_url)
    back = (SAMPLE_NOW + timedelta(days=6)).date()  # a Wednesday, after the Monday of the nudges
    with serving(engine, settings.secret_key, inbound_setup=InboundSetup.of(settings)) as url:
        assert post(url, parse_fields(f"{accepting.to_name} <{accepting.to_email}>", accepting.reply_to,
                                      "Yes! I accept the offer.", date=SAMPLE_NOW + timedelta(hours=3)))[0] == 200
        assert post(url, parse_fields(away.to_email, away.reply_to, f"I am out of the office until {back:%d %B %Y}.",
                                      subject="Automatic reply: your offer", date=SAMPLE_NOW + timedelta(hours=1),
                                      extra_headers="Auto-Submitted: auto-replied\n"))[0] == 200  # fmt: skip

    def nudged(transport: MemoryTransport) -> set[str]:
        return {e.custom_args["candidate_id"] for e in transport.outbox if e.custom_args["kind"] == "offer_nudge"}

    nudges = SAMPLE_NOW + timedelta(days=4)  # Monday: two business days on
    transport = MemoryTransport()
    summary = sweep(settings, nudges, email=transport)
    assert summary.forwards["forwarded"] == 2
    forwards = [e for e in transport.outbox if e.custom_args["kind"] == "reply_forward"]
    assert sorted(f.reply_to for f in forwards) == sorted([accepting.to_email, away.to_email])
    assert nudged(transport) == silent  # not the one who accepted, not yet the one away

    again = MemoryTransport()
    assert sweep(settings, nudges, email=again).forwards["forwarded"] == 0
    assert not [e for e in again.outbox if e.custom_args["kind"] == "reply_forward"]
    returned = MemoryTransport()
    sweep(settings, datetime.combine(back, time(12), tzinfo=timezone.utc), email=returned)
    assert nudged(returned) == {away.custom_args["candidate_id"]}


def test_the_sandboxs_candidates_reply_and_every_reply_is_stored_matched_by_its_address(tmp_path):
    """The sandbox as SendGrid and as candidates, the app as `followup serve`: the two sides meet."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    secret = SecretStr("reply-round-secret-0123456789abcdef")
    settings_values = dict(data_dir=tmp_path / "data", database_url=url, from_email="jobs@acme.example",
                           send_concurrency=4, senders=1, cadence_file=ANYTIME, reply_domain=DOMAIN,
                           inbound_token=SecretStr(TOKEN), secret_key=secret, transport="sendgrid",
                           sendgrid_api_key=SecretStr("SG.sandbox"))  # fmt: skip
    engine = open_ledger(url)
    frame = generate_batch(60, seed=3, bad_share=0.0, channel_mix=(1.0, 0.0, 0.0), now=SAMPLE_NOW)
    inbound = InboundSetup(SecretStr(TOKEN), ReplyAddresses(DOMAIN, secret), "jobs@acme.example")
    with serving(engine, secret, inbound_setup=inbound) as app_url:
        config = SandboxConfig(seed=11, behaviour=True, event_interval_s=0.05,
                               inbound_url=f"{app_url}{INBOUND_PATH}/{TOKEN}")  # fmt: skip
        with Sandbox(config) as sandbox:
            sandbox.set_clock(SAMPLE_NOW)
            settings = Settings(**settings_values, sendgrid_api_host=sandbox.url)
            assert run_campaign(write_batch(frame, tmp_path / "round.csv"), "nov", None, settings,
                                SAMPLE_NOW).counts == {"sent": 60}  # fmt: skip
            sandbox.set_clock(SAMPLE_NOW + timedelta(days=3))
            stats = sandbox.wait_for_events(timeout=30)
    assert stats["replies_posted"] >= 1 and stats["replies_dropped"] == 0 and stats["replies_waiting"] == 0
    with engine.connect() as conn:
        stored = conn.execute(sa.select(Reply.matched_by, Reply.message_key, Reply.candidate_id, Message.candidate_id)
                              .join(Message, Message.message_key == Reply.message_key)).all()  # fmt: skip
        responses = conn.execute(sa.select(sa.func.count()).select_from(Response)).scalar_one()
    assert len(stored) == stats["replies_posted"]  # every reply stored, once, and matched
    assert {route for route, *_ in stored} == {"address"}
    assert all(reply_candidate == message_candidate for _, _, reply_candidate, message_candidate in stored)
    assert responses == len(stored)
