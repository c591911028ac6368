"""Read a recruiter's candidate batch (CSV or XLSX) into canonical text columns.

Nothing here judges the values: validation does that. This module only gets every record
of the file into the right column, as text, with the line it came from, or refuses the
whole file with a message a recruiter can act on.

CSV is parsed by pyarrow while every record fits the header (the common case, a few
seconds for a million rows). When some record does not fit, pandas' C parser takes over
(it pads short records and can be widened for long ones), and Python's csv module is the
last resort for what neither can parse (a quote that is never closed). All three produce
the same cells and line numbers.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import itertools
import json
import math
import re
import unicodedata
import warnings
import zipfile
from array import array
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

REQUIRED_COLUMNS: tuple[str, ...] = ("candidate_id", "email", "first_name", "last_name", "role", "decision")
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "phone", "timezone", "country", "channel", "decided_at", "offer_deadline", "start_date", "salary_min",
    "salary_max", "currency", "location", "reasons", "interests", "recruiter_name", "recruiter_email",
    "recruiter_phone", "hiring_manager", "company", "locale", "meeting_at", "meeting_location", "notes",
)
_CANONICAL = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
# May hold newlines and tabs (validation refuses other control characters).
FREE_TEXT_COLUMNS: frozenset[str] = frozenset(
    {"first_name", "last_name", "reasons", "interests", "notes", "recruiter_name", "hiring_manager", "role",
     "location", "meeting_location", "company"}
)
_EMAIL_COLUMNS = ("email", "recruiter_email")

# Header names seen in ATS exports (Greenhouse, Lever, Workable, BambooHR, Ashby) and
# hand-made sheets. Only names that cannot mean anything else: "Status", "Title", "Name",
# "Outcome" or "Rejection Reason" (an internal code that must never reach a candidate)
# are left to an explicit --mapping.
_ALIAS_SOURCES: dict[str, tuple[str, ...]] = {
    "candidate_id": ("Candidate ID", "Applicant ID", "Candidate Number", "Candidate Ref", "Candidate Reference"),
    "email": (
        "Email",
        "E-mail",
        "Email Address",
        "E-mail Address",
        "Candidate Email",
        "Candidate Email Address",
        "Applicant Email",
        "Primary Email",
        "Primary Email Address",
    ),
    "first_name": ("First Name", "Given Name", "Forename", "Candidate First Name", "Applicant First Name"),
    "last_name": ("Last Name", "Surname", "Family Name", "Candidate Last Name", "Applicant Last Name"),
    "role": (
        "Job",
        "Job Title",
        "Job Name",
        "Position",
        "Position Title",
        "Requisition Title",
        "Job Opening",
        "Opening",
        "Posting",
        "Posting Title",
        "Vacancy",
        "Applied For",
    ),
    "decision": ("Hiring Decision", "Final Decision", "Offer Decision", "Decision (Offer/Reject)"),
    "phone": ("Phone Number", "Mobile", "Mobile Phone", "Mobile Number", "Cell Phone", "Telephone", "Candidate Phone"),
    "timezone": ("Time Zone", "TZ", "Candidate Time Zone", "Local Time Zone"),
    "country": ("Country Code", "Candidate Country"),
    "channel": ("Preferred Channel", "Contact Method", "Preferred Contact Method", "Contact Preference"),
    "decided_at": ("Decision Date", "Decided On", "Date Decided"),
    "offer_deadline": (
        "Offer Expiry", "Offer Expires", "Offer Expiration", "Offer Expiration Date", "Respond By", "Response Deadline",
    ),
    "start_date": ("Proposed Start Date", "Expected Start Date", "Anticipated Start Date"),
    "salary_min": (
        "Salary Min", "Min Salary", "Minimum Salary", "Salary From", "Salary Range Min", "Compensation Min",
        "Base Salary Min",
    ),
    "salary_max": (
        "Salary Max", "Max Salary", "Maximum Salary", "Salary To", "Salary Range Max", "Compensation Max",
        "Base Salary Max",
    ),
    "currency": ("Salary Currency", "Currency Code", "Compensation Currency"),
    "location": ("Job Location", "Office Location", "Work Location"),
    "reasons": (
        "Reason", "Decision Reasons", "Strengths", "Candidate Feedback", "Feedback for Candidate",
        "Feedback to Candidate",
    ),
    "interests": ("Candidate Interests", "Interested In", "Career Interests", "Motivations"),
    "recruiter_name": ("Recruiter", "Recruiter Full Name"),
    "recruiter_email": ("Recruiter E-mail", "Recruiter Email Address"),
    "recruiter_phone": ("Recruiter Phone Number", "Recruiter Mobile"),
    "hiring_manager": ("Hiring Manager Name",),
    "company": ("Company Name", "Hiring Company"),
    "locale": ("Language", "Preferred Language", "Language Preference"),
    "meeting_at": (
        "Meeting Time", "Meeting Date", "Meeting Date Time", "Meeting Datetime", "Meeting Start", "Appointment Time",
    ),
    "meeting_location": ("Meeting Place", "Meeting Address", "Meeting Room", "Venue"),
    "notes": ("Note", "Comments", "Comment", "Remarks", "Recruiter Notes"),
}

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z])(?=[A-Z])")
_WORD_JOINERS = re.compile(r"['\u2019\-\u2010\u2011]")
_SEPARATORS = re.compile(r"[\W_]+")


def normalise_header(text: str) -> str:
    """Fold a header to snake case: "E-mail Address " -> "email_address", "candidateId" -> "candidate_id"."""
    text = unicodedata.normalize("NFKC", text)
    text = _CAMEL_BOUNDARY.sub("_", text).casefold()
    # Hyphens and apostrophes join words ("E-mail", "Candidate's"); everything else separates.
    text = _WORD_JOINERS.sub("", text)
    return _SEPARATORS.sub("_", text).strip("_")


ALIASES: dict[str, str] = {
    normalise_header(name): column for column, names in _ALIAS_SOURCES.items() for name in (column, *names)
}
# "StartDate", "start-date" and "Start Date" should all land on start_date.
_SQUASHED_ALIASES = {key.replace("_", ""): column for key, column in ALIASES.items()}
_FULL_NAME_HEADERS = frozenset({"name", "full_name", "candidate_name", "applicant_name", "candidate"})


class ImportRefused(Exception):
    """The whole file is refused. str(exc) is a clear message for a recruiter.

    problem: "unreadable", "empty", "missing_columns", "duplicate_columns", "unsupported_format" or "bad_mapping".
    """

    problem: str

    def __init__(self, problem: str, message: str) -> None:
        super().__init__(message)
        self.problem = problem

    def __reduce__(self):
        # Prefect and multiprocessing pickle exceptions; the default would call __init__ with one argument.
        return (type(self), (self.problem, str(self)))


@dataclass
class RawBatch:
    """One file's records, unvalidated.

    frame: RangeIndex; every canonical column (all missing when the file has none), then the extra
    columns under their header text. Each cell is a str or NaN, stripped as str.strip() strips, with
    the domain of email addresses lower-cased. line_numbers[i] is where frame row i starts in the file
    (CSV: physical line, 1-based; XLSX: sheet row). malformed lists records that do not fit the header:
    line, reason, raw (the record's cells joined with the delimiter).
    """

    frame: pd.DataFrame
    line_numbers: np.ndarray
    source_headers: dict[str, str]
    extra_columns: list[str]
    malformed: pd.DataFrame
    format: str
    encoding: str | None
    delimiter: str | None
    sheet: str | None


# Exactly the characters str.isspace() accepts, so "stripped" means what Python's str.strip() means.
_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# pandas' "str" dtype: text held by Arrow (far smaller than Python objects), missing values are NaN.
_TEXT = pd.StringDtype("pyarrow", na_value=np.nan)
_DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_CHUNK = 1 << 20
_HEAD = 1 << 16
# A header record longer than this is a quote that never closes, not a header.
_HEADER_LIMIT = 1 << 20
_EXPORT_HINT = 'Export the candidate list as "CSV UTF-8" or as an Excel workbook (.xlsx) and import that file.'


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------- mapping


def load_mapping(path: Path) -> dict[str, str]:
    """Read a user mapping: a JSON object {"Their Header": "canonical"} or a two-column CSV.

    An empty target ("" or JSON null) means "not a canonical column": the column stays an extra.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportRefused("bad_mapping", f"Cannot read the mapping file {path}: {exc.strerror or exc}.") from None
    text = _decode_small(data)
    if text.lstrip().startswith("{"):
        pairs = _json_pairs(text, path)
    else:
        pairs = _csv_pairs(text, path)
    if not pairs:
        raise ImportRefused("bad_mapping", f"The mapping file {path.name} maps no columns.")
    mapping: dict[str, str] = {}
    for source, target in pairs:
        if source in mapping and mapping[source] != target:
            raise ImportRefused(
                "bad_mapping",
                f'The mapping file {path.name} maps "{source}" twice (to "{mapping[source]}" and to "{target}").',
            )
        mapping[source] = target
    return _checked_mapping(mapping, f"file {path.name}")


def _decode_small(data: bytes) -> str:
    for codec in (_bom_codec(data) or "utf-8", "cp1252"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")  # decodes any bytes


def _json_pairs(text: str, path: Path) -> list[tuple[str, str]]:
    try:
        document = json.loads(text, object_pairs_hook=list)
    except ValueError as exc:
        raise ImportRefused("bad_mapping", f"The mapping file {path.name} is not valid JSON: {exc}.") from None
    if not isinstance(document, list) or not all(
        isinstance(source, str) and (target is None or isinstance(target, str)) for source, target in document
    ):
        raise ImportRefused(
            "bad_mapping",
            f"The mapping file {path.name} must be one JSON object of header names to column names, "
            f'e.g. {{"Mail": "email"}}.',
        )
    return [(source.strip(), (target or "").strip()) for source, target in document]


# A first row of these words is the mapping CSV's own header, not a mapping.
_MAPPING_SOURCE_WORDS = frozenset({"source", "from", "header", "their_header", "source_header", "column"})
_MAPPING_TARGET_WORDS = frozenset({"target", "to", "canonical", "canonical_column", "maps_to", "column"})


def _csv_pairs(text: str, path: Path) -> list[tuple[str, str]]:
    first_line = next((line for line in re.split(r"\r\n|\r|\n", text) if line.strip()), "")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(first_line))
    rows = [row for row in reader if any(cell.strip() for cell in row)]
    pairs = []
    for number, row in enumerate(rows):
        cells = [cell.strip() for cell in row]
        if any(cells[2:]):
            raise ImportRefused(
                "bad_mapping",
                f"The mapping file {path.name} must have two columns (their header, our column); "
                f"this row has more: {', '.join(row)}",
            )
        source, target = (cells + ["", ""])[:2]
        if (
            number == 0
            and normalise_header(source) in _MAPPING_SOURCE_WORDS
            and normalise_header(target) in _MAPPING_TARGET_WORDS
        ):
            continue
        pairs.append((source, target))
    return pairs


def _checked_mapping(mapping: Mapping[str, str | None], where: str) -> dict[str, str]:
    checked = {}
    unknown = []
    for source, target in mapping.items():
        target = (target or "").strip()
        canonical = normalise_header(target) if target else ""
        if canonical and canonical not in _CANONICAL:
            unknown.append(f'"{source}" -> "{target}"')
        checked[source] = canonical
    if unknown:
        raise ImportRefused(
            "bad_mapping",
            f"The mapping {where} names columns that do not exist: {'; '.join(unknown)}. "
            f"Valid columns: {', '.join(_CANONICAL)} (or an empty target to ignore a column).",
        )
    return checked


# --------------------------------------------------------------------------- entry point


def read_batch(path: Path, mapping: Mapping[str, str] | None = None) -> RawBatch:
    path = Path(path)
    user_mapping = _checked_mapping(mapping or {}, "passed to the import")
    try:
        with path.open("rb") as handle:
            head = handle.read(_HEAD)
    except OSError as exc:
        raise ImportRefused("unreadable", f"Cannot open {path}: {exc.strerror or exc}.") from None
    if not head.strip(b" \t\r\n"):
        raise ImportRefused("empty", f"{path.name} is empty: it has no header row and no candidate rows.")
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise ImportRefused(
            "unsupported_format",
            f"{path.name} is a legacy Excel workbook (.xls) or a password-protected file, which cannot be read. "
            f"Open it in Excel and save it as an Excel workbook (.xlsx) or as CSV UTF-8, then import that file.",
        )
    if head.startswith(b"%PDF"):
        raise ImportRefused(
            "unsupported_format", f"{path.name} is a PDF document, not a candidate list. {_EXPORT_HINT}"
        )
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        _require_xlsx(path)
        return _read_xlsx(path, user_mapping)
    return _read_csv(path, head, user_mapping)


# --------------------------------------------------------------------------- columns


@dataclass
class _Columns:
    """What the header says: the canonical column (or None for an extra) at each position."""

    headers: list[str]
    targets: list[str | None]


def _resolve_columns(headers: list[str], mapping: dict[str, str], name: str) -> _Columns:
    by_normalised = {normalise_header(source): target for source, target in mapping.items()}
    targets: list[str | None] = []
    for header in headers:
        normalised = normalise_header(header)
        if header in mapping:
            target = mapping[header]
        elif normalised in by_normalised:
            target = by_normalised[normalised]
        else:
            target = ALIASES.get(normalised) or _SQUASHED_ALIASES.get(normalised.replace("_", ""), "")
        targets.append(target or None)

    seen: dict[str, list[str]] = {}
    for header, target in zip(headers, targets):
        if target:
            seen.setdefault(target, []).append(header)
    clashes = {target: names for target, names in seen.items() if len(names) > 1}
    if clashes:
        described = "; ".join(
            " and ".join(f'"{header}"' for header in names) + f" both mean {target}"
            for target, names in clashes.items()
        )
        example = next(iter(clashes.values()))[-1]
        raise ImportRefused(
            "duplicate_columns",
            f"{name} has more than one column for the same thing: {described}. Remove one of them, or say which one "
            f'to ignore with --mapping FILE, e.g. a JSON file containing {{"{example}": ""}}.',
        )

    missing = [column for column in REQUIRED_COLUMNS if column not in seen]
    if missing:
        found = ", ".join(f'"{header}"' for header in headers if header.strip()) or "(none)"
        accepted = "; ".join(
            f"{column}: " + ", ".join(f'"{alias}"' for alias in _ALIAS_SOURCES[column][:3]) for column in missing
        )
        message = (
            f"{name} is missing required columns: {', '.join(missing)}.\n"
            f"Headers found in the file: {found}.\n"
            f"Accepted header names include {accepted}.\n"
            f"If the file has these columns under other names, map them with --mapping FILE, "
            f'e.g. a mapping.json containing {{"Your Header": "{missing[0]}"}}.'
        )
        full_name = [h for h in headers if normalise_header(h) in _FULL_NAME_HEADERS]
        if full_name and ("first_name" in missing or "last_name" in missing):
            message += (
                f'\nThe file has a single name column ("{full_name[0]}"); '
                f"split it into first and last name columns first."
            )
        raise ImportRefused("missing_columns", message)
    return _Columns(headers, targets)


# --------------------------------------------------------------------------- CSV


def _bom_codec(head: bytes) -> str | None:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return None


def _utf16_without_bom(head: bytes) -> str | None:
    """Text in UTF-16 without a byte order mark shows as NUL in every other byte."""
    even, odd = head[0:4096:2], head[1:4096:2]
    if len(odd) < 2:
        return None
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    return None


def _decodes(path: Path, codec: str) -> bool:
    if codec in ("utf-8", "utf-8-sig"):
        return _is_utf8(path)
    decoder = codecs.getincrementaldecoder(codec)("strict")
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _is_utf8(path: Path) -> bool:
    """Strict UTF-8 check of the whole file with Arrow's validator: several times faster than decoding."""
    carry = b""
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            data = carry + chunk
            end = _whole_characters(data)
            if not _valid_utf8(data[:end]):
                return False
            carry = data[end:]
    return _valid_utf8(carry)


def _whole_characters(data: bytes) -> int:
    """The length of data without a multi-byte character cut off at its end."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return len(data)
        if byte >= 0xC0:
            needed = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(data) if needed <= back else len(data) - back
    return len(data)


def _valid_utf8(data: bytes) -> bool:
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    candidate = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        candidate.cast(pa.large_string())
    except pa.ArrowInvalid:
        return False
    return True


def _detect_encoding(path: Path, head: bytes) -> str:
    """Believe a byte order mark, then strict UTF-8 over the whole file, then cp1252, then latin-1."""
    evidence = _bom_codec(head) or _utf16_without_bom(head)
    for codec in (*([evidence] if evidence else []), "utf-8", "cp1252"):
        if _decodes(path, codec):
            return codec
    return "latin-1"  # decodes any bytes


_QUOTED = re.compile(r'"[^"]*(?:""[^"]*)*"')


def _sniff_delimiter(line: str) -> str:
    """The candidate that splits the header line into most cells (quoted text ignored)."""
    unquoted = _QUOTED.sub("", line)
    counts = {delimiter: unquoted.count(delimiter) for delimiter in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


_SEP_LINE = re.compile(r"sep=([,;\t|]) *", re.IGNORECASE)


def _first_content_line(text: str) -> tuple[str, str | None]:
    """The first line that is not blank, and the delimiter Excel's "sep=X" first line declares."""
    lines = re.split(r"\r\n|\r|\n", text)
    declared = _SEP_LINE.fullmatch(lines[0])
    if declared:
        return "", declared.group(1)
    for line in lines:
        if line.strip(_WHITESPACE + "".join(_DELIMITERS) + '"'):
            return line, None
    return "", None


class _HeaderTooLong(Exception):
    pass


def _bounded_lines(handle, limit: int) -> Iterator[str]:
    used = 0
    while line := handle.readline(limit):
        used += len(line)
        if used > limit:
            raise _HeaderTooLong
        yield line


@dataclass
class _Header:
    cells: list[str]
    records_through: int  # records up to and including the header (what pandas skips)
    last_line: int  # the header's last physical line (what pyarrow skips)


def _read_header(path: Path, codec: str, delimiter: str, skip_sep_line: bool, name: str) -> _Header:
    """The first record with any non-blank cell, read with the same rules as the body."""
    try:
        with path.open(encoding=codec, newline="") as handle:
            reader = csv.reader(_bounded_lines(handle, _HEADER_LIMIT), delimiter=delimiter)
            for count, record in enumerate(reader, start=1):
                if skip_sep_line and count == 1:
                    continue
                if any(cell.strip() for cell in record):
                    return _Header(record, count, reader.line_num)
    except (_HeaderTooLong, csv.Error):
        raise ImportRefused(
            "unreadable",
            f'The header row of {name} never ends: a quote (") in it is probably not closed. {_EXPORT_HINT}',
        ) from None
    raise ImportRefused("empty", f"{name} is empty: it has no header row and no candidate rows.")


@dataclass
class _Parsed:
    columns: list[pa.ChunkedArray]  # one per header position, cleaned (see _clean)
    lines: np.ndarray  # where each record starts
    malformed: dict[int, tuple[str, str]]  # record index -> (reason, raw)
    last_record: list[str]  # the final record's cells as parsed, to spot a quote that never closed


def _read_csv(path: Path, head: bytes, mapping: dict[str, str]) -> RawBatch:
    name = path.name
    encoding = _detect_encoding(path, head)
    sample = codecs.getincrementaldecoder(encoding)("replace").decode(head, final=False)
    if "\x00" in sample:
        raise ImportRefused(
            "unreadable", f"{name} does not look like a CSV file: it contains binary data. {_EXPORT_HINT}"
        )
    line, declared = _first_content_line(sample)
    delimiter = declared or _sniff_delimiter(line)
    header = _read_header(path, encoding, delimiter, declared is not None, name)
    columns = _resolve_columns(header.cells, mapping, name)
    try:
        parsed = _parse_with_arrow(path, encoding, delimiter, header)
    except pa.ArrowException:
        parsed = None  # outside this block the traceback, and all it parsed, is freed
    if parsed is None:
        # The abandoned fast attempt may have parsed most of a big file: give that memory back first.
        pa.default_memory_pool().release_unused()
        parsed = _parse_with_pandas(path, encoding, delimiter, header) or _parse_with_csv_module(
            path, encoding, delimiter, header
        )
    _flag_unclosed_quote(path, encoding, delimiter, parsed)
    return _finish(parsed, columns, name, "csv", encoding, delimiter, None)


def _as_chunked(column: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    return column if isinstance(column, pa.ChunkedArray) else pa.chunked_array([column])


def _chunks(column: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    return column.chunks if isinstance(column, pa.ChunkedArray) else [column]


def _holds_byte(column: pa.Array | pa.ChunkedArray, byte: int) -> bool:
    """Whether any cell may contain this ASCII byte, from the raw character buffers (fast, no per-cell work)."""
    for chunk in _chunks(column):
        data = chunk.buffers()[2]
        if data is not None and np.count_nonzero(np.frombuffer(data, dtype=np.uint8) == byte):
            return True
    return False


def _record_spans(columns: list[pa.Array] | list[pa.ChunkedArray]) -> np.ndarray:
    """Physical lines each record spans: one, plus the line breaks (\n, \r\n, lone \r) inside its cells."""
    spans = np.ones(len(columns[0]), dtype=np.int64)
    for column in columns:
        returns = _holds_byte(column, 13)
        if not returns and not _holds_byte(column, 10):
            continue
        count = pc.count_substring(column, "\n")
        if returns:
            count = pc.subtract(pc.add(count, pc.count_substring(column, "\r")), pc.count_substring(column, "\r\n"))
        spans += pc.fill_null(count, 0).to_numpy(zero_copy_only=False).astype(np.int64)
    return spans


def _starts(header: _Header, spans: np.ndarray) -> np.ndarray:
    return header.last_line + 1 + np.cumsum(spans) - spans


# Bytes a cell may start or end with when it has whitespace to strip: ASCII whitespace (as str.isspace()
# sees it) and any non-ASCII byte, since the rest of _WHITESPACE is multi-byte in UTF-8.
_EDGE_BYTES = np.zeros(256, dtype=bool)
_EDGE_BYTES[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True
_EDGE_BYTES[128:] = True


def _needs_strip(chunk: pa.Array) -> bool:
    """Whether any cell starts or ends with a byte that may be whitespace, from the raw buffers alone."""
    _, offsets, data = chunk.buffers()
    if data is None:
        return False
    ends = np.frombuffer(offsets, dtype=np.int64)[chunk.offset : chunk.offset + len(chunk) + 1]
    text = np.frombuffer(data, dtype=np.uint8)
    filled = ends[1:] > ends[:-1]
    return bool(_EDGE_BYTES[text[ends[:-1][filled]]].any() or _EDGE_BYTES[text[ends[1:][filled] - 1]].any())


def _clean(column: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    """Strip what str.strip() strips; an empty cell becomes null (the parsers already made empty cells null)."""
    cleaned = []
    for chunk in _chunks(column):
        if _needs_strip(chunk):
            chunk = pc.utf8_trim(chunk, _WHITESPACE)
            emptied = pc.equal(chunk, "")
            if pc.any(emptied).as_py():
                chunk = pc.if_else(emptied, pa.scalar(None, pa.large_string()), chunk)
        cleaned.append(chunk)
    return pa.chunked_array(cleaned, pa.large_string())


class _Collector:
    """Takes parsed chunks of raw columns and cleans each at once, so the raw text of a whole file is never held."""

    def __init__(self, width: int, delimiter: str) -> None:
        self.width = width
        self.delimiter = delimiter
        self.parts: list[list[pa.Array]] = [[] for _ in range(width)]
        self.spans = [np.zeros(0, dtype=np.int64)]
        self.malformed: dict[int, tuple[str, str]] = {}
        self.last_record: list[str] = []
        self.records = 0

    def add(self, raw: list[pa.Array] | list[pa.ChunkedArray]) -> None:
        """Raw columns of consecutive records: the header's columns, then any cells beyond them."""
        count = len(raw[0])
        if not count:
            return
        for row, found in _overflowing(raw, self.width, self.delimiter).items():
            self.malformed[self.records + row] = found
        self.spans.append(_record_spans(raw))
        self.last_record = [column[count - 1].as_py() or "" for column in raw[: self.width]]
        for part, column in zip(self.parts, raw):
            part.extend(_clean(column).chunks)
        self.records += count

    def parsed(self, header: _Header) -> _Parsed:
        columns = [pa.chunked_array(part, pa.large_string()) for part in self.parts]
        return _Parsed(columns, _starts(header, np.concatenate(self.spans)), self.malformed, self.last_record)


def _parse_with_arrow(path: Path, encoding: str, delimiter: str, header: _Header) -> _Parsed:
    """The fast path: raises pa.ArrowInvalid as soon as a record does not fit the header."""
    width = len(header.cells)
    names = [f"c{i}" for i in range(width)]
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(
            column_names=names,
            skip_rows=header.last_line,
            block_size=1 << 22,  # measured: fewer, larger batches cost less per row; memory barely moves
            # pyarrow skips a UTF-8 byte order mark itself and transcodes any other encoding.
            encoding="utf8" if encoding in ("utf-8", "utf-8-sig") else encoding,
        ),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.large_string() for name in names},
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )
    collector = _Collector(width, delimiter)
    with reader:
        for batch in reader:
            collector.add(batch.columns)
    return collector.parsed(header)


_TOO_MANY_FIELDS = re.compile(r"Expected \d+ fields in line \d+, saw (\d+)")


def _parse_with_pandas(path: Path, encoding: str, delimiter: str, header: _Header) -> _Parsed | None:
    """Pads short records and is widened until the longest fits. None when it cannot parse the file."""
    width = len(header.cells)
    widest = 2 * width + 16
    read = width
    for _ in range(4):
        try:
            return _pandas_pass(path, encoding, delimiter, header, read)
        except (ValueError, OverflowError, pd.errors.ParserWarning) as exc:
            too_many = _TOO_MANY_FIELDS.search(str(exc))
            if too_many is None or int(too_many.group(1)) > widest:
                return None
            read = max(int(too_many.group(1)), min(widest, read + width))
    return None


def _pandas_pass(path: Path, encoding: str, delimiter: str, header: _Header, read: int) -> _Parsed:
    collector = _Collector(len(header.cells), delimiter)
    with warnings.catch_warnings():
        # pandas silently drops the extra cells when the FIRST record it reads is too long; reading the
        # header again as that first record (it always fits) makes every long record an error instead.
        warnings.simplefilter("error", pd.errors.ParserWarning)
        with pd.read_csv(
            path,
            sep=delimiter,
            header=None,
            names=range(read),
            skiprows=header.records_through - 1,
            dtype="str",
            index_col=False,
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=False,
            encoding=encoding,
            engine="c",
            chunksize=1 << 18,
        ) as reader:
            for number, frame in enumerate(reader):
                # pandas hands over its Arrow buffers as they are.
                raw = [_as_chunked(pa.array(frame[i].array)) for i in range(read)]
                del frame
                collector.add([column[1:] for column in raw] if number == 0 else raw)
    return collector.parsed(header)


def _overflowing(raw: list[pa.Array] | list[pa.ChunkedArray], width: int, delimiter: str) -> dict[int, tuple[str, str]]:
    """Records with text beyond the header's last column (empty trailing cells are harmless)."""
    if len(raw) == width:
        return {}
    beyond = np.zeros(len(raw[0]), dtype=bool)
    for column in raw[width:]:
        filled = pc.fill_null(pc.not_equal(pc.utf8_trim(column, _WHITESPACE), ""), False)
        beyond |= filled.to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(beyond)
    if not len(rows):
        return {}
    picked = [column.take(pa.array(rows)).to_pylist() for column in raw]
    return {
        int(row): _too_many(["" if cell is None else cell for cell in record], width, delimiter)
        for row, record in zip(rows, zip(*picked))
    }


def _trimmed(record: list[str]) -> list[str]:
    """A record without its empty trailing cells, as a recruiter would count its values."""
    cells = list(record)
    while cells and not cells[-1].strip():
        cells.pop()
    return cells


def _too_many(record: list[str], width: int, delimiter: str) -> tuple[str, str]:
    cells = _trimmed(record)
    reason = (
        f"this row has {len(cells)} values but the header has {width} columns; "
        f"a value that contains a {_DELIMITER_NAMES.get(delimiter, repr(delimiter))} must be in quotes"
    )
    return reason, delimiter.join(cells)


def _parse_with_csv_module(path: Path, encoding: str, delimiter: str, header: _Header) -> _Parsed:
    """Slow and sure: one Python step per record."""
    # One cell may legitimately be longer than the csv module's 128 KiB default.
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))
    width = len(header.cells)
    pending: list[list[str | None]] = [[] for _ in range(width)]
    parts: list[list[pa.Array]] = [[] for _ in range(width)]
    starts = array("q")
    malformed: dict[int, tuple[str, str]] = {}
    record: list[str] = []

    def flush() -> None:
        for values, part in zip(pending, parts):
            part.extend(_clean(pa.array(values, pa.large_string())).chunks)
            values.clear()

    with path.open(encoding=encoding, newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        for _ in itertools.islice(reader, header.records_through):
            pass
        previous = reader.line_num
        for index, record in enumerate(reader):
            starts.append(previous + 1)
            previous = reader.line_num
            if len(record) > width and any(cell.strip() for cell in record[width:]):
                malformed[index] = _too_many(list(record), width, delimiter)
            record = record[:width] + [""] * (width - len(record))
            for values, cell in zip(pending, record):
                values.append(cell or None)
            if len(pending[0]) >= 65536:
                flush()
    flush()
    columns = [pa.chunked_array(part, pa.large_string()) for part in parts]
    return _Parsed(columns, np.frombuffer(starts, dtype=np.int64).copy(), malformed, record)


def _flag_unclosed_quote(path: Path, encoding: str, delimiter: str, parsed: _Parsed) -> None:
    """A quote that never closes swallows the rest of the file into the last record: report it, don't import it."""
    if not any("\n" in cell or "\r" in cell for cell in parsed.last_record):
        return
    start = int(parsed.lines[-1])
    with path.open(encoding=encoding, newline="") as handle:
        tail = "".join(itertools.islice(handle, start - 1, None))
    if _ends_inside_quotes(tail, delimiter):
        parsed.malformed[len(parsed.lines) - 1] = (
            f'a quote (") opened in this row is never closed, so everything from line {start} to the end of the '
            f"file was read as one row; close the quote and import the file again",
            delimiter.join(_trimmed(parsed.last_record)),
        )


def _ends_inside_quotes(text: str, delimiter: str) -> bool:
    """Walk the fields as the parsers do: a quote opens a quoted field only at the start of a field."""
    unquoted = re.compile(f"[^{re.escape(delimiter)}\r\n]*")
    position, end = 0, len(text)
    while position < end:
        if text[position] == '"':
            quoted = _QUOTED.match(text, position)
            if quoted is None:
                return True
            position = quoted.end()
        position = unquoted.match(text, position).end() + 1
    return False


# --------------------------------------------------------------------------- XLSX


def _require_xlsx(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise ImportRefused("unreadable", f"{path.name} is a damaged ZIP or Excel file. {_EXPORT_HINT}") from None
    if "xl/workbook.xml" in names:
        return
    if "content.xml" in names:
        raise ImportRefused(
            "unsupported_format",
            f"{path.name} is an OpenDocument spreadsheet (.ods). Save it as an Excel workbook (.xlsx) or as CSV UTF-8, "
            f"then import that file.",
        )
    raise ImportRefused("unsupported_format", f"{path.name} is a ZIP archive, not an Excel workbook. {_EXPORT_HINT}")


def _cell_text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        # Excel stores every number as a float: an id or phone typed as 12345 must not become "12345.0".
        if math.isfinite(value) and value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None and value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def _read_xlsx(path: Path, mapping: dict[str, str]) -> RawBatch:
    import openpyxl  # only workbooks pay for importing it

    name = path.name
    damaged = f"{name} could not be read as an Excel workbook ({{}}). {_EXPORT_HINT}"
    # A file object, because given a path openpyxl judges the file by its name.
    with path.open("rb") as handle:
        try:
            workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises whatever the damaged XML or ZIP inside makes it raise
            raise ImportRefused("unreadable", damaged.format(exc)) from None
        try:
            for sheet in sorted(workbook.worksheets, key=lambda sheet: sheet.sheet_state != "visible"):
                sheet.reset_dimensions()  # the stored dimensions are often wrong and would cut rows short
                rows = (
                    (number, [_cell_text(value) for value in values])
                    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1)
                )
                filled = ((number, cells) for number, cells in rows if any(cell and cell.strip() for cell in cells))
                first = next(filled, None)
                if first is not None:
                    return _sheet_batch(first[1], list(filled), mapping, name, sheet.title)
        except ImportRefused:
            raise
        except Exception as exc:  # as above: a damaged sheet fails in the middle of reading
            raise ImportRefused("unreadable", damaged.format(exc)) from None
        finally:
            workbook.close()
    raise ImportRefused("empty", f"{name} is empty: none of its sheets has a header row or candidate rows.")


def _sheet_batch(
    header: list[str | None], rows: list[tuple[int, list[str | None]]], mapping: dict[str, str], name: str, sheet: str
) -> RawBatch:
    width = max([len(header), *(len(cells) for _, cells in rows)])
    headers = [cell or "" for cell in header] + [""] * (width - len(header))
    columns = _resolve_columns(headers, mapping, name)
    if not rows:
        raise ImportRefused("empty", f'{name} (sheet "{sheet}") has a header row but no candidate rows.')
    cells = [
        _clean(pa.array([row[i] if i < len(row) else None for _, row in rows], pa.large_string()))
        for i in range(width)
    ]
    lines = np.array([number for number, _ in rows], dtype=np.int64)
    return _finish(_Parsed(cells, lines, {}, []), columns, name, "xlsx", None, None, sheet)


# --------------------------------------------------------------------------- shared tail


def _lower_domain(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Lower-case what follows the last "@" as str.lower() does; the local part may be case-sensitive."""
    # A slice at a time keeps the intermediate arrays small.
    step = 1 << 16
    return pa.chunked_array(
        [_lower_domain_slice(column.slice(start, step).combine_chunks()) for start in range(0, len(column), step)],
        pa.large_string(),
    )


def _lower_domain_slice(column: pa.Array) -> pa.Array:
    # Cheap filter first (Arrow's lower-casing changes at least what Python's does): most cells need nothing.
    changes = pc.fill_null(pc.and_(pc.not_equal(pc.utf8_lower(column), column), pc.match_substring(column, "@")), False)
    if not pc.any(changes).as_py():
        return column
    parts = pc.split_pattern(pc.filter(column, changes), "@", max_splits=1, reverse=True)
    domains = pc.list_element(parts, 1)
    if pc.all(pc.string_is_ascii(domains)).as_py():
        lowered = pc.ascii_lower(domains)
    else:  # Unicode case rules differ between Arrow and Python releases; Python's are the reference here
        lowered = pa.array([domain.lower() for domain in domains.to_pylist()], pa.large_string())
    fixed = pc.binary_join_element_wise(pc.list_element(parts, 0), lowered, pa.scalar("@", pa.large_string()))
    return pc.replace_with_mask(column, changes, fixed)


def _finish(
    parsed: _Parsed,
    columns: _Columns,
    name: str,
    format: str,
    encoding: str | None,
    delimiter: str | None,
    sheet: str | None,
) -> RawBatch:
    records = len(parsed.lines)
    keep = np.zeros(records, dtype=bool)
    for column in parsed.columns:
        keep |= pc.is_valid(column).to_numpy(zero_copy_only=False)
    bad = np.fromiter(parsed.malformed, dtype=np.int64, count=len(parsed.malformed))
    if not keep.any() and not len(bad):
        raise ImportRefused("empty", f"{name} has a header row but no candidate rows.")
    keep[bad] = False
    count = int(keep.sum())
    kept = None if count == records else pa.array(keep)

    def take(position: int) -> pa.ChunkedArray:
        column, parsed.columns[position] = parsed.columns[position], None  # drop each original once copied
        return column if kept is None else column.filter(kept)  # chunk by chunk, never the whole column at once

    data: dict[str, pd.api.extensions.ExtensionArray] = {}
    source_headers: dict[str, str] = {}
    extras: list[str] = []
    by_target = {target: position for position, target in enumerate(columns.targets) if target}
    absent = pa.nulls(count, pa.large_string())
    for column in _CANONICAL:
        if column in by_target:
            position = by_target[column]
            values = take(position)
            if column in _EMAIL_COLUMNS:
                values = _lower_domain(values)
            source_headers[column] = columns.headers[position]
        else:
            values = absent
        data[column] = pd.array(values, dtype=_TEXT)
    for position, (header, target) in enumerate(zip(columns.headers, columns.targets)):
        if target:
            continue
        values = take(position)
        label = header.strip(_WHITESPACE)
        if not label:
            if values.null_count == count:
                continue
            label = f"column_{position + 1}"
        unique, suffix = label, 2
        while unique in data:
            unique, suffix = f"{label} ({suffix})", suffix + 1
        data[unique] = pd.array(values, dtype=_TEXT)
        source_headers[unique] = header
        extras.append(unique)

    frame = pd.DataFrame(data, copy=False)
    order = sorted(parsed.malformed)
    malformed = pd.DataFrame(
        {
            "line": np.array([parsed.lines[i] for i in order], dtype=np.int64),
            "reason": pd.array([parsed.malformed[i][0] for i in order], dtype=_TEXT),
            "raw": pd.array([parsed.malformed[i][1] for i in order], dtype=_TEXT),
        }
    )
    return RawBatch(
        frame=frame,
        line_numbers=parsed.lines[keep].astype(np.int64),
        source_headers=source_headers,
        extra_columns=extras,
        malformed=malformed,
        format=format,
        encoding=encoding,
        delimiter=delimiter,
        sheet=sheet,
    )
