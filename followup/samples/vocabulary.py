"""The tables a batch is drawn from, and their flat layout (_V) for per-row integer indexing."""

from __future__ import annotations

import re
import unicodedata

import numpy as np

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
