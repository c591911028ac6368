"""Reply intent: the precedence rules, quote headers, return dates, headers, and held-out accuracy."""

import hashlib
import json
import pathlib
from datetime import date, datetime, timezone

import pytest

from followup.tracking.intent import evaluate, read_reply

DATA = pathlib.Path(__file__).parent / "data" / "replies"
HELDOUT_SHA256 = "7f53b30b8fc663f3c03b80481219d45df3913361408324a710ebf5cd0188c74d"
OFFER_QUOTE = "> We are pleased to offer you the role. To accept, reply to this email.\n> Best, Dana"


def test_an_explicit_decline_beats_polite_words():
    assert read_reply(text="Thank you so much, but I will pass.").outcome == "declined"


def test_taking_a_job_elsewhere_is_a_decline_even_with_the_word_accept():
    reading = read_reply(text="I accepted another offer, sorry.")
    assert reading.outcome == "declined", reading.reasons


def test_please_stop_emailing_me_is_an_opt_out():
    assert read_reply(text="Please stop emailing me.").outcome == "opt_out"


def test_interest_with_a_question_is_a_question():
    assert read_reply(text="I'm very interested! Is the salary negotiable?").outcome == "question"


def test_quoted_text_never_counts():
    text = "Thanks for the note.\n\nOn Mon, 30 Nov 2026 at 10:02, Dana <dana@acme.example> wrote:\n" + OFFER_QUOTE
    reading = read_reply(text=text)
    assert reading.outcome == "replied"
    assert "accept" not in reading.new_text


def test_a_clear_acceptance_is_accepted():
    assert read_reply(text="Yes!").outcome == "accepted"
    assert read_reply(text="Ja").outcome == "accepted"


@pytest.mark.parametrize("text", [
    "I was blown away by the team, thanks for the call.",
    "I will return the signed form once I have read it.",
    "Si tiene preguntas, le escribo mañana.",
    "Do I need to book a plane ticket for the first day?",
])
def test_everyday_words_are_not_read_as_absence_bots_or_acceptance(text):
    assert read_reply(text=text).outcome in {"replied", "question"}


def test_no_clear_intent_is_replied():
    assert read_reply(text="Received, thank you.").outcome == "replied"


@pytest.mark.parametrize("header", [
    "El lun, 30 nov 2026 a las 10:02, Dana Recruiter (<dana@acme.example>) escribió:",
    "Em seg., 30 de nov. de 2026 às 10:02, Dana Recruiter <dana@acme.example> escreveu:",
])
def test_spanish_and_portuguese_quote_headers_cut_the_history(header):
    reading = read_reply(text=f"Gracias.\n\n{header}\nPara aceitar a oferta, responda.\nSi declina, avise.")
    assert reading.new_text == "Gracias."
    assert reading.outcome == "replied"


@pytest.mark.parametrize(("language", "text", "expected"), [
    ("en", "I am out of the office and will be back on 12 January.", date(2027, 1, 12)),
    ("de", "Ich bin bis zum 14. Januar nicht im Büro.", date(2027, 1, 14)),
    ("fr", "Je suis en congés et serai de retour le 4 mars.", date(2027, 3, 4)),
    ("es", "Estoy de vacaciones y volveré el 16 de enero.", date(2027, 1, 16)),
    ("pt", "Estou de férias e volto no dia 17 de janeiro.", date(2027, 1, 17)),
])
def test_the_return_date_is_read_in_each_language(language, text, expected):
    reading = read_reply(text=text, received_at=datetime(2026, 12, 2, 9, tzinfo=timezone.utc))
    assert (reading.outcome, reading.language, reading.returns_on) == ("out_of_office", language, expected)


def test_a_relative_return_date_is_anchored_on_received_at():
    reading = read_reply(text="Out of office, back on Monday.", received_at=datetime(2026, 12, 2, tzinfo=timezone.utc))
    assert reading.returns_on == date(2026, 12, 7)


def test_headers_beat_wording():
    reading = read_reply(text="Yes, I accept!", headers="Auto-Submitted: auto-replied\n")
    assert reading.outcome == "auto_reply"
    assert reading.reasons[0] == "header Auto-Submitted: auto-replied"


def test_x_auto_response_suppress_does_not_make_an_auto_reply():
    reading = read_reply(text="I accept!", headers={"X-Auto-Response-Suppress": "All"})
    assert reading.outcome == "accepted"


def test_html_only_replies_are_read():
    assert read_reply(text=None, html="<p>Yes, I accept.</p><blockquote>If you decline</blockquote>").outcome \
        == "accepted"


def _load(name):
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def test_the_held_out_set_is_frozen():
    assert hashlib.sha256((DATA / "heldout.jsonl").read_bytes()).hexdigest() == HELDOUT_SHA256


def test_held_out_accuracy_is_at_least_90_percent():
    result = evaluate(_load("heldout.jsonl"))
    table = json.dumps(result, indent=1, ensure_ascii=False)
    assert result["overall"] >= 0.90, table
