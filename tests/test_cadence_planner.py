"""The planner's rules over facts built by hand (no ledger): step 0 in the candidate's first send
window, what follows each send and when, the stop rules, and the timing experiment's draw."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest

from followup.cadence.calendar import add_business_days, is_business_day
from followup.cadence.file import load_cadence
from followup.cadence.planner import Answer, CadenceFacts, Company, Plan, Sent, Verdict, draw, first_step, next_step
from followup.cadence.spec import Experiment

SPEC = load_cadence(None)
US = Company("America/New_York", "US", office=True, phone=True)
NEW_YORK = ZoneInfo("America/New_York")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


def local(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone).astimezone(timezone.utc)


def facts(**values) -> CadenceFacts:
    base = dict(decision_id=1, candidate_id="c1", decision="offer", channel="email", zone="America/New_York",
                country=None, has_phone=True, recruiter_zone=None, decided_at=None, offer_deadline=None)  # fmt: skip
    return CadenceFacts(**{**base, **values})


def sent(step: int, kind: str, channel: str, at: datetime, status: str = "sent") -> Sent:
    return Sent(step, kind, channel, status, at if status == "sent" else None, None)


def plan(result: Plan | Verdict) -> Plan:
    assert isinstance(result, Plan), result
    return result


def verdict(result: Plan | Verdict, what: str) -> Verdict:
    assert isinstance(result, Verdict), result
    assert result.what == what, result
    return result


# --- step 0: the first send window, in the candidate's zone --------------------------------------


@pytest.mark.parametrize(
    "zone, now, opens, closes",
    [
        # New York leaves daylight saving time on Sunday 1 November 2026: Friday's window is
        # 13:00-21:00 UTC, Monday's 14:00-22:00 UTC, 09:00-17:00 on the wall both days.
        ("America/New_York", utc(2026, 10, 30, 12, 0), utc(2026, 10, 30, 13, 0), utc(2026, 10, 30, 21, 0)),
        ("America/New_York", utc(2026, 10, 30, 22, 0), utc(2026, 11, 2, 14, 0), utc(2026, 11, 2, 22, 0)),
        ("America/Los_Angeles", utc(2026, 10, 30, 15, 0), utc(2026, 10, 30, 16, 0), utc(2026, 10, 31, 0, 0)),
        ("America/Los_Angeles", utc(2026, 10, 31, 1, 0), utc(2026, 11, 2, 17, 0), utc(2026, 11, 3, 1, 0)),
        # London leaves summer time on Sunday 25 October 2026.
        ("Europe/London", utc(2026, 10, 22, 17, 0), utc(2026, 10, 23, 8, 0), utc(2026, 10, 23, 16, 0)),
        ("Europe/London", utc(2026, 10, 23, 17, 0), utc(2026, 10, 26, 9, 0), utc(2026, 10, 26, 17, 0)),
        # Tokyo is 9 hours ahead: its Tuesday morning is still Monday in UTC.
        ("Asia/Tokyo", utc(2026, 11, 30, 8, 30), utc(2026, 12, 1, 0, 0), utc(2026, 12, 1, 8, 0)),
        ("Asia/Tokyo", utc(2026, 11, 30, 23, 30), utc(2026, 12, 1, 0, 0), utc(2026, 12, 1, 8, 0)),
        # Sydney starts daylight saving time on Sunday 4 October 2026: +10 on Friday, +11 on Monday.
        ("Australia/Sydney", utc(2026, 10, 1, 8, 0), utc(2026, 10, 1, 23, 0), utc(2026, 10, 2, 7, 0)),
        ("Australia/Sydney", utc(2026, 10, 2, 8, 0), utc(2026, 10, 4, 22, 0), utc(2026, 10, 5, 6, 0)),
    ],
)
def test_the_first_message_waits_for_the_candidates_next_business_morning(zone, now, opens, closes):
    first = plan(first_step(SPEC, US, facts(zone=zone, decided_at=utc(2026, 9, 1)), now, "autumn"))
    assert (first.step, first.kind, first.channel) == (0, "offer", "email")
    assert (first.opens, first.closes) == (opens, closes)
    assert first.opens.astimezone(ZoneInfo(zone)).time() == time(9, 0)
    assert first.closes.astimezone(ZoneInfo(zone)).time() == time(17, 0)
    assert first.arm is None and first.started_at is None


def test_the_first_message_goes_at_once_inside_a_window_and_never_before_the_decision():
    now = local(NEW_YORK, 2026, 11, 16, 10, 30)
    assert plan(first_step(SPEC, US, facts(), now, "autumn")).opens == now  # decided_at missing: from now
    later = plan(first_step(SPEC, US, facts(decided_at=local(NEW_YORK, 2026, 11, 16, 15, 0)), now, "autumn"))
    assert later.opens == local(NEW_YORK, 2026, 11, 16, 15, 0)


def test_a_zone_alone_keeps_its_countrys_holidays_thanksgiving_goes_to_friday():
    # The company is in London, but a row with only America/New_York keeps US holidays.
    london_office = Company("Europe/London", "GB")
    first = plan(first_step(SPEC, london_office, facts(country=None), utc(2026, 11, 26, 5, 0), "autumn"))
    assert first.opens == local(NEW_YORK, 2026, 11, 27, 9, 0) == utc(2026, 11, 27, 14, 0)
    # The same morning is a working day in London.
    briton = facts(zone="Europe/London", country="GB")
    assert plan(first_step(SPEC, london_office, briton, utc(2026, 11, 26, 5, 0), "autumn")).opens == utc(2026, 11, 26, 9, 0)


@pytest.mark.parametrize(
    "now, opens",
    [
        # Christmas on Friday, Boxing Day observed on Monday 28: Tuesday 29 December.
        (utc(2026, 12, 24, 17, 30), utc(2026, 12, 29, 9, 0)),
        # The spring bank holiday, Monday 25 May (British summer time: 09:00 is 08:00 UTC).
        (utc(2026, 5, 22, 16, 30), utc(2026, 5, 26, 8, 0)),
    ],
)
def test_a_london_candidate_skips_the_uk_bank_holiday(now, opens):
    briton = facts(zone="Europe/London", country="GB")
    assert plan(first_step(SPEC, Company("Europe/London", "GB"), briton, now, "winter")).opens == opens


# --- rejections --------------------------------------------------------------------------------


def test_a_rejection_waits_one_business_day_after_the_decision():
    decided = local(NEW_YORK, 2026, 11, 16, 10, 0)  # a Monday
    rejection = plan(first_step(SPEC, US, facts(decision="reject", decided_at=decided), decided, "autumn"))
    assert (rejection.kind, rejection.channel) == ("rejection", "email")
    assert (rejection.opens, rejection.closes) == (local(NEW_YORK, 2026, 11, 17, 10, 0), local(NEW_YORK, 2026, 11, 17, 17, 0))
    # Decided on the eve of Thanksgiving: the business day after it is Friday.
    eve = local(NEW_YORK, 2026, 11, 25, 11, 0)
    assert plan(first_step(SPEC, US, facts(decision="reject", decided_at=eve), eve, "autumn")).opens == local(
        NEW_YORK, 2026, 11, 27, 11, 0
    )
    # Decided long ago: the day to prepare is over, it goes in the first window from now.
    now = local(NEW_YORK, 2026, 11, 16, 12, 0)
    old = facts(decision="reject", decided_at=utc(2026, 11, 2), channel="voicemail")
    late = plan(first_step(SPEC, US, old, now, "autumn"))
    assert (late.channel, late.opens) == ("voicemail", now)  # on the candidate's own channel


def test_a_rejection_is_never_nudged():
    rejection = facts(decision="reject", messages=[sent(0, "rejection", "email", utc(2026, 11, 17, 15, 0))])
    for now in (utc(2026, 11, 20), utc(2026, 12, 20)):
        verdict(next_step(SPEC, US, rejection, now), "ended")


# --- what follows each send ---------------------------------------------------------------------


def test_an_emailed_offer_is_nudged_after_2_then_3_business_days_across_thanksgiving():
    step0 = local(NEW_YORK, 2026, 11, 20, 10, 0)  # Friday
    offer = facts(messages=[sent(0, "offer", "email", step0)])
    # Two business days: Monday 23, Tuesday 24.
    waiting = verdict(next_step(SPEC, US, offer, local(NEW_YORK, 2026, 11, 23, 23, 59)), "waiting")
    assert "step 1 due 2026-11-24 05:00 UTC" in waiting.reason
    nudge = plan(next_step(SPEC, US, offer, local(NEW_YORK, 2026, 11, 24, 0, 1)))
    assert (nudge.step, nudge.kind, nudge.channel) == (1, "offer_nudge", "email")
    assert (nudge.opens, nudge.closes) == (local(NEW_YORK, 2026, 11, 24, 9, 0), local(NEW_YORK, 2026, 11, 24, 17, 0))
    assert nudge.started_at == step0 and nudge.note == "2 business days after step 0"

    # Three business days after Tuesday 24, Thanksgiving skipped: Wednesday 25, Friday 27, Monday 30.
    offer.messages.append(sent(1, "offer_nudge", "email", local(NEW_YORK, 2026, 11, 24, 9, 0)))
    verdict(next_step(SPEC, US, offer, local(NEW_YORK, 2026, 11, 29, 12, 0)), "waiting")
    second = plan(next_step(SPEC, US, offer, local(NEW_YORK, 2026, 11, 30, 8, 0)))
    assert (second.step, second.channel, second.opens) == (2, "email", local(NEW_YORK, 2026, 11, 30, 9, 0))
    assert second.note == "3 business days after step 1"

    # Two business days after Monday 30: Wednesday 2 December, a voicemail when there is a phone.
    offer.messages.append(sent(2, "offer_nudge", "email", local(NEW_YORK, 2026, 11, 30, 9, 0)))
    verdict(next_step(SPEC, US, offer, local(NEW_YORK, 2026, 12, 1, 17, 0)), "waiting")
    call = plan(next_step(SPEC, US, offer, local(NEW_YORK, 2026, 12, 2, 7, 0)))
    assert (call.step, call.kind, call.channel, call.opens) == (3, "offer_nudge", "voicemail", local(NEW_YORK, 2026, 12, 2, 9, 0))

    offer.messages.append(sent(3, "offer_nudge", "voicemail", local(NEW_YORK, 2026, 12, 2, 9, 0)))
    verdict(next_step(SPEC, US, offer, utc(2026, 12, 20)), "ended")


def after_two_nudges(**values) -> CadenceFacts:
    return facts(**values, messages=[
        sent(0, "offer", "email", utc(2026, 11, 2, 15, 0)),
        sent(1, "offer_nudge", "email", utc(2026, 11, 4, 15, 0)),
        sent(2, "offer_nudge", "email", utc(2026, 11, 9, 15, 0)),
    ])  # fmt: skip


@pytest.mark.parametrize(
    "values, channel",
    [
        (dict(has_phone=True), "voicemail"),
        (dict(has_phone=False), "in_person"),
        # Abroad (Toronto, the office in the US): no in-person meeting; a call, else an email.
        (dict(has_phone=True, zone="America/Toronto", country="CA"), "voicemail"),
        (dict(has_phone=False, zone="America/Toronto", country="CA"), "email"),
        (dict(has_phone=False, zone="America/Toronto"), "email"),  # the zone alone says Canada
    ],
)
def test_the_third_nudge_is_a_call_else_a_meeting_in_the_office_country_else_an_email(values, channel):
    assert plan(next_step(SPEC, US, after_two_nudges(**values), utc(2026, 11, 16, 15, 0))).channel == channel


@pytest.mark.parametrize("office, has_place, channel", [(False, False, "email"), (False, True, "in_person"),
                                                        (True, False, "in_person")])  # fmt: skip
def test_an_in_person_invite_needs_a_place_to_meet(office, has_place, channel):
    """No meeting_location and no FOLLOWUP_OFFICE: an invite could not say where, so it is an email."""
    company = Company("America/New_York", "US", office=office)
    due = next_step(SPEC, company, after_two_nudges(has_phone=False, has_place=has_place), utc(2026, 11, 16, 15, 0))
    assert plan(due).channel == channel


@pytest.mark.parametrize("company_phone, has_callback, channel", [(False, False, "in_person"),
                                                                 (False, True, "voicemail"), (True, False, "voicemail")])  # fmt: skip
def test_a_voicemail_needs_a_number_to_call_back(company_phone, has_callback, channel):
    """No recruiter_phone and no FOLLOWUP_PHONE: a voicemail could not end with a number, so the step
    goes by the next channel that can reach the candidate."""
    company = Company("America/New_York", "US", office=True, phone=company_phone)
    due = next_step(SPEC, company, after_two_nudges(has_callback=has_callback), utc(2026, 11, 16, 15, 0))
    assert plan(due).channel == channel


def test_a_voicemail_offer_is_followed_by_the_offer_in_writing_the_same_day():
    called = local(NEW_YORK, 2026, 11, 16, 10, 0)
    offer = facts(channel="voicemail", messages=[sent(0, "offer", "voicemail", called)])
    now = local(NEW_YORK, 2026, 11, 16, 10, 20)
    written = plan(next_step(SPEC, US, offer, now))
    assert (written.step, written.kind, written.channel) == (1, "offer", "email")
    assert (written.opens, written.closes) == (now, local(NEW_YORK, 2026, 11, 16, 17, 0))
    assert written.note == "the same day as step 0"
    # Then a voicemail nudge two business days after the email, and an email three after that.
    offer.messages.append(sent(1, "offer", "email", now))
    verdict(next_step(SPEC, US, offer, local(NEW_YORK, 2026, 11, 17, 12, 0)), "waiting")
    assert plan(next_step(SPEC, US, offer, local(NEW_YORK, 2026, 11, 18, 12, 0))).channel == "voicemail"
    offer.messages.append(sent(2, "offer_nudge", "voicemail", local(NEW_YORK, 2026, 11, 18, 12, 0)))
    verdict(next_step(SPEC, US, offer, local(NEW_YORK, 2026, 11, 20, 12, 0)), "waiting")
    last = plan(next_step(SPEC, US, offer, local(NEW_YORK, 2026, 11, 23, 12, 0)))
    assert (last.step, last.channel) == (3, "email")


@pytest.mark.parametrize("has_phone, channel", [(True, "voicemail"), (False, "email")])
def test_an_in_person_cadence_calls_for_its_last_nudge_or_writes_without_a_phone(has_phone, channel):
    invited = facts(channel="in_person", has_phone=has_phone, messages=[
        sent(0, "offer", "in_person", utc(2026, 11, 2, 15, 0)),
        sent(1, "offer_nudge", "email", utc(2026, 11, 4, 15, 0)),
    ])  # fmt: skip
    last = plan(next_step(SPEC, US, invited, utc(2026, 11, 16, 15, 0)))
    assert (last.step, last.channel) == (2, channel)
    invited.messages.append(sent(2, "offer_nudge", channel, utc(2026, 11, 16, 15, 0)))
    verdict(next_step(SPEC, US, invited, utc(2026, 12, 16)), "ended")


# --- stop rules -----------------------------------------------------------------------------------

STEP0 = utc(2026, 11, 16, 15, 0)  # Monday 10:00 in New York
DUE = utc(2026, 11, 18, 15, 0)  # step 1's window is open


def offer_sent(**values) -> CadenceFacts:
    return facts(**{"messages": [sent(0, "offer", "email", STEP0)], **values})


def test_a_response_after_the_first_message_stops_the_cadence_and_says_why():
    replied = offer_sent(answers=[Answer("replied", utc(2026, 11, 17, 14, 2), "email", None)])
    stopped = verdict(next_step(SPEC, US, replied, DUE), "stopped")
    assert stopped.reason == "stopped: replied 2026-11-17 14:02 by email"
    called_back = offer_sent(answers=[Answer("called_back", utc(2026, 11, 17, 9, 30), "voicemail", None)])
    assert verdict(next_step(SPEC, US, called_back, DUE), "stopped").reason.startswith("stopped: called_back")


def test_last_years_reply_and_answers_that_are_no_response_do_not_stop_it():
    old = Answer("replied", utc(2025, 11, 20, 9, 0), "email", "thanks for letting me know")
    noise = [Answer("auto_reply", utc(2026, 11, 16, 15, 1), "email", None),
             Answer("no_answer", utc(2026, 11, 16, 16, 0), "voicemail", None)]  # fmt: skip
    assert plan(next_step(SPEC, US, offer_sent(answers=[old, *noise]), DUE)).step == 1


def test_out_of_office_with_a_return_date_postpones_the_nudge_to_it():
    away = offer_sent(answers=[Answer("out_of_office", utc(2026, 11, 16, 15, 2), "email", "Away, back on 2026-11-30.")])
    waiting = verdict(next_step(SPEC, US, away, DUE), "waiting")
    assert "postponed: out of office until 2026-11-30" in waiting.reason
    verdict(next_step(SPEC, US, away, local(NEW_YORK, 2026, 11, 29, 23, 0)), "waiting")
    back = plan(next_step(SPEC, US, away, local(NEW_YORK, 2026, 11, 30, 0, 30)))
    assert (back.step, back.opens) == (1, local(NEW_YORK, 2026, 11, 30, 9, 0))
    assert back.note == "postponed: out of office until 2026-11-30"


def test_out_of_office_without_a_date_postpones_the_nudge_by_3_business_days():
    # Due Wednesday 18; three business days on: Thursday 19, Friday 20, Monday 23.
    away = offer_sent(answers=[Answer("out_of_office", utc(2026, 11, 16, 15, 2), "email", "I am travelling")])
    assert "postponed: out of office, 3 business days" in verdict(next_step(SPEC, US, away, DUE), "waiting").reason
    verdict(next_step(SPEC, US, away, local(NEW_YORK, 2026, 11, 20, 16, 0)), "waiting")
    back = plan(next_step(SPEC, US, away, local(NEW_YORK, 2026, 11, 23, 8, 0)))
    assert (back.step, back.opens) == (1, local(NEW_YORK, 2026, 11, 23, 9, 0))


def test_an_out_of_office_reply_to_an_earlier_step_does_not_postpone_the_next():
    away = Answer("out_of_office", utc(2026, 11, 16, 15, 2), "email", "back on 2026-12-14")
    offer = offer_sent(answers=[away])
    offer.messages.append(sent(1, "offer_nudge", "email", utc(2026, 12, 14, 14, 0)))
    assert plan(next_step(SPEC, US, offer, utc(2026, 12, 17, 15, 0))).note == "3 business days after step 1"


def test_a_hard_bounce_moves_on_to_the_call_in_the_next_window_without_the_wait():
    bounced = offer_sent(blocked="email")
    now = local(NEW_YORK, 2026, 11, 16, 18, 0)  # the evening of the send: the calling day is over
    call = plan(next_step(SPEC, US, bounced, now))
    assert (call.step, call.channel) == (3, "voicemail")  # both email nudges skipped
    assert call.opens == local(NEW_YORK, 2026, 11, 17, 9, 0)
    assert call.note.startswith("moved on")
    # Nothing left that reaches someone with a bad address and no phone.
    verdict(next_step(SPEC, US, offer_sent(blocked="email", has_phone=False), now), "ended")


def test_a_wrong_number_after_a_voicemail_moves_on_to_the_email_at_once():
    called = local(NEW_YORK, 2026, 11, 18, 10, 0)
    offer = facts(channel="voicemail", messages=[
        sent(0, "offer", "voicemail", local(NEW_YORK, 2026, 11, 16, 10, 0)),
        sent(1, "offer", "email", local(NEW_YORK, 2026, 11, 16, 10, 5)),
        sent(2, "offer_nudge", "voicemail", called),
    ], answers=[Answer("wrong_number", local(NEW_YORK, 2026, 11, 18, 10, 3), "voicemail", None)])  # fmt: skip
    now = local(NEW_YORK, 2026, 11, 18, 11, 0)
    written = plan(next_step(SPEC, US, offer, now))  # not 3 business days later
    assert (written.step, written.channel, written.opens) == (3, "email", now)
    assert written.note == "moved on: wrong number"


def test_a_wrong_number_turns_the_next_call_into_an_email():
    offer = facts(channel="voicemail", messages=[
        sent(0, "offer", "voicemail", local(NEW_YORK, 2026, 11, 16, 10, 0)),
        sent(1, "offer", "email", local(NEW_YORK, 2026, 11, 16, 10, 5)),
    ], answers=[Answer("wrong_number", local(NEW_YORK, 2026, 11, 16, 10, 3), "voicemail", None)])  # fmt: skip
    nudge = plan(next_step(SPEC, US, offer, local(NEW_YORK, 2026, 11, 18, 11, 0)))
    assert (nudge.step, nudge.channel) == (2, "email")


@pytest.mark.parametrize("status", ["unknown", "failed"])
def test_a_step_whose_fate_is_unknown_or_failed_holds_the_cadence(status):
    offer = offer_sent()
    offer.messages.append(sent(1, "offer_nudge", "email", DUE, status=status))
    assert verdict(next_step(SPEC, US, offer, utc(2026, 12, 10)), "held").reason.startswith("held: step 1")


@pytest.mark.parametrize("status", ["planned", "rendered", "sending", "retry_wait"])
def test_a_step_on_its_way_is_waited_for(status):
    offer = offer_sent()
    offer.messages.append(sent(1, "offer_nudge", "email", DUE, status=status))
    verdict(next_step(SPEC, US, offer, utc(2026, 12, 10)), "waiting")


def test_a_stop_by_hand_and_an_unsubscribe_stop_everything():
    by_hand = offer_sent(stopped="asked us on the phone")
    assert verdict(next_step(SPEC, US, by_hand, DUE), "stopped").reason == "stopped: asked us on the phone"
    assert verdict(first_step(SPEC, US, facts(stopped="asked"), STEP0, "autumn"), "stopped").reason == "stopped: asked"
    # Unsubscribed: not even the call the bounce rule would move on to.
    verdict(next_step(SPEC, US, offer_sent(blocked="all"), DUE), "stopped")
    verdict(first_step(SPEC, US, facts(blocked="all"), STEP0, "autumn"), "stopped")


def test_the_offer_deadline_ends_the_cadence_and_closes_the_window_it_falls_in():
    # A deadline given as a date runs to the end of that day where the candidate lives.
    by_friday = offer_sent(offer_deadline=utc(2026, 11, 20))
    nudge = plan(next_step(SPEC, US, by_friday, DUE))
    assert nudge.closes == local(NEW_YORK, 2026, 11, 18, 17, 0)
    by_friday.messages.append(sent(1, "offer_nudge", "email", DUE))
    ended = verdict(next_step(SPEC, US, by_friday, local(NEW_YORK, 2026, 11, 23, 9, 0)), "ended")
    assert "deadline" in ended.reason
    # A deadline at 13:00 on the day of the nudge: its window closes then.
    by_lunch = plan(next_step(SPEC, US, offer_sent(offer_deadline=local(NEW_YORK, 2026, 11, 18, 13, 0)), DUE))
    assert (by_lunch.opens, by_lunch.closes) == (DUE, local(NEW_YORK, 2026, 11, 18, 13, 0))
    # Nothing is planned once the deadline has passed, not even the first message.
    passed = facts(offer_deadline=utc(2026, 11, 13), decided_at=utc(2026, 11, 2))
    verdict(first_step(SPEC, US, passed, STEP0, "autumn"), "ended")


# --- the timing experiment ------------------------------------------------------------------------

TRIAL = replace(SPEC, experiment=Experiment(share=0.3))


def test_the_experiment_draws_its_share_repeatably_within_its_delays_and_hours():
    draws = [draw(TRIAL, "autumn", f"c{n:05d}") for n in range(10_000)]
    timing = [d for d in draws if d[0] == "timing"]
    assert 0.28 <= len(timing) / len(draws) <= 0.32
    assert all(d == ("control", None, None) for d in draws if d[0] != "timing")
    assert {delay for _, delay, _ in timing} == {0, 1, 2, 3}
    assert {hour for _, _, hour in timing} == set(range(8, 18))
    assert draws == [draw(TRIAL, "autumn", f"c{n:05d}") for n in range(10_000)]
    # Another campaign draws anew.
    assert draws != [draw(TRIAL, "winter", f"c{n:05d}") for n in range(10_000)]


def test_no_share_no_experiment():
    assert draw(SPEC, "autumn", "c00001") == (None, None, None)
    first = plan(first_step(SPEC, US, facts(), STEP0, "autumn"))
    assert (first.arm, first.delay_days, first.hour) == (None, None, None)


def drawn(delay: int) -> str:
    """A candidate id the trial campaign puts in the timing arm with `delay` business days."""
    return next(f"c{n}" for n in range(10_000) if draw(TRIAL, "autumn", f"c{n}")[:2] == ("timing", delay))


@pytest.mark.parametrize("delay", [0, 1, 2, 3])
@pytest.mark.parametrize(
    "now, due",
    [
        (local(NEW_YORK, 2026, 11, 16, 7, 0), date(2026, 11, 16)),  # a Monday morning: due that day
        (local(NEW_YORK, 2026, 11, 21, 12, 0), date(2026, 11, 23)),  # a Saturday: due on Monday
        (local(NEW_YORK, 2026, 11, 25, 18, 0), date(2026, 11, 27)),  # Wednesday evening, Thanksgiving next
    ],
)
def test_the_timing_arm_goes_its_drawn_delay_after_the_due_day_at_its_drawn_hour(delay, now, due):
    candidate = drawn(delay)
    _, _, hour = draw(TRIAL, "autumn", candidate)
    first = plan(first_step(TRIAL, US, facts(candidate_id=candidate), now, "autumn"))
    assert (first.arm, first.delay_days, first.hour) == ("timing", delay, hour)
    day = add_business_days(due, delay, "US")
    assert is_business_day(day, "US")
    assert (first.opens, first.closes) == (local(NEW_YORK, *day.timetuple()[:3], hour, 0),
                                           local(NEW_YORK, *day.timetuple()[:3], hour + 1, 0))  # fmt: skip
    assert f"timing experiment: +{delay} business days at {hour:02d}:00" in first.note


def test_the_control_arm_keeps_the_default_window():
    candidate = next(f"c{n}" for n in range(100) if draw(TRIAL, "autumn", f"c{n}")[0] == "control")
    first = plan(first_step(TRIAL, US, facts(candidate_id=candidate), STEP0, "autumn"))
    assert (first.arm, first.delay_days, first.hour) == ("control", None, None)
    assert (first.opens, first.closes) == (STEP0, local(NEW_YORK, 2026, 11, 16, 17, 0))


def test_a_deadline_imported_as_a_date_lasts_to_the_end_of_that_day_where_the_candidate_lives():
    """The import stores a date as midnight in the candidate's zone (Athens: 22:00 UTC the day
    before); it is the whole of that day, not its first moment."""
    from followup.cadence.missed import offer_deadline

    athens = ZoneInfo("Europe/Athens")
    stored = datetime(2026, 11, 29, 22, 0, tzinfo=timezone.utc)  # 2026-11-30 00:00 in Athens
    deadline = offer_deadline(stored, athens)
    assert (deadline.at, deadline.label) == (datetime(2026, 12, 1, 0, 0, tzinfo=athens), "2026-11-30")
    at_three = datetime(2026, 11, 30, 13, 0, tzinfo=timezone.utc)  # a deadline with a time is that moment
    assert offer_deadline(at_three, athens).at == at_three


# --- hold_email_nudges_until_replies_tracked ----------------------------------------------------

HOLD = replace(SPEC, hold_email_nudges_until_replies_tracked=True)


def test_with_the_hold_on_an_email_nudge_waits_until_replies_are_tracked_then_goes_in_the_next_window():
    offer = offer_sent()
    held = verdict(next_step(HOLD, US, offer, DUE), "held")
    assert held.reason == ("held: step 1 (offer_nudge by email): email replies are not tracked; "
                           "set FOLLOWUP_REPLY_DOMAIN")
    assert plan(next_step(SPEC, US, offer, DUE)).step == 1  # the switch off: nothing is held
    # Tracked a week later: the nudge goes at once (its wait is long over), in today's window.
    later = local(NEW_YORK, 2026, 11, 25, 11, 0)
    nudge = plan(next_step(HOLD, US, offer, later, replies_tracked=True))
    assert (nudge.step, nudge.channel, nudge.opens, nudge.closes) == (
        1, "email", later, local(NEW_YORK, 2026, 11, 25, 17, 0))
    # Before its wait is over it still waits as usual, and an answer still stops it.
    verdict(next_step(HOLD, US, offer, utc(2026, 11, 17, 15, 0)), "waiting")
    replied = offer_sent(answers=[Answer("accepted", utc(2026, 11, 17, 14, 0), "email", None)])
    verdict(next_step(HOLD, US, replied, DUE), "stopped")


def test_the_hold_never_keeps_a_call_or_a_meeting_nor_the_first_email_of_a_cadence():
    called = local(NEW_YORK, 2026, 11, 16, 10, 0)
    offer = facts(channel="voicemail", messages=[sent(0, "offer", "voicemail", called)])
    # The offer in writing after the call: nothing by email has been answered yet.
    assert plan(next_step(HOLD, US, offer, called)).channel == "email"
    offer.messages.append(sent(1, "offer", "email", called))
    assert plan(next_step(HOLD, US, offer, local(NEW_YORK, 2026, 11, 18, 12, 0))).channel == "voicemail"
    offer.messages.append(sent(2, "offer_nudge", "voicemail", local(NEW_YORK, 2026, 11, 18, 12, 0)))
    verdict(next_step(HOLD, US, offer, local(NEW_YORK, 2026, 11, 23, 12, 0)), "held")  # the email nudge
    # The third nudge of an emailed offer by call or invite; by email (no phone, no office) it is held.
    assert plan(next_step(HOLD, US, after_two_nudges(), utc(2026, 11, 16, 15, 0))).channel == "voicemail"
    assert plan(next_step(HOLD, US, after_two_nudges(has_phone=False), utc(2026, 11, 16, 15, 0))).channel == "in_person"
    alone = Company("America/New_York", "US")
    verdict(next_step(HOLD, alone, after_two_nudges(has_phone=False), utc(2026, 11, 16, 15, 0)), "held")


def test_a_held_nudge_past_the_offer_deadline_ends_the_cadence_rather_than_waiting():
    offer = offer_sent(offer_deadline=local(NEW_YORK, 2026, 11, 17, 0, 0))
    verdict(next_step(HOLD, US, offer, DUE), "ended")


# --- an in-person invitation comes before its meeting ------------------------------------------------


def test_a_meeting_invitation_is_left_out_of_the_timing_experiment_and_goes_in_the_first_window():
    """Its meeting fixes when it must go: a drawn delay of days could put the invitation after it."""
    candidate = drawn(3)
    meeting = local(NEW_YORK, 2026, 11, 18, 10, 0)
    invited = facts(candidate_id=candidate, channel="in_person", has_place=True, meeting_at=meeting)
    first = plan(first_step(TRIAL, US, invited, STEP0, "autumn"))
    assert (first.channel, first.arm, first.delay_days, first.hour) == ("in_person", None, None, None)
    assert first.opens == STEP0 < meeting
    # Without a meeting time the invitation is in the experiment as any first message.
    assert plan(first_step(TRIAL, US, replace(invited, meeting_at=None), STEP0, "autumn")).arm == "timing"


def test_an_invitation_that_could_only_go_after_its_meeting_goes_by_email():
    """A rejection waits a business day; the meeting was sooner. An invitation to the past would
    only confuse: the candidate hears by email."""
    decided = local(NEW_YORK, 2026, 11, 16, 9, 30)
    meeting = local(NEW_YORK, 2026, 11, 16, 15, 0)
    rejected = facts(decision="reject", channel="in_person", has_place=True, decided_at=decided, meeting_at=meeting)
    first = plan(first_step(SPEC, US, rejected, decided, "autumn"))
    assert first.channel == "email" and first.opens > meeting
    assert "by email: the meeting (2026-11-16 15:00) comes before an invitation could go" in first.note
    # With the meeting after that first window, the invitation goes as planned.
    later = replace(rejected, meeting_at=local(NEW_YORK, 2026, 11, 19, 15, 0))
    assert plan(first_step(SPEC, US, later, decided, "autumn")).channel == "in_person"


def test_a_nudge_that_would_invite_to_a_past_meeting_goes_by_email():
    meeting = utc(2026, 11, 10, 15, 0)
    due = next_step(SPEC, US, after_two_nudges(has_phone=False, has_place=True, meeting_at=meeting),
                    utc(2026, 11, 16, 15, 0))  # fmt: skip
    assert plan(due).channel == "email" and "comes before an invitation could go" in plan(due).note
