"""The response report's numbers: rates and Wilson intervals against values worked out by hand,
timing cells in the candidate's own zone, business-day delays across a weekend and a holiday,
small and empty data, and the ledger read on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
import sqlalchemy as sa

from followup.analytics import response_document
from followup.analytics.stats import compare, recommend
from followup.models import Batch, Candidate, Decision, Message, Response
from followup.store import open_ledger
from followup.store.events import store_events
from followup.store.report_data import INITIAL_COLUMNS, STEP_COLUMNS, ReportData, report_data
from followup.tracking.events import normalise

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)  # a Monday; London is on UTC in March
UNTIL = datetime(2026, 4, 1, tzinfo=timezone.utc)


def message(n: int, who: str, *, step: int = 0, channel: str = "email", kind: str = "offer", at=T0, zone="Europe/London",
            country="GB", decided=T0 - timedelta(days=3), decision="offer", variant=None, arm=None, call_time=None,
            delivered=None, opened=None, clicked=None):  # fmt: skip
    cadence = f"{decision}:{channel}"
    return (n, who, cadence, kind, step, channel, variant, at, arm, call_time, zone, country, decided, decision,
            delivered, opened, clicked)


def data(messages: list[tuple], responses: list[tuple] = ()) -> ReportData:
    """What report_data reads, from whole message rows (the columns of both its frames)."""
    columns = list(INITIAL_COLUMNS) + ["delivered_at", "last_open_at", "last_click_at"]
    frame = pd.DataFrame(messages, columns=columns)
    for column in ("sent_at", "decided_at", "delivered_at", "last_open_at", "last_click_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    answers = pd.DataFrame(list(responses), columns=["candidate_id", "outcome", "received_at"])
    answers["received_at"] = pd.to_datetime(answers["received_at"], utc=True)
    initial = frame[frame["step"] == 0][list(INITIAL_COLUMNS)].reset_index(drop=True)
    initial["cadence_name"] = initial["cadence"]  # the keys here are the names themselves
    return ReportData(initial, frame[list(STEP_COLUMNS)], answers)


def hand_worked() -> ReportData:
    """Ten email offers (two answer after step 0, two more after the nudge, one is away, one opts
    out) and five voicemail rejections nobody returns."""
    hour = timedelta(hours=1)
    rows = [message(n, f"E{n}", delivered=T0, opened=T0 + hour if n <= 6 else None,
                    clicked=T0 + 2 * hour if n <= 2 else None) for n in range(1, 11)]
    rows += [message(100 + n, f"E{n}", step=1, kind="offer_nudge", at=T0 + timedelta(days=2)) for n in range(3, 11)]
    rows += [message(200 + n, f"V{n}", channel="voicemail", kind="rejection", decision="reject",
                     call_time="2026-03-03 14:30 CET", zone="Europe/Berlin", country="DE") for n in range(1, 6)]
    day = timedelta(days=1)
    responses = [("E1", "accepted", T0 + day), ("E2", "declined", T0 + day), ("E3", "question", T0 + 3 * day),
                 ("E4", "replied", T0 + 3 * day), ("E5", "out_of_office", T0 + day), ("E6", "opt_out", T0 + day),
                 ("V1", "no_answer", T0 + day)]  # fmt: skip
    return data(rows, responses)


def test_rates_and_intervals_match_the_hand_worked_values():
    doc = response_document(hand_worked(), since=None, until=UNTIL, company_zone="Europe/London", min_n=5)
    email, voicemail = doc["by_channel"]["email"], doc["by_channel"]["voicemail"]
    assert (email["n"], email["responses"], email["rate"]) == (10, 4, 0.4)
    # Wilson, z = 1.96: (4 + z²/2) / (10 + z²) ± z·sqrt(0.4·0.6/10 + z²/400) / (1 + z²/10)
    assert email["ci_low"] == pytest.approx(0.16818, abs=1e-4) and email["ci_high"] == pytest.approx(0.68732, abs=1e-4)
    assert (voicemail["n"], voicemail["responses"], voicemail["rate"], voicemail["ci_low"]) == (5, 0, 0.0, 0.0)
    assert voicemail["ci_high"] == pytest.approx(3.8415 / (5 + 3.8415), abs=1e-4)  # z² / (n + z²)
    # Step 0: all fifteen got it, two answered before the nudge; step 1: eight got it, two answered after it.
    assert {s: (c["n"], c["responses"]) for s, c in doc["by_step"].items()} == {"0": (15, 2), "1": (8, 2)}
    assert doc["by_kind"]["offer"]["responses"] == 4 and doc["by_kind"]["rejection"]["responses"] == 0
    assert doc["funnel"] == {"contacted": 15, "delivered": 15, "opened": 6, "clicked": 2, "responded": 4, "accepted": 1}
    ttr = doc["time_to_response"]["email"]
    assert (ttr["n"], ttr["median_hours"]) == (4, 48.0)  # 24, 24, 72, 72 hours
    assert doc["timing_source"] == "all contacted"


def test_the_timing_cells_are_in_the_candidates_own_zone_and_a_call_sheets_time():
    tokyo = message(1, "T1", at=datetime(2026, 3, 2, 23, 30, tzinfo=timezone.utc), zone="Asia/Tokyo", country="JP")
    no_zone = message(2, "U1", at=datetime(2026, 3, 2, 23, 30, tzinfo=timezone.utc), zone=None, country=None)
    call = message(3, "V1", channel="voicemail", call_time="2026-03-04 16:45 CET", zone="Europe/Berlin")
    doc = response_document(data([tokyo, no_zone, call]), since=None, until=UNTIL, company_zone="America/New_York")
    # Tokyo: Tuesday 08:30; no zone: the company's, Monday 18:30; the call sheet: Wednesday 16:45.
    assert {h: c["n"] for h, c in doc["by_hour"].items()} == {"08": 1, "16": 1, "18": 1}
    assert {d: c["n"] for d, c in doc["by_weekday"].items()} == {"Mon": 1, "Tue": 1, "Wed": 1}


def test_delays_count_business_days_skipping_the_weekend_and_the_candidates_holidays():
    decided, sent = datetime(2026, 1, 16, 15, tzinfo=timezone.utc), datetime(2026, 1, 20, 15, tzinfo=timezone.utc)
    rows = [
        message(1, "US", at=sent, decided=decided, zone="America/Chicago", country="US"),  # Mon 19th: MLK Day
        message(2, "GB", at=sent, decided=decided, zone="Europe/London", country="GB"),
        message(3, "SAME", at=sent, decided=sent - timedelta(hours=2)),
        message(4, "NONE", at=sent, decided=None),
        message(5, "LONG", at=sent, decided=decided - timedelta(days=7)),
    ]
    doc = response_document(data(rows), since=None, until=UNTIL)
    assert {k: c["n"] for k, c in doc["by_delay"].items()} == {"same day": 1, "1": 1, "2": 1, "3+": 1, "unknown": 1}


def test_the_timing_experiments_randomised_candidates_decide_the_timing_cells():
    rows = [message(n, f"C{n}", arm="control", at=T0) for n in range(1, 5)]
    rows += [message(10 + n, f"X{n}", arm="timing", at=T0 + timedelta(hours=n)) for n in range(1, 3)]
    doc = response_document(data(rows), since=None, until=UNTIL, company_zone="Europe/London")
    assert doc["timing_source"] == "experiment"
    assert sum(c["n"] for c in doc["by_hour"].values()) == 2 and doc["by_channel"]["email"]["n"] == 6


def test_empty_and_single_channel_data_give_a_clear_report():
    empty = response_document(data([]), since=None, until=UNTIL)
    assert empty["by_channel"] == {} and empty["funnel"]["contacted"] == 0
    assert empty["comparisons"] == [] and empty["recommendations"] == []
    one = response_document(data([message(1, "A")], [("A", "accepted", T0 + timedelta(hours=1))]),
                            since=None, until=UNTIL)  # fmt: skip
    assert one["by_channel"]["email"]["rate"] == 1.0 and one["by_channel"]["email"]["flagged"]
    [channel, delay, hour] = one["recommendations"]
    assert channel["choice"] is None and "Not enough evidence yet" in channel["sentence"]
    assert channel["more_needed"] is None or channel["more_needed"] > 0


def test_a_window_counts_contacts_from_since_and_answers_up_to_until():
    rows = [message(1, "OLD", at=T0 - timedelta(days=60)), message(2, "NEW", at=T0)]
    responses = [("NEW", "accepted", UNTIL + timedelta(days=1)), ("OLD", "accepted", T0)]
    doc = response_document(data(rows, responses), since=T0 - timedelta(days=1), until=UNTIL)
    assert doc["by_channel"]["email"]["n"] == 1
    # The answer after the window is not in it (report_data reads only what was recorded by then).


def cell(n, k):
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(k, n, method="wilson")
    return {"n": n, "responses": k, "rate": k / n, "ci_low": low, "ci_high": high, "flagged": n < 30}


def test_a_comparison_picks_its_test_by_the_counts_and_says_what_it_shows():
    small = compare("channel", "email", cell(12, 6), "voicemail", cell(10, 1))
    assert small["test"] == "fisher" and small["flagged"] and "too few" in small["sentence"]
    big = compare("channel", "email", cell(400, 120), "voicemail", cell(400, 40))
    assert big["test"] == "z-test" and big["p_value"] < 0.001 and "email is higher by 20.0 points" in big["sentence"]
    same = compare("variant", "offer/a", cell(300, 60), "offer/b", cell(300, 63))
    assert same["p_value"] > 0.5 and "could well be chance" in same["sentence"]


def test_a_recommendation_needs_the_evidence_and_otherwise_says_how_much_more():
    clear = recommend("offer", "channel", {"email": cell(400, 120), "voicemail": cell(400, 40)})
    assert clear["choice"] == "email" and "95% CI" in clear["sentence"]
    close = recommend("offer", "channel", {"email": cell(100, 30), "voicemail": cell(100, 25)})
    assert close["choice"] is None and close["more_needed"] > 0 and "would settle it" in close["sentence"]
    flagged = recommend("offer", "channel", {"email": cell(400, 120), "in_person": cell(10, 9)})
    assert flagged["choice"] is None and flagged["more_needed"] == 20


# --- the ledger ---


def three_candidates(conn) -> range:
    """Candidates c0, c1 and c2 of one imported batch, in London; their numbers."""
    conn.execute(sa.insert(Batch).values(id="b1", source_name="r.csv", file_sha256="0" * 64, status="imported"))
    for n in range(3):
        conn.execute(sa.insert(Candidate).values(candidate_id=f"c{n}", email=f"p{n}@example.org", first_name="A",
                                                 last_name="B", channel="email", first_batch_id="b1",
                                                 last_batch_id="b1", timezone="Europe/London"))  # fmt: skip
    return range(3)


def test_the_ledger_is_read_with_human_opens_only(ledger_url):
    engine = open_ledger(ledger_url)
    with engine.begin() as conn:
        for n in three_candidates(conn):
            decision = conn.execute(sa.insert(Decision).values(
                candidate_id=f"c{n}", batch_id="b1", source_line=n, role="R", decision="offer",
                decided_at=T0 - timedelta(days=3)).returning(Decision.id)).scalar_one()  # fmt: skip
            conn.execute(sa.insert(Message).values(message_key=f"k{n}", campaign="spring", candidate_id=f"c{n}",
                                                   decision_id=decision, cadence="offer:email", kind="offer", step=0,
                                                   channel="email", status="sent", sent_at=T0))  # fmt: skip
        for candidate, at in (("c1", T0 + timedelta(hours=5)), ("c2", UNTIL + timedelta(days=1))):
            conn.execute(sa.insert(Response).values(candidate_id=candidate, message_key="k1", channel="email",
                                                    outcome="accepted", received_at=at))  # fmt: skip
    events = [("k0", "delivered", 0, False, None), ("k0", "open", 2, True, "Mozilla/5.0"),  # Apple's pre-fetch
              ("k0", "open", 4, False, "Safari"),  # seconds after delivery: an unflagged machine
              ("k0", "open", 900, False, "Mozilla/5.0 (via ggpht.com GoogleImageProxy)"),
              ("k0", "click", 3, False, "scanner"),  # a gateway following links on arrival
              ("k1", "open", 3600, False, "Safari"), ("k1", "click", 3700, False, "Safari"),
              ("k1", "delivered", 0, False, None)]  # fmt: skip  (the delivery arrives last)
    posted = [{"email": "p@example.org", "timestamp": int((T0 + timedelta(seconds=seconds)).timestamp()),
               "event": name, "sg_event_id": f"e{i}", "message_key": key, "sg_machine_open": machine,
               **({"useragent": agent} if agent else {})}
              for i, (key, name, seconds, machine, agent) in enumerate(events)]  # fmt: skip
    for event in posted:  # one POST each, in this order: the summary must not depend on it
        store_events(engine, [normalise(event, T0)])
    found = report_data(engine, UNTIL)
    kept = found.messages.sort_values("candidate_id")["last_open_at"]
    assert kept.isna().tolist() == [False, False, True]  # k0 kept only its 4-second open
    assert found.messages["sent_at"].iloc[0] == T0 and found.initial["decided_at"].iloc[0] == T0 - timedelta(days=3)
    assert len(found.responses) == 1  # the other came after `until`
    doc = response_document(found, since=None, until=UNTIL, company_zone="Europe/London", machine_seconds=10)
    assert doc["funnel"] == {"contacted": 3, "delivered": 2, "opened": 1, "clicked": 1, "responded": 1, "accepted": 1}
    assert doc["by_delay"]["1"]["n"] == 3  # decided on the Friday, sent on the Monday
    assert report_data(engine, UNTIL, campaign="other").messages.empty


def test_a_big_ledger_read_on_a_second_process_reads_the_same_frames(tmp_path, monkeypatch):
    """Past _SECOND_READER_FROM messages the later steps come from a spawned reader; here from the first."""
    import followup.store.report_data as reading

    engine = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    with engine.begin() as conn:
        for n in three_candidates(conn):
            for step in range(n + 1):
                conn.execute(sa.insert(Message).values(
                    message_key=f"k{n}-{step}", campaign="spring", candidate_id=f"c{n}", cadence="offer:email",
                    kind="offer" if step == 0 else "offer_nudge", step=step, channel=("email", "voicemail")[step % 2],
                    status="sent", sent_at=T0 + timedelta(days=2 * step),
                    delivered_at=T0 + timedelta(days=2 * step, minutes=1) if n else None))  # fmt: skip
    in_process = report_data(engine, UNTIL + timedelta(days=10))
    monkeypatch.setattr(reading, "_SECOND_READER_FROM", 0)
    spawned = report_data(engine, UNTIL + timedelta(days=10))
    assert len(spawned.messages) == 6 and (spawned.messages["step"] > 0).sum() == 3
    pd.testing.assert_frame_equal(spawned.messages, in_process.messages)
    pd.testing.assert_frame_equal(spawned.initial, in_process.initial)
