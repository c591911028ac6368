"""The cadence file: the shipped defaults as the README's table says them, a user's own file in
their place, and every mistake refused at start-up with its line and the problem."""

from __future__ import annotations

import tomllib
from datetime import time
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from followup.cadence.file import CadenceFileError, default_cadence_file, load_cadence, parse_cadence
from followup.cadence.spec import ANY_CHANNEL, OWN_CHANNEL, Cadence, CadenceSpec, Experiment, Step
from followup.cli import app
from followup.config import Settings

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEXT = default_cadence_file().read_text(encoding="utf-8")

# The table of defaults, written out by hand: the shipped file must say exactly this.
TABLE = CadenceSpec(
    cadences=(
        Cadence("offer", "email", (
            Step("offer", ("email",)),
            Step("offer_nudge", ("email",), 2),
            Step("offer_nudge", ("email",), 3),
            Step("offer_nudge", ("voicemail", "in_person"), 2),
        )),
        Cadence("offer", "voicemail", (
            Step("offer", ("voicemail",)),
            Step("offer", ("email",), 0),
            Step("offer_nudge", ("voicemail",), 2),
            Step("offer_nudge", ("email",), 3),
        )),
        Cadence("offer", "in_person", (
            Step("offer", ("in_person",)),
            Step("offer_nudge", ("email",), 2),
            Step("offer_nudge", ("voicemail",), 3),
        )),
        Cadence("reject", ANY_CHANNEL, (Step("rejection", (OWN_CHANNEL,)),)),
    ),
    send_window=(time(9, 0), time(17, 0)),
    reject_delay_business_days=1,
    out_of_office_business_days=3,
    keep_in_touch_weeks=None,
    experiment=Experiment(share=0.0, max_delay_days=3, hours=(8, 18)),
    source=str(default_cadence_file()),
)  # fmt: skip


def edited(old: str, new: str, text: str = DEFAULT_TEXT) -> str:
    assert text.count(old) >= 1, f"{old!r} is not in the shipped file"
    return text.replace(old, new, 1)


def line_of(text: str, marker: str) -> int:
    """The line (1-based) a refusal about `marker` must name."""
    return text[: text.index(marker)].count("\n") + 1


def test_the_shipped_file_says_what_the_readme_table_says():
    assert load_cadence() == TABLE
    assert load_cadence(None) is load_cadence()  # read once per process


def test_every_decision_and_channel_finds_its_cadence_in_the_shipped_file():
    spec = load_cadence()
    assert spec.cadence_for("offer", "voicemail").steps[1] == Step("offer", ("email",), 0)
    assert {spec.cadence_for("reject", channel).first_channel for channel in ("email", "voicemail", "in_person")} == {
        ANY_CHANNEL
    }


def test_the_shipped_file_is_package_data_so_an_installed_tool_has_it():
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "default.yaml" in package_data["followup.cadence"]
    assert default_cadence_file().parent == ROOT / "followup" / "cadence"


def test_a_users_file_replaces_the_defaults(tmp_path):
    text = DEFAULT_TEXT
    for old, new in [
        ('opens: "09:00"', 'opens: "08:30"'),
        ('closes: "17:00"', "closes: 16:00"),  # unquoted: YAML 1.1 would make it a number
        ("rejection_delay_business_days: 1", "rejection_delay_business_days: 2"),
        ("out_of_office_postpone_business_days: 3", "out_of_office_postpone_business_days: 5"),
        ("  enabled: false\n  weeks: 12", "  enabled: true\n  weeks: 8"),
        ("share: 0\n", "share: 0.3\n"),
        ("from: 8\n    to: 18", "from: 10\n    to: 16"),
        ("hold_email_nudges_until_replies_tracked: false", "hold_email_nudges_until_replies_tracked: true"),
        ("        channel: [voicemail, in_person]\n        after_business_days: 2",
         "        channel: [in_person, voicemail]\n        after_business_days: 4"),
    ]:  # fmt: skip
        text = edited(old, new, text)
    path = tmp_path / "mine.yaml"
    path.write_text(text, encoding="utf-8")

    spec = load_cadence(path)

    assert spec.send_window == (time(8, 30), time(16, 0))
    assert (spec.reject_delay_business_days, spec.out_of_office_business_days) == (2, 5)
    assert spec.keep_in_touch_weeks == 8
    assert spec.experiment == Experiment(share=0.3, max_delay_days=3, hours=(10, 16))
    assert spec.hold_email_nudges_until_replies_tracked
    assert spec.cadence_for("offer", "email").steps[3] == Step("offer_nudge", ("in_person", "voicemail"), 4)
    assert spec.source == str(path) and load_cadence() == TABLE


def test_a_file_written_before_the_hold_switch_keeps_working_with_nudges_not_held():
    text = edited("hold_email_nudges_until_replies_tracked: false\n", "")
    assert not parse_cadence(text, "older.yaml").hold_email_nudges_until_replies_tracked


def test_keep_in_touch_weeks_are_checked_even_while_it_is_off():
    text = edited("  weeks: 12", "  weeks: 0")
    with pytest.raises(CadenceFileError, match="keep_in_touch: weeks must be a whole number of 1 or more, not '0'"):
        parse_cadence(text, "mine.yaml")


# (what the file says instead, the text on the line the refusal must name, what it must say)
REFUSALS = {
    "a word for a number": (
        ("        after_business_days: 2\n", "        after_business_days: two\n"), "two",
        "step 1 of offer/email: after_business_days must be a whole number of 0 or more, not 'two'"),
    "a negative delay": (
        ("        after_business_days: 3\n", "        after_business_days: -1\n"), "-1",
        "step 2 of offer/email: after_business_days must be a whole number of 0 or more, not '-1'"),
    "a fraction of a day": (
        ("rejection_delay_business_days: 1", "rejection_delay_business_days: 1.5"), "1.5",
        "rejection_delay_business_days must be a whole number of 0 or more, not '1.5'"),
    "a missing delay": (
        ("        after_business_days: 3\n", ""), "- kind: offer_nudge\n        channel: email\n      - kind: offer_nudge",
        "step 2 of offer/email: after_business_days is missing"),
    "a delay on the first step": (
        ("        channel: email\n      - kind: offer_nudge",
         "        channel: email\n        after_business_days: 1\n      - kind: offer_nudge"),
        "after_business_days: 1\n", "step 0 of offer/email: the first step waits for nothing"),
    "a typo in a top-level key": (
        ("send_window:", "send_windwo:"), "send_windwo",
        "unknown key 'send_windwo'; the keys are send_window, "),
    "a typo in a step's key": (
        ("        after_business_days: 3\n", "        after_busines_days: 3\n"), "after_busines_days",
        "step 2 of offer/email: unknown key 'after_busines_days'"),
    "a key given twice": (
        ('  closes: "17:00"', '  closes: "17:00"\n  closes: "18:00"'), '  closes: "18:00"',
        "send_window: closes is given twice"),
    "an unknown kind": (
        ("kind: rejection", "kind: regret"), "regret",
        "step 0 of reject/any: kind must be offer, offer_nudge, rejection, keep_in_touch or in_person_invite, "
        "not 'regret'"),
    "an offer in a rejection's cadence": (
        ("kind: rejection", "kind: offer_nudge"), "kind: offer_nudge\n        channel: own",
        "step 0 of reject/any: offer_nudge is not a message for the decision reject"),
    "an unknown channel in a list": (
        ("channel: [voicemail, in_person]", "channel: [voicemail, sms]"), "channel: [voicemail, sms]",
        "step 3 of offer/email: channel must be email, voicemail, in_person or own, not 'sms'"),
    "an empty channel list": (
        ("channel: [voicemail, in_person]", "channel: []"), "channel: []",
        "step 3 of offer/email: channel must name one channel or more"),
    "own in a list": (
        ("channel: own", "channel: [own, email]"), "channel: [own, email]",
        "own (the candidate's own channel) stands alone"),
    "an unknown decision": (
        ("  - decision: reject", "  - decision: maybe"), "decision: maybe",
        "cadence 4: decision must be offer or reject, not 'maybe'"),
    "an unknown first channel": (
        ("first_channel: any", "first_channel: sms"), "first_channel: sms",
        "cadence 4: first_channel must be email, voicemail, in_person or any, not 'sms'"),
    "a cadence given twice": (
        ("    first_channel: in_person", "    first_channel: email"), "  - decision: offer\n    first_channel: email\n"
        "    steps:\n      - kind: offer\n        channel: in_person",
        "cadence 3: offer/email has a cadence already"),
    "a channel without a rejection": (
        ("first_channel: any", "first_channel: email"), "  - decision: offer\n    first_channel: email",
        "cadences: no cadence for reject by voicemail"),
    "no steps": (
        ("    steps:\n      - kind: rejection\n        channel: own", "    steps: []"), "steps: []",
        "reject/any: steps must be a list of one step or more"),
    "a window that closes before it opens": (
        ('closes: "17:00"', 'closes: "08:00"'), "08:00",
        "send_window: closes (08:00) must come after opens (09:00)"),
    "a time that is not HH:MM": (
        ('opens: "09:00"', 'opens: "9am"'), "9am",
        "send_window: opens must be a time of day as HH:MM"),
    "an hour past midnight": (
        ('opens: "09:00"', 'opens: "25:00"'), "25:00",
        "send_window: opens must be a time of day as HH:MM"),
    "a share over 1": (
        ("share: 0\n", "share: 1.5\n"), "1.5", "experiment: share must be a number from 0 to 1, not '1.5'"),
    "a share that is a yes": (
        ("share: 0\n", "share: yes\n"), "share: yes", "experiment: share must be a number from 0 to 1, not 'yes'"),
    "an hour past 24": (
        ("to: 18", "to: 25"), "to: 25", "experiment: hours: to must be a whole number from 0 to 24, not '25'"),
    "experiment hours the wrong way round": (
        ("from: 8\n    to: 18", "from: 18\n    to: 8"), "to: 8", "experiment: hours: to (8) must be after from (18)"),
    "a negative experiment delay": (
        ("max_delay_business_days: 3", "max_delay_business_days: -2"), "-2",
        "experiment: max_delay_business_days must be a whole number of 0 or more, not '-2'"),
    "keep_in_touch not a yes or no": (
        ("  enabled: false\n", "  enabled: sometimes\n"), "sometimes",
        "keep_in_touch: enabled must be true or false, not 'sometimes'"),
    "the hold switch not a yes or no": (
        ("hold_email_nudges_until_replies_tracked: false", "hold_email_nudges_until_replies_tracked: later"),
        "hold_email_nudges_until_replies_tracked: later",
        "hold_email_nudges_until_replies_tracked must be true or false, not 'later'"),
    "the hold switch as a number": (
        ("hold_email_nudges_until_replies_tracked: false", "hold_email_nudges_until_replies_tracked: 1"),
        "hold_email_nudges_until_replies_tracked: 1",
        "hold_email_nudges_until_replies_tracked must be true or false, not '1'"),
    "the hold switch given twice": (
        ("hold_email_nudges_until_replies_tracked: false",
         "hold_email_nudges_until_replies_tracked: false\nhold_email_nudges_until_replies_tracked: true"),
        "hold_email_nudges_until_replies_tracked: true", "hold_email_nudges_until_replies_tracked is given twice"),
    "a section that is not a mapping": (
        ("experiment:\n  share: 0\n  max_delay_business_days: 3\n  hours:\n    from: 8\n    to: 18\n",
         "experiment: off\n"), "experiment: off",
        "experiment: expected keys and values (share, max_delay_business_days, hours), not 'off'"),
    "a missing section": (
        ("out_of_office_postpone_business_days: 3\n", ""), "send_window:", "out_of_office_postpone_business_days is missing"),
    "a tag that is not read": (
        ("rejection_delay_business_days: 1", "rejection_delay_business_days: !!python/name:os.system 1"),
        "!!python", "rejection_delay_business_days must be a whole number of 0 or more, not '1'"),
    "not valid YAML": (
        ('  opens: "09:00"', '  opens: "09:00'), '  closes: "17:00"', "not valid YAML"),
    "a tab for indentation": (
        ("    steps:\n      - kind: rejection", "    steps:\n\t- kind: rejection"), "\t- kind", "not valid YAML"),
}  # fmt: skip


@pytest.mark.parametrize("change, marker, problem", REFUSALS.values(), ids=REFUSALS.keys())
def test_a_mistake_is_refused_with_its_line_and_the_problem(tmp_path, change, marker, problem):
    text = edited(*change)
    path = tmp_path / "mine.yaml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(CadenceFileError) as refused:
        load_cadence(path)

    assert str(refused.value).startswith(f"cadence file {path}, line {line_of(text, marker)}: ")
    assert problem in str(refused.value)


@pytest.mark.parametrize("text, problem", [
    ("", "the file is empty"),
    ("# only comments\n", "the file is empty"),
    ("- offer\n- reject\n", "line 1: expected the keys send_window, "),
    ("just words\n", "line 1: expected the keys send_window, "),
])  # fmt: skip
def test_an_empty_file_or_one_that_is_not_a_mapping_is_refused(text, problem):
    with pytest.raises(CadenceFileError, match=problem):
        parse_cadence(text, "mine.yaml")


def test_an_unreadable_file_is_refused_by_name(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("send_window: caf\xe9\n".encode("latin-1"))
    with pytest.raises(CadenceFileError, match="latin1.yaml: not UTF-8 text"):
        load_cadence(path)


def test_the_setting_must_name_a_file_that_exists(tmp_path):
    with pytest.raises(ValidationError, match="nope.yaml does not exist"):
        Settings(cadence_file=tmp_path / "nope.yaml")
    with pytest.raises(ValidationError, match="is not a file"):
        Settings(cadence_file=tmp_path)
    assert Settings(cadence_file="").cadence_file is None
    mine = tmp_path / "mine.yaml"
    mine.write_text(DEFAULT_TEXT, encoding="utf-8")
    assert Settings(cadence_file=mine).cadence_file == mine.resolve()


runner = CliRunner()


@pytest.mark.parametrize("command", [["sweep"], ["demo"]])
def test_a_bad_cadence_file_stops_a_command_before_it_does_anything(tmp_path, command):
    text = edited("        after_business_days: 2\n", "        after_business_days: two\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    data = tmp_path / "data"
    env = {"FOLLOWUP_DATA_DIR": str(data), "FOLLOWUP_CADENCE_FILE": str(bad), "FOLLOWUP_TRANSPORT": "memory"}

    result = runner.invoke(app, command, env=env, catch_exceptions=False)

    assert result.exit_code == 2, result.output
    assert f"line {line_of(text, 'two')}" in result.stderr and "after_business_days" in result.stderr
    assert str(bad) in result.stderr and "Traceback" not in result.stderr
    assert not data.exists()  # no ledger, no demo folder: refused before any work


def test_run_refuses_a_bad_cadence_file_before_it_imports_the_batch(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(edited("first_channel: any", "first_channel: email"), encoding="utf-8")
    batch = tmp_path / "batch.csv"
    batch.write_text("Candidate ID,Email Address,First Name,Decision\nC-1,ana@example.com,Ana,offer\n")
    data = tmp_path / "data"
    env = {"FOLLOWUP_DATA_DIR": str(data), "FOLLOWUP_CADENCE_FILE": str(bad), "FOLLOWUP_TRANSPORT": "memory"}

    result = runner.invoke(app, ["run", str(batch)], env=env, catch_exceptions=False)

    assert result.exit_code == 2 and "no cadence for reject by voicemail" in result.stderr
    assert not data.exists()


def test_a_cadence_file_that_does_not_exist_is_refused_as_a_setting(tmp_path):
    env = {"FOLLOWUP_DATA_DIR": str(tmp_path / "data"), "FOLLOWUP_CADENCE_FILE": str(tmp_path / "gone.yaml")}
    result = runner.invoke(app, ["sweep"], env=env, catch_exceptions=False)
    assert result.exit_code == 2
    assert "Settings are invalid" in result.stderr and "gone.yaml does not exist" in result.stderr
