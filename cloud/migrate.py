"""Bring a database to the newest schema, safely when several server processes start at once."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from cloud.db import is_sqlite, make_engine, sqlite_file

MIGRATIONS = Path(__file__).with_name("migrations")
# Any constant shared by every process of the service: the key of PostgreSQL's advisory lock.
_PG_LOCK_KEY = 0x0EC6_C10D


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def migrate(url: str, revision: str = "head") -> None:
    """Upgrade the database at `url` to `revision`, one process at a time."""
    engine = make_engine(url)
    try:
        with _exclusive(url, engine.connect()) as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            connection.commit()
    finally:
        engine.dispose()


@contextmanager
def _exclusive(url: str, connection: Connection) -> Iterator[Connection]:
    with connection:
        if not is_sqlite(url):
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_LOCK_KEY})
            connection.commit()
            try:
                yield connection
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_LOCK_KEY})
                connection.commit()
            return
        path = sqlite_file(url)
        if path is None:
            yield connection
            return
        with open(path.with_name(path.name + ".migrate-lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield connection
