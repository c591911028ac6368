"""The canonical columns, the header names that mean them, and how a file's header maps onto them.

A ColumnSet is one kind of file the reader takes: the candidate batch (BATCH_COLUMNS) or the
outcomes a recruiter logged (OUTCOME_COLUMNS). Both are read and matched the same way.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

from .refusal import ImportRefused

REQUIRED_COLUMNS: tuple[str, ...] = ("candidate_id", "email", "first_name", "last_name", "role", "decision")
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "phone", "timezone", "country", "channel", "decided_at", "offer_deadline", "start_date", "salary_min",
    "salary_max", "currency", "location", "reasons", "interests", "recruiter_name", "recruiter_email",
    "recruiter_phone", "recruiter_timezone", "hiring_manager", "company", "locale", "meeting_at", "meeting_location",
    "notes",
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
    "recruiter_timezone": ("Recruiter Time Zone", "Recruiter TZ", "Recruiter Timezone"),
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


@dataclass(frozen=True)
class ColumnSet:
    """The columns of one kind of file, and the header names that mean them."""

    required: tuple[str, ...]
    optional: tuple[str, ...]
    alias_sources: Mapping[str, tuple[str, ...]]  # column -> other header names that mean it
    rows: str  # what a record of the file is, for refusals: "candidate rows"
    email_columns: tuple[str, ...] = ()  # their domains are lower-cased
    # The command takes --mapping FILE, so a refusal may tell the user to write one.
    mappable: bool = True
    aliases: dict[str, str] = field(init=False, repr=False, compare=False)
    # "StartDate", "start-date" and "Start Date" should all land on start_date.
    squashed: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        aliases = {normalise_header(name): column for column, names in self.alias_sources.items()
                   for name in (column, *names)}  # fmt: skip
        object.__setattr__(self, "aliases", aliases)
        object.__setattr__(self, "squashed", {key.replace("_", ""): column for key, column in aliases.items()})

    @property
    def canonical(self) -> tuple[str, ...]:
        return self.required + self.optional


BATCH_COLUMNS = ColumnSet(REQUIRED_COLUMNS, OPTIONAL_COLUMNS, _ALIAS_SOURCES, "candidate rows", _EMAIL_COLUMNS)
ALIASES: dict[str, str] = BATCH_COLUMNS.aliases

# A recruiter's own log of what happened: a call sheet with its results, meetings held, replies read
# in their inbox (`followup outcomes import`). note is required as a column, not as a value.
OUTCOME_COLUMNS = ColumnSet(
    required=("candidate_id", "outcome", "at", "note"),
    optional=("channel", "message_key"),
    alias_sources={
        "candidate_id": _ALIAS_SOURCES["candidate_id"],
        "outcome": ("Result", "Call Outcome", "Call Result", "Meeting Outcome"),
        "at": ("Time", "When", "Date", "Date Time", "Timestamp", "Called At", "Occurred At", "Received At"),
        "note": ("Notes", "Comment", "Comments", "Remarks", "Recruiter Notes"),
        "channel": (),
        "message_key": (),
    },
    rows="outcome rows",
    mappable=False,
)
_FULL_NAME_HEADERS = frozenset({"name", "full_name", "candidate_name", "applicant_name", "candidate"})


@dataclass
class _Columns:
    """What the header says: the canonical column (or None for an extra) at each position."""

    headers: list[str]
    targets: list[str | None]
    of: ColumnSet


def _resolve_columns(headers: list[str], mapping: dict[str, str], name: str, columns: ColumnSet) -> _Columns:
    by_normalised = {normalise_header(source): target for source, target in mapping.items()}
    targets: list[str | None] = []
    for header in headers:
        normalised = normalise_header(header)
        if header in mapping:
            target = mapping[header]
        elif normalised in by_normalised:
            target = by_normalised[normalised]
        else:
            target = columns.aliases.get(normalised) or columns.squashed.get(normalised.replace("_", ""), "")
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
        remedy = (f'Remove one of them, or say which one to ignore with --mapping FILE, e.g. a JSON file containing '
                  f'{{"{example}": ""}}.' if columns.mappable else "Remove or rename one of them.")  # fmt: skip
        raise ImportRefused(
            "duplicate_columns", f"{name} has more than one column for the same thing: {described}. {remedy}"
        )

    missing = [column for column in columns.required if column not in seen]
    if missing:
        found = ", ".join(f'"{header}"' for header in headers if header.strip()) or "(none)"
        accepted = "; ".join(
            f"{column}: " + ", ".join(f'"{alias}"' for alias in (column, *columns.alias_sources[column][:3]))
            for column in missing
        )
        remedy = (
            f"If the file has these columns under other names, map them with --mapping FILE, "
            f'e.g. a mapping.json containing {{"Your Header": "{missing[0]}"}}.'
            if columns.mappable
            else "Add the missing columns (an empty column will do for one with nothing to say) or rename "
            "the headers, then import the file again."
        )
        message = (
            f"{name} is missing required columns: {', '.join(missing)}.\n"
            f"Headers found in the file: {found}.\n"
            f"Accepted header names include {accepted}.\n"
            f"{remedy}"
        )
        full_name = [h for h in headers if normalise_header(h) in _FULL_NAME_HEADERS]
        if full_name and ("first_name" in missing or "last_name" in missing):
            message += (
                f'\nThe file has a single name column ("{full_name[0]}"); '
                f"split it into first and last name columns first."
            )
        raise ImportRefused("missing_columns", message)
    return _Columns(headers, targets, columns)
