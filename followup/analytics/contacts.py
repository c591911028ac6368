"""The report's unit, the contact: one candidate's cadence, from its initial message (step 0) on.

Each contact gets the facts its cells are cut by: the channel of first contact, the decision kind,
the variant of the initial message, its local send hour and weekday in the candidate's own zone
(for a call-sheet channel the sheet's local time to call), the delay in business days from the
decision to the initial message (in the candidate's calendar), and the timing experiment's arm;
then what happened: its first response after the initial message (a response after a later
contact of the same candidate belongs to that one), whether any was positive, and the funnel.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from followup.cadence.calendar import holiday_country, public_holidays
from followup.channels import CHANNELS
from followup.models import Outcome

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DELAYS = ("same day", "1", "2", "3+", "unknown")
POSITIVE = frozenset({Outcome.ACCEPTED.value, Outcome.CALLED_BACK.value, Outcome.ATTENDED.value})
# F6's definition of a response: an opt-out is recorded and suppresses, but is no answer to the offer.
ANSWERS = frozenset({Outcome.ACCEPTED.value, Outcome.DECLINED.value, Outcome.REPLIED.value, Outcome.QUESTION.value,
                     Outcome.CALLED_BACK.value, Outcome.ATTENDED.value})  # fmt: skip
_KINDS = {"offer": "offer", "reject": "rejection"}
_ON_SHEETS = [name for name, channel in CHANNELS.items() if channel.delivery == "call_sheet"]


def _zone_name(name: object, default: str) -> str:
    if isinstance(name, str) and name:
        try:
            ZoneInfo(name)
            return name
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return default


def _holidays(country: str | None, years: range) -> list[date]:
    calendar = public_holidays(country)
    if calendar is None:
        return []
    for year in years:  # the holidays package fills a year in when first asked about it
        date(year, 1, 1) in calendar  # noqa: B015
    return sorted(day for day in calendar if day.year in years)


def local_times(contacts: pd.DataFrame, company_zone: str | None) -> pd.DataFrame:
    """`hour`, `weekday` and `local_date` of each initial message, in its candidate's zone (else
    the company's, else UTC); a call-sheet row's own local time to call wins."""
    default = _zone_name(company_zone, "UTC")
    # Checked once per distinct name: a season has a handful of zones and a million rows.
    names = contacts["timezone"].astype("object")
    zones = names.map({name: _zone_name(name, default) for name in pd.unique(names)})
    hour = pd.Series(0, index=contacts.index, dtype="int64")
    local_date = pd.Series(pd.NaT, index=contacts.index, dtype="datetime64[ns]")
    for zone, rows in contacts.groupby(zones, sort=False).groups.items():
        local = contacts.loc[rows, "sent_at"].dt.tz_convert(zone)
        hour.loc[rows] = local.dt.hour
        local_date.loc[rows] = local.dt.tz_localize(None).dt.normalize()
    # "2026-11-27 10:30 CET": the hour and the day the recruiter is to call, as the sheet says.
    called = contacts["call_time"].dropna().astype("string")
    sheet = called.str.extract(r"^(\d{4}-\d{2}-\d{2}) (\d{2}):").dropna()
    hour[sheet.index] = sheet[1].astype("int64")
    local_date[sheet.index] = pd.to_datetime(sheet[0], format="%Y-%m-%d")
    return pd.DataFrame({"zone": zones, "hour": hour, "weekday": local_date.dt.day_of_week, "local_date": local_date})


def delays(contacts: pd.DataFrame, company_zone: str | None, company_country: str | None) -> pd.Series:
    """The delay bucket of each contact: business days from the decision's local date to the
    initial message's, with the public holidays of the candidate's country; "unknown" without
    decided_at."""
    bucket = pd.Series("unknown", index=contacts.index, dtype="object")
    known = contacts["decided_at"].notna()
    if not known.any():
        return bucket
    default = _zone_name(company_zone, "UTC")
    decided = pd.Series(pd.NaT, index=contacts.index, dtype="datetime64[ns]")
    for zone, rows in contacts[known].groupby("zone", sort=False).groups.items():
        decided.loc[rows] = contacts.loc[rows, "decided_at"].dt.tz_convert(zone or default).dt.tz_localize(None)
    decided = decided.dt.normalize()
    pairs = pd.MultiIndex.from_arrays([contacts["country"].astype("object"), contacts["zone"].astype("object")])
    country_of = {pair: holiday_country(pair[0] if isinstance(pair[0], str) else None, pair[1], company_country)
                  for pair in pairs.unique()}  # fmt: skip
    countries = pd.Series(pairs.map(country_of), index=contacts.index, dtype="object").fillna("")
    days = pd.Series(0, index=contacts.index, dtype="int64")
    for country, rows in contacts[known].groupby(countries[known], sort=False).groups.items():
        start = decided.loc[rows].values.astype("datetime64[D]")
        end = contacts.loc[rows, "local_date"].values.astype("datetime64[D]")
        years = range(int(start.min().astype(object).year), int(end.max().astype(object).year) + 1)
        count = np.busday_count(start, end, holidays=_holidays(country or None, years))
        days.loc[rows] = np.maximum(count, 0)
    bucket[known] = np.select([days[known] == 0, days[known] == 1, days[known] == 2], ["same day", "1", "2"], "3+")
    return bucket


def contacts_of(initial: pd.DataFrame, since: datetime | None, company_zone: str | None,
                company_country: str | None) -> pd.DataFrame:  # fmt: skip
    """One row per contact whose initial message (of `initial`, the sent step-0 messages) was sent
    in the window (from `since`): a cadence begun twice counts from its first."""
    initial = initial.sort_values("sent_at", kind="stable")
    initial = initial.drop_duplicates(["candidate_id", "cadence"]).copy()
    if since is not None:
        initial = initial[initial["sent_at"] >= pd.Timestamp(since)]
    initial = initial.reset_index(drop=True)
    initial = pd.concat([initial, local_times(initial, company_zone)], axis=1)
    initial["delay"] = delays(initial, company_zone, company_country)
    initial["weekday"] = np.asarray(WEEKDAYS + ("unknown",), dtype=object)[initial["weekday"].fillna(7).astype(int)]
    names = initial["cadence_name"].astype("object")
    cadence_kind = names.map({name: str(name).split(":")[0] for name in pd.unique(names)})
    initial["decision_kind"] = initial["decision"].map(_KINDS).fillna(cadence_kind.map(_KINDS)).fillna("other")
    initial["variant_cell"] = initial["kind"] + "/" + initial["variant"].fillna("default").replace("", "default")
    return initial


def with_outcomes(contacts: pd.DataFrame, messages: pd.DataFrame, responses: pd.DataFrame,
                  machine_seconds: float) -> pd.DataFrame:  # fmt: skip
    """The contacts with `first_response` (time), `responded`, `positive`, `accepted` and the
    funnel flags `delivered`, `opened`, `clicked` (any message of the contact's cadence). An open
    or click counts as a person's when it came at least `machine_seconds` after the delivery, as
    warm detection has it (tracking.engagement); messages keep the latest open that may be one."""
    contacts = contacts.copy()
    answers = responses[responses["outcome"].isin(ANSWERS)].sort_values("received_at", kind="stable")
    starts = contacts[["candidate_id", "sent_at"]].reset_index().sort_values("sent_at", kind="stable")
    if len(answers) and len(starts):
        owned = pd.merge_asof(answers, starts, left_on="received_at", right_on="sent_at", by="candidate_id",
                              direction="backward")  # fmt: skip
        owned = owned.dropna(subset=["index"])
        owned["index"] = owned["index"].astype("int64")
        first = owned.groupby("index")["received_at"].min()
        positive = owned[owned["outcome"].isin(POSITIVE)].groupby("index").size()
        accepted = owned[owned["outcome"] == Outcome.ACCEPTED.value].groupby("index").size()
    else:
        first = positive = accepted = pd.Series(dtype="float64")
    contacts["first_response"] = first.reindex(contacts.index)
    contacts["first_response"] = pd.to_datetime(contacts["first_response"], utc=True)
    contacts["responded"] = contacts["first_response"].notna()
    contacts["positive"] = positive.reindex(contacts.index).fillna(0).gt(0)
    contacts["accepted"] = accepted.reindex(contacts.index).fillna(0).gt(0) & contacts["decision_kind"].eq("offer")
    soon = pd.Timedelta(seconds=machine_seconds)
    delivered = messages["delivered_at"]
    flags = pd.DataFrame({
        "candidate_id": messages["candidate_id"], "cadence": messages["cadence"],
        # A call-sheet entry reports no events: being written onto the sheet is its delivery.
        "delivered": delivered.notna() | messages["channel"].isin(_ON_SHEETS),
        "opened": messages["last_open_at"].notna() & (delivered.isna() | (messages["last_open_at"] - delivered >= soon)),
        "clicked": messages["last_click_at"].notna() & (delivered.isna()
                                                         | (messages["last_click_at"] - delivered >= soon)),
    })  # fmt: skip
    per_contact = flags.groupby(["candidate_id", "cadence"])[["delivered", "opened", "clicked"]].any()
    joined = contacts[["candidate_id", "cadence"]].merge(per_contact, left_on=["candidate_id", "cadence"],
                                                         right_index=True, how="left")  # fmt: skip
    for column in ("delivered", "opened", "clicked"):
        contacts[column] = joined[column].fillna(False).astype(bool).values
    return contacts
