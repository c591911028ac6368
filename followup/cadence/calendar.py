"""The calendar a cadence keeps: business days and public holidays per country, send windows in
a candidate's own time zone, and call hours that suit the recruiter too.

Every moment here is an aware datetime; windows are found in local wall time and returned as
instants, so a change to or from daylight saving time moves the window with the clock on the
wall (09:00 stays 09:00 local, whatever it is in UTC).
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from functools import cache, lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

import holidays

# Business hours: when a message may reach someone at work, and a recruiter may call.
BUSINESS_HOURS = (time(9, 0), time(17, 0))
# A call sheet entry outside business hours waits for this time of the next business morning.
DEFAULT_CALL_TIME = time(10, 0)
# A search for the next window gives up after this many days: enough for any run of weekends and
# holidays (the longest national closures are about two weeks).
_SEARCH_DAYS = 60


class Window(NamedTuple):
    opens: datetime  # aware, in the zone the window was found in
    closes: datetime


# A country whose national list leaves out days most of it keeps: the United Kingdom's bank holidays
# are set per nation, and the package's country-wide list has no Easter Monday or August bank
# holiday. A row gives a country, not a nation, so England's (most of the population) stand in.
_NATION = {"GB": "ENG"}


@lru_cache(maxsize=64)
def public_holidays(country: str | None) -> holidays.HolidayBase | None:
    """The national public holidays of `country` (ISO 3166 alpha-2), or None when it is unset or
    one the `holidays` package does not know: then only weekends are days off."""
    if not country:
        return None
    try:
        country = country.upper()
        return holidays.country_holidays(country, subdiv=_NATION.get(country))
    except NotImplementedError:
        return None


# Remembered: planning a sweep asks about the same few days and countries for every candidate,
# and the holidays package's own lookup costs tens of times a dictionary's.
@lru_cache(maxsize=16_384)
def is_business_day(day: date, country: str | None = None) -> bool:
    if day.weekday() >= 5:
        return False
    days_off = public_holidays(country)
    return days_off is None or day not in days_off


def next_business_day(day: date, country: str | None = None) -> date:
    """The first working day after `day`: not a weekend, nor a public holiday in `country`."""
    day += timedelta(days=1)
    while not is_business_day(day, country):
        day += timedelta(days=1)
    return day


# The calendar's answers are remembered (they are pure: days, zones, hours in; days, windows out):
# a sweep asks the same few questions for each of a hundred thousand candidates, the same zones,
# days and hours, and each answer costs a walk over days and two zone conversions.
@lru_cache(maxsize=16_384)
def add_business_days(day: date, n: int, country: str | None = None) -> date:
    """`day` moved on by `n` working days (0: `day` itself, even when it is a day off)."""
    for _ in range(n):
        day = next_business_day(day, country)
    return day


@cache
def _zone_countries() -> dict[str, str]:
    """IANA zone -> ISO 3166 country, from tzdata's zone.tab (one country per zone; zones that
    serve several countries list the main one)."""
    table = importlib.resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text(encoding="utf-8")
    countries = {}
    for line in table.splitlines():
        if line and not line.startswith("#"):
            country, _, zone = line.split("\t")[:3]
            countries[zone] = country
    return countries


def country_of_zone(zone: str | None) -> str | None:
    """The country whose time a zone keeps ("America/New_York" -> "US"), or None for zones of no
    one country (UTC, Etc/GMT+5) and names the table does not hold."""
    return _zone_countries().get(zone) if zone else None


def holiday_country(country: str | None, zone: str | None, default: str | None = None) -> str | None:
    """Whose public holidays a candidate keeps: their row's country, else their zone's, else the
    company's (FOLLOWUP_COUNTRY). A row with only America/New_York still skips Thanksgiving."""
    return country or country_of_zone(zone) or default


def _business_days(start: date, country: str | None, every_day: bool = False) -> Iterator[date]:
    """`start` and the days after it that are business days in `country` (every day, when
    `every_day`), for _SEARCH_DAYS days."""
    for offset in range(_SEARCH_DAYS):
        day = start + timedelta(days=offset)
        if every_day or is_business_day(day, country):
            yield day


def _local_window(day: date, zone: ZoneInfo, hours: tuple[time, time]) -> Window:
    return Window(datetime.combine(day, hours[0], tzinfo=zone), datetime.combine(day, hours[1], tzinfo=zone))


@lru_cache(maxsize=16_384)  # see add_business_days; equal instants in any zone get the same window
def next_window(
    moment: datetime,
    zone: ZoneInfo,
    country: str | None = None,
    hours: tuple[time, time] = BUSINESS_HOURS,
    every_day: bool = False,
) -> Window:
    """The first stretch of business hours at or after `moment` in `zone`, on a business day of
    `country` (on any day, when `every_day`): from `moment` itself when it falls inside one,
    else from the next opening."""
    local = moment.astimezone(zone)
    for day in _business_days(local.date(), country, every_day):
        window = _local_window(day, zone, hours)
        if local < window.closes:
            return Window(max(local, window.opens), window.closes)
    raise ValueError(f"no business day within {_SEARCH_DAYS} days of {moment:%Y-%m-%d} for {country}")


@lru_cache(maxsize=16_384)  # see add_business_days
def call_window(
    moment: datetime,
    zone: ZoneInfo,
    country: str | None,
    recruiter_zone: ZoneInfo,
    recruiter_country: str | None,
    hours: tuple[time, time] = BUSINESS_HOURS,
    every_day: bool = False,
) -> Window:
    """When a recruiter should ring a candidate: the first of the candidate's `hours` at or
    after `moment` that also lies in the recruiter's own working day. Where the two never meet on
    the candidate's day (Sydney and London), the candidate's hours win: a call is for the person
    called, and the recruiter's odd hour is the cost of the distance."""
    local = moment.astimezone(zone)
    for day in _business_days(local.date(), country, every_day):
        theirs = _local_window(day, zone, hours)
        if local < theirs.closes:
            window = (None if every_day else _overlap(theirs, recruiter_zone, recruiter_country)) or theirs
            if local < window.closes:
                return Window(max(local, window.opens), window.closes)
    raise ValueError(f"no calling day within {_SEARCH_DAYS} days of {moment:%Y-%m-%d} for {country}")


def _overlap(theirs: Window, recruiter_zone: ZoneInfo, recruiter_country: str | None) -> Window | None:
    """The part of the candidate's window inside the recruiter's business hours, in the
    candidate's zone, or None when there is none that day."""
    best = None
    start = theirs.opens.astimezone(recruiter_zone).date() - timedelta(days=1)
    for offset in range(3):  # the candidate's day spans up to three of the recruiter's dates
        day = start + timedelta(days=offset)
        if not is_business_day(day, recruiter_country):
            continue
        ours = _local_window(day, recruiter_zone, BUSINESS_HOURS)
        opens, closes = max(theirs.opens, ours.opens), min(theirs.closes, ours.closes)
        if opens < closes and best is None:
            best = Window(opens.astimezone(theirs.opens.tzinfo), closes.astimezone(theirs.opens.tzinfo))
    return best


def call_time(now: datetime, zone: ZoneInfo, country: str | None = None) -> datetime:
    """When the recruiter should ring: now if it is business hours where the candidate is,
    otherwise the next business morning (`country`: the candidate's, for its public holidays)."""
    local = now.astimezone(zone)
    start, end = BUSINESS_HOURS
    today = is_business_day(local.date(), country)
    if today and start <= local.time() < end:
        return local.replace(second=0, microsecond=0)
    day = local.date() if today and local.time() < start else next_business_day(local.date(), country)
    return datetime.combine(day, DEFAULT_CALL_TIME, tzinfo=zone)
