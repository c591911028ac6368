"""Messages for every channel: golden output, fallbacks, escaping, the .ics, unsubscribe, locales."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, time, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from pydantic import SecretStr

from followup.cadence import calendar

from followup.rendering import (
    CHANNELS,
    KINDS,
    Renderer,
    RenderError,
    builtin_templates_dir,
    candidate_context,
    message_key_from_unsubscribe_token,
    render_chunk,
    sample_contexts,
)

GOLDEN = Path(__file__).parent / "golden" / "rendering"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
NOW = datetime(2024, 3, 15, 14, 0, tzinfo=timezone.utc)  # a Friday
DEFAULTS = {"office": "Northwind Analytics, 120 Hudson St, New York", "phone": "+1 212 555 0100"}
UNSUBSCRIBE = "https://followup.example/unsubscribe"
SECRET = SecretStr("rendering-tests-secret")

OFFER_ROW = {
    "candidate_id": "c-1001",
    "email": "priya.raman@example.com",
    "first_name": "Priya",
    "last_name": "Raman",
    "phone": "(646) 555-0187",
    "timezone": "America/New_York",
    "country": "US",
    "locale": "en_US",
    "role": "Senior Data Engineer",
    "decision": "offer",
    "offer_deadline": datetime(2024, 3, 29),
    "start_date": datetime(2024, 4, 15),
    "salary_min": 145000.0,
    "salary_max": 165000.0,
    "currency": "usd",
    "location": "New York (hybrid)",
    "reasons": "the way you redesigned the ingestion pipeline in the take-home; calm, clear answers to the panel",
    "interests": "mentoring junior engineers;owning a platform end to end",
    "recruiter_name": "Dana Whitfield",
    "recruiter_email": "dana.whitfield@northwind.example",
    "recruiter_phone": "+1 212 555 0142",
    "hiring_manager": "Luis Ortega",
    "company": "Northwind Analytics",
    "meeting_at": None,
    "meeting_location": None,
}
REJECT_ROW = {
    "candidate_id": "c-2002",
    "email": "tom.novak@example.co.uk",
    "first_name": "Tom",
    "last_name": "Novak",
    "phone": "020 7946 0958",
    "timezone": "Europe/London",
    "country": "GB",
    "locale": "en_GB",
    "role": "Product Designer",
    "decision": "reject",
    "reasons": "a case study with measured outcomes would have strengthened the portfolio;"
    "the design-system exercise ran out of time before the handover",
    "interests": "design systems",
    "recruiter_name": "Mara Vogel",
    "recruiter_email": "mara.vogel@northwind.example",
    "recruiter_phone": "+44 20 7946 0000",
    "company": "Northwind Analytics",
    "meeting_at": datetime(2024, 3, 20, 10, 30),
    "meeting_location": "Northwind Analytics, 1 Finsbury Ave, London",
}
HOSTILE = {
    **OFFER_ROW,
    "first_name": "{{ 7*7 }}",
    "last_name": "<script>alert(1)</script>",
    "role": "R&D <b>Lead</b>",
    "reasons": "{% if true %}evaluated{% endif %};<img src=x onerror=alert(1)>",
    "interests": "{{ config.items() }}",
    "company": "Smith & Sons\r\nBcc: victim@example.com",
    "recruiter_name": "{{ ''.__class__ }}",
}


def context(row: dict, *, step: int = 0, key: str = "msg-key-0001") -> dict:
    return candidate_context(row, row, now=NOW, message_key=key, step=step)


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(company_defaults=DEFAULTS, unsubscribe_base_url=UNSUBSCRIBE, unsubscribe_secret=SECRET)


def _show(message) -> str:
    """One reviewable text file per message: every part a reader or a calendar would see."""
    sections = [f"== {message.kind} / {message.channel} / variant {message.variant} / {message.template} =="]
    if message.subject is not None:
        sections.append(f"== subject ==\n{message.subject}")
    if message.headers:
        sections.append(
            "== headers ==\n" + "".join(f"{k}: {v}\n" for k, v in sorted(message.headers.items())).rstrip()
        )
    if message.text is not None:
        sections.append(f"== text ==\n{message.text.rstrip()}")
    if message.html is not None:
        sections.append(f"== html ==\n{message.html.rstrip()}")
    if message.script is not None:
        sections.append(f"== script ({len(message.script.split())} words) ==\n{message.script}")
    if message.call_sheet_row is not None:
        sections.append(
            "== call sheet row ==\n" + json.dumps(message.call_sheet_row, indent=2, ensure_ascii=False)
        )
    for item in message.attachments:
        body = item.content.decode("utf-8").replace("\r\n", "\n").rstrip()
        sections.append(f"== attachment {item.filename} ({item.content_type}) ==\n{body}")
    return "\n\n".join(sections) + "\n"


GOLDEN_CASES = [
    (kind, channel, step)
    for kind in KINDS
    for channel in CHANNELS
    for step in ((1, 2) if kind == "offer_nudge" else (0,))
]


@pytest.mark.parametrize(("kind", "channel", "step"), GOLDEN_CASES, ids=lambda v: str(v))
def test_golden_message(renderer, kind, channel, step):
    row = REJECT_ROW if kind in ("rejection", "keep_in_touch") else OFFER_ROW
    message = renderer.render(kind, channel, context(row, step=step))
    suffix = f".step{step}" if kind == "offer_nudge" else ""
    path = GOLDEN / f"{kind}.{channel}{suffix}.txt"
    shown = _show(message)
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(shown, encoding="utf-8")
    assert path.exists(), f"no golden file {path}; run with UPDATE_GOLDEN=1 and review it"
    assert shown == path.read_text(encoding="utf-8")


def test_nudge_steps_say_different_things(renderer):
    for channel in CHANNELS:
        first = renderer.render("offer_nudge", channel, context(OFFER_ROW, step=1))
        second = renderer.render("offer_nudge", channel, context(OFFER_ROW, step=2))
        assert (first.subject, first.text, first.script) != (second.subject, second.text, second.script)


def test_offer_email_follows_the_practice(renderer):
    message = renderer.render("offer", "email", context(OFFER_ROW))
    paragraphs = [p for p in message.text.split("\n\n") if p.strip()]
    assert paragraphs[1].startswith("I am delighted to tell you")  # good news first, after "Hi"
    for needed in (
        "redesigned the ingestion pipeline",
        "Senior Data Engineer",
        "New York (hybrid)",
        "$145,000 to $165,000",
        "April 15, 2024",
        "mentoring junior engineers and owning a platform",
        "March 29, 2024",
        "Dana Whitfield",
        "dana.whitfield@northwind.example",
    ):
        assert needed in message.text
        assert needed in message.html


def test_minimal_candidate_gets_explicit_fallbacks_everywhere(renderer):
    minimal = {
        "candidate_id": "c-3",
        "email": "sam@example.com",
        "first_name": "Sam",
        "last_name": "Lee",
        "phone": "+44 20 7946 0958",
        "role": "Support Engineer",
        "decision": "offer",
    }
    for kind in KINDS:
        for channel in CHANNELS:
            message = renderer.render(kind, channel, context(minimal, step=1))
            shown = "\n".join(filter(None, (message.subject, message.text, message.html, message.script)))
            assert "None" not in shown
            assert not re.search(r"(Dear|Hi|Hello) ,", shown)
            assert not re.search(r" [,.;:]", shown), (kind, channel)


@pytest.mark.parametrize("channel", list(CHANNELS))
@pytest.mark.parametrize("kind", KINDS)
def test_candidate_data_is_never_evaluated_or_unescaped(renderer, kind, channel):
    message = renderer.render(kind, channel, context(HOSTILE, step=1))
    if channel == "voicemail":
        assert "{{ 7*7 }}" in message.script and "{{ ''.__class__ }}" in message.script
        assert "49" not in message.script and "<class" not in message.script
        assert message.call_sheet_row["name"] == "{{ 7*7 }} <script>alert(1)</script>"
        return
    assert "\n" not in message.subject and "\r" not in message.subject
    assert "{{ 7*7 }}" in message.subject or "R&D <b>Lead</b>" in message.subject
    for text in (message.subject, message.text, message.html):
        assert "49" not in text and "<class" not in text
    assert "{{ 7*7 }}" in message.text and "{{ ''.__class__ }}" in message.text
    assert "{{ 7*7 }}" in message.html and "R&amp;D &lt;b&gt;Lead&lt;/b&gt;" in message.html
    assert "<script>" not in message.html and "<b>Lead" not in message.html and "<img" not in message.html
    assert "&lt;" not in message.text  # plain text is not HTML-escaped
    if "evaluated" in message.text:
        assert "{% if true %}evaluated{% endif %}" in message.text
    for item in message.attachments:
        event = Calendar.from_ical(item.content).walk("VEVENT")[0]
        assert event["attendee"].params["CN"] == "{{ 7*7 }} <script>alert(1)</script>"
        assert "{{ ''.__class__ }}" in str(event["description"])


def test_header_injection_through_a_name_stays_on_one_line(renderer):
    row = {**OFFER_ROW, "first_name": "Priya\r\nBcc: victim@example.com"}
    message = renderer.render("offer", "email", context(row))
    assert (
        message.subject
        == "Good news, Priya Bcc: victim@example.com: an offer for the Senior Data Engineer role"
    )


def test_ics_starts_at_the_agreed_time_in_the_candidates_zone(renderer):
    row = {**OFFER_ROW, "meeting_at": datetime(2024, 3, 20, 15, 30, tzinfo=timezone.utc)}
    message = renderer.render("in_person_invite", "in_person", context(row))
    (invite,) = message.attachments
    assert invite.filename == "invite.ics"
    assert invite.content_type == "text/calendar; method=REQUEST; charset=UTF-8"
    calendar = Calendar.from_ical(invite.content)
    assert str(calendar["method"]) == "REQUEST"
    event = calendar.walk("VEVENT")[0]
    start = event.decoded("dtstart")
    assert start == datetime(2024, 3, 20, 11, 30, tzinfo=ZoneInfo("America/New_York"))
    assert start.tzinfo.key == "America/New_York"  # local wall time with its TZID, not UTC
    assert str(event["attendee"]) == "mailto:priya.raman@example.com"
    assert str(event["organizer"]) == "mailto:dana.whitfield@northwind.example"
    assert str(event["location"]) == DEFAULTS["office"]  # no meeting_location: the office
    assert "Wednesday, March 20, 2024 at 11:30\u202fAM (EDT)" in message.text  # CLDR: narrow no-break space


def test_default_slot_is_next_business_day_at_eleven_local(renderer):
    # NOW is Friday 14:00 UTC; in Tokyo that is already Saturday: the next business day is Monday.
    row = {**OFFER_ROW, "timezone": "Asia/Tokyo"}
    message = renderer.render("keep_in_touch", "in_person", context(row))
    start = Calendar.from_ical(message.attachments[0].content).walk("VEVENT")[0].decoded("dtstart")
    assert start == datetime(2024, 3, 18, 11, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert start.tzinfo.key == "Asia/Tokyo"


def test_default_slot_and_call_time_skip_public_holidays():
    def meeting(company_country: str) -> datetime:
        row = {**OFFER_ROW, "timezone": "America/New_York", "meeting_at": None}
        ctx = candidate_context(row, row, now=datetime(2026, 11, 25, 15, 0, tzinfo=timezone.utc), message_key="k")
        renderer = Renderer(company_defaults={**DEFAULTS, "country": company_country})
        invite = renderer.render("in_person_invite", "in_person", ctx).attachments[0]
        return Calendar.from_ical(invite.content).walk("VEVENT")[0].decoded("dtstart")

    # The day after Wednesday 25 November 2026 is Thanksgiving: a US office is closed.
    assert meeting("US") == datetime(2026, 11, 27, 11, 0, tzinfo=ZoneInfo("America/New_York"))
    assert meeting("DE") == datetime(2026, 11, 26, 11, 0, tzinfo=ZoneInfo("America/New_York"))

    def call(candidate_country: str) -> str:
        row = {**OFFER_ROW, "country": candidate_country, "timezone": "Europe/Berlin"}
        ctx = candidate_context(row, row, now=datetime(2026, 4, 2, 16, 0, tzinfo=timezone.utc), message_key="k")
        return Renderer(company_defaults=DEFAULTS).render("offer", "voicemail", ctx).call_sheet_row["local_time_to_call"]

    # Thursday 2 April 2026, after hours in Berlin; Good Friday and Easter Monday are German holidays.
    assert call("DE") == "2026-04-07 10:00 CEST"
    assert call("US") == "2026-04-03 10:00 CEST"

    # No country: the zone's (tzdata's zone table). Wednesday evening before Thanksgiving in New York.
    row = {**OFFER_ROW, "country": None, "timezone": "America/New_York", "phone": "+1 646 555 0187"}
    ctx = candidate_context(row, row, now=datetime(2026, 11, 25, 23, 0, tzinfo=timezone.utc), message_key="k")
    called = Renderer(company_defaults=DEFAULTS).render("offer", "voicemail", ctx).call_sheet_row
    assert called["local_time_to_call"] == "2026-11-27 10:00 EST"


def test_a_voicemail_rendered_ahead_of_its_window_is_called_when_the_window_opens():
    """The planner puts a call where the candidate's hours meet the recruiter's day, or at the
    timing experiment's hour: the call sheet names that time, not the next business morning."""
    berlin, new_york = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
    monday_evening = datetime(2026, 11, 30, 19, 0, tzinfo=timezone.utc)  # 20:00 in Berlin
    overlap = calendar.call_window(monday_evening, berlin, "DE", new_york, "US").opens
    experiment_hour = (time(8), time(9))
    experiment = calendar.call_window(monday_evening, berlin, "DE", new_york, "US", experiment_hour).opens
    tuesday = datetime(2026, 12, 1, tzinfo=berlin)
    assert (overlap, experiment) == (tuesday.replace(hour=15), tuesday.replace(hour=8))
    row = {**OFFER_ROW, "id": 1, "message_key": "k", "campaign": "nov", "kind": "offer", "step": 0,
           "channel": "voicemail", "variant": "a", "timezone": "Europe/Berlin", "country": "DE",
           "phone": "+49 30 1234567"}  # fmt: skip

    def called(scheduled_for: datetime, now: datetime) -> str:
        renderer = Renderer(company_defaults=DEFAULTS)
        (rendered,), _ = render_chunk(renderer, [{**row, "scheduled_for": scheduled_for}], now=now)
        return rendered["call_sheet"]["local_time_to_call"]

    assert called(overlap, monday_evening) == "2026-12-01 15:00 CET"  # 09:00 for the recruiter in New York
    assert called(experiment, monday_evening) == "2026-12-01 08:00 CET"
    # Rendered once the window is open, the call is now; once the day is over, the next morning.
    assert called(overlap, datetime(2026, 12, 1, 15, 30, tzinfo=timezone.utc)) == "2026-12-01 16:30 CET"
    assert called(overlap, datetime(2026, 12, 1, 17, 0, tzinfo=timezone.utc)) == "2026-12-02 10:00 CET"


def test_keep_in_touch_mail_carries_one_click_unsubscribe(renderer):
    for channel in ("email", "in_person"):
        message = renderer.render("keep_in_touch", channel, context(REJECT_ROW, key="spring:c-2002:kit:0"))
        url = message.headers["List-Unsubscribe"].strip("<>")
        assert url.startswith(UNSUBSCRIBE + "/")
        assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert url in message.text and url in message.html
        token = url.rsplit("/", 1)[1]
        assert message_key_from_unsubscribe_token(token, SECRET) == "spring:c-2002:kit:0"
        assert message_key_from_unsubscribe_token(token, SecretStr("another secret")) is None
        assert "c-2002" not in token  # opaque, not the candidate id in clear
    for kind in ("offer", "rejection"):
        assert renderer.render(kind, "email", context(REJECT_ROW)).headers == {}


def test_keep_in_touch_without_an_unsubscribe_url_is_refused():
    with pytest.raises(RenderError) as caught:
        Renderer(company_defaults=DEFAULTS).render("keep_in_touch", "email", context(REJECT_ROW))
    assert caught.value.variable == "unsubscribe_url"
    assert "FOLLOWUP_UNSUBSCRIBE_URL" in str(caught.value)  # what to set, not only what is missing


def test_keep_in_touch_without_a_secret_to_sign_its_link_is_refused():
    with pytest.raises(RenderError) as caught:
        Renderer(company_defaults=DEFAULTS, unsubscribe_base_url=UNSUBSCRIBE).render(
            "keep_in_touch", "email", context(REJECT_ROW)
        )
    assert caught.value.variable == "unsubscribe_url" and "FOLLOWUP_SECRET_KEY" in str(caught.value)


def test_a_voicemail_with_no_call_back_number_names_the_setting_not_a_template_line():
    row = {**OFFER_ROW, "recruiter_phone": None}
    with pytest.raises(RenderError) as caught:
        Renderer(company_defaults={"office": DEFAULTS["office"]}).render("offer", "voicemail", context(row))
    assert caught.value.variable == "recruiter_phone" and "FOLLOWUP_PHONE" in str(caught.value)
    script = Renderer(company_defaults=DEFAULTS).render("offer", "voicemail", context(row)).script
    assert "212" in script and "555" in script and "0100" in script  # the company's number instead


def test_voicemail_row_for_the_call_sheet(renderer):
    message = renderer.render("offer", "voicemail", context(OFFER_ROW))
    assert message.text is None and message.html is None and message.subject is None
    assert message.call_sheet_row == {
        "name": "Priya Raman",
        "phone": "+16465550187",
        "local_time_to_call": "2024-03-15 10:00 EDT",
        "script": message.script,
    }
    assert len(message.script.split()) <= 75
    assert message.script.endswith("Congratulations, and speak soon!")
    assert message.script.count("(212) 555-0142") == 2  # the call-back number, said twice


def test_voicemail_without_a_usable_phone_fails_that_message(renderer):
    with pytest.raises(RenderError) as caught:
        renderer.render("offer", "voicemail", context({**OFFER_ROW, "phone": "not a number"}))
    assert caught.value.variable == "phone"


def test_english_text_for_a_german_reader_uses_german_conventions_and_english_words(renderer):
    row = {
        **OFFER_ROW,
        "locale": "de-DE",
        "currency": "EUR",
        "salary_min": 62000,
        "salary_max": 70000,
        "timezone": "Europe/Berlin",
        "country": "DE",
    }
    message = renderer.render("offer", "email", context(row))
    assert "62.000\u00a0€ to 70.000\u00a0€" in message.text  # CLDR: no-break space before the sign
    # The built-in templates are English: month names stay English ("15. April" is German).
    assert "15 April 2024" in message.text
    assert '<html lang="en-DE">' in message.html


def test_a_reader_whose_region_english_lacks_still_gets_their_money_format(renderer):
    row = {**OFFER_ROW, "locale": "pt-BR", "currency": "BRL", "salary_min": 386000, "salary_max": 520000,
           "timezone": "America/Sao_Paulo", "country": "BR"}  # fmt: skip
    message = renderer.render("offer", "email", context(row))
    assert "R$\u00a0386.000 to R$\u00a0520.000" in message.text  # Brazil's separators, not "R$386,000"
    assert "April 15, 2024" in message.text  # English words in English text


def test_a_locale_file_wins_for_that_locale_only(tmp_path):
    (tmp_path / "offer").mkdir()
    (tmp_path / "offer" / "email.subject.de.j2").write_text(
        "Gute Nachrichten, {{ first_name }}!\n", encoding="utf-8"
    )
    renderer = Renderer(tmp_path, company_defaults=DEFAULTS)
    german = renderer.render("offer", "email", context({**OFFER_ROW, "locale": "de_AT"}))
    english = renderer.render("offer", "email", context(OFFER_ROW))
    assert german.subject == "Gute Nachrichten, Priya!"
    assert english.subject.startswith("Good news, Priya")
    # No German text part: the English one, English month names in Austrian order.
    assert german.text.startswith("Hi Priya,\n\nI am delighted to tell you")
    assert "15 April 2024" in german.text and "April 15, 2024" in english.text


def test_company_voice_through_inheritance(tmp_path):
    folder = tmp_path / "_company" / "acme-robotics"
    folder.mkdir(parents=True)
    (folder / "email.txt.j2").write_text(
        '{% extends "_layout/email.txt.j2" %}\n{% block signature %}\nBeep boop,\n'
        '{{ recruiter_name or "The Acme crew" }} for Acme Robotics\n{% endblock %}\n',
        encoding="utf-8",
    )
    renderer = Renderer(tmp_path, company_defaults=DEFAULTS)
    acme = renderer.render("rejection", "email", context({**REJECT_ROW, "company": "ACME  Robotics"}))
    other = renderer.render("rejection", "email", context(REJECT_ROW))
    assert acme.text.endswith("Beep boop,\nMara Vogel for Acme Robotics\n")
    assert "Thank you again, and all the best," in acme.text  # the message itself is unchanged
    assert "Beep boop" not in other.text and "Beep boop" not in acme.html


def test_a_company_with_its_own_signature_in_the_built_in_templates(renderer):
    kestrel = {**OFFER_ROW, "company": "Kestrel Robotics"}
    message = renderer.render("offer", "email", context(kestrel))
    assert "Talent team, Kestrel Robotics" in message.text and "Talent team, Kestrel Robotics" in message.html
    assert message.text.rstrip().endswith("we build the robots that inspect bridges, turbines and pipelines.")
    house = renderer.render("offer", "email", context(OFFER_ROW))  # Northwind Analytics: the house signature
    assert "Talent team" not in house.text and "Northwind Analytics\n" in house.text


def test_company_defaults_fill_empty_fields():
    renderer = Renderer(company_defaults={**DEFAULTS, "company": "Default Co", "timezone": "Europe/Paris"})
    row = {**OFFER_ROW, "company": None, "timezone": None}
    message = renderer.render("in_person_invite", "in_person", context(row))
    assert "Default Co" in message.text
    assert "(CET)" in message.text
    with pytest.raises(ValueError, match="unknown company default"):
        Renderer(company_defaults={"offfice": "typo"})


def test_candidate_context_keeps_optional_fields_present():
    ctx = candidate_context(
        {
            "candidate_id": "c",
            "email": "e@example.com",
            "first_name": " Ann ",
            "last_name": "Bo",
            "timezone": float("nan"),
        },
        {
            "role": "Dev",
            "decision": "Offer",
            "reasons": " a ; ;b ",
            "salary_min": "50000",
            "start_date": "2024-05-01",
            "decided_at": datetime(2024, 3, 1, 12, 0),
        },
        now=NOW,
    )
    for optional in (
        "phone",
        "timezone",
        "company",
        "recruiter_name",
        "meeting_at",
        "offer_deadline",
        "salary_max",
        "currency",
        "location",
        "hiring_manager",
        "message_key",
    ):
        assert ctx[optional] is None
    assert ctx["first_name"] == "Ann" and ctx["full_name"] == "Ann Bo"
    assert ctx["decision"] == "offer"
    assert ctx["reasons"] == ["a", "b"] and ctx["interests"] == []
    assert ctx["salary_min"] == 50000 and isinstance(ctx["salary_min"], int)
    assert ctx["start_date"].isoformat() == "2024-05-01"
    assert ctx["decided_at"].tzinfo is not None
    assert ctx["reply_by"].isoformat() == "2024-03-29"  # no deadline: two weeks after sending
    late = datetime(2024, 3, 16, 2, 0, tzinfo=timezone.utc)  # still Friday evening in New York
    row = {"first_name": "A", "timezone": "America/New_York"}
    assert candidate_context(row, {}, now=late)["reply_by"].isoformat() == "2024-03-29"


def test_preview_dict_is_json(renderer):
    message = renderer.render("offer", "in_person", context(OFFER_ROW))
    shown = json.loads(json.dumps(message.to_dict()))
    assert list(shown)[:8] == [
        "kind",
        "channel",
        "variant",
        "subject",
        "text",
        "html",
        "script",
        "attachments",
    ]
    assert shown["attachments"][0]["content"].startswith("BEGIN:VCALENDAR")


def test_builtin_templates_are_the_repository_folder():
    assert builtin_templates_dir() == Path(__file__).resolve().parents[1] / "templates"


def test_samples_cover_both_decisions_and_hostile_values():
    samples = sample_contexts()
    assert {s["decision"] for s in samples} == {"offer", "reject"}
    assert any(s["first_name"] == "{{ 7*7 }}" for s in samples)
    assert any(s["company"] is None for s in samples)
