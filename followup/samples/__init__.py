"""Synthetic candidate batches: the demo's default sample and the load for benchmarks.

A batch looks like the export of a real hiring round: international names (accents,
apostrophes, hyphens, a few non-Latin scripts), national and international phone numbers
that libphonenumber accepts, time zones and currencies that agree with the country, notes
with embedded newlines. About `bad_share` of the rows carry exactly one fault each, named in
the `_fault` column, so validation can be checked row by row against the truth.

Rows are built from small vocabularies with numpy choices and pyarrow string kernels: a
million rows take seconds, where a per-row Python loop would take minutes. Only the few bad
rows are touched one by one.

Modules: vocabulary (the name, region, phone, role and note tables), faults (which rows are
bad and how).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .faults import FAULTS, _corrupt, _plan_faults
from .vocabulary import (
    _COMPANIES,
    _DOMAINS,
    _DOMAINS_MIXED,
    _FEEDBACK,
    _INTEREST_COUNT_P,
    _INTERESTS,
    _LOCAL_SEPARATORS,
    _MANAGERS,
    _MIXED_CASE_SHARE,
    _MOVED_SHARE,
    _NATIONAL_PHONE_SHARE,
    _NOTES,
    _PHONE_SHARE_OFF_VOICEMAIL,
    _RECRUITERS,
    _REMOTE_SHARE,
    _ROLES,
    _STRENGTHS,
    _V,
)

COLUMNS: tuple[str, ...] = (
    "candidate_id", "email", "first_name", "last_name", "role", "decision", "phone",
    "timezone", "country", "channel", "decided_at", "offer_deadline", "start_date",
    "salary_min", "salary_max", "currency", "location", "reasons", "interests",
    "recruiter_name", "recruiter_email", "recruiter_phone", "hiring_manager", "company",
    "locale", "meeting_at", "meeting_location", "notes",
)

# Spellings taken from Greenhouse / Lever / Workable style exports; followup.importing maps them back.
ATS_HEADERS: dict[str, str] = {
    "candidate_id": "Candidate ID",
    "email": "Email Address",
    "first_name": "First Name",
    "last_name": "Last Name",
    "role": "Job Title",
    "decision": "Hiring Decision",
    "phone": "Phone Number",
    "timezone": "Time Zone",
    "country": "Country",
    "channel": "Preferred Contact Method",
    "decided_at": "Decision Date",
    "offer_deadline": "Offer Expiration Date",
    "start_date": "Start Date",
    "salary_min": "Minimum Salary",
    "salary_max": "Maximum Salary",
    "currency": "Salary Currency",
    "location": "Job Location",
    "reasons": "Decision Reasons",
    "interests": "Candidate Interests",
    "recruiter_name": "Recruiter",
    "recruiter_email": "Recruiter Email",
    "recruiter_phone": "Recruiter Phone",
    "hiring_manager": "Hiring Manager",
    "company": "Company Name",
    "locale": "Locale",
    "meeting_at": "Meeting Time",
    "meeting_location": "Meeting Location",
    "notes": "Notes",
}

CHANNELS: tuple[str, ...] = ("email", "voicemail", "in_person")
OFFER_SHARE = 0.30

# The committed demo sample is generate_batch(SAMPLE_ROWS, seed=SAMPLE_SEED,
# bad_share=SAMPLE_BAD_SHARE, now=SAMPLE_NOW, ats_headers=True): a fixed business clock keeps
# the committed file and a regenerated one byte-identical.
SAMPLE_ROWS = 60
SAMPLE_SEED = 7
SAMPLE_BAD_SHARE = 0.08
SAMPLE_NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
_REPOSITORY_SAMPLE = Path(__file__).resolve().parents[2] / "data" / "samples" / "candidates.csv"


# --- generation -----------------------------------------------------------------------------


def _take(vocabulary: list[str], indices: np.ndarray) -> pa.Array:
    return pc.take(pa.array(vocabulary, type=pa.string()), pa.array(indices))


def _join(*parts: pa.Array | str, sep: str = "") -> pa.Array:
    return pc.binary_join_element_wise(*parts, sep)


def _days_text(days: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(days.astype("datetime64[D]")), pa.string())


def _timestamps_text(moments: np.ndarray) -> pa.Array:
    """ISO 8601 'YYYY-MM-DDTHH:MM:SS'; Arrow's cast is ten times faster than its strftime."""
    return pc.replace_substring(pc.cast(pa.array(moments.astype("datetime64[s]")), pa.string()), " ", "T")


def _fill_templates(rng: np.random.Generator, region: np.ndarray, national: np.ndarray,
                    wanted: np.ndarray) -> pa.Array:
    """Phone numbers from the region templates, digits drawn as one block per region."""
    out = np.zeros(len(region), dtype="S24")
    for r, (intl_template, national_template) in enumerate(zip(_V["region_intl"], _V["region_national"])):
        rows = np.flatnonzero(wanted & (region == r))
        if not len(rows):
            continue
        digits = rng.integers(0, 10, (len(rows), intl_template.count("#")), dtype=np.uint8) + ord("0")
        for template, chosen in ((intl_template, ~national[rows]), (national_template, national[rows])):
            picked = rows[chosen]
            raw = np.frombuffer(template.encode(), dtype=np.uint8)
            grid = np.tile(raw, (len(picked), 1))
            grid[:, raw == ord("#")] = digits[chosen]
            out[picked] = grid.view(f"S{len(raw)}").ravel()
    return pc.cast(pa.array(out, type=pa.binary()), pa.string())


def _utc_offsets(tz_names: list[str], keys: np.ndarray) -> np.ndarray:
    """'+01:00'-style offsets at noon of each (zone, day); meetings never straddle a DST change."""
    unique, inverse = np.unique(keys, return_inverse=True)
    labels = []
    for key in unique:
        tz_index, day = divmod(int(key), 1 << 32)
        noon = datetime.combine(datetime(1970, 1, 1) + timedelta(days=day), time(12))
        minutes = int(ZoneInfo(tz_names[tz_index]).utcoffset(noon).total_seconds() // 60)
        sign = "+" if minutes >= 0 else "-"
        labels.append(f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}")
    return np.asarray(labels)[inverse] if labels else np.asarray([], dtype=str)


def generate_batch(n: int, *, seed: int = 7, bad_share: float = 0.01,
                   channel_mix: tuple[float, float, float] = (0.7, 0.2, 0.1),
                   now: datetime | None = None, ats_headers: bool = False) -> pd.DataFrame:
    """A batch of `n` candidates decided in the days before `now` (default: the current time).

    Deterministic for a given seed and `now`. Every column is text, as a CSV export would be;
    an absent value is "". `_bad` marks the rows with a fault and `_fault` names it (for a
    duplicated candidate_id only the later occurrence is marked). `channel_mix` is the share of
    email, voicemail and in_person rows. With `ats_headers` the columns carry ATS_HEADERS names.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    if not 0.0 <= bad_share <= 1.0:
        raise ValueError("bad_share must be within [0, 1]")
    mix = np.asarray(channel_mix, dtype=float)
    if mix.shape != (3,) or (mix < 0).any() or mix.sum() <= 0:
        raise ValueError("channel_mix needs three non-negative shares: email, voicemail, in_person")
    now = (now or datetime.now(UTC)).replace(second=0, microsecond=0)
    now = now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)
    now_minute = np.datetime64(now.replace(tzinfo=None), "m")

    rng = np.random.default_rng(seed)
    fault = _plan_faults(rng, n, bad_share)

    def faulty(name: str) -> np.ndarray:
        return fault == FAULTS.index(name)

    seq = np.arange(1, n + 1)
    country = rng.choice(len(_V["country_code"]), n, p=_V["country_weight"])
    region = _V["region_offset"][country] + (rng.random(n) * _V["region_count"][country]).astype(np.int64)
    group = _V["group_offset"][country] + (rng.random(n) < _V["group_share"][country])
    moved = rng.random(n) < _MOVED_SHARE
    group[moved] = rng.integers(0, len(_V["first_offset"]), int(moved.sum()))
    first = _V["first_offset"][group] + (rng.random(n) * _V["first_count"][group]).astype(np.int64)
    last = _V["last_offset"][group] + (rng.random(n) * _V["last_count"][group]).astype(np.int64)

    offer = (rng.random(n) < OFFER_SHARE) | faulty("deadline_before_decision")
    channel = rng.choice(3, n, p=mix / mix.sum())
    channel[faulty("voicemail_without_phone")] = CHANNELS.index("voicemail")
    voicemail = channel == CHANNELS.index("voicemail")
    in_person = channel == CHANNELS.index("in_person")
    salaried = offer | faulty("salary_inverted") | faulty("unknown_currency")

    role = rng.integers(0, len(_ROLES), n)
    recruiter = rng.integers(0, len(_RECRUITERS), n)
    company = np.asarray([r[3] for r in _RECRUITERS])[recruiter]

    domain = rng.integers(0, len(_DOMAINS), n)
    domains = _take(_DOMAINS + _DOMAINS_MIXED, domain + len(_DOMAINS) * (rng.random(n) < _MIXED_CASE_SHARE))
    local = _join(_take(_V["first_slug"], first), _take(_LOCAL_SEPARATORS, rng.integers(0, 3, n)),
                  _take(_V["last_slug"], last), pc.cast(pa.array(seq), pa.string()))

    wants_phone = (voicemail | (rng.random(n) < _PHONE_SHARE_OFF_VOICEMAIL)) & ~faulty("voicemail_without_phone")
    phone = _fill_templates(rng, region, rng.random(n) < _NATIONAL_PHONE_SHARE, wants_phone)

    decided = now_minute - rng.integers(120, 6 * 24 * 60, n).astype("timedelta64[m]")
    decided_day = decided.astype("datetime64[D]")
    deadline = decided_day + rng.integers(7, 13, n).astype("timedelta64[D]")
    late = faulty("deadline_before_decision")
    deadline[late] = decided_day[late] - rng.integers(1, 4, int(late.sum())).astype("timedelta64[D]")
    start = decided_day + rng.integers(21, 57, n).astype("timedelta64[D]")
    start += ((7 - (start.astype(np.int64) + 3) % 7) % 7).astype("timedelta64[D]")  # the next Monday

    pay = np.asarray([b for _, b in _ROLES])[role] * _V["pay"][country] * rng.uniform(0.9, 1.1, n)
    step = _V["step"][country]
    salary_min = (np.round(pay / step) * step).astype(np.int64)
    salary_max = (np.round(salary_min * rng.uniform(1.15, 1.35, n) / step) * step).astype(np.int64)

    # Two or three distinct reasons from the pool of the row's decision; the third is drawn
    # from a copy of the pool that carries its own separator, plus "" for rows that stop at two.
    pool = _STRENGTHS + _FEEDBACK
    size = len(_STRENGTHS)
    base, a, s = np.where(offer, 0, size), rng.integers(0, size, n), rng.integers(1, size, n)
    third = np.where(rng.random(n) < 0.5, base + (a + 2 * s) % size, len(pool))
    reasons = _join(_take(pool, base + a), ";", _take(pool, base + (a + s) % size),
                    _take([f";{r}" for r in pool] + [""], third))
    count = rng.choice(3, n, p=_INTEREST_COUNT_P)
    i1, i2 = rng.integers(0, len(_INTERESTS), n), rng.integers(1, len(_INTERESTS), n)
    interests = _join(_take(_INTERESTS + [""], np.where(count >= 1, i1, len(_INTERESTS))),
                      _take([f";{i}" for i in _INTERESTS] + [""],
                            np.where(count == 2, (i1 + i2) % len(_INTERESTS), len(_INTERESTS))))

    meeting_day = now_minute.astype("datetime64[D]") + rng.integers(2, 9, n).astype("timedelta64[D]")
    weekday = (meeting_day.astype(np.int64) + 3) % 7  # Monday = 0
    meeting_day += np.select([weekday == 5, weekday == 6], [2, 1], 0).astype("timedelta64[D]")
    meeting_local = meeting_day.astype("datetime64[m]") + (540 + 30 * rng.integers(0, 15, n)).astype("timedelta64[m]")
    tz_names = sorted(set(_V["region_tz"]))
    region_tz_index = np.asarray([tz_names.index(tz) for tz in _V["region_tz"]])
    offsets = _utc_offsets(tz_names, (region_tz_index[region] << 32) + meeting_day.astype(np.int64))
    meeting_at = _join(_timestamps_text(meeting_local), pa.array(offsets, type=pa.string()))

    def only(mask: np.ndarray, values: pa.Array) -> pa.Array:
        return pc.if_else(pa.array(mask), values, "")

    notes_text, notes_p = zip(*_NOTES)
    columns: dict[str, pa.Array] = {
        "candidate_id": _join("C-", pc.utf8_lpad(pc.cast(pa.array(seq), pa.string()), 6, "0")),
        "email": _join(local, domains, sep="@"),
        "first_name": _take(_V["first"], first),
        "last_name": _take(_V["last"], last),
        "role": _take([r[0] for r in _ROLES], role),
        "decision": pc.if_else(pa.array(offer), "offer", "reject"),
        "phone": phone,
        "timezone": _take(_V["region_tz"], region),
        "country": _take(_V["country_code"], country),
        "channel": _take(list(CHANNELS), channel),
        "decided_at": _join(_timestamps_text(decided), "Z"),
        "offer_deadline": only(offer, _days_text(deadline)),
        "start_date": only(offer, _days_text(start)),
        "salary_min": only(salaried, pc.cast(pa.array(salary_min), pa.string())),
        "salary_max": only(salaried, pc.cast(pa.array(salary_max), pa.string())),
        "currency": only(salaried, _take(_V["currency"], country)),
        "location": pc.if_else(pa.array(rng.random(n) < _REMOTE_SHARE), "Remote", _take(_V["region_city"], region)),
        "reasons": reasons,
        "interests": interests,
        "recruiter_name": _take([r[0] for r in _RECRUITERS], recruiter),
        "recruiter_email": _join(_take([r[1] for r in _RECRUITERS], recruiter),
                                 _take([c[1] for c in _COMPANIES], company), sep="@"),
        "recruiter_phone": _take([r[2] for r in _RECRUITERS], recruiter),
        "hiring_manager": _take(_MANAGERS, rng.integers(0, len(_MANAGERS), n)),
        "company": _take([c[0] for c in _COMPANIES], company),
        "locale": _take(_V["region_locale"], region),
        "meeting_at": only(in_person, meeting_at),
        "meeting_location": only(in_person, _join(_take([c[0] for c in _COMPANIES], company),
                                                  _take(_V["region_office"], region), sep=", ")),
        "notes": _take(list(notes_text), rng.choice(len(notes_text), n, p=notes_p)),
    }
    frame = pd.DataFrame({name: pd.array(columns[name], dtype="str") for name in COLUMNS})
    _corrupt(frame, fault, rng)
    frame["_bad"] = fault >= 0
    frame["_fault"] = pd.array(np.asarray([""] + list(FAULTS), dtype=object)[fault + 1], dtype="str")
    return frame.rename(columns=ATS_HEADERS) if ats_headers else frame


# --- writing --------------------------------------------------------------------------------

_WRITE_BATCH_ROWS = 100_000


def write_batch(frame: pd.DataFrame, path: Path) -> Path:
    """Write the batch as UTF-8 CSV, without the `_`-prefixed truth columns; returns the path.

    Arrow's writer, not pandas' to_csv: to_csv formats cells in Python (about 25 s for a million
    rows here), Arrow in under a second. It quotes every text cell, which any CSV reader accepts;
    empty cells are left bare. The file appears whole or not at all: it is written beside the
    target and renamed.
    """
    path = Path(path)
    public = [c for c in frame.columns if not str(c).startswith("_")]
    text = pd.DataFrame({str(c): frame[c] if isinstance(frame[c].dtype, pd.StringDtype) else frame[c].astype("str")
                         for c in public})
    table = pa.Table.from_pandas(text, preserve_index=False)
    table = pa.table({name: pc.if_else(pc.equal(column, ""), pa.scalar(None, column.type), column)
                      for name, column in zip(table.column_names, table.columns)})
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    pacsv.write_csv(table, partial, write_options=pacsv.WriteOptions(batch_size=_WRITE_BATCH_ROWS))
    os.replace(partial, path)
    return path


# --- the demo sample ------------------------------------------------------------------------


def ensure_sample(data_dir: Path) -> Path:
    """data_dir/samples/candidates.csv, generated like the committed sample if missing."""
    path = Path(data_dir) / "samples" / "candidates.csv"
    if not path.exists():
        write_batch(generate_batch(SAMPLE_ROWS, seed=SAMPLE_SEED, bad_share=SAMPLE_BAD_SHARE,
                                   now=SAMPLE_NOW, ats_headers=True), path)
    return path


def default_sample_path(data_dir: Path = Path("data")) -> Path:
    """The committed sample when running from the repository, else one generated into data_dir."""
    if _REPOSITORY_SAMPLE.is_file():
        return _REPOSITORY_SAMPLE
    return ensure_sample(data_dir)
