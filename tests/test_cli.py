"""The command line as a recruiter and a schedule use it: exit codes, --json, files, refusals."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

from followup.cli import app
from followup.store import open_ledger

HEADER = ["Candidate ID", "Email Address", "First Name", "Last Name", "Job Title", "Decision", "Channel", "Phone"]
GOOD = [
    ["C-1", "ana@Example.COM", "Ana", "Silva", "Data Engineer", "offer", "email", ""],
    ["C-2", "bo@example.com", "Bo", "Nilsson", "Analyst", "reject", "voicemail", "+46 70 123 45 67"],
    ["C-3", "cy@example.com", "Cy", "Okafor", "Designer", "offer", "in_person", ""],
    ["C-4", "di@example.com", "Di", "Chen", "Designer", "reject", "email", ""],
    ["C-5", "ed@example.com", "Ed", "Moreau", "Analyst", "offer", "email", ""],
]
BAD_EMAIL = ["C-6", "not-an-address", "Fay", "Ito", "Analyst", "offer", "email", ""]

runner = CliRunner()


def write(path: Path, rows, header=HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def invoke(args, tmp_path: Path, ledger_url: str | None = None, **settings: str):
    env = {"FOLLOWUP_DATA_DIR": str(tmp_path / "data"), **settings}
    if ledger_url:
        env["FOLLOWUP_DATABASE_URL"] = ledger_url
    return runner.invoke(app, args, env=env, catch_exceptions=False)


def count(ledger_url: str, table: str) -> int:
    with open_ledger(ledger_url).connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


def commands(group, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], object]]:
    """Every command and group registered under `group` (a click group), by the words that call it."""
    found = []
    for name, command in group.commands.items():
        found.append(((*path, name), command))
        found += commands(command, (*path, name)) if hasattr(command, "commands") else []
    return found


ROOT = typer.main.get_command(app)
COMMANDS = [((), ROOT), *commands(ROOT)]


def test_help_explains_every_command():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "import"):
        assert command in result.stdout
    result = runner.invoke(app, ["import", "--help"])
    assert "--mapping" in result.stdout and "Exit codes" in result.stdout
    assert {path for path, _ in COMMANDS} >= {("import",), ("run",), ("preview",), ("templates",), ("templates", "check")}


@pytest.mark.parametrize("path, command", COMMANDS, ids=[" ".join(("followup", *path)) for path, _ in COMMANDS])
def test_every_command_has_help_that_lists_it_and_explains_its_options(path, command):
    if path:
        parent = runner.invoke(app, [*path[:-1], "--help"])
        assert parent.exit_code == 0 and path[-1] in parent.stdout
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert " ".join(("followup", *path)) in result.stdout and (command.help or "").strip()
    for param in command.params:
        assert getattr(param, "help", None), f"{' '.join(path)}: {param.name} has no help"
        if param.param_type_name == "option":
            assert param.opts[0] in result.stdout


@pytest.mark.usefixtures("prefect_harness")
def test_import_json_reports_the_batch_and_quarantines_the_bad_row(tmp_path, ledger_url):
    batch = write(tmp_path / "round.csv", [*GOOD, BAD_EMAIL])
    result = invoke(["import", str(batch), "--json"], tmp_path, ledger_url)
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)  # stdout holds only the JSON document
    assert list(summary)[:7] == ["batch_id", "status", "rows", "valid", "quarantined", "quarantine_file", "data_docs"]
    assert (summary["status"], summary["rows"], summary["valid"], summary["quarantined"]) == ("imported", 6, 5, 1)
    with open(summary["quarantine_file"], encoding="utf-8", newline="") as handle:
        quarantined = list(csv.DictReader(handle))
    assert [(q["line"], q["candidate_id"]) for q in quarantined] == [("7", "C-6")]
    assert "email" in quarantined[0]["columns"] and "not-an-address" in quarantined[0]["reason"]
    assert quarantined[0]["Email Address"] == "not-an-address"  # original cells under the file's headers
    assert Path(summary["data_docs"]).is_file()
    assert count(ledger_url, "candidates") == 5
    with open_ledger(ledger_url).connect() as conn:
        email, phone = conn.execute(
            sa.text("SELECT c.email, p.phone FROM candidates c, candidates p WHERE c.candidate_id = 'C-1' AND p.candidate_id = 'C-2'")
        ).one()
    assert (email, phone) == ("ana@example.com", "+46701234567")


@pytest.mark.usefixtures("prefect_harness")
def test_importing_the_same_file_twice_adds_nothing(tmp_path, ledger_url):
    batch = write(tmp_path / "round.csv", GOOD)
    first = json.loads(invoke(["import", str(batch), "--json"], tmp_path, ledger_url).stdout)
    again = invoke(["import", str(batch), "--json"], tmp_path, ledger_url)
    assert again.exit_code == 0
    second = json.loads(again.stdout)
    assert second["status"] == "already_imported" and second["batch_id"] == first["batch_id"]
    assert count(ledger_url, "batches") == 1
    assert count(ledger_url, "candidates") == 5


@pytest.mark.usefixtures("prefect_harness")
def test_missing_required_columns_refuse_the_batch_and_say_how_to_fix_it(tmp_path):
    batch = write(tmp_path / "odd.csv", [["C-1", "ana@example.com", "Ana"]], header=["Ref", "Mail", "Given"])
    result = invoke(["import", str(batch)], tmp_path)
    assert result.exit_code == 2
    assert "decision" in result.stderr and "--mapping" in result.stderr and "Mail" in result.stderr
    ledger = f"sqlite:///{tmp_path / 'data' / 'followup.db'}"
    assert count(ledger, "candidates") == 0
    with open_ledger(ledger).connect() as conn:
        assert conn.execute(sa.text("SELECT status FROM batches")).scalars().all() == ["refused"]


@pytest.mark.usefixtures("prefect_harness")
def test_a_mapping_file_names_the_columns_an_export_calls_differently(tmp_path):
    header = ["Ref", "Mail", "Given", "Family", "Req", "Outcome"]
    batch = write(tmp_path / "odd.csv", [r[:6] for r in GOOD], header=header)
    mapping = tmp_path / "mapping.json"
    mapping.write_text(
        json.dumps({"Ref": "candidate_id", "Mail": "email", "Given": "first_name", "Family": "last_name",
                    "Req": "role", "Outcome": "decision"}),
        encoding="utf-8",
    )  # fmt: skip
    result = invoke(["import", str(batch), "--mapping", str(mapping), "--json"], tmp_path)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["valid"] == 5


@pytest.mark.usefixtures("prefect_harness")
def test_too_many_bad_rows_refuse_the_whole_batch(tmp_path):
    bad = [[f"C-9{i}", "broken", "X", "Y", "Analyst", "maybe", "email", ""] for i in range(3)]
    batch = write(tmp_path / "messy.csv", [*GOOD, *bad])  # 3 of 8 bad: 37.5% > 20%
    result = invoke(["import", str(batch), "--json"], tmp_path)
    assert result.exit_code == 2
    summary = json.loads(result.stdout)
    assert summary["status"] == "refused" and summary["quarantined"] == 3
    assert "20%" in result.stderr
    assert count(f"sqlite:///{tmp_path / 'data' / 'followup.db'}", "candidates") == 0


@pytest.mark.usefixtures("prefect_harness")
def test_an_unreadable_file_is_refused_with_exit_code_2(tmp_path):
    legacy = tmp_path / "export.xls"
    legacy.write_bytes(bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 512)
    result = invoke(["import", str(legacy)], tmp_path)
    assert result.exit_code == 2
    assert "xlsx" in result.stderr.lower()
    missing = invoke(["import", str(tmp_path / "nope.csv")], tmp_path)
    assert missing.exit_code == 2 and "nope.csv" in missing.stderr
    # A script gets its JSON for a path that is no file too, and the ledger keeps the refusal.
    for path, problem in ((tmp_path / "nope.csv", "no such file"), (tmp_path, "directory")):
        result = invoke(["import", str(path), "--json"], tmp_path)
        summary = json.loads(result.stdout)
        assert result.exit_code == 2 and summary["status"] == "refused" and problem in summary["reason"]
    assert count(f"sqlite:///{tmp_path / 'data' / 'followup.db'}", "batches") == 4  # the .xls, then three unreadable paths


@pytest.mark.usefixtures("prefect_harness")
def test_a_file_past_a_limit_is_refused_with_exit_code_2_naming_the_setting(tmp_path):
    rows = [[f"C-{n}", f"c{n}@example.com", *GOOD[0][2:]] for n in range(200)]  # about 11 KB
    batch = write(tmp_path / "round.csv", rows)
    result = invoke(["import", str(batch), "--json"], tmp_path, FOLLOWUP_MAX_FILE_MB="0.005")
    assert result.exit_code == 2
    summary = json.loads(result.stdout)
    assert summary["status"] == "refused" and "FOLLOWUP_MAX_FILE_MB" in summary["reason"]
    assert "FOLLOWUP_MAX_FILE_MB" in result.stderr and "Traceback" not in result.stderr
    ledger = f"sqlite:///{tmp_path / 'data' / 'followup.db'}"
    assert count(ledger, "candidates") == 0
    with open_ledger(ledger).connect() as conn:
        assert conn.execute(sa.text("SELECT status FROM batches")).scalars().all() == ["refused"]


# --- what a file, a template or a setting holds is printed as it is: never read as markup or emoji codes ---

MARKED_UP = ["C-1", "ana@example.com", ":x: [red]Ana", "[bold]Silva", "[/]Data :x: Engineer", "offer", "email", ""]


@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_an_import_prints_headers_cells_and_names_that_look_like_markup_as_they_are(tmp_path, as_json):
    flag = ["--json"] if as_json else []
    odd = ["Ref", "[/]Mail", ":x: Given", "[bold]Family"]
    refused = invoke(["import", str(write(tmp_path / "odd.csv", [MARKED_UP[:4]], header=odd)), *flag], tmp_path)
    assert refused.exit_code == 2 and "Traceback" not in refused.stderr
    assert '"[/]Mail", ":x: Given", "[bold]Family"' in refused.stderr
    if as_json:
        assert '"[/]Mail", ":x: Given", "[bold]Family"' in json.loads(refused.stdout)["reason"]

    # The same header as an extra column, beside the ones we read, in a file whose name looks like markup.
    rows = [[*row, "[/]"] for row in (MARKED_UP, *GOOD[1:])] + [[*BAD_EMAIL, ":x:"]]
    batch = write(tmp_path / "[bold]round :x:.csv", rows, header=[*HEADER, "[/]Mail"])
    imported = invoke(["import", str(batch), *flag], tmp_path)
    assert imported.exit_code == 0, imported.stderr
    if as_json:
        quarantine_file = json.loads(imported.stdout)["quarantine_file"]
    else:
        assert "Imported [bold]round :x:.csv" in imported.stdout
        quarantine_file = imported.stdout.split("Quarantine file: ", 1)[1].splitlines()[0]
    with open(quarantine_file, encoding="utf-8", newline="") as handle:
        [kept] = csv.DictReader(handle)
    assert kept["[/]Mail"] == ":x:"


def test_preview_shows_names_that_look_like_markup_as_they_are_sent(tmp_path):
    from followup import importing, validation
    from followup.store.batches import BatchRecord, store_batch

    url = f"sqlite:///{tmp_path / 'data' / 'followup.db'}"
    candidate = "C-1 [b]:x:"
    raw = importing.read_batch(write(tmp_path / "round.csv", [[candidate, *MARKED_UP[1:]]]))
    checked = validation.validate_batch(raw, batch_id="b1", docs_dir=None)
    store_batch(open_ledger(url), BatchRecord(id="b1", source_name="round.csv", file_sha256="0" * 64), checked.valid)

    shown = invoke(["preview", "--candidate", candidate, "--kind", "offer", "--channel", "email"], tmp_path)
    assert shown.exit_code == 0, shown.stderr
    subject = next(line for line in shown.stdout.splitlines() if line.startswith("Subject: "))
    assert ":x: [red]Ana" in subject and "[/]Data :x: Engineer" in subject  # whichever variant the hash gave
    assert "Hi :x: [red]Ana," in shown.stdout and "❌" not in shown.stdout
    as_json = invoke(["preview", "--candidate", candidate, "--kind", "offer", "--channel", "email", "--json"], tmp_path)
    assert json.loads(as_json.stdout)["subject"] in shown.stdout

    crossed = invoke(["preview", "--candidate", candidate, "--kind", "rejection"], tmp_path)
    assert crossed.exit_code == 2 and f"Refused: {candidate} has the decision 'offer'" in crossed.stderr
    unknown = invoke(["preview", "--candidate", "[/]nobody :x:", "--kind", "offer"], tmp_path)
    assert unknown.exit_code == 2 and "no candidate '[/]nobody :x:'" in unknown.stderr


def test_a_setting_that_looks_like_markup_is_named_as_it_is(tmp_path):
    env = {"FOLLOWUP_DATA_DIR": str(tmp_path / "data"), "FOLLOWUP_TIMEZONE": "[/]Mars :x:"}
    result = runner.invoke(app, ["campaigns"], env=env, catch_exceptions=False)
    assert result.exit_code == 2 and "'[/]Mars :x:' is not an IANA time zone" in result.stderr


def test_a_campaign_named_with_braces_is_steered_and_named_as_it_is(tmp_path):
    from followup.store.planning import ensure_campaign

    name = "round {1} {}"
    ensure_campaign(open_ledger(f"sqlite:///{tmp_path / 'data' / 'followup.db'}"), name)
    paused = invoke(["pause", name], tmp_path)
    assert paused.exit_code == 0 and paused.stdout.strip() == f"{name} is paused."
    cancelled = invoke(["cancel", name], tmp_path)
    assert cancelled.exit_code == 0 and cancelled.stdout.strip() == f"{name} is cancelled; 0 messages will not be sent."


def test_campaigns_say_that_email_replies_are_not_tracked_and_how_to_record_them(tmp_path):
    from followup.store.planning import ensure_campaign

    empty = invoke(["campaigns"], tmp_path)
    assert empty.exit_code == 0 and "not tracked" not in empty.stderr  # nothing sent, nothing to warn of
    ensure_campaign(open_ledger(f"sqlite:///{tmp_path / 'data' / 'followup.db'}"), "spring")
    for args in (["campaigns"], ["campaigns", "--json"]):
        listed = invoke(args, tmp_path)
        assert listed.exit_code == 0
        note = " ".join(listed.stderr.split())
        assert "email replies are not tracked" in note
        assert "followup outcomes import FILE" in note and "followup stop CANDIDATE" in note
    assert json.loads(listed.stdout)[0]["name"] == "spring"  # stdout holds only the JSON


def test_the_reply_note_follows_reply_tracking_and_the_cadence_files_hold(tmp_path):
    from followup.cadence.file import default_cadence_file
    from followup.store.planning import ensure_campaign

    ensure_campaign(open_ledger(f"sqlite:///{tmp_path / 'data' / 'followup.db'}"), "spring")
    hold = tmp_path / "hold.yaml"
    hold.write_text(default_cadence_file().read_text(encoding="utf-8").replace(
        "hold_email_nudges_until_replies_tracked: false", "hold_email_nudges_until_replies_tracked: true"))
    domain, token = {"FOLLOWUP_REPLY_DOMAIN": "replies.acme.example"}, {"FOLLOWUP_INBOUND_TOKEN": "t" * 32}

    def note(**settings: str) -> str:
        listed = invoke(["campaigns"], tmp_path, **settings)
        assert listed.exit_code == 0, listed.output
        return " ".join(listed.stderr.split())

    held = note(FOLLOWUP_CADENCE_FILE=str(hold))
    assert "email replies are not tracked" in held and "Email nudges are held until FOLLOWUP_REPLY_DOMAIN" in held
    assert "followup outcomes import FILE" in held and "followup stop CANDIDATE" in held
    assert "held" not in note()  # the switch off: the plain note
    refused = note(**domain)  # tracked, but the receiver would refuse every reply
    assert "not tracked" not in refused and "FOLLOWUP_INBOUND_TOKEN is not" in refused
    assert "refuses every Inbound Parse post" in refused and "lost after 3 days" in refused
    assert "followup outcomes import FILE" in refused
    assert note(**domain, **token) == ""  # tracked and received: nothing to say
    assert note(**token) == note()  # a token without a reply domain tracks nothing
