"""The ledger: migrations on first use, the batch upsert and its audit trail, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from followup.models import Batch, BatchStatus, Candidate, CandidateChange, Decision, MessageStatus
from followup.store import bulk, migrate, open_ledger
from followup.store.batches import BatchRecord, find_imported, record_refusal, store_batch

TABLES = {"batches", "candidates", "decisions", "candidate_changes", "messages", "events", "responses", "suppressions"}


def valid_frame(overrides: dict | None = None) -> pd.DataFrame:
    rows = [
        {
            "candidate_id": "C-1", "email": "ana@example.com", "first_name": "Ana", "last_name": "Silva",
            "phone": None, "timezone": "Europe/Lisbon", "country": "PT", "channel": "email", "locale": "en",
            "role": "Data Engineer", "decision": "offer",
            "decided_at": pd.Timestamp("2026-11-20 09:00", tz="UTC"),
            "offer_deadline": pd.Timestamp("2026-11-27 17:00", tz="UTC"), "start_date": pd.NaT,
            "salary_min": 60000.0, "salary_max": 70000.0, "currency": "EUR", "location": "Lisbon",
            "reasons": "clear SQL; calm under pressure", "interests": "remote Fridays",
            "recruiter_name": "Sam Lee", "recruiter_email": "sam@acme.test", "recruiter_phone": "+351211234567",
            "recruiter_timezone": "Europe/London", "hiring_manager": "Kim", "company": "Acme", "meeting_at": pd.NaT,
            "meeting_location": None, "notes": "line one\nline two", "source_line": 2,
        },
        {
            "candidate_id": "C-2", "email": "bo@example.com", "first_name": "Bo", "last_name": "Nilsson",
            "phone": "+46701234567", "timezone": None, "country": "SE", "channel": "voicemail", "locale": None,
            "role": "Analyst", "decision": "reject", "decided_at": pd.NaT, "offer_deadline": pd.NaT,
            "start_date": pd.NaT, "salary_min": float("nan"), "salary_max": float("nan"), "currency": None,
            "location": None, "reasons": "portfolio was thin", "interests": None, "recruiter_name": None,
            "recruiter_email": None, "recruiter_phone": None, "recruiter_timezone": None, "hiring_manager": None,
            "company": None, "meeting_at": pd.NaT, "meeting_location": None, "notes": None, "source_line": 3,
        },
    ]  # fmt: skip
    frame = pd.DataFrame(rows)
    for column in ("decided_at", "offer_deadline", "start_date", "meeting_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    for (row, column), value in (overrides or {}).items():
        frame.loc[row, column] = value
    return frame


def record(batch_id: str, sha: str = "ab" * 32) -> BatchRecord:
    return BatchRecord(id=batch_id, source_name="round.csv", file_sha256=sha, rows=2, valid=2)


def test_migrations_create_every_table_on_first_use(ledger_url):
    engine = open_ledger(ledger_url)
    assert TABLES <= set(sa.inspect(engine).get_table_names())
    # Opening again is a no-op, not a second migration.
    assert open_ledger(ledger_url) is engine


@pytest.mark.parametrize("ledger_url", ["postgresql"], indirect=True)
def test_two_workers_starting_on_an_empty_ledger_at_once_both_migrate_it(ledger_url):
    """Workers on several machines may all start on a new PostgreSQL ledger together: each one
    migrates on first use, and none may fail on tables another is creating that moment."""
    engines = [sa.create_engine(ledger_url) for _ in range(2)]  # a pool of its own each, as two processes
    together = threading.Barrier(len(engines))

    def start(engine) -> None:
        together.wait()
        migrate(engine)

    try:
        with ThreadPoolExecutor(len(engines)) as pool:
            list(pool.map(start, engines))  # re-raises what either migration raised
    finally:
        for engine in engines:
            engine.dispose()
    assert TABLES <= set(sa.inspect(open_ledger(ledger_url)).get_table_names())


def test_the_migrations_build_exactly_the_tables_the_models_declare(ledger_url):
    """Several hands add migrations: the chain must end where models.py is, on both backends."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from followup.models import Base

    with open_ledger(ledger_url).connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_statuses_are_stored_as_lowercase_strings(ledger_url):
    engine = open_ledger(ledger_url)
    store_batch(engine, record("b1"), valid_frame())
    with engine.begin() as conn:
        conn.execute(
            sa.insert(Candidate.__table__.metadata.tables["messages"]).values(
                message_key="k1", campaign="nov", candidate_id="C-1", kind="offer", step=0,
                channel="email", status=MessageStatus.RETRY_WAIT,
            )
        )  # fmt: skip
        raw = conn.execute(sa.text("SELECT status FROM messages")).scalar_one()
        batch_status = conn.execute(sa.text("SELECT status FROM batches")).scalar_one()
    assert raw == "retry_wait"
    assert batch_status == "imported"


def test_store_batch_writes_candidates_and_decisions_with_types_intact(ledger_url):
    engine = open_ledger(ledger_url)
    stats = store_batch(engine, record("b1"), valid_frame())
    assert (stats.new_candidates, stats.new_decisions, stats.changes) == (2, 2, 0)
    with Session(engine) as session:
        ana = session.scalars(sa.select(Decision).where(Decision.candidate_id == "C-1")).one()
        bo = session.scalars(sa.select(Candidate).where(Candidate.candidate_id == "C-2")).one()
    assert ana.salary_max == 70000.0
    assert ana.decided_at.replace(tzinfo=None).isoformat() == "2026-11-20T09:00:00"
    assert ana.notes == "line one\nline two"
    assert ana.source_line == 2
    assert bo.phone == "+46701234567" and bo.timezone is None


def test_a_later_batch_updates_in_place_and_records_what_changed(ledger_url):
    engine = open_ledger(ledger_url)
    store_batch(engine, record("b1"), valid_frame())
    changed = valid_frame({(0, "salary_max"): 75000.0, (1, "email"): "bo.nilsson@example.com"})
    stats = store_batch(engine, record("b2", sha="cd" * 32), changed)
    assert (stats.new_candidates, stats.updated_candidates, stats.updated_decisions) == (0, 1, 1)
    with Session(engine) as session:
        changes = {
            (c.candidate_id, c.field): (c.old_value, c.new_value)
            for c in session.scalars(sa.select(CandidateChange))
        }
        count = session.scalar(sa.select(sa.func.count()).select_from(Candidate))
        bo = session.scalars(sa.select(Candidate).where(Candidate.candidate_id == "C-2")).one()
    assert changes == {
        ("C-1", "salary_max"): ("70000", "75000"),
        ("C-2", "email"): ("bo@example.com", "bo.nilsson@example.com"),
    }
    assert count == 2
    assert (bo.first_batch_id, bo.last_batch_id) == ("b1", "b2")


def test_the_same_rows_again_change_nothing(ledger_url):
    engine = open_ledger(ledger_url)
    store_batch(engine, record("b1"), valid_frame())
    stats = store_batch(engine, record("b2", sha="cd" * 32), valid_frame())
    assert (stats.new_candidates, stats.updated_candidates, stats.updated_decisions, stats.changes) == (0, 0, 0, 0)


def test_a_failed_store_leaves_nothing_behind(ledger_url):
    engine = open_ledger(ledger_url)
    broken = valid_frame()
    broken.loc[1, "first_name"] = None  # NOT NULL in the ledger: the insert fails half-way
    with pytest.raises(sa.exc.IntegrityError):
        store_batch(engine, record("b1"), broken)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Batch)).scalar_one() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(Candidate)).scalar_one() == 0


def test_refusals_are_recorded_and_not_mistaken_for_imports(ledger_url):
    engine = open_ledger(ledger_url)
    record_refusal(engine, record("r1"), "42% of rows are bad")
    assert find_imported(engine, "ab" * 32) is None
    with Session(engine) as session:
        batch = session.scalars(sa.select(Batch)).one()
    assert batch.status is BatchStatus.REFUSED and batch.reason == "42% of rows are bad"
    store_batch(engine, record("b1"), valid_frame())
    assert find_imported(engine, "ab" * 32).id == "b1"


def test_a_mixed_batch_inserts_the_new_rows_in_file_order_and_updates_the_known(ledger_url, monkeypatch):
    monkeypatch.setattr(bulk, "CHUNK_ROWS", 1)  # each row its own chunk: the masks cut across chunks
    engine = open_ledger(ledger_url)
    store_batch(engine, record("b1"), valid_frame())
    known = valid_frame({(0, "salary_max"): 75000.0, (1, "role"): "Senior Analyst"})
    newcomer = valid_frame().iloc[[1]].assign(candidate_id="C-3", email="cy@example.com", source_line=4)
    stats = store_batch(engine, record("b2", sha="cd" * 32), pd.concat([known, newcomer], ignore_index=True))
    assert (stats.new_candidates, stats.updated_candidates) == (1, 0)
    assert (stats.new_decisions, stats.updated_decisions, stats.changes) == (2, 1, 1)
    with Session(engine) as session:
        in_id_order = session.scalars(sa.select(Decision).order_by(Decision.id))
        decisions = [(d.candidate_id, d.role, d.batch_id) for d in in_id_order]
        cy = session.scalars(sa.select(Candidate).where(Candidate.candidate_id == "C-3")).one()
    assert decisions == [
        ("C-1", "Data Engineer", "b2"),
        ("C-2", "Analyst", "b1"),
        ("C-2", "Senior Analyst", "b2"),
        ("C-3", "Analyst", "b2"),
    ]
    assert (cy.email, cy.first_batch_id, cy.last_batch_id) == ("cy@example.com", "b2", "b2")


def test_an_ats_export_brings_the_recruiters_zone_to_the_decision_and_a_bad_one_quarantines(ledger_url, tmp_path):
    """The planner reads decisions.recruiter_timezone for the call hours that suit both sides."""
    from followup.stages.importing import ImportSetup, open_batch, read, store, validate

    export = tmp_path / "round.csv"
    export.write_text(
        "Candidate ID,Email,First Name,Last Name,Job,Decision,Time Zone,Recruiter Time Zone\n"
        "C-1,ana@example.com,Ana,Silva,Data Engineer,offer,Australia/Sydney,europe/london\n"
        "C-2,bo@example.com,Bo,Nilsson,Analyst,offer,Europe/Stockholm,London\n"
        "C-3,cy@example.com,Cy,Tan,Analyst,reject,Asia/Singapore,\n",
        encoding="utf-8",
    )
    setup = ImportSetup(ledger_url, docs_dir=None, quarantine_dir=tmp_path / "quarantine", max_bad_share=0.5)
    opened = open_batch(export, setup)
    raw = read(export, None, opened, setup)
    checked, quarantine_file = validate(raw, opened, setup)
    assert store(opened, raw, checked, quarantine_file, setup).status == "imported"

    bad = pd.read_csv(quarantine_file)
    assert bad["candidate_id"].tolist() == ["C-2"] and bad["columns"].item() == "recruiter_timezone"
    assert "Recruiter Time Zone 'London' is not a known time zone" in bad["reason"].item()
    with Session(open_ledger(ledger_url)) as session:
        stored = dict(session.execute(sa.select(Decision.candidate_id, Decision.recruiter_timezone)).all())
        zones = dict(session.execute(sa.select(Candidate.candidate_id, Candidate.timezone)).all())
    assert stored == {"C-1": "Europe/London", "C-3": None}
    assert zones == {"C-1": "Australia/Sydney", "C-3": "Asia/Singapore"}  # the candidate's own column is apart
