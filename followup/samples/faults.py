"""The faults a batch carries: which rows get one, and each fault written into its row."""

from __future__ import annotations

import numpy as np
import pandas as pd

FAULTS: tuple[str, ...] = (
    "malformed_email",
    "bad_decision",
    "voicemail_without_phone",
    "salary_inverted",
    "unknown_currency",
    "unknown_timezone",
    "unparseable_date",
    "deadline_before_decision",
    "duplicate_candidate_id",
    "control_character",
)

_BAD_DECISIONS = ["maybe", "on hold", "pending", "hire?"]
_BAD_CURRENCIES = ["QQQ", "ZZX", "EURO", "US$"]
_BAD_TIMEZONES = ["Mars/Olympus_Mons", "Europe/Londn", "America/New York", "UTC+25"]
_BAD_DATES = ["next Tuesday", "2026-13-45", "31/02/2026", "TBD"]
_CONTROL_CHARACTERS = ["\x07", "\x1b", "\x08"]


def _plan_faults(rng: np.random.Generator, n: int, bad_share: float) -> np.ndarray:
    """Fault index per row, -1 for good rows; faults spread evenly over the bad rows."""
    fault = np.full(n, -1, dtype=np.int64)
    n_bad = min(n, round(n * bad_share))
    if n_bad == 0:
        return fault
    rows = rng.choice(n, n_bad, replace=False)
    fault[rows] = rng.permutation(np.resize(rng.permutation(len(FAULTS)), n_bad))
    duplicate = FAULTS.index("duplicate_candidate_id")
    if fault[0] == duplicate:  # the first row has nothing earlier to duplicate: trade faults
        others = np.flatnonzero((fault >= 0) & (fault != duplicate))
        if len(others):
            fault[0], fault[others[-1]] = fault[others[-1]], duplicate
        else:
            fault[0] = FAULTS.index("control_character")
    return fault


def _corrupt(frame: pd.DataFrame, fault: np.ndarray, rng: np.random.Generator) -> None:
    """Give each planned bad row its one fault; only these few rows are handled one by one."""

    def rows_with(name: str) -> np.ndarray:
        return np.flatnonzero(fault == FAULTS.index(name))

    def pick(choices: list[str], count: int) -> list[str]:
        return [choices[i] for i in rng.integers(0, len(choices), count)]

    rows = rows_with("malformed_email")
    breakers = [lambda e: e.replace("@", ""), lambda e: e.replace("@", "@@"),
                lambda e: e.replace("@", " @"), lambda e: e.split("@")[0] + "@"]
    frame.loc[rows, "email"] = [breakers[rng.integers(0, len(breakers))](e) for e in frame.loc[rows, "email"]]

    rows = rows_with("bad_decision")
    frame.loc[rows, "decision"] = pick(_BAD_DECISIONS, len(rows))

    rows = rows_with("salary_inverted")
    frame.loc[rows, ["salary_min", "salary_max"]] = frame.loc[rows, ["salary_max", "salary_min"]].to_numpy()

    rows = rows_with("unknown_currency")
    frame.loc[rows, "currency"] = pick(_BAD_CURRENCIES, len(rows))

    rows = rows_with("unknown_timezone")
    frame.loc[rows, "timezone"] = pick(_BAD_TIMEZONES, len(rows))

    rows = rows_with("unparseable_date")
    frame.loc[rows, "decided_at"] = pick(_BAD_DATES, len(rows))

    rows = rows_with("control_character")
    in_first = rng.random(len(rows)) < 0.5
    for column, chosen in (("first_name", rows[in_first]), ("last_name", rows[~in_first])):
        frame.loc[chosen, column] = [name[:1] + ctrl + name[1:] for name, ctrl
                                     in zip(frame.loc[chosen, column], pick(_CONTROL_CHARACTERS, len(chosen)))]

    # A duplicate copies the id of an earlier good row, so "keep the first" is the right answer.
    good = np.flatnonzero(fault < 0)
    duplicates = rows_with("duplicate_candidate_id")
    originals = []
    for row in duplicates:
        earlier = good[: np.searchsorted(good, row)]
        if not len(earlier):
            earlier = np.setdiff1d(np.arange(row), duplicates)
        originals.append(int(earlier[rng.integers(0, len(earlier))]))
    frame.loc[duplicates, "candidate_id"] = frame.loc[originals, "candidate_id"].to_numpy()
