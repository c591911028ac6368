"""What the suite checks: rule table, code lists, length limits and patterns."""

from __future__ import annotations

from dataclasses import dataclass

from followup.channels import CHANNEL_NAMES, needing
from followup.importing import OPTIONAL_COLUMNS, REQUIRED_COLUMNS

SUITE_NAME = "candidate_batch"
SUITE_VERSION = "2"

DECISIONS = ("offer", "reject")
CHANNELS = CHANNEL_NAMES


def listed(names) -> str:
    """("email", "voicemail", "in_person") -> "email, voicemail or in_person", for reasons a recruiter reads."""
    *rest, last = names
    return f"{', '.join(rest)} or {last}" if rest else last


_CHANNEL_LIST = listed(CHANNELS)
# The channels a row cannot take without a phone (a call): "voicemail"
PHONE_CHANNELS = needing("phone")
_PHONE_LIST = listed(PHONE_CHANNELS)
DATE_COLUMNS = ("decided_at", "offer_deadline", "start_date", "meeting_at")
SALARY_COLUMNS = ("salary_min", "salary_max")
CANONICAL = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)

# Characters per column. Ids, names and addresses match the ledger's column sizes; raw forms
# that are normalised before storing (phones, dates, codes) get room for their spellings, so
# the format rules give the clearer reason.
MAX_LENGTH: dict[str, int] = {
    "candidate_id": 128, "email": 320, "first_name": 200, "last_name": 200, "role": 200,
    "decision": 32, "phone": 64, "timezone": 64, "country": 64, "channel": 32,
    "decided_at": 64, "offer_deadline": 64, "start_date": 64, "salary_min": 64, "salary_max": 64,
    "currency": 64, "location": 200, "reasons": 4000, "interests": 4000, "recruiter_name": 200,
    "recruiter_email": 320, "recruiter_phone": 64, "recruiter_timezone": 64, "hiring_manager": 200, "company": 200,
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
LOCALE_PATTERN = r"^[a-z]{2,3}(?:-[A-Z][a-z]{3})?(?:-(?:[A-Z]{2}|[0-9]{3}))?\Z"
NUMBER_PATTERN = r"^[+-]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?\Z"
# ISO 8601 (2026-11-20, 2026-11-20T14:30:05.5+01:00), 2026/11/20 and the US 11/20/2026, each
# with an optional time (14:30, 2:30 PM) and offset. Slashed dates are month first, never
# guessed: 05/06/2026 would otherwise mean two different days in one file.
DATE_PATTERN = (
    r"^(?:(?P<y1>[0-9]{4})-(?P<m1>[0-9]{1,2})-(?P<d1>[0-9]{1,2})"
    r"|(?P<y2>[0-9]{4})/(?P<m2>[0-9]{1,2})/(?P<d2>[0-9]{1,2})"
    r"|(?P<m3>[0-9]{1,2})/(?P<d3>[0-9]{1,2})/(?P<y3>[0-9]{4}))"
    r"(?:[T ](?P<hh>[0-9]{1,2}):(?P<mi>[0-9]{2})(?::(?P<ss>[0-9]{2})(?:[.,](?P<frac>[0-9]{1,9}))?)?"
    r" ?(?P<ampm>[AaPp][Mm])?)?"
    r" ?(?P<tz>Z|[+-][0-9]{2}(?::?[0-9]{2})?)?\Z"
)
CONTROL = r"[\x00-\x1f\x7f-\x9f]"
SHOWN = 60  # characters of a value quoted in a reason
LINES_NAMED = 5  # other lines a duplicate's reason names

TEXT_COLUMNS = (
    "candidate_id", "email", "first_name", "last_name", "role", "location", "reasons", "interests",
    "recruiter_name", "recruiter_email", "hiring_manager", "company", "meeting_location", "notes",
)  # fmt: skip
TYPED_COLUMNS = (
    "candidate_id", "email", "first_name", "last_name", "role", "decision", "phone", "timezone",
    "country", "channel", "locale", *DATE_COLUMNS, *SALARY_COLUMNS, "currency", "location", "reasons",
    "interests", "recruiter_name", "recruiter_email", "recruiter_phone", "recruiter_timezone", "hiring_manager",
    "company", "meeting_location", "notes", "source_line",
)  # fmt: skip


@dataclass(frozen=True)
class Rule:
    key: str  # the expectation's meta["rule"]; for a problem rule also its checks-frame column
    kind: str  # not_null | unique | regex | in_set | null
    description: str  # what Data Docs says the rule is
    column: str | None = None
    values: tuple[str, ...] = ()


PROBLEMS = (
    ("recruiter_email_invalid", "recruiter_email, when given, is a valid email address"),
    ("phone_invalid", "phone, when given, is a valid number (E.164, or national for the row's country)"),
    # The rule's name is part of the versioned suite: it stays, whichever channels need a phone.
    ("phone_missing_for_voicemail", f"{_PHONE_LIST} candidates have a phone number"),
    ("recruiter_phone_invalid", "recruiter_phone, when given, is a valid number"),
    ("timezone_unknown", "timezone, when given, is an IANA time zone name"),
    ("recruiter_timezone_unknown", "recruiter_timezone, when given, is an IANA time zone name"),
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
RULES: tuple[Rule, ...] = (
    *(Rule(f"required_{c}", "not_null", f"every record has a {c}", column=c) for c in REQUIRED_COLUMNS),
    Rule("candidate_id_unique", "unique", "candidate_id is unique within the batch", column="candidate_id"),
    Rule("email_syntax", "regex", "email is a valid address", column="email", values=(EMAIL_PATTERN,)),
    Rule("decision_known", "in_set", "decision is offer or reject", column="decision", values=DECISIONS),
    Rule("channel_known", "in_set", f"channel is {_CHANNEL_LIST}", column="channel", values=CHANNELS),
    *(Rule(key, "null", description) for key, description in PROBLEMS),
)
VALUE_REASONS = {
    "email_syntax": " is not a valid address",
    "decision_known": " must be offer or reject",
    "channel_known": f" must be {_CHANNEL_LIST}",
}
