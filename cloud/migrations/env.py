"""Alembic environment: the URL comes from the caller's config (cloud.migrate) or ECG_CLOUD_DB_URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection
from sqlmodel import SQLModel

import cloud.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from cloud.db import is_sqlite, make_engine
from cloud.settings import settings_from_env

config = context.config
target_metadata = SQLModel.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or settings_from_env().db_url
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, render_as_batch=is_sqlite(url))
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: Connection) -> None:
    url = str(connection.engine.url)
    # SQLite alters tables by copying them ("batch" mode).
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=is_sqlite(url))
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
