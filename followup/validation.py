"""The candidate batch suite (Great Expectations) and the row-level quarantine.

validate_batch() turns a RawBatch into typed good rows and a quarantine: one row per bad
record with the failing columns, a reason a recruiter can act on, and the record's cells
under the file's own headers, so the source can be fixed and imported again.

Why this shape (measured with GX 1.24 on the 2-core benchmark machine, 1M rows):

- Whatever needs parsing or normalising (dates in the row's time zone, salaries, E.164
  phones, time zone names, lengths, control characters) is derived first, vectorised with
  pandas, pyarrow and numpy. The typed columns become `valid`.
- GX validates a compact checks frame (RangeIndex, one row per record) with result_format
  COMPLETE; `unexpected_index_list` holds integer positions, mapped back with numpy. Naming
  index columns instead makes GX loop over rows in Python.
- GX's pandas engine copies the whole frame three or four times for each expectation whose
  column holds nulls (one boolean filter per metric) and once per metric for a row_condition
  (DataFrame.query): about a second per such expectation at a million rows. So real value
  expectations (not null, unique, regex, in set) check the required columns, which are
  complete in any usable batch, and each rule on optional or derived values is a "problem"
  column (the offending value where the rule fails, null elsewhere) with
  ExpectColumnValuesToBeNull. Data Docs show every rule with its count and offending values.
- GX fingerprints each batch by hashing every cell (about 0.2 s per text column at 1M rows)
  for a batch marker nothing here reads: switched off.
- The context and suite are built once per process. Data Docs are built from the result
  without its full unexpected lists, so they stay small for big batches.
"""

from __future__ import annotations

import os
import re
import threading
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from followup.csvfiles import write_csv
from followup.importing import FREE_TEXT_COLUMNS, OPTIONAL_COLUMNS, REQUIRED_COLUMNS, RawBatch

SUITE_NAME = "candidate_batch"
SUITE_VERSION = "1"

DECISIONS = ("offer", "reject")
CHANNELS = ("email", "voicemail", "in_person")
DATE_COLUMNS = ("decided_at", "offer_deadline", "start_date", "meeting_at")
SALARY_COLUMNS = ("salary_min", "salary_max")
_CANONICAL = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)

# Characters per column. Ids, names and addresses match the ledger's column sizes; raw forms
# that are normalised before storing (phones, dates, codes) get room for their spellings, so
# the format rules give the clearer reason.
MAX_LENGTH: dict[str, int] = {
    "candidate_id": 128, "email": 320, "first_name": 200, "last_name": 200, "role": 200,
    "decision": 32, "phone": 64, "timezone": 64, "country": 64, "channel": 32,
    "decided_at": 64, "offer_deadline": 64, "start_date": 64, "salary_min": 64, "salary_max": 64,
    "currency": 64, "location": 200, "reasons": 4000, "interests": 4000, "recruiter_name": 200,
    "recruiter_email": 320, "recruiter_phone": 64, "hiring_manager": 200, "company": 200,
    "locale": 35, "meeting_at": 64, "meeting_location": 300, "notes": 4000,
}  # fmt: skip

# ISO 3166-1 alpha-2: the 249 officially assigned codes.
COUNTRIES = frozenset(
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS "
    "BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE "
    "EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM "
    "HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC "
    "LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA "
    "NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW "
    "SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO "
    "TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW".split()
)
# ISO 4217 currencies in circulation in 2026: no fund, metal or test codes, none withdrawn
# (HRK, BGN, ANG, SLL, ZWL), the newest included (SLE, VED, XCG, ZWG).
CURRENCIES = frozenset(
    "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD "
    "CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD "
    "GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD "
    "KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO "
    "NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE "
    "SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND "
    "VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG".split()
)

# Patterns stay RE2-compatible (pyarrow runs them; a lookaround or `$` sends pandas to Python's
# re, 5-10x slower). Email: a dot-atom local part, a domain of letter-digit-hyphen labels
# ending in one that starts with a letter.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_PATTERN = rf"^{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[A-Za-z](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\Z"
_LOCALE_PATTERN = r"^[a-z]{2,3}(?:-[A-Z][a-z]{3})?(?:-(?:[A-Z]{2}|[0-9]{3}))?\Z"
_NUMBER_PATTERN = r"^[+-]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?\Z"
# ISO 8601 (2026-11-20, 2026-11-20T14:30:05.5+01:00), 2026/11/20 and the US 11/20/2026, each
# with an optional time (14:30, 2:30 PM) and offset. Slashed dates are month first, never
# guessed: 05/06/2026 would otherwise mean two different days in one file.
_DATE_PATTERN = (
    r"^(?:(?P<y1>[0-9]{4})-(?P<m1>[0-9]{1,2})-(?P<d1>[0-9]{1,2})"
    r"|(?P<y2>[0-9]{4})/(?P<m2>[0-9]{1,2})/(?P<d2>[0-9]{1,2})"
    r"|(?P<m3>[0-9]{1,2})/(?P<d3>[0-9]{1,2})/(?P<y3>[0-9]{4}))"
    r"(?:[T ](?P<hh>[0-9]{1,2}):(?P<mi>[0-9]{2})(?::(?P<ss>[0-9]{2})(?:[.,](?P<frac>[0-9]{1,9}))?)?"
    r" ?(?P<ampm>[AaPp][Mm])?)?"
    r" ?(?P<tz>Z|[+-][0-9]{2}(?::?[0-9]{2})?)?\Z"
)
_CONTROL = r"[\x00-\x1f\x7f-\x9f]"
_SHOWN = 60  # characters of a value quoted in a reason
_LINES_NAMED = 5  # other lines a duplicate's reason names

_TEXT_COLUMNS = (
    "candidate_id", "email", "first_name", "last_name", "role", "location", "reasons", "interests",
    "recruiter_name", "recruiter_email", "hiring_manager", "company", "meeting_location", "notes",
)  # fmt: skip
TYPED_COLUMNS = (
    "candidate_id", "email", "first_name", "last_name", "role", "decision", "phone", "timezone",
    "country", "channel", "locale", *DATE_COLUMNS, *SALARY_COLUMNS, "currency", "location", "reasons",
    "interests", "recruiter_name", "recruiter_email", "recruiter_phone", "hiring_manager", "company",
    "meeting_location", "notes", "source_line",
)  # fmt: skip


@dataclass
class Validated:
    valid: pd.DataFrame
    quarantine: pd.DataFrame
    rows: int
    data_docs: Path | None

    @property
    def bad_share(self) -> float:
        return len(self.quarantine) / self.rows if self.rows else 0.0


# --------------------------------------------------------------------------- the suite


@dataclass(frozen=True)
class _Rule:
    key: str  # the expectation's meta["rule"]; for a problem rule also its checks-frame column
    kind: str  # not_null | unique | regex | in_set | null
    description: str  # what Data Docs says the rule is
    column: str | None = None
    values: tuple[str, ...] = ()


_PROBLEMS = (
    ("recruiter_email_invalid", "recruiter_email, when given, is a valid email address"),
    ("phone_invalid", "phone, when given, is a valid number (E.164, or national for the row's country)"),
    ("phone_missing_for_voicemail", "voicemail candidates have a phone number"),
    ("recruiter_phone_invalid", "recruiter_phone, when given, is a valid number"),
    ("timezone_unknown", "timezone, when given, is an IANA time zone name"),
    ("country_unknown", "country, when given, is an ISO 3166 alpha-2 code"),
    ("currency_unknown", "currency, when given, is an ISO 4217 code"),
    ("locale_invalid", "locale, when given, is a language tag such as en or en-GB"),
    *((f"{c}_unparsed", f"{c}, when given, is a date or a date and time") for c in DATE_COLUMNS),
    *((f"{c}_unparsed", f"{c}, when given, is a number") for c in SALARY_COLUMNS),
    ("salary_negative", "salaries are not negative"),
    ("salary_min_above_max", "salary_min is not above salary_max"),
    ("offer_deadline_not_after_decided_at", "offer_deadline is after decided_at"),
    ("text_too_long", "no value is longer than its column's limit"),
    ("control_characters", "no control characters (free text may hold line breaks and tabs)"),
)
RULES: tuple[_Rule, ...] = (
    *(_Rule(f"required_{c}", "not_null", f"every record has a {c}", column=c) for c in REQUIRED_COLUMNS),
    _Rule("candidate_id_unique", "unique", "candidate_id is unique within the batch", column="candidate_id"),
    _Rule("email_syntax", "regex", "email is a valid address", column="email", values=(EMAIL_PATTERN,)),
    _Rule("decision_known", "in_set", "decision is offer or reject", column="decision", values=DECISIONS),
    _Rule("channel_known", "in_set", "channel is email, voicemail or in_person", column="channel", values=CHANNELS),
    *(_Rule(key, "null", description) for key, description in _PROBLEMS),
)
_VALUE_REASONS = {
    "email_syntax": " is not a valid address",
    "decision_known": " must be offer or reject",
    "channel_known": " must be email, voicemail or in_person",
}

_gx_lock = threading.Lock()  # one context per process; Prefect may run tasks in threads
_gx_cache: dict[str, object] = {}


def _expectation(rule: _Rule):
    import great_expectations.expectations as gxe

    common = {"column": rule.column or rule.key, "meta": {"rule": rule.key}, "description": rule.description}
    if rule.kind == "not_null":
        return gxe.ExpectColumnValuesToNotBeNull(**common)
    if rule.kind == "unique":
        return gxe.ExpectColumnValuesToBeUnique(**common)
    if rule.kind == "regex":
        return gxe.ExpectColumnValuesToMatchRegex(regex=rule.values[0], **common)
    if rule.kind == "in_set":
        return gxe.ExpectColumnValuesToBeInSet(value_set=list(rule.values), **common)
    return gxe.ExpectColumnValuesToBeNull(**common)


def _gx():
    """The ephemeral context and the suite's validation definition, built once per process."""
    if "definition" not in _gx_cache:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig
        from great_expectations.execution_engine import pandas_execution_engine

        pandas_execution_engine.HASH_THRESHOLD = 0  # no batch fingerprint (see the module docstring)
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        batch = (
            context.data_sources.add_pandas("followup")
            .add_dataframe_asset("candidate_batch_checks")
            .add_batch_definition_whole_dataframe("whole_batch")
        )
        suite = context.suites.add(
            gx.ExpectationSuite(
                name=SUITE_NAME,
                meta={"suite_version": SUITE_VERSION},
                expectations=[_expectation(rule) for rule in RULES],
            )
        )
        definition = gx.ValidationDefinition(name=f"{SUITE_NAME}-v{SUITE_VERSION}", data=batch, suite=suite)
        _gx_cache["context"] = context
        _gx_cache["definition"] = context.validation_definitions.add(definition)
    return _gx_cache["context"], _gx_cache["definition"]


def _run_suite(checks: pd.DataFrame, batch_id: str, docs_dir: Path | None) -> tuple[dict[str, np.ndarray], Path | None]:
    """Failing positions per rule, and the Data Docs index for this batch when `docs_dir` is set."""
    from great_expectations.core.run_identifier import RunIdentifier

    result_format = {
        "result_format": "COMPLETE",
        "include_unexpected_rows": False,
        "partial_unexpected_count": 20,
        "return_unexpected_index_query": False,
    }
    with _gx_lock:
        context, definition = _gx()
        run_id = RunIdentifier(run_name=batch_id, run_time=datetime.now(timezone.utc))
        result = definition.run(batch_parameters={"dataframe": checks}, result_format=result_format, run_id=run_id)
        failing: dict[str, np.ndarray] = {}
        for outcome in result.results:
            rule = outcome.expectation_config.meta["rule"]
            if outcome.exception_info.get("raised_exception"):
                message = outcome.exception_info["exception_message"]
                raise RuntimeError(f"validation rule {rule} failed to run: {message}")
            failing[rule] = np.asarray(outcome.result.pop("unexpected_index_list", None) or [], dtype=np.int64)
            outcome.result.pop("unexpected_list", None)  # the docs keep the partial lists only
        store = context.validation_results_store
        keys = [key for key in store.list_keys() if key.run_id.run_name == batch_id]
        try:
            docs = _build_docs(context, keys, result, docs_dir / batch_id) if docs_dir else None
        finally:
            for key in keys:  # the in-memory store would otherwise keep every batch's result
                store.remove_key(key)
    return failing, docs


def _build_docs(context, keys, trimmed, target: Path) -> Path:
    for key in keys:
        context.validation_results_store.set(key, trimmed)
    site = f"batch_{target.name}"
    context.add_data_docs_site(
        site,
        {
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(target)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    try:
        context.build_data_docs(site_names=[site], resource_identifiers=keys)
    finally:
        context.delete_data_docs_site(site)
    return target / "index.html"


# --------------------------------------------------------------------------- derivations


def _str(values) -> pd.Series:
    return pd.Series(pd.array(values, dtype="str"), copy=False)


def _rows(mask) -> np.ndarray:
    return np.flatnonzero(np.asarray(mask, dtype=bool))


def _per_unique(series: pd.Series, normalise) -> pd.Series:
    """A Python function applied once per distinct value (code columns hold a handful)."""
    codes, uniques = pd.factorize(series)
    mapped = pd.array([normalise(value) for value in uniques] + [None], dtype="str")
    return pd.Series(mapped.take(np.where(codes < 0, len(uniques), codes)), copy=False)


@lru_cache(maxsize=1)
def _zones() -> dict[str, str]:
    return {name.casefold(): name for name in zoneinfo.available_timezones()}


def _canonical_zone(value: str) -> str | None:
    return _zones().get(value.casefold())


def _canonical_locale(value: str) -> str:
    language, *rest = value.replace("_", "-").split("-")
    return "-".join([language.lower(), *(part.title() if len(part) == 4 else part.upper() for part in rest)])


def _channel(value: str) -> str:
    return value.lower().replace("-", "_").replace(" ", "_")


@dataclass
class _Scan:
    long_rows: np.ndarray  # rows over the length limit
    lengths: np.ndarray  # their lengths in characters
    control: np.ndarray  # [row, code point] of the first forbidden control character per row
    has_cr: bool  # a carriage return in free text: a Windows or old Mac line break


def _scan(values: pd.Series, limit: int, free_text: bool) -> _Scan:
    """Lengths and control characters of a text column, read from Arrow's UTF-8 buffer.

    A regex per column costs ~0.2 s at a million rows, 28 columns of it seconds; numpy over
    the buffer costs milliseconds, and min/max rule out most columns without a mask. Bytes
    bound characters from above, so only rows with too many bytes are measured.
    """
    array = pa.array(values, type=pa.large_string(), from_pandas=True)
    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    n = len(array)
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset : array.offset + n + 1]
    valid = array.is_valid().to_numpy(zero_copy_only=False) if array.null_count else np.ones(n, dtype=bool)
    long_rows = np.flatnonzero(np.where(valid, np.diff(offsets), 0) > limit)
    lengths = pc.utf8_length(array.take(pa.array(long_rows))).to_numpy(zero_copy_only=False).astype(np.int64)
    too_long = lengths > limit
    found = _Scan(long_rows[too_long], lengths[too_long], np.empty((0, 2), np.int64), False)
    buffer = array.buffers()[2]
    if buffer is None or not n or offsets[-1] == offsets[0]:
        return found
    data = np.frombuffer(buffer, dtype=np.uint8)[offsets[0] : offsets[-1]]
    hits = [np.empty(0, np.int64)]
    if data.min() < 0x20:
        bad = data < 0x20
        if free_text:
            found.has_cr = bool((data == 0x0D).any())
            bad &= (data != 0x09) & (data != 0x0A) & (data != 0x0D)
        hits.append(np.flatnonzero(bad))
    high = data.max()
    if high >= 0x7F:
        hits.append(np.flatnonzero(data == 0x7F))
    if high >= 0xC2:  # U+0080..U+009F are C2 80..C2 9F in UTF-8
        lead = np.flatnonzero(data[:-1] == 0xC2)
        hits.append(lead[(data[lead + 1] >= 0x80) & (data[lead + 1] <= 0x9F)])
    hits = np.sort(np.concatenate(hits))
    if not len(hits):
        return found
    points = np.where(data[hits] == 0xC2, data[np.minimum(hits + 1, len(data) - 1)], data[hits]).astype(np.int64)
    rows, first = np.unique(np.searchsorted(offsets, hits + offsets[0], side="right") - 1, return_index=True)
    on_value = valid[rows]
    found.control = np.column_stack([rows[on_value], points[first][on_value]])
    return found


def _parse_dates(raw: pd.Series, zone_codes: np.ndarray, zone_names: pd.Index) -> tuple[pd.Series, np.ndarray]:
    """UTC timestamps, and the rows whose text is not a date.

    Each distinct text is parsed once. A value with an offset (Z, +01:00) is that instant. A
    naive value is wall time in the row's zone (`zone_codes` into `zone_names`), a date alone
    its midnight: a time repeated when clocks go back reads as the first one, a time skipped
    when they go forward moves forward.
    """
    out = np.full(len(raw), np.datetime64("NaT"), dtype="datetime64[ns]")
    codes, uniques = pd.factorize(raw)
    parts = _str(uniques).str.extract(_DATE_PATTERN).replace("", np.nan)

    def number(*names: str) -> pd.Series:
        picked = parts[names[0]]
        for name in names[1:]:
            picked = picked.fillna(parts[name])
        return pd.to_numeric(picked, errors="coerce")

    hour = number("hh").fillna(0)
    ampm = parts["ampm"].str.lower()
    twelve = ampm.notna()
    hour = hour.where(~twelve, hour % 12 + np.where(ampm == "pm", 12, 0)).where(~twelve | hour.between(1, 12))
    fields = {"year": number("y1", "y2", "y3"), "month": number("m1", "m2", "m3"), "day": number("d1", "d2", "d3"),
              "hour": hour, "minute": number("mi").fillna(0), "second": number("ss").fillna(0)}  # fmt: skip
    stamps = pd.to_datetime(pd.DataFrame(fields), errors="coerce").astype("datetime64[ns]")
    stamps += pd.to_timedelta(pd.to_numeric(parts["frac"].str.ljust(9, "0"), errors="coerce").fillna(0), unit="ns")
    tz = parts["tz"].replace("Z", "+00:00").str.replace(":", "", regex=False)
    hours = pd.to_numeric(tz.str.slice(1, 3), errors="coerce")
    minutes = pd.to_numeric(tz.str.slice(3, 5), errors="coerce").fillna(0)
    aware = tz.notna().to_numpy()
    local = stamps.where(~aware | ((hours <= 14) & (minutes < 60))).to_numpy()
    offset = np.where(tz.str.startswith("-").fillna(False), -1, 1) * (hours * 60 + minutes).fillna(0)
    instant = local - pd.to_timedelta(offset, unit="m").to_numpy()
    # A trailing entry for absent values, so that every row can index the per-text arrays.
    never = np.datetime64("NaT", "ns")
    aware, local, instant = np.append(aware, False), np.append(local, never), np.append(instant, never)

    present = codes >= 0
    taken = np.where(present, codes, len(uniques))
    row_aware = aware[taken]
    out[row_aware] = instant[taken[row_aware]]
    naive = np.flatnonzero(present & ~row_aware)
    order = naive[np.argsort(zone_codes[naive], kind="stable")]
    bounds = np.searchsorted(zone_codes[order], np.arange(len(zone_names) + 1))
    for k, name in enumerate(zone_names):
        rows = order[bounds[k] : bounds[k + 1]]
        if len(rows):
            wall = pd.DatetimeIndex(local[taken[rows]])
            moment = wall.tz_localize(name, ambiguous=np.ones(len(rows), dtype=bool), nonexistent="shift_forward")
            out[rows] = moment.tz_convert("UTC").tz_localize(None).to_numpy()
    return pd.Series(out).dt.tz_localize("UTC"), present & np.isnat(local[taken])


def _parse_salary(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Numbers such as 85000, 85,000 or 85000.00, read once per distinct text (salaries repeat)."""
    codes, uniques = pd.factorize(raw)
    text = _str(uniques)
    shaped = np.append(text.str.contains(_NUMBER_PATTERN).to_numpy(dtype=bool), True)
    numbers = pd.to_numeric(text.str.replace(",", "", regex=False), errors="coerce").to_numpy("float64")
    values = np.append(numbers, np.nan)[np.where(shaped[codes], codes, -1)]
    return pd.Series(values, dtype="float64"), ~shaped[codes]


@lru_cache(maxsize=1)
def _calling_codes() -> tuple[frozenset[str], ...]:
    import phonenumbers

    codes = [str(code) for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE]
    return tuple(frozenset(c for c in codes if len(c) == size) for size in (1, 2, 3))


@lru_cache(maxsize=None)
def _national_plan(region: str) -> tuple[str, str, str, str] | None:
    """How libphonenumber reads a national number of `region`, from its own metadata:
    (calling code, national prefix pattern, its replacement, national number pattern)."""
    from phonenumbers import PhoneMetadata

    meta = PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.general_desc is None or meta.general_desc.national_number_pattern is None:
        return None
    prefix = meta.national_prefix_for_parsing or meta.national_prefix or ""
    transform = meta.national_prefix_transform_rule or ""
    # The library replaces the prefix with the transform rule when the pattern's last group
    # matched, else drops it. When the rule is just that group, one substitution does both (an
    # unmatched group substitutes as ""); rules with digits of their own ("9\1" in AR) are not.
    if transform and transform != f"\\{re.compile(prefix).groups}":
        return None
    return str(meta.country_code), prefix, transform, meta.general_desc.national_number_pattern


def _e164(raw: pd.Series, regions: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """E.164 text per row (NA when absent or invalid), and the rows holding an invalid number.

    phonenumbers costs ~57 us a number; it only sees what two vectorised paths cannot settle:
    - "+<calling code><7-14 digits>" with a known calling code is taken as written (checked
      once per distinct value). Parentheses send it on: "+44 (0)20 ..." has a trunk 0 to drop.
    - digits in national form are read as libphonenumber reads them, with its metadata for the
      row's region: drop the national prefix, match the region's national number pattern.
    The library gets the rest, and every number those paths would refuse, once per distinct
    (value, region): no number is refused without its say.
    """
    import phonenumbers

    codes, uniques = pd.factorize(raw)
    present = codes >= 0
    text = _str(uniques)
    compact = text
    for mark in (" ", ".", "(", ")", "-", "\u00a0"):  # plain replaces: a regex class costs 5x
        compact = compact.str.replace(mark, "", regex=False)
    known = np.zeros(len(text), dtype=bool)
    for size, calling in zip((1, 2, 3), _calling_codes()):
        known |= compact.str.slice(1, 1 + size).isin(calling).to_numpy()
    shaped = compact.str.fullmatch(r"\+[1-9][0-9]{7,14}").to_numpy(dtype=bool)
    written = np.append(shaped & known & ~text.str.contains("(", regex=False).to_numpy(dtype=bool), False)
    digits = np.append(compact.str.fullmatch("[0-9]+").to_numpy(dtype=bool), False)
    pending = present & ~written[codes]
    settled_rows = [np.flatnonzero(written[codes])]
    settled_values = [compact.iloc[codes[settled_rows[0]]].to_numpy(dtype=object)]

    region_codes, region_names = pd.factorize(regions.where(pending & digits[codes]))
    for k, region in enumerate(region_names):
        plan = _national_plan(region)
        if plan is None:
            continue
        calling_code, prefix, transform, pattern = plan
        rows = np.flatnonzero(region_codes == k)
        number = compact.iloc[codes[rows]].reset_index(drop=True)
        viable = number.str.fullmatch(pattern).to_numpy(dtype=bool)
        if prefix:
            stripped = number.str.replace(f"^(?:{prefix})", transform, regex=True)
            stripped_viable = stripped.str.fullmatch(pattern).to_numpy(dtype=bool)
            keep_prefix = viable & ~stripped_viable  # the library strips only when still viable
            number, viable = number.where(keep_prefix, stripped), keep_prefix | stripped_viable
        settled_rows.append(rows[viable])
        settled_values.append(("+" + calling_code + number[viable]).to_numpy(dtype=object))
        pending[rows[viable]] = False

    slow = np.flatnonzero(pending)
    keys, pairs = pd.factorize(pd.MultiIndex.from_arrays([raw.iloc[slow].to_numpy(), regions.iloc[slow].to_numpy()]))
    formatted: list[str | None] = []
    for value, region in pairs if len(slow) else ():
        try:
            number = phonenumbers.parse(value, None if pd.isna(region) else region)
        except phonenumbers.NumberParseException:
            formatted.append(None)
            continue
        valid = phonenumbers.is_valid_number(number)
        formatted.append(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if valid else None)
    settled_rows.append(slow)
    settled_values.append(np.asarray(formatted, dtype=object)[keys])
    out = np.full(len(raw), None, dtype=object)
    out[np.concatenate(settled_rows)] = np.concatenate(settled_values)
    result = _str(out)
    return result, present & result.isna().to_numpy()


# --------------------------------------------------------------------------- preparing a batch


class _Problems:
    """What the derivations found, per problem rule: the value Data Docs shows and, per record,
    the failing columns and the reason. Several findings of one rule on one record are joined."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.parts: dict[str, list[pd.DataFrame]] = {key: [] for key, _ in _PROBLEMS}

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
class _Prepared:
    checks: pd.DataFrame  # what GX validates
    typed: pd.DataFrame  # every record, typed for storage
    found: dict[str, pd.DataFrame]  # per problem rule: columns and reason by position


def _shown(values: pd.Series) -> pd.Series:
    """A value as a reason quotes it: control characters visible, long text cut."""
    text = values.astype("str").str.replace(_CONTROL, "\ufffd", regex=True)
    return text.where(text.str.len() <= _SHOWN, text.str.slice(0, _SHOWN - 1) + "…")


def _prepare(raw: RawBatch, default_country: str | None, default_timezone: str | None) -> _Prepared:
    n = len(raw.frame)
    label = {c: raw.source_headers.get(c, c) for c in _CANONICAL}
    col = {c: raw.frame[c] if isinstance(raw.frame[c].dtype, pd.StringDtype) else raw.frame[c].astype("str")
           for c in _CANONICAL}  # fmt: skip
    problems = _Problems(n)
    typed: dict[str, pd.Series] = {}

    def quoted(column: str, rows: np.ndarray) -> pd.Series:
        return f"{label[column]} '" + _shown(col[column].iloc[rows]) + "'"

    def refuse(rule: str, column: str, rows: np.ndarray, what: str) -> None:
        problems.add(rule, rows, col[column].iloc[rows], column, quoted(column, rows) + what)

    def pair(rule: str, mask: pd.Series, first: str, sign: str, second: str, what: str) -> None:
        rows = _rows(mask)
        shown = col[first].iloc[rows] + f" {sign} " + col[second].iloc[rows]
        reason = quoted(first, rows) + what + quoted(second, rows).to_numpy()
        problems.add(rule, rows, shown, f"{first};{second}", reason)

    scans = {c: _scan(col[c], limit, c in FREE_TEXT_COLUMNS) for c, limit in MAX_LENGTH.items()}
    for c in _TEXT_COLUMNS:  # line breaks are stored as LF
        typed[c] = col[c].str.replace("\r\n?", "\n", regex=True) if scans[c].has_cr else col[c]
    typed["decision"] = col["decision"].str.lower()
    typed["channel"] = _per_unique(col["channel"], _channel).fillna("email")

    for c, known, rule, what in (
        ("country", COUNTRIES, "country_unknown", " is not a two-letter ISO 3166 country code (such as US, GB or DE)"),
        ("currency", CURRENCIES, "currency_unknown", " is not an ISO 4217 currency code (such as USD, EUR or GBP)"),
    ):
        upper = _per_unique(col[c], str.upper)
        unknown = upper.notna() & ~upper.isin(known)
        typed[c] = upper.mask(unknown)
        refuse(rule, c, _rows(unknown), what)
    typed["timezone"] = _per_unique(col["timezone"], _canonical_zone)
    refuse("timezone_unknown", "timezone", _rows(col["timezone"].notna() & typed["timezone"].isna()),
           " is not a known time zone (use a name such as Europe/London or America/New_York)")  # fmt: skip
    typed["locale"] = _per_unique(col["locale"], _canonical_locale)
    refuse("locale_invalid", "locale", _rows(typed["locale"].notna() & ~typed["locale"].str.contains(_LOCALE_PATTERN)),
           " is not a language tag such as en or en-GB")  # fmt: skip
    recruiter = col["recruiter_email"]
    bad_address = recruiter.notna() & ~recruiter.str.contains(EMAIL_PATTERN)
    refuse("recruiter_email_invalid", "recruiter_email", _rows(bad_address), " is not a valid address")

    regions = typed["country"].fillna(default_country) if default_country else typed["country"]
    for c in ("phone", "recruiter_phone"):
        typed[c], invalid = _e164(col[c], regions)
        rows = _rows(invalid)
        hint = np.where(regions.iloc[rows].isna() & ~col[c].iloc[rows].str.startswith("+"),
                        " (write it with its country code, such as +44 20 7946 0958, or fill in country)",
                        "")  # fmt: skip
        refuse(f"{c}_invalid", c, rows, " is not a valid phone number" + hint)
    rows = _rows((typed["channel"] == "voicemail") & col["phone"].isna())
    problems.add("phone_missing_for_voicemail", rows, "(empty)", "phone",
                 f"{label['phone']} is required for voicemail and must be a valid number")  # fmt: skip

    zone_codes, zone_names = pd.factorize(typed["timezone"].fillna(default_timezone or "UTC"))
    for c in DATE_COLUMNS:
        typed[c], unparsed = _parse_dates(col[c], zone_codes, zone_names)
        refuse(f"{c}_unparsed", c, _rows(unparsed), " is not a date (use 2026-11-20, 2026-11-20 14:30 or 11/20/2026)")
    pair("offer_deadline_not_after_decided_at", typed["offer_deadline"] <= typed["decided_at"],
         "offer_deadline", "<=", "decided_at", " is not after ")  # fmt: skip

    for c in SALARY_COLUMNS:
        typed[c], unparsed = _parse_salary(col[c])
        refuse(f"{c}_unparsed", c, _rows(unparsed), " is not a number")
        refuse("salary_negative", c, _rows(typed[c] < 0), " must not be negative")
    pair("salary_min_above_max", typed["salary_min"] > typed["salary_max"],
         "salary_min", ">", "salary_max", " is more than ")  # fmt: skip

    for c, scan in scans.items():
        size = pd.Series(scan.lengths).astype("str")
        problems.add("text_too_long", scan.long_rows, f"{c}: " + size + " characters", c,
                     f"{label[c]} is too long (" + size + f" characters, at most {MAX_LENGTH[c]})")  # fmt: skip
        point = pd.Series([f"U+{p:04X}" for p in scan.control[:, 1]], dtype="str")
        free = c in FREE_TEXT_COLUMNS
        allowed = " (free text may hold line breaks and tabs, no other control characters)" if free else ""
        problems.add("control_characters", scan.control[:, 0], f"{c}: " + point, c,
                     f"{label[c]} contains the control character " + point + allowed)  # fmt: skip

    found = {key: problems.found(key) for key, _ in _PROBLEMS}
    presence_only = ("first_name", "last_name", "role")  # a nullable boolean is cheap for GX to copy
    checks = {
        "candidate_id": col["candidate_id"],
        "email": col["email"],
        **{c: pd.array(np.where(col[c].isna(), None, True), dtype="boolean") for c in presence_only},
        "decision": typed["decision"].astype("category"),
        "channel": typed["channel"].astype("category"),
        **{key: problems.column(frame) for key, frame in found.items()},
    }
    typed["source_line"] = pd.Series(np.asarray(raw.line_numbers, dtype=np.int64))
    return _Prepared(
        checks=pd.DataFrame(checks, index=pd.RangeIndex(n)),
        typed=pd.DataFrame({c: typed[c] for c in TYPED_COLUMNS}, index=pd.RangeIndex(n)),
        found=found,
    )


# --------------------------------------------------------------------------- quarantine


def _duplicates(ids: pd.Series, lines: np.ndarray, rows: np.ndarray, label: str) -> np.ndarray:
    """Each record with a duplicated id names the other lines that carry it (the first few)."""
    groups = pd.DataFrame({"id": ids.iloc[rows].to_numpy(), "line": lines[rows], "row": rows})
    text = {}
    for _, group in groups.groupby("id", sort=False):
        group_lines = np.sort(group["line"].to_numpy())
        for row, line in zip(group["row"], group["line"]):
            others = group_lines[group_lines != line]
            named = ", ".join(str(v) for v in others[:_LINES_NAMED])
            more = f" and {len(others) - _LINES_NAMED} more" if len(others) > _LINES_NAMED else ""
            text[row] = f" appears more than once (also on line{'s' if len(others) > 1 else ''} {named}{more})"
    shown = f"{label} '" + _shown(ids.iloc[rows]) + "'"
    return (shown + pd.Series([text[row] for row in rows], index=shown.index)).to_numpy(dtype=object)


def _failures(raw: RawBatch, prepared: _Prepared, failing: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per failing record: columns ';'-joined (each once), reasons '; '-joined."""
    label = {c: raw.source_headers.get(c, c) for c in _CANONICAL}
    parts = []
    for rule in RULES:
        rows = np.sort(failing.get(rule.key, np.empty(0, np.int64)))
        if not len(rows):
            continue
        if rule.kind == "null":
            part = prepared.found[rule.key].loc[rows, ["columns", "reason"]]
        elif rule.kind == "not_null":
            reason = f"{label[rule.column]} is required but empty"
            part = pd.DataFrame({"columns": rule.column, "reason": reason}, index=rows)
        elif rule.kind == "unique":
            reason = _duplicates(raw.frame["candidate_id"], raw.line_numbers, rows, label["candidate_id"])
            part = pd.DataFrame({"columns": "candidate_id", "reason": reason}, index=rows)
        else:
            value = _shown(raw.frame[rule.column].iloc[rows])
            reason = f"{label[rule.column]} '" + value + "'" + _VALUE_REASONS[rule.key]
            part = pd.DataFrame({"columns": rule.column, "reason": reason.to_numpy(dtype=object)}, index=rows)
        parts.append(part)
    if not parts:
        return pd.DataFrame({"columns": [], "reason": []}, index=np.empty(0, np.int64))
    failures = pd.concat(parts).sort_index(kind="stable")
    several = failures.index.duplicated(keep=False)
    if not several.any():
        return failures
    joined = failures[several].groupby(level=0).agg(
        columns=("columns", lambda v: ";".join(dict.fromkeys(";".join(v).split(";")))),
        reason=("reason", "; ".join),
    )
    return pd.concat([failures[~several], joined]).sort_index()


def _quarantine(raw: RawBatch, failures: pd.DataFrame) -> pd.DataFrame:
    """Bad and malformed records by line: what failed and why, then the cells under the file's headers."""
    rows = failures.index.to_numpy()
    lead = ("line", "candidate_id", "columns", "reason")
    data = {
        "line": raw.line_numbers[rows].astype(np.int64),
        "candidate_id": raw.frame["candidate_id"].iloc[rows].to_numpy(),
        "columns": failures["columns"].to_numpy(dtype=object),
        "reason": failures["reason"].to_numpy(dtype=object),
    }
    for column, header in raw.source_headers.items():
        if column == "candidate_id" and header == "candidate_id":
            continue  # the cell is the second column already
        data[f"{header} (file)" if header in lead else header] = raw.frame[column].iloc[rows].to_numpy()
    quarantine = pd.DataFrame({k: v if k == "line" else pd.array(v, dtype="str") for k, v in data.items()})
    if len(raw.malformed):
        malformed = raw.malformed
        quarantine = pd.concat(
            [
                quarantine,
                pd.DataFrame(
                    {
                        "line": malformed["line"].to_numpy(dtype=np.int64),
                        "columns": pd.array([""] * len(malformed), dtype="str"),
                        "reason": pd.array(malformed["reason"], dtype="str"),
                        "raw_record": pd.array(malformed["raw"], dtype="str"),
                    }
                ),
            ],
            ignore_index=True,
        )
    return quarantine.sort_values("line", kind="stable", ignore_index=True)


def _keep(frame: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    """The rows where `keep`, renumbered. Arrow filters Arrow-backed text in one call per
    column; pandas' boolean indexing goes chunk by chunk and costs ~3x as much."""
    mask = pa.array(keep)
    columns = {}
    for name in frame.columns:
        values = frame[name]
        if isinstance(values.dtype, pd.StringDtype) and hasattr(values.array, "__arrow_array__"):
            columns[name] = pd.array(values.array.__arrow_array__().filter(mask), dtype=values.dtype)
        else:
            columns[name] = values.array[keep]
    return pd.DataFrame(columns, index=pd.RangeIndex(int(keep.sum())))


# --------------------------------------------------------------------------- public API


def validate_batch(
    raw: RawBatch,
    *,
    batch_id: str,
    docs_dir: Path | None,
    default_country: str | None = None,
    default_timezone: str | None = None,
) -> Validated:
    """Check every record: typed good rows in `valid`, the others (and malformed records) in `quarantine`.

    Naive dates are wall time in the row's timezone, else `default_timezone`, else UTC;
    national phone numbers are read for the row's country, else `default_country`.
    """
    if not batch_id or Path(batch_id).name != batch_id or batch_id in (".", ".."):
        raise ValueError(f"batch id {batch_id!r} cannot name a folder")
    if default_timezone and _canonical_zone(default_timezone) is None:
        raise ValueError(f"default time zone {default_timezone!r} is not an IANA time zone name")
    if default_country and default_country.strip().upper() not in COUNTRIES:
        raise ValueError(f"default country {default_country!r} is not an ISO 3166 alpha-2 code")
    prepared = _prepare(
        raw,
        default_country.strip().upper() if default_country else None,
        _canonical_zone(default_timezone) if default_timezone else None,
    )
    failing, docs = _run_suite(prepared.checks, batch_id, Path(docs_dir) if docs_dir else None)
    failures = _failures(raw, prepared, failing)
    good = np.ones(len(raw.frame), dtype=bool)
    good[failures.index.to_numpy()] = False
    return Validated(
        valid=_keep(prepared.typed, good),
        quarantine=_quarantine(raw, failures),
        rows=len(raw.frame) + len(raw.malformed),
        data_docs=docs,
    )


def gate_reason(validated: Validated, max_bad_share: float) -> str | None:
    """Why the whole batch is refused when more than `max_bad_share` of its records are bad, else None."""
    if validated.bad_share <= max_bad_share:
        return None
    return (
        f"{len(validated.quarantine):,} of {validated.rows:,} records ({validated.bad_share:.1%}) failed "
        f"validation, more than the {max_bad_share * 100:g}% allowed, so the whole batch was refused. "
        f"Fix the records listed in the quarantine file and import the batch again."
    )


def write_quarantine(validated: Validated, path: Path) -> Path | None:
    """The quarantine as CSV for the recruiter, or None (and no file) when every record passed."""
    if validated.quarantine.empty:
        return None
    return write_csv(validated.quarantine, path)
