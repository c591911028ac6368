"""The ledger: opening it (migrations applied on first use) and all of its SQL, in this package."""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def _alembic_config(connection: sa.Connection):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def _head_revision() -> str:
    from alembic.script import ScriptDirectory

    cfg = _alembic_config(None)  # type: ignore[arg-type]
    return ScriptDirectory.from_config(cfg).get_current_head()


# The first key of the advisory lock that serialises migrations on PostgreSQL (the second is the
# schema's): any fixed number no other code on the database locks with.
_MIGRATION_LOCK = 0x466F6C6C  # "Foll"


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; a no-op when it is already there."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    head = _head_revision()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current == head:
        return
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Workers on several machines may start on a new ledger together: without the lock
            # each would create the same tables and all but one fail. The lock ends with the
            # transaction; whoever waited for it reads the revision again and finds it done.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key, hashtext(current_schema()))"),
                         {"key": _MIGRATION_LOCK})  # fmt: skip
            current = MigrationContext.configure(conn).get_current_revision()
            if current == head:
                return
        if current is None:
            log.debug("creating the ledger's tables")
        else:
            log.info("migrating the ledger's schema from revision %s to the newest", current)
        command.upgrade(_alembic_config(conn), "head")


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    # Only a new ledger takes this (an existing one keeps its page size). Decision rows carry up
    # to three 4,000-character texts and messages their bodies: at the default 4 KiB a row over
    # about 1 KB spills into overflow pages. Measured on a 200,000-row import: a third less
    # SQLite CPU time, commit (the WAL checkpoint) included.
    cur.execute("PRAGMA page_size=16384")
    # WAL lets the webhook receiver read while a sender writes; NORMAL sync is safe under WAL.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    # Bulk imports update several indexes at once; 2 MB of page cache thrashes on a big batch.
    cur.execute("PRAGMA cache_size=-262144")
    cur.close()


def _bind_none_directly() -> None:
    """Python's sqlite3 sends each None through its adapter protocol (a registry miss, then probes
    for __adapt__ and __conform__) before binding NULL: measured at 2-3x the cost of binding a
    string, seconds in a million-row import. A registered adapter returning None unchanged ends
    the search at the registry. dict.get is a C callable that does so (a lambda costs a Python
    call per NULL); the NULL bound is the same."""
    sqlite3.register_adapter(type(None), {}.get)


def _create_owner_only(path: Path) -> None:
    """An empty file, readable by its owner only, for SQLite to make the ledger in: the ledger
    holds names, addresses and phone numbers, and SQLite gives its -wal and -shm files the
    database file's mode. An existing ledger keeps the mode it has."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


_ENGINES: dict[str, Engine] = {}


def open_ledger(url: str) -> Engine:
    """An engine on the ledger at `url`, migrated. Kept per URL so a process migrates and pools once."""
    if url in _ENGINES:
        return _ENGINES[url]
    url_obj = sa.make_url(url)
    if url_obj.get_backend_name() == "sqlite" and url_obj.database not in (None, "", ":memory:"):
        Path(url_obj.database).parent.mkdir(parents=True, exist_ok=True)
        if not url_obj.query.get("uri"):  # a file: URI is SQLite's to open, not a path
            _create_owner_only(Path(url_obj.database))
    if url_obj.get_backend_name() == "postgresql" and url_obj.drivername == "postgresql":
        # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2.
        url_obj = url_obj.set(drivername="postgresql+psycopg")
    # A server's pooled connection can be cut while it idles (a restart, a failover, a terminated
    # backend): a ping at checkout swaps it for a new one, rather than failing the statement.
    engine = sa.create_engine(url_obj, future=True, pool_pre_ping=url_obj.get_backend_name() != "sqlite")
    if url_obj.get_backend_name() == "sqlite":
        _bind_none_directly()
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    migrate(engine)
    _ENGINES[url] = engine
    return engine


def close_ledger(url: str) -> None:
    """Release the pooled connections of one ledger (a scratch ledger about to be deleted)."""
    engine = _ENGINES.pop(url, None)
    if engine is not None:
        engine.dispose()


def close_ledgers() -> None:
    """Release every pooled connection (tests dropping a scratch schema, a process shutting down)."""
    while _ENGINES:
        _ENGINES.popitem()[1].dispose()
