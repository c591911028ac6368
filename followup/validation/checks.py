"""Preparing a batch: every record typed for storage, and the compact checks frame GX validates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from followup.channels import DEFAULT_CHANNEL
from followup.importing import FREE_TEXT_COLUMNS, RawBatch, ReadLimits
from followup.validation.derive import (
    FIRST_YEAR, LAST_YEAR, as_shown, canonical_locale, canonical_zone, channel_name, e164, long_cells,
    parse_dates, parse_salary, per_unique, rows_where, scan_text, take_rows,
)  # fmt: skip
from followup.validation.rules import (
    CANONICAL, COUNTRIES, CURRENCIES, DATE_COLUMNS, EMAIL_PATTERN, LOCALE_PATTERN, MAX_LENGTH, PHONE_CHANNELS,
    PROBLEMS, SALARY_COLUMNS, TEXT_COLUMNS, TYPED_COLUMNS,
)  # fmt: skip


class _Problems:
    """What the derivations found, per problem rule: the value Data Docs shows and, per record,
    the failing columns and the reason. Several findings of one rule on one record are joined."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.parts: dict[str, list[pd.DataFrame]] = {key: [] for key, _ in PROBLEMS}

    def add(self, rule: str, rows: np.ndarray, shown, columns, reason) -> None:
        if len(rows):
            data = {"shown": shown, "columns": columns, "reason": reason}
            data = {k: v.to_numpy(dtype=object) if isinstance(v, (pd.Series, pd.Index)) else v for k, v in data.items()}
            self.parts[rule].append(pd.DataFrame(data, index=np.asarray(rows, dtype=np.int64)))

    def found(self, rule: str) -> pd.DataFrame:
        parts = self.parts[rule]
        if not parts:
            return pd.DataFrame({"shown": [], "columns": [], "reason": []}, index=np.empty(0, np.int64))
        found = pd.concat(parts).sort_index(kind="stable")
        if found.index.has_duplicates:
            found = found.groupby(level=0).agg({"shown": "; ".join, "columns": ";".join, "reason": "; ".join})
        return found

    def column(self, found: pd.DataFrame) -> pd.Categorical:
        codes = np.full(self.n, -1, dtype=np.int32)
        local, uniques = pd.factorize(found["shown"].to_numpy(dtype=object))
        codes[found.index.to_numpy()] = local
        return pd.Categorical.from_codes(codes, categories=pd.Index(uniques, dtype="str"))


@dataclass
class Prepared:
    """A batch ready for the suite (see prepare())."""

    checks: pd.DataFrame  # what GX validates
    typed: pd.DataFrame  # every record, typed for storage
    found: dict[str, pd.DataFrame]  # per problem rule: columns and reason by position


def prepare(
    raw: RawBatch,
    default_country: str | None = None,
    default_timezone: str | None = None,
    max_cell_chars: int = ReadLimits().max_cell_chars,
) -> Prepared:
    """Every record typed for storage, the checks frame for run_suite(), and the problems found.

    Naive dates are wall time in the row's timezone, else `default_timezone`, else UTC;
    national phone numbers are read for the row's country, else `default_country`. No cell,
    in any column, may be longer than `max_cell_chars`.
    """
    if default_timezone:
        if canonical_zone(default_timezone) is None:
            raise ValueError(f"default time zone {default_timezone!r} is not an IANA time zone name")
        default_timezone = canonical_zone(default_timezone)
    if default_country:
        if default_country.strip().upper() not in COUNTRIES:
            raise ValueError(f"default country {default_country!r} is not an ISO 3166 alpha-2 code")
        default_country = default_country.strip().upper()
    n = len(raw.frame)
    label = {c: raw.source_headers.get(c, c) for c in CANONICAL}
    col = {c: raw.frame[c] if isinstance(raw.frame[c].dtype, pd.StringDtype) else raw.frame[c].astype("str")
           for c in CANONICAL}  # fmt: skip
    problems = _Problems(n)
    typed: dict[str, pd.Series] = {}

    def quoted(column: str, rows: np.ndarray) -> pd.Series:
        return f"{label[column]} '" + as_shown(take_rows(col[column], rows)) + "'"

    def refuse(rule: str, column: str, rows: np.ndarray, what: str) -> None:
        problems.add(rule, rows, take_rows(col[column], rows), column, quoted(column, rows) + what)

    def pair(rule: str, mask: pd.Series, first: str, sign: str, second: str, what: str) -> None:
        rows = rows_where(mask)
        shown = take_rows(col[first], rows) + f" {sign} " + take_rows(col[second], rows)
        reason = quoted(first, rows) + what + quoted(second, rows).to_numpy()
        problems.add(rule, rows, shown, f"{first};{second}", reason)

    longest = {c: min(limit, max_cell_chars) for c, limit in MAX_LENGTH.items()}
    scans = {c: scan_text(col[c], limit, c in FREE_TEXT_COLUMNS) for c, limit in longest.items()}
    for c in TEXT_COLUMNS:  # line breaks are stored as LF
        typed[c] = col[c].str.replace("\r\n?", "\n", regex=True) if scans[c].has_cr else col[c]
    typed["decision"] = col["decision"].str.lower()
    typed["channel"] = per_unique(col["channel"], channel_name).fillna(DEFAULT_CHANNEL)

    for c, known, rule, what in (
        ("country", COUNTRIES, "country_unknown", " is not a two-letter ISO 3166 country code (such as US, GB or DE)"),
        ("currency", CURRENCIES, "currency_unknown", " is not an ISO 4217 currency code (such as USD, EUR or GBP)"),
    ):
        upper = per_unique(col[c], str.upper)
        unknown = upper.notna() & ~upper.isin(known)
        typed[c] = upper.mask(unknown)
        refuse(rule, c, rows_where(unknown), what)
    for c in ("timezone", "recruiter_timezone"):
        typed[c] = per_unique(col[c], canonical_zone)
        refuse(f"{c}_unknown", c, rows_where(col[c].notna() & typed[c].isna()),
               " is not a known time zone (use a name such as Europe/London or America/New_York)")  # fmt: skip
    typed["locale"] = per_unique(col["locale"], canonical_locale)
    bad_locale = typed["locale"].notna() & ~typed["locale"].str.contains(LOCALE_PATTERN)
    refuse("locale_invalid", "locale", rows_where(bad_locale), " is not a language tag such as en or en-GB")
    recruiter = col["recruiter_email"]
    bad_address = recruiter.notna() & ~recruiter.str.contains(EMAIL_PATTERN)
    refuse("recruiter_email_invalid", "recruiter_email", rows_where(bad_address), " is not a valid address")

    regions = typed["country"].fillna(default_country) if default_country else typed["country"]
    for c in ("phone", "recruiter_phone"):
        typed[c], invalid = e164(col[c], regions)
        rows = rows_where(invalid)
        hint = np.where(take_rows(regions, rows).isna() & ~take_rows(col[c], rows).str.startswith("+"),
                        " (write it with its country code, such as +44 20 7946 0958, or fill in country)",
                        "")  # fmt: skip
        refuse(f"{c}_invalid", c, rows, " is not a valid phone number" + hint)
    rows = rows_where(typed["channel"].isin(PHONE_CHANNELS) & col["phone"].isna())
    problems.add("phone_missing_for_voicemail", rows, "(empty)", "phone",
                 f"{label['phone']} is required for {' and '.join(PHONE_CHANNELS)} and must be a valid number")  # fmt: skip

    zone_codes, zone_names = pd.factorize(typed["timezone"].fillna(default_timezone or "UTC"))
    for c in DATE_COLUMNS:
        typed[c], unparsed = parse_dates(col[c], zone_codes, zone_names)
        refuse(f"{c}_unparsed", c, rows_where(unparsed),
               f" is not a date from {FIRST_YEAR} to {LAST_YEAR} (use 2026-11-20, 2026-11-20 14:30 or 11/20/2026)")  # fmt: skip
    pair("offer_deadline_not_after_decided_at", typed["offer_deadline"] <= typed["decided_at"],
         "offer_deadline", "<=", "decided_at", " is not after ")  # fmt: skip

    for c in SALARY_COLUMNS:
        typed[c], unparsed = parse_salary(col[c])
        refuse(f"{c}_unparsed", c, rows_where(unparsed), " is not a number")
        refuse("salary_negative", c, rows_where(typed[c] < 0), " must not be negative")
    pair("salary_min_above_max", typed["salary_min"] > typed["salary_max"],
         "salary_min", ">", "salary_max", " is more than ")  # fmt: skip

    setting = f"at most {max_cell_chars}; FOLLOWUP_MAX_CELL_CHARS sets that"
    for c, scan in scans.items():
        size = pd.Series(scan.lengths).astype("str")
        most = f"at most {MAX_LENGTH[c]}" if MAX_LENGTH[c] <= max_cell_chars else setting
        problems.add("text_too_long", scan.long_rows, f"{c}: " + size + " characters", c,
                     f"{label[c]} is too long (" + size + f" characters, {most})")  # fmt: skip
        point = pd.Series([f"U+{p:04X}" for p in scan.control[:, 1]], dtype="str")
        free = c in FREE_TEXT_COLUMNS
        allowed = " (free text may hold line breaks and tabs, no other control characters)" if free else ""
        problems.add("control_characters", scan.control[:, 0], f"{c}: " + point, c,
                     f"{label[c]} contains the control character " + point + allowed)  # fmt: skip
    for c in raw.extra_columns:  # nothing stores them, but a row in quarantine keeps every cell
        rows, lengths = long_cells(raw.frame[c], max_cell_chars)
        size = pd.Series(lengths).astype("str")
        problems.add("text_too_long", rows, f"{c}: " + size + " characters", c,
                     f"{raw.source_headers.get(c, c)} is too long (" + size + f" characters, {setting})")  # fmt: skip

    found = {key: problems.found(key) for key, _ in PROBLEMS}
    presence_only = ("first_name", "last_name", "role")  # a nullable boolean is cheap for GX to copy
    checks = {
        "candidate_id": col["candidate_id"],
        "email": col["email"],
        **{c: pd.array(np.where(col[c].isna(), None, True), dtype="boolean") for c in presence_only},
        "decision": typed["decision"].astype("category"),
        "channel": typed["channel"].astype("category"),
        **{key: problems.column(frame) for key, frame in found.items()},
    }
    typed["source_line"] = pd.Series(np.array(raw.line_numbers, dtype=np.int64))
    # Not copied: the columns are this function's own (or the file's immutable Arrow text).
    return Prepared(
        checks=pd.DataFrame(checks, index=pd.RangeIndex(n), copy=False),
        typed=pd.DataFrame({c: typed[c] for c in TYPED_COLUMNS}, index=pd.RangeIndex(n), copy=False),
        found=found,
    )
