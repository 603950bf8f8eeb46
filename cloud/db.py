"""Engines and sessions for SQLite (the default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlmodel import Session


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for an in-memory database."""
    database = make_url(url).database
    return Path(database) if database and database != ":memory:" else None


def make_engine(url: str, *, pool_size: int = 8) -> Engine:
    if not is_sqlite(url):
        return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30, "isolation_level": None})
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", _sqlite_begin_immediate)
    return engine


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer; NORMAL syncs at checkpoints, not at every commit,
    # and a power cut can lose the last commits but never corrupts the file.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    # Nearly every request writes (the audit log at least). A deferred transaction that reads and then
    # writes fails at once with SQLITE_BUSY when another writer got in between; taking the write lock
    # up front makes it wait its turn instead. The driver's own BEGIN is off (isolation_level=None).
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_scope(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


def reserve_ids(session: Session, table: str, count: int) -> list[int]:
    """`count` new primary keys of `table`, so that many rows go in one multi-row INSERT without RETURNING.

    PostgreSQL takes them from the table's sequence. On SQLite the transaction already holds the write
    lock (BEGIN IMMEDIATE), so the keys above the largest one are ours until commit.
    """
    if count <= 0:
        return []
    if session.get_bind().dialect.name == "sqlite":
        # The table name is one of ours, never user input.
        top = session.execute(text(f'SELECT coalesce(max(id), 0) FROM "{table}"')).scalar_one()
        return list(range(int(top) + 1, int(top) + 1 + count))
    rows = session.execute(
        text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)"),
        {"table": f'"{table}"', "count": count},
    )
    return [int(value) for value in rows.scalars()]
