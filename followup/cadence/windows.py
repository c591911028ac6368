"""The window a message may go out in: business hours in the candidate's zone for mail, calling
hours that suit the recruiter too for a voicemail, or the timing experiment's hour.

The planner asks for a step's first window, and the send stage asks again for a message whose
window closed before a sender got to it (a late sweep, a retry after backoff, a daily-cap spill).
"""

from __future__ import annotations

from datetime import datetime, time
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from followup.cadence.calendar import Window, call_window, country_of_zone, holiday_country, next_window
from followup.cadence.spec import CadenceSpec
from followup.channels import CHANNELS


class Reach(NamedTuple):
    """Where and when a candidate can be reached, and from where the recruiter calls."""

    zone: ZoneInfo
    country: str | None  # whose public holidays the candidate keeps
    recruiter_zone: ZoneInfo
    recruiter_country: str | None


@lru_cache(maxsize=1024)
def _zone(name: str | None, fallback: str | None) -> ZoneInfo:
    """`name`'s zone, else `fallback`'s, else UTC: a zone tzdata does not know (imported before
    validation checked zones, or dropped from tzdata since) must not stop planning or sending."""
    for candidate in (name, fallback):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


@lru_cache(maxsize=4096)  # a sweep asks for the same few zones and countries for every candidate
def reach_of(
    zone: str | None,
    country: str | None,
    recruiter_zone: str | None,
    company_zone: str | None,
    company_country: str | None,
) -> Reach:
    """Where a candidate is reached, from their row: their zone (else the company's, else UTC),
    the public holidays of their country (else their zone's, else the company's), and the
    recruiter's zone (else the company's) with the holidays of its country (else the company's)."""
    candidate = _zone(zone, company_zone)
    recruiter = _zone(recruiter_zone, company_zone)
    return Reach(
        candidate,
        holiday_country(country, candidate.key, company_country),
        recruiter,
        country_of_zone(recruiter.key) or company_country,
    )


def hours_of(spec: CadenceSpec, experiment_hour: int | None) -> tuple[time, time]:
    """The daily hours a message may go out in: the experiment's hour when it drew one (that hour
    replaces the default window), else the cadence file's send window."""
    if experiment_hour is None:
        return spec.send_window
    closes = time(experiment_hour + 1, 0) if experiment_hour < 23 else time(23, 59, 59)
    return time(experiment_hour, 0), closes


def window_for(
    spec: CadenceSpec,
    reach: Reach,
    channel: str,
    moment: datetime,
    experiment_hour: int | None = None,
) -> Window:
    """The first window at or after `moment` for a message on `channel` to this candidate.

    A call-sheet entry goes into the candidate's calling hours, within the recruiter's own working
    day where the two overlap; anything else into the candidate's business hours."""
    hours = hours_of(spec, experiment_hour)
    every_day = not spec.business_days_only
    if CHANNELS[channel].delivery == "call_sheet":
        return call_window(
            moment,
            reach.zone,
            reach.country,
            reach.recruiter_zone,
            reach.recruiter_country,
            hours,
            every_day,
        )
    return next_window(moment, reach.zone, reach.country, hours, every_day)
