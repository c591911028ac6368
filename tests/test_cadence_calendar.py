"""The cadence's calendar: business days and holidays by country, send windows in the
candidate's own zone across DST, and calls placed where the recruiter's day meets theirs."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from followup.cadence import calendar

NEW_YORK, LONDON = ZoneInfo("America/New_York"), ZoneInfo("Europe/London")
SYDNEY, TOKYO = ZoneInfo("Australia/Sydney"), ZoneInfo("Asia/Tokyo")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


def test_a_zone_names_its_country_so_a_row_with_only_a_zone_keeps_its_holidays():
    assert calendar.country_of_zone("America/New_York") == "US"
    assert calendar.country_of_zone("Asia/Tokyo") == "JP"
    assert calendar.country_of_zone("UTC") is None and calendar.country_of_zone(None) is None
    assert calendar.holiday_country(None, "America/New_York", "DE") == "US"
    assert calendar.holiday_country("CA", "America/New_York", "DE") == "CA"  # the row's own country wins
    assert calendar.holiday_country(None, "Etc/GMT+5", "DE") == "DE"  # else the company's


def test_business_days_skip_weekends_thanksgiving_and_a_uk_bank_holiday():
    assert not calendar.is_business_day(date(2026, 11, 26), "US")  # Thanksgiving
    assert calendar.is_business_day(date(2026, 11, 26), "GB")
    assert not calendar.is_business_day(date(2026, 12, 28), "GB")  # Boxing Day, observed on the Monday
    assert calendar.next_business_day(date(2026, 12, 24), "GB") == date(2026, 12, 29)
    # Two business days after Wednesday 25 November in the US: Friday 27, then Monday 30.
    assert calendar.add_business_days(date(2026, 11, 25), 2, "US") == date(2026, 11, 30)
    assert calendar.add_business_days(date(2026, 11, 28), 0, "US") == date(2026, 11, 28)


def test_the_window_opens_in_the_candidates_morning_and_skips_their_holiday():
    # 09:00 New York on Thanksgiving: the window is Friday's, 09:00-17:00 local.
    window = calendar.next_window(utc(2026, 11, 26, 14, 0), NEW_YORK, "US")
    assert (window.opens, window.closes) == (datetime(2026, 11, 27, 9, 0, tzinfo=NEW_YORK),
                                             datetime(2026, 11, 27, 17, 0, tzinfo=NEW_YORK))  # fmt: skip
    # Inside a window the message may go at once; it still closes at 17:00.
    inside = calendar.next_window(utc(2026, 11, 27, 15, 30), NEW_YORK, "US")
    assert inside.opens == utc(2026, 11, 27, 15, 30) and inside.closes == datetime(2026, 11, 27, 17, 0, tzinfo=NEW_YORK)


@pytest.mark.parametrize(
    "zone, after, opens_utc",
    [
        # London leaves GMT on Sunday 29 March 2026: Friday's 09:00 is 09:00 UTC, Monday's 08:00 UTC.
        (LONDON, utc(2026, 3, 26, 18, 0), utc(2026, 3, 27, 9, 0)),
        (LONDON, utc(2026, 3, 27, 18, 0), utc(2026, 3, 30, 8, 0)),
        # New York returns to EST on Sunday 1 November 2026.
        (NEW_YORK, utc(2026, 10, 30, 22, 0), utc(2026, 11, 2, 14, 0)),
        # Tokyo is 9 hours ahead of UTC: its Monday 09:00 is Monday 00:00 UTC.
        (TOKYO, utc(2026, 11, 27, 9, 0), utc(2026, 11, 30, 0, 0)),
        # Sydney, 11 hours ahead in its summer.
        (SYDNEY, utc(2026, 11, 27, 7, 0), utc(2026, 11, 29, 22, 0)),
    ],
)
def test_windows_follow_the_wall_clock_across_daylight_saving_and_far_zones(zone, after, opens_utc):
    window = calendar.next_window(after, zone, calendar.country_of_zone(zone.key))
    assert window.opens == opens_utc
    assert window.opens.astimezone(zone).hour == 9 and window.closes.astimezone(zone).hour == 17


def test_a_call_goes_where_the_recruiters_day_meets_the_candidates():
    # London's 09:00-17:00 is 04:00-12:00 in New York: the call goes between 09:00 and 12:00 there.
    window = calendar.call_window(utc(2026, 11, 30, 12, 0), NEW_YORK, "US", LONDON, "GB")
    assert (window.opens, window.closes) == (datetime(2026, 11, 30, 9, 0, tzinfo=NEW_YORK),
                                             datetime(2026, 11, 30, 12, 0, tzinfo=NEW_YORK))  # fmt: skip
    # Past the overlap, it waits for the next day's.
    later = calendar.call_window(utc(2026, 11, 30, 18, 0), NEW_YORK, "US", LONDON, "GB")
    assert later.opens == datetime(2026, 12, 1, 9, 0, tzinfo=NEW_YORK)


def test_where_the_days_never_meet_the_candidates_hours_win():
    # A 10:00 call in Sydney is 23:00 in London: no overlap, so the candidate's hours stand.
    window = calendar.call_window(utc(2026, 11, 29, 23, 0), SYDNEY, "AU", LONDON, "GB")
    assert window.opens == datetime(2026, 11, 30, 10, 0, tzinfo=SYDNEY)
    assert window.closes == datetime(2026, 11, 30, 17, 0, tzinfo=SYDNEY)
