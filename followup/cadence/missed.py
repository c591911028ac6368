"""A message whose send window closed before a sender got to it (a late sweep, a retry after
backoff, a daily-cap spill) never goes out late: it moves to its next window, or, when that
would open at or after the offer deadline, it is not sent at all.

    reach = reach_of(row_zone, row_country, recruiter_zone, company_zone, company_country)
    verdict = after_close(spec, reach, "email", business_now, closed_at, deadline=offer_deadline(value, reach.zone))
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from followup.cadence.calendar import Window
from followup.cadence.spec import CadenceSpec
from followup.cadence.windows import Reach, window_for

class Deadline(NamedTuple):
    at: datetime  # the first moment at which nothing may be sent any more
    label: str  # as a recruiter wrote it: "2026-11-30", or "2026-11-30 15:00 Europe/London"


def offer_deadline(value: datetime | None, zone: ZoneInfo) -> Deadline | None:
    """The decision's offer_deadline as a moment. A date (stored as midnight where the candidate
    lives, or as midnight UTC) lasts to the end of that day where the candidate lives; a date with
    a time of day is that moment."""
    if value is None:
        return None
    # The offset is part of the key: what a value means depends on it, not only on its instant.
    return _deadline(value, value.utcoffset(), zone)


@lru_cache(maxsize=4096)  # a batch's offers share a few deadlines, and a sweep asks for each of them
def _deadline(value: datetime, offset: timedelta | None, zone: ZoneInfo) -> Deadline:
    local = value.astimezone(zone)
    if local.time() == time(0) or (value.time() == time(0) and value.utcoffset() == timedelta(0)):
        day = local.date() if local.time() == time(0) else value.date()
        return Deadline(datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone), day.isoformat())
    return Deadline(value, f"{local:%Y-%m-%d %H:%M} {zone.key}")


class AfterClose(NamedTuple):
    window: Window | None  # the next window; None: not sent at all (the deadline passed)
    note: str  # why: the message's plan_note when it moved, its last_error when it did not


def after_close(
    spec: CadenceSpec,
    reach: Reach,
    channel: str,
    now: datetime,
    closed: datetime,
    experiment_hour: int | None = None,
    deadline: Deadline | None = None,
) -> AfterClose:
    """What becomes of a message on `channel` whose window closed at `closed`, seen at `now`:
    the first window at or after `now` (the experiment's hour, when it drew one), ending no later
    than the deadline; or nothing, when that window would open at or after the deadline."""
    window = window_for(spec, reach, channel, now, experiment_hour)
    if deadline is not None:
        if window.opens >= deadline.at:
            return AfterClose(None, f"offer deadline {deadline.label} passed")
        window = Window(window.opens, min(window.closes, deadline.at.astimezone(window.closes.tzinfo)))
    local = closed.astimezone(reach.zone)
    return AfterClose(window, f"window closed {local:%Y-%m-%d %H:%M} {reach.zone.key}; moved to the next window")
