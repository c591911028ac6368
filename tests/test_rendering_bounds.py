"""A user's templates are bounded: a message that would take too long, write too much or build
a huge number fails alone with the bound named, and the batch goes on; a template folder
cannot reach outside itself through a symbolic link."""

from __future__ import annotations

import tracemalloc
from datetime import datetime, timezone
from pathlib import Path

import pytest

from followup.rendering import Renderer, RenderError, candidate_context, check_templates, render_chunk
from followup.rendering import bounds

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
# Loops that finish on their own, in seconds: refused here only because the bound is lowered.
SLOW = "{% for a in range(3000) %}{% for b in range(3000) %}{% endfor %}{% endfor %}"


@pytest.fixture
def quick(monkeypatch):
    """The time bound at 50 ms, so a test need not wait 2 s for each message it stops."""
    monkeypatch.setattr(bounds, "MAX_RENDER_SECONDS", 0.05)


def folder(root: Path, text: str, name: str = "offer/email.txt.j2") -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return root


def render_error(root: Path, row: dict = ROW) -> RenderError:
    with pytest.raises(RenderError) as caught:
        Renderer(root).render("offer", "email", candidate_context(row, row, now=NOW, message_key="k-1"))
    return caught.value


@pytest.mark.usefixtures("quick")
@pytest.mark.parametrize(
    "text",
    [
        SLOW,
        "{% for a in 'x' * 3000 %}{% for b in [0] * 3000 %}{% endfor %}{% endfor %}",  # no range() in sight
        "{% macro twice(n) %}{% if n %}{{ twice(n - 1) }}{{ twice(n - 1) }}{% endif %}{% endmacro %}{{ twice(23) }}",
    ],
    ids=["nested-range", "nested-sequences", "recursion"],
)
def test_a_message_that_takes_too_long_is_stopped_naming_the_template_and_the_bound(tmp_path, text):
    error = render_error(folder(tmp_path, text))

    assert (error.template, error.line) == ("offer/email.txt.j2", 1)
    assert "over the time bound" in error.message and "0.05 s" in error.message


def test_text_past_the_output_bound_is_refused_before_it_is_built(tmp_path):
    tracemalloc.start()
    try:
        error = render_error(folder(tmp_path, "{{ 'x' * 2000000 }}"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert error.template == "offer/email.txt.j2" and "over the output bound" in error.message
    assert "2,000,000" in error.message and "1,000,000" in error.message
    assert peak < 1_000_000  # the two million characters were never made


@pytest.mark.parametrize(
    "text",
    [
        "{% set ns = namespace(s='x') %}{% for i in range(21) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
        "{% set ns = namespace(s=['x']) %}{% for i in range(21) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}",
        "{{ 'x'|center(1500000) }}",  # a filter pads first: the output counts it as it goes
        "{% for i in range(3) %}{{ 'x' * 400000 }}{% endfor %}",  # each piece fits, the message does not
    ],
    ids=["doubling-text", "doubling-list", "padding-filter", "many-pieces"],
)
def test_every_way_of_writing_too_much_meets_the_output_bound(tmp_path, text):
    error = render_error(folder(tmp_path, text))
    assert error.template == "offer/email.txt.j2" and "over the output bound" in error.message


def test_huge_numbers_are_refused_before_they_are_computed(tmp_path):
    for n, text in enumerate(["{{ 10 ** (10 ** 7) }}", "{{ (10 ** 90) * (10 ** 90) }}", "{{ (7 ** 300) % 10 }}"]):
        error = render_error(folder(tmp_path / str(n), text))
        assert "over the number bound" in error.message and "more than the 100" in error.message, text


def test_ordinary_arithmetic_text_and_loops_render_as_before(tmp_path):
    text = (
        "{{ 2 ** 10 }} {{ 85000 * 12 }} {{ 'ab' * 3 }} {{ [1] + [2] }} {{ first_name ~ '!' }}"
        "{% for i in range(3) %} {{ loop.index }}/{{ loop.length }}{% endfor %}"
    )
    message = Renderer(folder(tmp_path, text)).render("offer", "email", candidate_context(ROW, ROW, now=NOW))
    assert message.text == "1024 1020000 ababab [1, 2] Ann! 1/3 2/3 3/3\n"


@pytest.mark.usefixtures("quick")
def test_a_message_over_a_bound_fails_alone_and_the_batch_goes_on(tmp_path):
    root = folder(tmp_path, "{% if first_name == 'Loop' %}" + SLOW + "{% endif %}Hi {{ first_name }}\n")
    rows = [
        {**ROW, "id": n, "message_key": f"k-{n}", "campaign": "c", "kind": "offer", "channel": "email", "step": 0,
         "candidate_id": f"c-{n}", "first_name": name}
        for n, name in enumerate(["Ann", "Loop", "Bo"])
    ]  # fmt: skip

    rendered, failed = render_chunk(Renderer(root), rows, now=NOW)

    assert [row["id"] for row in rendered] == [0, 2] and rendered[1]["text_body"].startswith("Hi Bo")
    assert [row["id"] for row in failed] == [1]
    assert failed[0]["last_error"].startswith("offer/email.txt.j2 line 1") and "time bound" in failed[0]["last_error"]


@pytest.mark.usefixtures("quick")
def test_templates_check_reports_a_template_that_never_finishes_and_finishes(tmp_path):
    problems = check_templates(folder(tmp_path, SLOW))
    assert [(p.template, p.line) for p in problems] == [("offer/email.txt.j2", 1)]
    assert "over the time bound" in problems[0].message


@pytest.mark.parametrize("link", ["file", "folder"])
def test_an_include_that_leaves_the_folder_through_a_symlink_is_refused(tmp_path, link):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "note.j2").write_text("the database password", encoding="utf-8")
    root = folder(tmp_path / "templates", "Hi {% include '_partials/note.j2' %}\n")
    if link == "file":
        (root / "_partials").mkdir()
        (root / "_partials" / "note.j2").symlink_to(outside / "note.j2")
    else:
        (root / "_partials").symlink_to(outside, target_is_directory=True)

    error = render_error(root)

    assert (error.template, error.line) == ("offer/email.txt.j2", 1)
    assert "refused by the sandbox: _partials/note.j2 resolves outside the templates folder" in error.message
    problems = check_templates(root)
    assert any(p.template == "offer/email.txt.j2" and "outside the templates folder" in p.message for p in problems)
    assert not any("password" in p.message for p in problems)


def test_a_symlink_that_stays_inside_the_folder_is_followed(tmp_path):
    root = folder(tmp_path, "Hi {% include '_partials/alias.j2' %}\n")
    folder(root, "{{ first_name }}", "_partials/note.j2")
    (root / "_partials" / "alias.j2").symlink_to(root / "_partials" / "note.j2")

    message = Renderer(root).render("offer", "email", candidate_context(ROW, ROW, now=NOW))

    assert message.text == "Hi Ann\n"
