"""The report document: every cell, the funnel, time to response, comparisons and recommendations."""

from __future__ import annotations

from datetime import datetime
from itertools import combinations

import numpy as np
import pandas as pd

from followup.analytics.contacts import DELAYS, WEEKDAYS, contacts_of, with_outcomes
from followup.analytics.stats import MIN_N, cells, compare, recommend

DEFINITIONS = {
    "contacted": "A candidate's cadence counts once its initial message (step 0) was sent in the window; its "
    "channel is the channel of that first contact.",
    "response": "Any recorded answer after the initial message, up to the end of the window: accepted, declined, "
    "replied, question, called_back or attended. out_of_office, no_answer, no_show and auto-replies are not "
    "responses; opt-outs, bounces and unsubscribes are counted apart, as suppressions.",
    "positive": "accepted, called_back or attended (a reply read as accepted is accepted).",
    "offer_acceptance": "accepted, on an offer.",
    "rate": "Among contacted candidates whose initial message falls in the cell, the share who responded, with "
    "its Wilson 95% interval. Cells under the minimum n are shown and flagged, never ranked.",
    "by_step": "Among candidates who got that step and had not answered before it, the share who responded "
    "after it and before the next step.",
    "timing": "Local hour and weekday of the initial message in the candidate's own time zone; for a voicemail, "
    "the call sheet's local time to call.",
    "delay": "Business days from the decision to the initial message, in the candidate's calendar (weekends and "
    "their country's public holidays skipped); unknown without decided_at.",
}
_CHANNEL_ORDER = ("email", "voicemail", "in_person")
_HOURS = tuple(f"{h:02d}" for h in range(24))
_HOUR_NAMES = np.asarray(_HOURS, dtype=object)


def _by_step(contacts: pd.DataFrame, messages: pd.DataFrame, min_n: int) -> dict[str, dict]:
    steps = messages.merge(contacts[["candidate_id", "cadence", "sent_at", "first_response"]],
                           on=["candidate_id", "cadence"], suffixes=("", "_initial"))  # fmt: skip
    steps = steps[steps["sent_at"] >= steps["sent_at_initial"]].sort_values(["candidate_id", "cadence", "sent_at"])
    steps["next_at"] = steps.groupby(["candidate_id", "cadence"])["sent_at"].shift(-1)
    answered = steps["first_response"]
    still_waiting = answered.isna() | (answered >= steps["sent_at"])
    steps = steps[still_waiting].copy()
    steps["responded"] = steps["first_response"].notna() & (
        steps["next_at"].isna() | (steps["first_response"] < steps["next_at"]))  # fmt: skip
    order = [str(s) for s in sorted(steps["step"].unique())]
    steps["step"] = steps["step"].astype(str)
    return cells(steps, "step", order, min_n)


def _time_to_response(contacts: pd.DataFrame) -> dict[str, dict]:
    found = {}
    for channel, group in contacts.groupby("channel", sort=True):
        hours = ((group["first_response"] - group["sent_at"]).dt.total_seconds() / 3600).dropna()
        found[str(channel)] = {"n": int(len(hours)),
                               "median_hours": float(np.median(hours)) if len(hours) else None,
                               "p90_hours": float(np.quantile(hours, 0.9)) if len(hours) else None}  # fmt: skip
    return found


def _present(values: pd.Series, order) -> list[str]:
    present = set(pd.unique(values))
    return [v for v in order if v in present]


def _order(values, preferred) -> list[str]:
    present = [str(v) for v in pd.unique(values)]
    return [v for v in preferred if v in present] + sorted(v for v in present if v not in preferred)


def response_document(data, *, since: datetime | None, until: datetime, company_zone: str | None = None,
                      company_country: str | None = None, min_n: int = MIN_N, machine_seconds: float = 10.0,
                      generated_at: datetime | None = None) -> dict:  # fmt: skip
    """The report over `data` (store.report_data.ReportData read as of `until`) for contacts whose
    initial message went out from `since` (None: all time)."""
    contacts = contacts_of(data.initial, since, company_zone, company_country)
    contacts = with_outcomes(contacts, data.messages, data.responses, machine_seconds)
    contacts["hour"] = _HOUR_NAMES[contacts["hour"].to_numpy()]
    timing = contacts[contacts["arm"] == "timing"]
    timing_source = "experiment" if len(timing) else "all contacted"
    if not len(timing):
        timing = contacts
    channels = _order(contacts["channel"], _CHANNEL_ORDER)
    document = {
        "definitions": DEFINITIONS,
        "window": {"since": since.isoformat() if since else None, "until": until.isoformat()},
        "generated_at": (generated_at or until).isoformat(),
        "min_n": min_n,
        "timing_source": timing_source,
        "by_channel": cells(contacts, "channel", channels, min_n),
        "by_delay": cells(timing, "delay", DELAYS, min_n),
        "by_hour": cells(timing, "hour", _present(timing["hour"], _HOURS), min_n),
        "by_weekday": cells(timing, "weekday", _present(timing["weekday"], WEEKDAYS), min_n),
        "by_step": _by_step(contacts, data.messages, min_n),
        "by_variant": cells(contacts, "variant_cell", None, min_n),
        "by_kind": cells(contacts, "decision_kind", _order(contacts["decision_kind"], ("offer", "rejection")), min_n),
        "funnel": {"contacted": int(len(contacts)), "delivered": int(contacts["delivered"].sum()),
                   "opened": int(contacts["opened"].sum()), "clicked": int(contacts["clicked"].sum()),
                   "responded": int(contacts["responded"].sum()), "accepted": int(contacts["accepted"].sum())},
        "time_to_response": _time_to_response(contacts),
    }  # fmt: skip
    document["comparisons"] = _comparisons(contacts, document, min_n)
    document["recommendations"] = _recommendations(contacts, timing, min_n)
    return document


def _comparisons(contacts: pd.DataFrame, document: dict, min_n: int) -> list[dict]:
    found = [compare("channel", a, document["by_channel"][a], b, document["by_channel"][b], min_n)
             for a, b in combinations(document["by_channel"], 2)]  # fmt: skip
    variants = document["by_variant"]
    for a, b in combinations(variants, 2):
        if a.split("/")[0] == b.split("/")[0]:  # variants of the same message kind
            found.append(compare("variant", a, variants[a], b, variants[b], min_n))
    return found


def _recommendations(contacts: pd.DataFrame, timing: pd.DataFrame, min_n: int) -> list[dict]:
    found = []
    for kind in _order(contacts["decision_kind"], ("offer", "rejection")):
        mine, mine_timed = contacts[contacts["decision_kind"] == kind], timing[timing["decision_kind"] == kind]
        found.append(recommend(kind, "channel", cells(mine, "channel", None, min_n), min_n))
        found.append(recommend(kind, "delay", cells(mine_timed, "delay", DELAYS, min_n), min_n))
        found.append(recommend(kind, "local hour", cells(mine_timed, "hour", None, min_n), min_n))
    return found



