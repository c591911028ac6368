"""A/B variants and render_chunk: what the pipeline and the analytics rely on."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

from followup.rendering import Renderer, assign_variant, available_variants, render_chunk

NOW = datetime(2024, 3, 15, 14, 0, tzinfo=timezone.utc)
DEFAULTS = {"office": "1 Main St", "phone": "+1 212 555 0100"}


def test_variant_assignment_is_stable_across_runs():
    # Fixed expectations: a change of hash would silently reshuffle running experiments.
    assert [assign_variant("spring", f"c-{n}", ["a", "b"]) for n in range(8)] == [
        "b",
        "a",
        "b",
        "b",
        "b",
        "a",
        "b",
        "a",
    ]
    code = "from followup.rendering import assign_variant; print(assign_variant('spring', 'c-7', ['a', 'b', 'c']))"
    runs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert runs == {assign_variant("spring", "c-7", ["a", "b", "c"])}


def test_variant_assignment_is_roughly_balanced():
    for variants in (["a", "b"], ["a", "b", "c"]):
        counts = Counter(assign_variant("autumn", f"cand-{n}", variants) for n in range(12_000))
        expected = 12_000 / len(variants)
        assert set(counts) == set(variants)
        assert all(abs(count - expected) < 0.05 * expected for count in counts.values()), counts


def test_a_variant_folder_changes_only_its_parts(tmp_path: Path):
    (tmp_path / "offer.b").mkdir()
    (tmp_path / "offer.b" / "email.subject.j2").write_text(
        "B: {{ first_name }}, you got it\n", encoding="utf-8"
    )
    assert available_variants("offer", tmp_path) == ["a", "b"]
    assert available_variants("rejection", tmp_path) == ["a"]
    assert available_variants("offer") == ["a", "b"]  # ours: the shipped subject-line test, offer.b
    renderer = Renderer(tmp_path, company_defaults=DEFAULTS)
    row = _row(1)
    base = renderer.render("offer", "email", _ctx(row), variant="a")
    b = renderer.render("offer", "email", _ctx(row), variant="b")
    assert b.subject == "B: Ann1, you got it" and base.subject.startswith("Good news")
    assert b.text == base.text and b.html == base.html  # falls back to the base folder
    assert (b.variant, base.variant) == ("b", "a")


def _row(n: int, **changes) -> dict:
    row = {
        "id": n,
        "message_key": f"k-{n}",
        "campaign": "spring",
        "candidate_id": f"c-{n}",
        "kind": "offer",
        "step": 0,
        "channel": "email",
        "variant": None,
        "scheduled_for": NOW,
        "email": f"ann{n}@example.com",
        "first_name": f"Ann{n}",
        "last_name": "Bo",
        "phone": "+1 212 555 0187",
        "timezone": "America/New_York",
        "role": "Analyst",
        "decision": "offer",
    }
    row.update(changes)
    return row


def _ctx(row: dict) -> dict:
    from followup.rendering import candidate_context

    return candidate_context(row, row, now=NOW, message_key=row["message_key"])


def test_render_chunk_marks_bad_rows_failed_and_renders_the_rest(tmp_path: Path):
    (tmp_path / "offer.b").mkdir()
    (tmp_path / "offer.b" / "email.subject.j2").write_text("B {{ first_name }}\n", encoding="utf-8")
    renderer = Renderer(tmp_path, company_defaults=DEFAULTS)
    rows = [
        _row(1),
        _row(2, channel="voicemail", phone=None),
        _row(3, channel="voicemail"),
        _row(4, kind="keep_in_touch", decision="reject"),  # no unsubscribe URL configured
        _row(5, variant="b"),
        _row(6, kind="carrier_pigeon"),
    ]
    rendered, failed = render_chunk(renderer, rows)
    assert [r["id"] for r in rendered] == [1, 3, 5]
    assert all(r["status"] == "rendered" for r in rendered)
    first, voicemail, fixed = rendered
    assert first["variant"] == assign_variant("spring", "c-1", ["a", "b"])
    assert first["template"] == "offer/email.html.j2"  # variant b changes only the subject
    assert (
        first["subject"]
        and first["text_body"].startswith("Hi Ann1,")
        and first["html_body"].startswith("<!DOCTYPE html>")
    )
    assert voicemail["template"] == "offer/voicemail.txt.j2" and voicemail["html_body"] is None
    assert voicemail["text_body"].startswith("Hi Ann3, this is")
    assert fixed["variant"] == "b" and fixed["subject"] == "B Ann5"
    reasons = {f["id"]: f["last_error"] for f in failed}
    assert set(reasons) == {2, 4, 6} and all(f["status"] == "failed" for f in failed)
    assert reasons[2].startswith("offer/voicemail.txt.j2") and "(variable 'phone')" in reasons[2]
    assert "(variable 'unsubscribe_url')" in reasons[4]
    assert "carrier_pigeon" in reasons[6]


def test_render_chunk_speaks_from_the_scheduled_time():
    renderer = Renderer(company_defaults=DEFAULTS)
    later = datetime(2024, 4, 1, 14, 0, tzinfo=timezone.utc)
    (now_row,), _ = render_chunk(renderer, [_row(1, variant="a")])
    (later_row,), _ = render_chunk(renderer, [_row(1, variant="a", scheduled_for=later)])
    assert "March 29, 2024" in now_row["text_body"]  # two weeks after sending
    assert "April 15, 2024" in later_row["text_body"]


def test_a_variant_turned_off_is_not_sent_not_even_to_rows_that_had_it(tmp_path: Path):
    (tmp_path / "offer.c").mkdir()
    (tmp_path / "offer.c" / "email.subject.j2").write_text("C {{ first_name }}\n", encoding="utf-8")
    assert available_variants("offer", tmp_path) == ["a", "b", "c"]
    renderer = Renderer(tmp_path, company_defaults=DEFAULTS, variants_off=["offer.b"])
    assert renderer.variants("offer") == ["a", "c"] and renderer.variants("rejection") == ["a"]
    rows = [_row(n) for n in range(40)] + [_row(99, variant="b"), _row(98, variant="c")]
    rendered, failed = render_chunk(renderer, rows)
    assert failed == [] and {r["variant"] for r in rendered} == {"a", "c"}
    assert next(r for r in rendered if r["id"] == 98)["variant"] == "c"  # one still sent stays
    assert not [r for r in rendered if "love you to join us" in r["subject"]]  # offer.b's subject line


def test_the_setting_names_variants_by_kind_and_never_the_base():
    from followup.config import Settings

    assert Settings(variants_off=" offer.b, rejection.b ,offer.b").variants_off == ("offer.b", "rejection.b")
    assert Settings().variants_off == ()
    for wrong, why in (("offer.a", "base variant"), ("ofer.b", "not <kind>.<variant>"), ("offer", "not <kind>")):
        with pytest.raises(ValueError, match=why):
            Settings(variants_off=wrong)
