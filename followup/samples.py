"""Synthetic candidate batches: the demo's default sample and the load for benchmarks.

A batch looks like the export of a real hiring round: international names (accents,
apostrophes, hyphens, a few non-Latin scripts), national and international phone numbers
that libphonenumber accepts, time zones and currencies that agree with the country, notes
with embedded newlines. About `bad_share` of the rows carry exactly one fault each, named in
the `_fault` column, so validation can be checked row by row against the truth.

Rows are built from small vocabularies with numpy choices and pyarrow string kernels: a
million rows take seconds, where a per-row Python loop would take minutes. Only the few bad
rows are touched one by one.
"""

from __future__ import annotations

import os
import re
import unicodedata
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

COLUMNS: tuple[str, ...] = (
    "candidate_id", "email", "first_name", "last_name", "role", "decision", "phone",
    "timezone", "country", "channel", "decided_at", "offer_deadline", "start_date",
    "salary_min", "salary_max", "currency", "location", "reasons", "interests",
    "recruiter_name", "recruiter_email", "recruiter_phone", "hiring_manager", "company",
    "locale", "meeting_at", "meeting_location", "notes",
)

# Spellings taken from Greenhouse / Lever / Workable style exports; importing.py maps them back.
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

CHANNELS: tuple[str, ...] = ("email", "voicemail", "in_person")
OFFER_SHARE = 0.30

# The committed demo sample is generate_batch(SAMPLE_ROWS, seed=SAMPLE_SEED,
# bad_share=SAMPLE_BAD_SHARE, now=SAMPLE_NOW, ats_headers=True): a fixed business clock keeps
# the committed file and a regenerated one byte-identical.
SAMPLE_ROWS = 60
SAMPLE_SEED = 7
SAMPLE_BAD_SHARE = 0.08
SAMPLE_NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
_REPOSITORY_SAMPLE = Path(__file__).resolve().parent.parent / "data" / "samples" / "candidates.csv"

# --- vocabularies ---------------------------------------------------------------------------

# Phone templates: '#' is a random digit; the international and the national template of a
# region take the same digits. US/CA 555-01xx, the Ofcom drama ranges and AU 02 5550 are
# reserved for fiction, so a demo never rings a real person where that is possible.
# (time zone, city, locale, international phone, national phone, office address)
_Region = tuple[str, str, str, str, str, str]
# code -> (weight, currency, pay factor vs USD, rounding step, regions)
_COUNTRIES: dict[str, tuple[float, str, float, int, list[_Region]]] = {
    "US": (0.22, "USD", 1.0, 1000, [
        ("America/New_York", "New York, NY", "en-US", "+1 212 555 01##", "(212) 555-01##", "11 Hudson Yards, New York, NY 10001"),
        ("America/Chicago", "Chicago, IL", "en-US", "+1 312 555 01##", "(312) 555-01##", "222 W Adams St, Chicago, IL 60606"),
        ("America/Denver", "Denver, CO", "en-US", "+1 303 555 01##", "(303) 555-01##", "1700 Lincoln St, Denver, CO 80203"),
        ("America/Los_Angeles", "San Francisco, CA", "en-US", "+1 415 555 01##", "(415) 555-01##", "101 Mission St, San Francisco, CA 94105"),
    ]),
    "GB": (0.12, "GBP", 0.7, 1000, [
        ("Europe/London", "London", "en-GB", "+44 20 7946 0###", "020 7946 0###", "1 Finsbury Avenue, London EC2M 2PF"),
        ("Europe/London", "Manchester", "en-GB", "+44 161 496 0###", "0161 496 0###", "3 Hardman Street, Manchester M3 3HF"),
    ]),
    "DE": (0.08, "EUR", 0.8, 1000, [
        ("Europe/Berlin", "Berlin", "de-DE", "+49 30 9#######", "030 9#######", "Friedrichstraße 68, 10117 Berlin"),
        ("Europe/Berlin", "München", "de-DE", "+49 89 2#######", "089 2#######", "Leopoldstraße 8, 80802 München"),
    ]),
    "FR": (0.06, "EUR", 0.75, 1000, [
        ("Europe/Paris", "Paris", "fr-FR", "+33 1 4# ## ## ##", "01 4# ## ## ##", "12 rue de la Paix, 75002 Paris"),
        ("Europe/Paris", "Lyon", "fr-FR", "+33 4 7# ## ## ##", "04 7# ## ## ##", "10 place Bellecour, 69002 Lyon"),
    ]),
    "ES": (0.05, "EUR", 0.6, 1000, [
        ("Europe/Madrid", "Madrid", "es-ES", "+34 91# ## ## ##", "91# ## ## ##", "Paseo de la Castellana 95, 28046 Madrid"),
        ("Europe/Madrid", "Barcelona", "es-ES", "+34 93# ## ## ##", "93# ## ## ##", "Avinguda Diagonal 640, 08017 Barcelona"),
    ]),
    "IE": (0.04, "EUR", 0.8, 1000, [
        ("Europe/Dublin", "Dublin", "en-IE", "+353 1 6## ####", "(01) 6## ####", "2 Grand Canal Square, Dublin 2, D02 A342"),
    ]),
    "IN": (0.08, "INR", 30.0, 10000, [
        ("Asia/Kolkata", "Bengaluru", "en-IN", "+91 80 4### ####", "080 4### ####", "Embassy Golf Links, Bengaluru 560071"),
        ("Asia/Kolkata", "Mumbai", "en-IN", "+91 22 6### ####", "022 6### ####", "Bandra Kurla Complex, Mumbai 400051"),
    ]),
    "JP": (0.04, "JPY", 100.0, 100000, [
        ("Asia/Tokyo", "Tokyo", "ja-JP", "+81 3 5### ####", "03-5###-####", "2-4-1 Marunouchi, Chiyoda-ku, Tokyo 100-6390"),
        ("Asia/Tokyo", "Osaka", "ja-JP", "+81 6 6### ####", "06-6###-####", "3-1-3 Umeda, Kita-ku, Osaka 530-0001"),
    ]),
    "BR": (0.05, "BRL", 3.0, 1000, [
        ("America/Sao_Paulo", "São Paulo", "pt-BR", "+55 11 9#### ####", "(11) 9####-####", "Av. Paulista 1374, São Paulo - SP, 01310-100"),
    ]),
    "CA": (0.05, "CAD", 1.25, 1000, [
        ("America/Toronto", "Toronto, ON", "en-CA", "+1 416 555 01##", "(416) 555-01##", "100 King St W, Toronto, ON M5X 1A9"),
        ("America/Vancouver", "Vancouver, BC", "en-CA", "+1 604 555 01##", "(604) 555-01##", "1055 W Georgia St, Vancouver, BC V6E 3P3"),
        ("America/Toronto", "Montréal, QC", "fr-CA", "+1 514 555 01##", "(514) 555-01##", "1250 boul. René-Lévesque O, Montréal, QC H3B 4W8"),
    ]),
    "AU": (0.04, "AUD", 1.3, 1000, [
        ("Australia/Sydney", "Sydney, NSW", "en-AU", "+61 2 5550 ####", "(02) 5550 ####", "1 Martin Place, Sydney NSW 2000"),
        ("Australia/Melbourne", "Melbourne, VIC", "en-AU", "+61 3 9### ####", "(03) 9### ####", "120 Collins St, Melbourne VIC 3000"),
        ("Australia/Perth", "Perth, WA", "en-AU", "+61 8 9### ####", "(08) 9### ####", "240 St Georges Terrace, Perth WA 6000"),
    ]),
    "PL": (0.04, "PLN", 2.2, 1000, [
        ("Europe/Warsaw", "Warszawa", "pl-PL", "+48 22 5## ## ##", "22 5## ## ##", "ul. Marszałkowska 126, 00-008 Warszawa"),
    ]),
    "SE": (0.03, "SEK", 6.5, 1000, [
        ("Europe/Stockholm", "Stockholm", "sv-SE", "+46 8 5## ### ##", "08-5## ### ##", "Kungsgatan 49, 111 22 Stockholm"),
    ]),
    "NG": (0.03, "NGN", 300.0, 100000, [
        ("Africa/Lagos", "Lagos", "en-NG", "+234 803 ### ####", "0803 ### ####", "1 Adeola Odeku St, Victoria Island, Lagos"),
    ]),
    "MX": (0.03, "MXN", 8.0, 1000, [
        ("America/Mexico_City", "Ciudad de México", "es-MX", "+52 55 5### ####", "55 5### ####", "Paseo de la Reforma 296, Juárez, 06600 Ciudad de México"),
    ]),
    "KR": (0.02, "KRW", 900.0, 1000000, [
        ("Asia/Seoul", "Seoul", "ko-KR", "+82 2 3### ####", "02-3###-####", "152 Teheran-ro, Gangnam-gu, Seoul 06236"),
    ]),
    "GR": (0.02, "EUR", 0.45, 1000, [
        ("Europe/Athens", "Athens", "el-GR", "+30 21 0### ####", "210 ### ####", "Vasilissis Sofias 1, 106 71 Athens"),
    ]),
}

# Name pools per country in Latin script: (first names, last names).
_NAMES: dict[str, tuple[list[str], list[str]]] = {
    "US": (["James", "Mary", "Aaliyah", "DeShawn", "Emily", "Michael", "Sofía", "Jamal", "Zoë", "Anne-Marie"],
           ["Smith", "Johnson", "García", "Nguyen", "O'Neil", "Washington", "Patel", "Miller", "Rodríguez-Lee",
            "Kowalczyk"]),
    "GB": (["Oliver", "Amelia", "Harry", "Isla", "Siobhan", "Priya", "Mohammed", "Chloë", "Rhys"],
           ["Taylor", "Davies", "Evans", "Smith-Jones", "O'Brien", "Ahmed", "Hughes", "Ellis-Bextor", "Ó Dálaigh"]),
    "IE": (["Aoife", "Seán", "Niamh", "Ciarán", "Siobhán", "Pádraig", "Róisín", "Eoin"],
           ["O'Brien", "Murphy", "O'Connor", "Ní Bhriain", "McCarthy", "Ó Súilleabháin", "Byrne", "Kelly"]),
    "DE": (["Jürgen", "Lena", "Maximilian", "Sophie", "Jörg", "Anna-Lena", "Karl-Heinz", "Özlem", "Björn"],
           ["Müller", "Schmidt", "Weiß", "Schäfer", "Hoffmann", "Müller-Lüdenscheidt", "Groß", "Yılmaz", "Köhler"]),
    "FR": (["Jean-Luc", "Amélie", "Benoît", "Élodie", "François", "Léa", "Hélène", "Théo", "Maëlle"],
           ["Dubois", "Lefèvre", "Moreau", "Girard", "Le Gall", "Rivière", "D'Alembert", "Fontaine", "Benali"]),
    "ES": (["José", "María", "Lucía", "Álvaro", "Iñigo", "Begoña", "Javier", "Núria"],
           ["García", "Fernández", "Núñez", "Peña", "Ibáñez", "Gómez-Ruiz", "Martínez", "Castaño"]),
    "IN": (["Aarav", "Priya", "Ananya", "Rohan", "Saanvi", "Vikram", "Lakshmi", "Arjun"],
           ["Sharma", "Patel", "Iyer", "Reddy", "Nair", "Gupta", "Chatterjee", "Venkataraman"]),
    "JP": (["Yuki", "Haruto", "Aiko", "Ren", "Sakura", "Kenta"],
           ["Satō", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Itō"]),
    "BR": (["João", "Conceição", "Luíza", "Thiago", "Gabriela", "Vinícius"],
           ["Silva", "Santos", "Araújo", "Gonçalves", "Simões-Costa", "D'Ávila"]),
    "CA": (["Liam", "Émilie", "Noah", "Gabrielle", "Mathieu", "Mei"],
           ["Tremblay", "Gagnon", "Côté", "MacDonald", "Wong", "St-Pierre"]),
    "AU": (["Jack", "Charlotte", "Lachlan", "Matilda", "Noah", "Ngaio"],
           ["Smith", "Nguyen", "O'Connell", "Walker", "Tran", "Wilson-Hart"]),
    "PL": (["Łukasz", "Małgorzata", "Paweł", "Agnieszka", "Wojciech", "Zofia"],
           ["Nowak", "Wiśniewska", "Wójcik", "Kamińska", "Lewandowski", "Szymańska-Nowak"]),
    "SE": (["Åsa", "Björn", "Märta", "Lars", "Ingrid", "Oskar"],
           ["Andersson", "Johansson", "Öberg", "Lindqvist", "Ström", "Nyström"]),
    "NG": (["Chinedu", "Ngozi", "Oluwaseun", "Adaeze", "Emeka", "Funmilayo"],
           ["Okafor", "Adeyemi", "Eze", "Okonkwo", "Balogun", "Nwosu"]),
    "MX": (["Guadalupe", "Alejandro", "Ximena", "Santiago", "Valeria", "Iñaki"],
           ["Hernández", "Martínez-López", "Ramírez", "Cruz", "Pérez", "De la Garza"]),
    "KR": (["Minjun", "Seoyeon", "Jiho", "Haeun"], ["Kim", "Lee", "Park", "Choi"]),
    "GR": (["Dimitris", "Katerina", "Giorgos", "Eleni"], ["Papadakis", "Nikolaidis", "Georgiou", "Oikonomou"]),
}
# Where names are also written in another script: (share of that country's candidates, first
# names, last names), each name paired with the romanisation its email address uses.
_NATIVE_NAMES: dict[str, tuple[float, list[tuple[str, str]], list[tuple[str, str]]]] = {
    "JP": (0.4, [("花子", "hanako"), ("翔太", "shota"), ("美咲", "misaki"), ("大輔", "daisuke")],
           [("佐藤", "sato"), ("鈴木", "suzuki"), ("高橋", "takahashi"), ("田中", "tanaka")]),
    "KR": (0.5, [("민준", "minjun"), ("서연", "seoyeon"), ("지호", "jiho"), ("하은", "haeun")],
           [("김", "kim"), ("이", "lee"), ("박", "park"), ("최", "choi")]),
    "GR": (0.5, [("Νίκος", "nikos"), ("Μαρία", "maria"), ("Γιώργος", "giorgos"), ("Ελένη", "eleni")],
           [("Παπαδόπουλος", "papadopoulos"), ("Οικονόμου", "oikonomou"), ("Γεωργίου", "georgiou")]),
}
# Share of candidates whose name comes from another country's pool: people move.
_MOVED_SHARE = 0.10

_ROLES: list[tuple[str, int]] = [  # (title, lower end of the salary band in USD)
    ("Senior Data Engineer", 150000), ("Backend Engineer (Go)", 130000), ("Product Designer", 115000),
    ("Customer Success Manager", 85000), ("Account Executive – DACH", 95000),
    ("Site Reliability Engineer", 140000), ("Marketing Analyst", 75000), ("HR Business Partner", 90000),
    ("Financial Controller", 110000), ("Mobile Developer (iOS)", 125000), ("Research Scientist, NLP", 170000),
    ("Engineering Manager", 180000), ("Technical Writer", 80000), ("Clinical Data Specialist", 88000),
    ("Robotics Test Technician", 62000),
]
_COMPANIES: list[tuple[str, str]] = [
    ("Northwind Analytics", "northwind.example"),
    ("Brightlane Health", "brightlane.example"),
    ("Kestrel Robotics", "kestrel.example"),
]
_RECRUITERS: list[tuple[str, str, str, int]] = [  # (name, mailbox, phone, company)
    ("Priya Nair", "priya.nair", "+44 20 7946 0321", 0),
    ("Tomás Ortega", "tomas.ortega", "+1 415 555 0187", 0),
    ("Chloé Martin", "chloe.martin", "+44 161 496 0754", 1),
    ("Daniel O'Sullivan", "daniel.osullivan", "+1 212 555 0143", 1),
    ("Hannah Schmidt", "hannah.schmidt", "+61 2 5550 1234", 2),
    ("Kwame Mensah", "kwame.mensah", "+44 20 7946 0876", 2),
]
_MANAGERS = ["Sarah Lindqvist", "Mehmet Yılmaz", "Grace O'Donnell", "Rafael Domínguez", "Aisha Bello",
             "Kenji Watanabe", "Laura Schäfer", "Marcus Johnson", "Inês Carvalho", "Wei Zhang"]
# Reserved example domains: a sample can never reach a real mailbox. Each has a mixed-case
# twin, as ATS exports keep whatever the candidate typed.
_DOMAINS = ["example.com", "example.org", "example.net", "mail.example.com", "candidates.example.org"]
_DOMAINS_MIXED = ["Example.com", "EXAMPLE.ORG", "Example.Net", "Mail.Example.com", "Candidates.Example.ORG"]
_MIXED_CASE_SHARE = 0.12
_LOCAL_SEPARATORS = [".", "_", ""]

# Prime-sized pools of equal size: indices a, a+s, a+2s (mod p, s != 0) are distinct without a
# per-row loop.
_STRENGTHS = [
    "clear, structured thinking in the system design round",
    "strong SQL and data modelling",
    "thoughtful questions about the team's roadmap",
    "excellent stakeholder communication",
    "hands-on experience scaling Kubernetes clusters",
    "a portfolio grounded in real user research",
    "calm, methodical debugging in the pairing session",
    "mentoring experience the team needs",
    "deep knowledge of our customers' industry",
    "warm references from previous managers",
    "a take-home solution that was clean and well tested",
]
_FEEDBACK = [
    "another candidate had more hands-on experience with large data pipelines",
    "the system design answer needed more depth on failure handling",
    "the role needs more people-management experience",
    "the take-home lacked automated tests",
    "the role needs fluent German for client calls",
    "salary expectations were above the approved band",
    "the team needs someone who can start before March",
    "limited exposure to long B2B sales cycles",
    "the portfolio showed more visual design than research",
    "strong fundamentals, less experience with our stack (Go, PostgreSQL)",
    "the panel wanted more ownership of end-to-end projects",
]
_INTERESTS = [
    "remote-first work", "mentorship", "growing into a lead role", "working with data at scale",
    "a learning budget", "open-source time", "visa sponsorship",
]
_INTEREST_COUNT_P = [0.3, 0.45, 0.25]  # none, one, two
_NOTES: list[tuple[str, float]] = [
    ("", 0.55),
    ("Prefers a call after 5 pm local time.", 0.06),
    ("Asked about relocation support.\nFollow up with the package details.", 0.06),
    ("Referred by an employee.", 0.06),
    ("Has a competing offer; decision expected this week.", 0.05),
    ("Strong culture fit.\n\nPanel: unanimous yes.", 0.05),
    ("Availability:\tMon–Wed mornings", 0.05),
    ('Said the team felt "really welcoming".', 0.04),
    ("Requested feedback in writing.", 0.04),
    ("Out of office until Monday.\nUse the mobile number if urgent.", 0.04),
]
_PHONE_SHARE_OFF_VOICEMAIL = 0.4
_NATIONAL_PHONE_SHARE = 0.2
_REMOTE_SHARE = 0.12

_BAD_DECISIONS = ["maybe", "on hold", "pending", "hire?"]
_BAD_CURRENCIES = ["QQQ", "ZZX", "EURO", "US$"]
_BAD_TIMEZONES = ["Mars/Olympus_Mons", "Europe/Londn", "America/New York", "UTC+25"]
_BAD_DATES = ["next Tuesday", "2026-13-45", "31/02/2026", "TBD"]
_CONTROL_CHARACTERS = ["\x07", "\x1b", "\x08"]

_FOLD = str.maketrans({"ß": "ss", "ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "æ": "ae", "ı": "i"})


def _email_slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name.translate(_FOLD)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", ascii_name.lower())


def _flatten_vocabularies() -> dict[str, np.ndarray | list]:
    """Lay the nested tables out as flat arrays so each row needs only integer indexing."""
    v: dict[str, list] = {key: [] for key in (
        "country_code", "country_weight", "currency", "pay", "step", "region_offset", "region_count",
        "region_tz", "region_city", "region_locale", "region_intl", "region_national", "region_office",
        "group_offset", "group_share", "first", "first_slug", "first_offset", "first_count",
        "last", "last_slug", "last_offset", "last_count")}
    for code, (weight, currency, pay, step, regions) in _COUNTRIES.items():
        v["country_code"].append(code)
        v["country_weight"].append(weight)
        v["currency"].append(currency)
        v["pay"].append(pay)
        v["step"].append(step)
        v["region_offset"].append(len(v["region_tz"]))
        v["region_count"].append(len(regions))
        for tz, city, locale, intl, national, office in regions:
            v["region_tz"].append(tz)
            v["region_city"].append(city)
            v["region_locale"].append(locale)
            v["region_intl"].append(intl)
            v["region_national"].append(national)
            v["region_office"].append(office)
        latin = [[(name, name) for name in names] for names in _NAMES[code]]
        share, *native = _NATIVE_NAMES.get(code, (0.0,))
        v["group_offset"].append(len(v["first_offset"]))
        v["group_share"].append(share)
        for pools in (latin, native) if native else (latin,):
            for kind, names in zip(("first", "last"), pools):
                v[f"{kind}_offset"].append(len(v[kind]))
                v[f"{kind}_count"].append(len(names))
                for shown, spoken in names:
                    v[kind].append(shown)
                    v[f"{kind}_slug"].append(_email_slug(spoken))
    out: dict[str, np.ndarray | list] = {}
    for key, values in v.items():
        out[key] = np.asarray(values) if isinstance(values[0], (int, float)) else values
    out["country_weight"] = np.asarray(v["country_weight"]) / sum(v["country_weight"])
    return out


_V = _flatten_vocabularies()

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
