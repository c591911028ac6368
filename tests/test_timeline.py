"""One person's timeline and `followup timeline`: their cadence, every step with its time and its
reason, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from followup.cli import app
from followup.models import Batch, Campaign, Candidate, CandidateStop, Decision, Message, Response, Suppression
from followup.stages.timeline import Entry, candidate_timeline
from followup.store import open_ledger

runner = CliRunner()
NOW = datetime(2026, 11, 26, 15, 0, tzinfo=timezone.utc)  # 10:00 in New York


def utc(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=timezone.utc)


def message(key: str, status: str, *, kind="offer_nudge", step=1, channel="email", campaign="nov", who="C-1",
            opens=None, closes=None, **columns) -> dict:  # fmt: skip
    return {"message_key": key, "campaign": campaign, "candidate_id": who, "kind": kind, "step": step,
            "channel": channel, "status": status, "scheduled_for": opens,
            "window_closes": closes if closes is not None else (opens + timedelta(hours=8) if opens else None),
            "cadence": "offer:email", **columns}  # fmt: skip


def seed(url: str, messages: list[dict], *, timezone_name: str | None = "America/New_York") -> None:
    """C-1 (Ana, typed with capitals) and C-2, who must never show in C-1's timeline."""
    with open_ledger(url).begin() as conn:
        conn.execute(sa.insert(Batch).values(id="b1", source_name="round.csv", file_sha256="0" * 64, status="imported"))
        conn.execute(sa.insert(Candidate), [
            {"candidate_id": "C-1", "email": "Ana.Lima@example.com", "first_name": "Ana", "last_name": "Lima",
             "channel": "email", "timezone": timezone_name, "country": "US", "first_batch_id": "b1", "last_batch_id": "b1"},
            {"candidate_id": "C-2", "email": "bo@example.com", "first_name": "Bo", "last_name": "Chen",
             "channel": "email", "timezone": None, "country": None, "first_batch_id": "b1", "last_batch_id": "b1"},
        ])  # fmt: skip
        conn.execute(sa.insert(Decision), [
            {"candidate_id": "C-1", "batch_id": "b1", "source_line": 2, "role": "Data Engineer", "decision": "offer",
             "decided_at": utc(13, 17), "offer_deadline": utc(4, 22, month=12)},
            {"candidate_id": "C-2", "batch_id": "b1", "source_line": 3, "role": "Analyst", "decision": "reject",
             "decided_at": None, "offer_deadline": None},
        ])  # fmt: skip
        for row in (message("c2-0", "sent", kind="rejection", step=0, who="C-2", opens=utc(16, 14), sent_at=utc(16, 14)),
                    *messages):  # each with the columns it sets
            conn.execute(sa.insert(Message).values(**row))


def a_cadence_stopped_by_a_reply(url: str) -> None:
    """The offer and the first nudge went out; Ana replied to the nudge, which stopped the second
    one; her address bounced once; a recruiter then stopped her by hand."""
    seed(url, [
        message("m-0", "sent", kind="offer", step=0, opens=utc(16, 14), sent_at=utc(16, 14, 5)),
        message("m-1", "sent", opens=utc(18, 14), sent_at=utc(18, 14, 2), plan_note="2 business days after step 0",
                experiment_arm="timing", experiment_delay_days=2, experiment_hour=15),
        message("m-2", "cancelled", step=2, opens=utc(23, 14),
                last_error="stopped: replied 2026-11-18 14:02 by email", plan_note="3 business days after step 1"),
    ])  # fmt: skip
    with open_ledger(url).begin() as conn:
        conn.execute(sa.insert(Response), [
            {"candidate_id": "C-1", "message_key": "m-1", "channel": "email", "outcome": "replied",
             "received_at": utc(18, 19, 2), "source": "outcomes:inbox.csv", "note": "Can we talk on Friday?",
             "dedupe_key": "r1"},
            {"candidate_id": "C-2", "message_key": "c2-0", "channel": "email", "outcome": "replied",
             "received_at": utc(17, 9), "source": None, "note": None, "dedupe_key": "r2"},
        ])  # fmt: skip
        conn.execute(sa.insert(CandidateStop).values(candidate_id="C-1", reason="hired elsewhere", source="cli",
                                                     stopped_at=utc(24, 12)))  # fmt: skip
        # SendGrid reports the address lower-cased, a do-not-contact list has it as typed.
        conn.execute(sa.insert(Suppression), [
            {"email": "ana.lima@example.com", "reason": "bounce", "source": "sendgrid", "created_at": utc(20, 10)},
            {"email": "Ana.Lima@example.com", "reason": "list", "source": "dnc.csv", "created_at": utc(25, 8)},
            {"email": "bo@example.com", "reason": "unsubscribe", "source": None, "created_at": utc(19, 8)},
        ])  # fmt: skip


def invoke(tmp_path, ledger_url: str, *args: str, **settings: str):
    env = {"FOLLOWUP_DATA_DIR": str(tmp_path / "data"), "FOLLOWUP_DATABASE_URL": ledger_url, **settings}
    return runner.invoke(app, ["timeline", *args], env=env, catch_exceptions=False)


def test_a_reply_explains_why_the_second_nudge_never_went_out(ledger_url):
    a_cadence_stopped_by_a_reply(ledger_url)
    found = candidate_timeline(ledger_url, "C-1", NOW)
    assert found.candidate == {"candidate_id": "C-1", "name": "Ana Lima", "timezone": "America/New_York",
                               "country": "US", "channel": "email"}  # fmt: skip
    assert [(d["role"], d["decision"], d["offer_deadline"]) for d in found.decisions] == [
        ("Data Engineer", "offer", utc(4, 22, month=12))
    ]
    assert [(e.at, e.what, e.step, e.kind, e.campaign, e.reason) for e in found.entries] == [
        (utc(16, 14, 5), "sent", 0, "offer", "nov", ""),
        (utc(18, 14, 2), "sent", 1, "offer_nudge", "nov",
         "2 business days after step 0; experiment: +2 business days at 15:00"),
        (utc(18, 19, 2), "response", 1, "offer_nudge", "nov",
         "replied by email: Can we talk on Friday?; recorded from outcomes:inbox.csv"),
        (utc(20, 10), "suppressed_address", None, None, None, "address suppressed: bounce (from sendgrid)"),
        # Listed where it would have gone out, after the reply that stopped it.
        (utc(23, 14), "cancelled", 2, "offer_nudge", "nov", "stopped: replied 2026-11-18 14:02 by email"),
        (utc(24, 12), "stopped", None, None, None,
         "stopped: hired elsewhere (recorded by cli); lasts until `followup stop C-1 --undo`"),
        (utc(25, 8), "suppressed_address", None, None, None, "address suppressed: list (from dnc.csv)"),
    ]  # fmt: skip
    assert candidate_timeline(ledger_url, "C-404", NOW) is None


def test_pending_steps_show_their_window_in_the_candidates_zone_as_planned_due_or_postponed(ledger_url):
    seed(ledger_url, [
        message("later", "rendered", step=2, opens=utc(1, 14, month=12), plan_note="3 business days after step 1"),
        message("open", "retry_wait", kind="offer", step=0, campaign="dec", opens=utc(26, 14), attempts=2,
                last_error="503 from SendGrid", next_attempt_at=utc(26, 15, 30)),
        message("closed", "rendered", step=1, channel="voicemail", opens=utc(25, 14), closes=utc(25, 22)),
        message("ooo", "planned", step=3, channel="voicemail", opens=utc(30, 14),
                plan_note="postponed: out of office until 2026-11-30"),
        message("bounced", "suppressed", step=0, kind="offer", opens=utc(21, 14), last_error="suppressed: bounce"),
        message("refused", "failed", step=0, kind="offer", campaign="oct", opens=utc(19, 14), attempts=3,
                last_error="400: the address is not valid"),
        message("unrenderable", "failed", step=0, kind="offer", campaign="sep", opens=utc(17, 14),
                last_error="template offer/email.txt.j2: 'salary' is undefined"),
        message("lost", "unknown", step=0, kind="offer", campaign="aug", opens=utc(22, 14), last_error="read timeout"),
        message("flight", "sending", step=0, kind="offer", campaign="jul", opens=utc(26, 14, 30)),
    ])  # fmt: skip
    with open_ledger(ledger_url).begin() as conn:  # a paused campaign is why its due message waits
        conn.execute(sa.insert(Campaign).values(name="dec", state="paused", reason="budget review"))
    entries = candidate_timeline(ledger_url, "C-1", NOW).entries
    assert [(e.at, e.what, e.campaign, e.reason) for e in entries] == [
        (utc(17, 14), "failed", "sep", "template offer/email.txt.j2: 'salary' is undefined"),
        (utc(19, 14), "failed", "oct", "after 3 attempts: 400: the address is not valid"),
        (utc(21, 14), "suppressed", "nov", "suppressed: bounce"),
        (utc(22, 14), "unknown", "aug", "fate unknown: see `followup reconcile`; read timeout"),
        (utc(25, 14), "due", "nov", "window 2026-11-25 09:00–17:00 America/New_York closed before it went out: "
                                    "the next sweep moves it to the next window"),
        (utc(26, 14), "due", "dec", "window open 2026-11-26 09:00–17:00 America/New_York: due now; attempt 2 did "
                                    "not go through: 503 from SendGrid; next try after 2026-11-26 15:30 UTC; "
                                    "campaign dec is paused (budget review)"),
        (utc(26, 14, 30), "sending", "jul", "a sender has it now"),
        (utc(30, 14), "postponed", "nov", "postponed: out of office until 2026-11-30; "
                                          "due 2026-11-30 09:00–17:00 America/New_York"),
        (utc(1, 14, month=12), "planned", "nov", "due 2026-12-01 09:00–17:00 America/New_York; "
                                                 "3 business days after step 1"),
    ]  # fmt: skip


def test_the_planners_upcoming_entries_join_the_ledgers_in_time_order(ledger_url):
    a_cadence_stopped_by_a_reply(ledger_url)
    held = Entry(utc(19, 9), "held", 2, "offer_nudge", "email", "nov", "step 1's fate is unknown: `followup reconcile`")
    skipped = Entry(utc(30, 14), "skipped", 3, "in_person_invite", "in_person", "nov", "lives abroad: no in-person step")
    entries = candidate_timeline(ledger_url, "C-1", NOW, upcoming=[skipped, held]).entries
    assert [(e.at, e.what) for e in entries if e.what in ("held", "skipped", "response", "suppressed_address")] == [
        (utc(18, 19, 2), "response"), (utc(19, 9), "held"), (utc(20, 10), "suppressed_address"),
        (utc(25, 8), "suppressed_address"), (utc(30, 14), "skipped"),
    ]
    with pytest.raises(ValueError, match="not 'nudged'"):
        Entry(utc(19, 9), "nudged")


def test_without_a_zone_of_their_own_times_are_shown_in_the_company_zone(ledger_url):
    seed(ledger_url, [message("later", "planned", opens=utc(1, 9, month=12))], timezone_name=None)
    found = candidate_timeline(ledger_url, "C-1", NOW, default_timezone="Europe/London")
    assert found.candidate["timezone"] == "Europe/London"
    assert [e.reason for e in found.entries] == ["due 2026-12-01 09:00–17:00 Europe/London"]
    assert candidate_timeline(ledger_url, "C-1", NOW).candidate["timezone"] == "UTC"


def test_the_command_prints_local_and_utc_times_and_leaves_markup_in_notes_alone(tmp_path, ledger_url):
    a_cadence_stopped_by_a_reply(ledger_url)
    with open_ledger(ledger_url).begin() as conn:
        conn.execute(sa.update(Response).where(Response.dedupe_key == "r1").values(note="[red]call me[/red] :x:"))
    result = invoke(tmp_path, ledger_url, "C-1", "--now", "2026-11-26T15:00:00Z")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "C-1  Ana Lima  (email; times in America/New_York and UTC)"
    assert lines[1] == "  offer for Data Engineer, reply by 2026-12-04 17:00"
    assert "Ana.Lima@example.com" not in result.stdout and "ana.lima" not in result.stdout
    body = [line.split() for line in lines[2:]]
    # Local time, then UTC, then what happened: the reply at 14:02 in New York.
    assert [words[:6] for words in body][:3] == [
        ["2026-11-16", "09:05", "2026-11-16", "14:05", "UTC", "sent"],
        ["2026-11-18", "09:02", "2026-11-18", "14:02", "UTC", "sent"],
        ["2026-11-18", "14:02", "2026-11-18", "19:02", "UTC", "response"],
    ]
    assert lines[4].endswith("step 1/offer_nudge/email  nov  replied by email: [red]call me[/red] :x:; "
                             "recorded from outcomes:inbox.csv")  # fmt: skip
    assert "cancelled" in lines[6] and lines[6].endswith("step 2/offer_nudge/email  nov  stopped: replied 2026-11-18 14:02 by email")
    assert len(body) == 7


def test_the_command_with_json_prints_only_the_timeline_in_utc(tmp_path, ledger_url):
    a_cadence_stopped_by_a_reply(ledger_url)
    result = invoke(tmp_path, ledger_url, "C-1", "--json", "--now", "2026-11-26T15:00:00Z")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["candidate"]["candidate_id"] == "C-1"
    assert document["decisions"] == [{"role": "Data Engineer", "decision": "offer", "decided_at": "2026-11-13T17:00:00Z",
                                      "offer_deadline": "2026-12-04T22:00:00Z"}]  # fmt: skip
    assert document["entries"][2] == {
        "at": "2026-11-18T19:02:00Z", "what": "response", "step": 1, "kind": "offer_nudge", "channel": "email",
        "campaign": "nov", "reason": "replied by email: Can we talk on Friday?; recorded from outcomes:inbox.csv",
    }  # fmt: skip
    assert [e["what"] for e in document["entries"]] == [
        "sent", "sent", "response", "suppressed_address", "cancelled", "stopped", "suppressed_address",
    ]


def test_an_unknown_candidate_is_refused_with_exit_2(tmp_path, ledger_url):
    a_cadence_stopped_by_a_reply(ledger_url)
    result = invoke(tmp_path, ledger_url, "C-404", "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "no candidate 'C-404' in the ledger" in result.stderr
