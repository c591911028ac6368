"""Meeting slots and the RFC 5545 invitation attached to in-person messages (business days come
from the cadence's calendar)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, vCalAddress

from followup.cadence.calendar import next_business_day

from .message import Attachment

DEFAULT_MEETING_TIME = time(11, 0)
DEFAULT_MEETING_MINUTES = 60
PRODID = "-//candidate-followup//followup//EN"


def meeting_start(meeting_at: datetime | None, now: datetime, zone: ZoneInfo, country: str | None = None) -> datetime:
    """The agreed slot, or by default the next business day at 11:00 local time (`country`:
    where the meeting is, whose public holidays the office is closed on)."""
    if meeting_at is not None:
        return meeting_at.astimezone(zone)
    day = next_business_day(now.astimezone(zone).date(), country)
    return datetime.combine(day, DEFAULT_MEETING_TIME, tzinfo=zone)


@lru_cache(maxsize=256)
def _vtimezone(tzid: str, year: int) -> Timezone:
    """The VTIMEZONE for a zone in one year. Building it takes icalendar ~20 ms, so it is made
    once per zone and year, and only for that year: the default 1970-2038 span adds kilobytes
    of RDATEs. Calendars only read it while serialising, so sharing one is safe."""
    return Timezone.from_tzid(tzid, first_date=date(year, 1, 1), last_date=date(year + 1, 1, 1))


def invitation(
    *,
    uid: str,
    stamp: datetime,
    start: datetime,
    minutes: int,
    summary: str,
    description: str,
    location: str,
    attendee_email: str,
    attendee_name: str | None,
    organizer_email: str | None,
    organizer_name: str | None,
) -> Attachment:
    """A METHOD:REQUEST invitation; the start keeps its time zone (TZID plus VTIMEZONE) so
    calendars show the slot in the candidate's local time."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "REQUEST")
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=minutes))
    event.add("summary", summary)
    if description:
        event.add("description", description)
    event.add("location", location)
    event.add("status", "CONFIRMED")
    event.add("sequence", 0)
    if organizer_email:
        organizer = vCalAddress(f"mailto:{organizer_email}")
        if organizer_name:
            organizer.params["cn"] = organizer_name
        event.add("organizer", organizer)
    attendee = vCalAddress(f"mailto:{attendee_email}")
    if attendee_name:
        attendee.params["cn"] = attendee_name
    attendee.params["role"] = "REQ-PARTICIPANT"
    attendee.params["partstat"] = "NEEDS-ACTION"
    attendee.params["rsvp"] = "TRUE"
    event.add("attendee", attendee)
    tzid = event["dtstart"].params.get("TZID")
    if tzid:
        calendar.add_component(_vtimezone(tzid, start.year))
    calendar.add_component(event)
    return Attachment(
        filename="invite.ics",
        content_type="text/calendar; method=REQUEST; charset=UTF-8",
        content=calendar.to_ical(),
    )
