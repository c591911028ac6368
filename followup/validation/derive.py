"""Derived values, vectorised: dates in the row's time zone, salaries, E.164 phones, codes,
and the length and control-character scan of text columns."""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from followup.validation.rules import CONTROL, DATE_PATTERN, NUMBER_PATTERN, SHOWN


def as_str(values) -> pd.Series:
    return pd.Series(pd.array(values, dtype="str"), copy=False)


def rows_where(mask) -> np.ndarray:
    return np.flatnonzero(np.asarray(mask, dtype=bool))


def take_rows(values: pd.Series, rows: np.ndarray) -> pd.Series:
    """values.iloc[rows]. Arrow-backed text is filtered instead: Arrow's take joins every chunk
    of a text column first, a copy of the whole column per call (0.3 s and 120 MB for a long
    free-text column at 1M rows), whose pages Arrow's allocator then keeps."""
    array = values.array
    if not (isinstance(values.dtype, pd.StringDtype) and hasattr(array, "__arrow_array__")):
        return values.iloc[rows]
    distinct, order = np.unique(rows, return_inverse=True)
    mask = np.zeros(len(values), dtype=bool)
    mask[distinct] = True
    picked = array.__arrow_array__().filter(pa.array(mask)).take(pa.array(order))
    return pd.Series(pd.array(picked, dtype=values.dtype), index=values.index[rows])


def per_unique(series: pd.Series, normalise) -> pd.Series:
    """A Python function applied once per distinct value (code columns hold a handful)."""
    codes, uniques = pd.factorize(series)
    mapped = pd.array([normalise(value) for value in uniques] + [None], dtype="str")
    return pd.Series(mapped.take(np.where(codes < 0, len(uniques), codes)), copy=False)


@lru_cache(maxsize=1)
def _zones() -> dict[str, str]:
    return {name.casefold(): name for name in zoneinfo.available_timezones()}


def canonical_zone(value: str) -> str | None:
    return _zones().get(value.casefold())


def canonical_locale(value: str) -> str:
    language, *rest = value.replace("_", "-").split("-")
    return "-".join([language.lower(), *(part.title() if len(part) == 4 else part.upper() for part in rest)])


def channel_name(value: str) -> str:
    return value.lower().replace("-", "_").replace(" ", "_")


@dataclass
class Scan:
    long_rows: np.ndarray  # rows over the length limit
    lengths: np.ndarray  # their lengths in characters
    control: np.ndarray  # [row, code point] of the first forbidden control character per row
    has_cr: bool  # a carriage return in free text: a Windows or old Mac line break


def scan_text(values: pd.Series, limit: int, free_text: bool) -> Scan:
    """Lengths and control characters of a text column, read from Arrow's UTF-8 buffers.

    A regex per column costs ~0.2 s at a million rows, 28 columns of it seconds; numpy over
    the buffers costs milliseconds, and min/max rule out most chunks without a mask. Bytes
    bound characters from above, so only rows with too many bytes are measured. Chunk by
    chunk: joining the chunks would copy the column, and Arrow's allocator keeps the pages.
    """
    column = pa.array(values, type=pa.large_string(), from_pandas=True)
    found = Scan(np.empty(0, np.int64), np.empty(0, np.int64), np.empty((0, 2), np.int64), False)
    start = 0
    for chunk in column.chunks if isinstance(column, pa.ChunkedArray) else [column]:
        part = _scan_chunk(chunk, limit, free_text)
        found.long_rows = np.concatenate([found.long_rows, part.long_rows + start])
        found.lengths = np.concatenate([found.lengths, part.lengths])
        found.control = np.concatenate([found.control, part.control + [start, 0]])
        found.has_cr |= part.has_cr
        start += len(chunk)
    return found


def long_cells(values: pd.Series, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows whose text is longer than `limit` characters, and their lengths: scan_text's
    length half, for columns whose characters nothing else judges."""
    column = pa.array(values, type=pa.large_string(), from_pandas=True)
    rows, lengths, start = [np.empty(0, np.int64)], [np.empty(0, np.int64)], 0
    for chunk in column.chunks if isinstance(column, pa.ChunkedArray) else [column]:
        long_rows, long_lengths = _long_cells(chunk, limit)
        rows.append(long_rows + start)
        lengths.append(long_lengths)
        start += len(chunk)
    return np.concatenate(rows), np.concatenate(lengths)


def _long_cells(array: pa.LargeStringArray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    n = len(array)
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset : array.offset + n + 1]
    valid = array.is_valid().to_numpy(zero_copy_only=False) if array.null_count else np.ones(n, dtype=bool)
    long_rows = np.flatnonzero(np.where(valid, np.diff(offsets), 0) > limit)
    lengths = pc.utf8_length(array.take(pa.array(long_rows))).to_numpy(zero_copy_only=False).astype(np.int64)
    too_long = lengths > limit
    return long_rows[too_long], lengths[too_long]


def _scan_chunk(array: pa.LargeStringArray, limit: int, free_text: bool) -> Scan:
    n = len(array)
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset : array.offset + n + 1]
    valid = array.is_valid().to_numpy(zero_copy_only=False) if array.null_count else np.ones(n, dtype=bool)
    found = Scan(*_long_cells(array, limit), np.empty((0, 2), np.int64), False)
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


FIRST_YEAR, LAST_YEAR = 1900, 2199


def parse_dates(raw: pd.Series, zone_codes: np.ndarray, zone_names: pd.Index) -> tuple[pd.Series, np.ndarray]:
    """UTC timestamps, and the rows whose text is not a date.

    Each distinct text is parsed once. A value with an offset (Z, +01:00) is that instant. A
    naive value is wall time in the row's zone (`zone_codes` into `zone_names`), a date alone
    its midnight: a time repeated when clocks go back reads as the first one, a time skipped
    when they go forward moves forward.
    """
    out = np.full(len(raw), np.datetime64("NaT"), dtype="datetime64[ns]")
    codes, uniques = pd.factorize(raw)
    parts = as_str(uniques).str.extract(DATE_PATTERN).replace("", np.nan)

    def number(*names: str) -> pd.Series:
        picked = parts[names[0]]
        for name in names[1:]:
            picked = picked.fillna(parts[name])
        return pd.to_numeric(picked, errors="coerce")

    hour = number("hh").fillna(0)
    ampm = parts["ampm"].str.lower()
    twelve = ampm.notna()
    hour = hour.where(~twelve, hour % 12 + np.where(ampm == "pm", 12, 0)).where(~twelve | hour.between(1, 12))
    # Years a hiring decision can have. Beyond them pandas cannot hold the instant (9999-12-31, an
    # ATS's "no end date", overflowed and crashed the import): such a text is "not a date" here.
    year = number("y1", "y2", "y3")
    year = year.where(year.between(FIRST_YEAR, LAST_YEAR))
    fields = {"year": year, "month": number("m1", "m2", "m3"), "day": number("d1", "d2", "d3"),
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


def parse_salary(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Numbers such as 85000, 85,000 or 85000.00, read once per distinct text (salaries repeat)."""
    codes, uniques = pd.factorize(raw)
    text = as_str(uniques)
    shaped = np.append(text.str.contains(NUMBER_PATTERN).to_numpy(dtype=bool), True)
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


def e164(raw: pd.Series, regions: pd.Series) -> tuple[pd.Series, np.ndarray]:
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
    text = as_str(uniques)
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
    slow_pairs = pd.MultiIndex.from_arrays([take_rows(raw, slow).to_numpy(), take_rows(regions, slow).to_numpy()])
    keys, pairs = pd.factorize(slow_pairs)
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
    result = as_str(out)
    return result, present & result.isna().to_numpy()


def as_shown(values: pd.Series) -> pd.Series:
    """A value as a reason quotes it: control characters visible, long text cut."""
    text = values.astype("str").str.replace(CONTROL, "\ufffd", regex=True)
    return text.where(text.str.len() <= SHOWN, text.str.slice(0, SHOWN - 1) + "…")
