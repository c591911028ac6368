"""Template errors, the sandbox and `templates check`: what a template author sees."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from followup.rendering import Renderer, RenderError, candidate_context, check_templates

NOW = datetime(2024, 3, 15, 14, 0, tzinfo=timezone.utc)
ROW = {
    "candidate_id": "c-1",
    "email": "ann@example.com",
    "first_name": "Ann",
    "last_name": "Bo",
    "phone": "+1 212 555 0187",
    "role": "Analyst",
    "decision": "offer",
    "recruiter_phone": "+1 212 555 0142",
}
DEFAULTS = {"office": "1 Main St", "phone": "+1 212 555 0100"}


def write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def context(row: dict = ROW) -> dict:
    return candidate_context(row, row, now=NOW, message_key="k-1")


def test_the_builtin_templates_pass_the_check():
    assert check_templates() == []


def test_undefined_variable_names_template_line_and_variable(tmp_path):
    write(
        tmp_path,
        "offer/email.txt.j2",
        '{% extends layout["email.txt"] %}\n{% block body %}\nHi {{ first_name }},\n'
        "{{ frist_name }} is a typo\n{% endblock %}\n",
    )
    with pytest.raises(RenderError) as caught:
        Renderer(tmp_path).render("offer", "email", context())
    error = caught.value
    assert (error.template, error.line, error.variable) == ("offer/email.txt.j2", 4, "frist_name")
    assert str(error) == "offer/email.txt.j2 line 4 (variable 'frist_name'): 'frist_name' is undefined"


def test_undefined_variable_in_the_layout_points_at_the_layout(tmp_path):
    write(tmp_path, "_layout/email.txt.j2", "{% block body %}{% endblock %}\n\n{{ signature_txt }}\n")
    with pytest.raises(RenderError) as caught:
        Renderer(tmp_path).render("rejection", "email", context())
    assert (caught.value.template, caught.value.line, caught.value.variable) == (
        "_layout/email.txt.j2",
        3,
        "signature_txt",
    )


def test_printing_an_empty_optional_field_is_an_error_not_a_blank(tmp_path):
    write(tmp_path, "offer/email.subject.j2", "Hi {{ first_name }}\nfrom {{ role }} {{ hiring_manager }}\n")
    with pytest.raises(RenderError) as caught:
        Renderer(tmp_path).render("offer", "email", context())
    assert (caught.value.template, caught.value.line, caught.value.variable) == (
        "offer/email.subject.j2",
        2,
        "hiring_manager",
    )
    assert "explicit fallback" in str(caught.value)


def test_sandbox_refuses_python_internals_in_user_templates(tmp_path):
    write(tmp_path, "offer/email.subject.j2", "Offer {{ ''.__class__.__mro__ }}\n")
    with pytest.raises(RenderError) as caught:
        Renderer(tmp_path).render("offer", "email", context())
    assert "refused by the sandbox" in str(caught.value)
    assert (caught.value.template, caught.value.line) == ("offer/email.subject.j2", 1)
    problems = check_templates(tmp_path)
    assert any(p.template == "offer/email.subject.j2" and "sandbox" in p.message for p in problems)


def test_sandbox_refuses_internals_hidden_in_a_branch_no_sample_takes(tmp_path):
    write(
        tmp_path,
        "offer/email.subject.j2",
        "Offer{% if step > 99 %}{{ first_name.__class__.__init__.__globals__ }}{% endif %}\n",
    )
    problems = check_templates(tmp_path)
    assert [(p.template, p.line) for p in problems] == [("offer/email.subject.j2", 1)] * 3
    assert {p.message.split("'")[1] for p in problems} == {"__class__", "__init__", "__globals__"}


def test_a_76_word_voicemail_fails_the_check_and_75_passes(tmp_path):
    write(tmp_path, "offer/voicemail.txt.j2", " ".join(["word"] * 73) + " {{ callback_phone }}\n")
    assert check_templates(tmp_path) == []  # (212) 555-0142: 75 words
    write(tmp_path, "offer/voicemail.txt.j2", " ".join(["word"] * 74) + " {{ callback_phone }}\n")
    problems = check_templates(tmp_path)
    assert len(problems) == 1
    assert problems[0].template == "offer/voicemail.txt.j2"
    assert "76 words, more than the 75 that fit in 30 seconds" in problems[0].message
    with pytest.raises(RenderError, match="76 words"):
        Renderer(tmp_path).render("offer", "voicemail", context())


def test_check_reports_long_subjects_empty_text_and_unknown_variables(tmp_path):
    write(tmp_path, "rejection/email.subject.j2", "{{ first_name }}, " + "a very long subject " * 4 + "\n")
    write(tmp_path, "offer/email.txt.j2", "{% if step > 5 %}{{ unknown_field }}{% endif %}\n")
    problems = {(p.template, p.line): p.message for p in check_templates(tmp_path)}
    assert "more than the 78 of one header line" in problems[("rejection/email.subject.j2", None)]
    assert problems[("offer/email.txt.j2", None)] == "the plain-text part is empty"
    assert problems[("offer/email.txt.j2", 1)].startswith("unknown variable 'unknown_field'")


def test_check_reports_files_the_renderer_would_never_use(tmp_path):
    write(tmp_path, "offer/emial.txt.j2", "x\n")
    write(tmp_path, "offerr/email.txt.j2", "x\n")
    write(tmp_path, "offer.a/email.txt.j2", "x\n")
    write(tmp_path, "offer/voicemail.html.j2", "x\n")
    write(tmp_path, "offer/email.txt.xx.j2", "x\n")
    reported = {p.template for p in check_templates(tmp_path)}
    assert reported >= {
        "offer/emial.txt.j2",
        "offerr/email.txt.j2",
        "offer.a/email.txt.j2",
        "offer/voicemail.html.j2",
        "offer/email.txt.xx.j2",
    }


def test_check_reports_a_syntax_error_with_its_line(tmp_path):
    write(tmp_path, "keep_in_touch/email.txt.j2", "Hi\n{% if first_name %}\nno end\n")
    problems = [p for p in check_templates(tmp_path) if p.template == "keep_in_touch/email.txt.j2"]
    assert problems and problems[0].line is not None and "syntax error" in problems[0].message


def test_check_catches_unescaped_candidate_data_in_html(tmp_path):
    write(tmp_path, "offer/email.html.j2", "<p>{{ last_name|safe }}</p>\n")
    problems = check_templates(tmp_path)
    assert any(p.template == "offer/email.html.j2" and "unescaped" in p.message for p in problems)
