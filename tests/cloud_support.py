"""Helpers of the cloud tests: a throw-away PostgreSQL cluster, fresh databases, apps and clients.

One cluster serves the whole test session (started on first use, stopped at exit); each test
module or test takes an empty, migrated database, on SQLite or PostgreSQL.
"""

from __future__ import annotations

import atexit
import base64
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from cloud.app import create_app
from cloud.migrate import migrate
from cloud.queue import AnalysisQueue
from cloud.settings import Argon2Cost, Settings, sqlite_url
from cloud.throwaway_pg import PG_BIN, ThrowawayPostgres, postgres_available

BACKENDS = ("sqlite", "postgresql")
CHEAP_ARGON2 = Argon2Cost(time_cost=1, memory_cost=8, parallelism=1)
FAKE_ANALYSER = "cloud_support:fake_analyser"


class PgCluster(ThrowawayPostgres):
    """The session's cluster, with one test database that every call to fresh_database empties."""

    def __init__(self) -> None:
        super().__init__()
        self._created = False

    def fresh_database(self) -> str:
        """The test database, migrated once and emptied on every call (faster than a new database).

        A test that holds on to an earlier URL shares the tables with the next one: take a fresh
        database per test, or per module when the module's tests leave each other's rows alone.
        """
        if not self._created:
            url = self.create_database("cloud_tests")
            migrate(url)
            self._created = True
            return url
        url = self.url("cloud_tests")
        engine = create_engine(url)
        with engine.begin() as conn:
            tables = [
                t for t in conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars()
                if t != "alembic_version"
            ]
            quoted = ", ".join(f'"{t}"' for t in tables)
            conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
        engine.dispose()
        return url


_cluster: PgCluster | None = None
_sqlite_template: Path | None = None


def pg_cluster() -> PgCluster:
    """The session's cluster, started on first use; skips the test when PostgreSQL is not installed."""
    global _cluster
    if not postgres_available():
        pytest.skip(f"PostgreSQL server binaries not found in {PG_BIN} (apt-get install postgresql)")
    if _cluster is None:
        _cluster = PgCluster()
        atexit.register(_cluster.stop)
    return _cluster


def fresh_database(backend: str, folder: Path) -> str:
    """A migrated, empty database of the given backend ("sqlite" in `folder`, or "postgresql")."""
    global _sqlite_template
    if backend == "postgresql":
        return pg_cluster().fresh_database()
    if _sqlite_template is None:
        template = Path(tempfile.mkdtemp(prefix="ecg-sqlite-")) / "template.db"
        migrate(sqlite_url(template))
        _sqlite_template = template
        atexit.register(shutil.rmtree, template.parent, True)
    target = folder / f"cloud-{time.monotonic_ns()}.db"
    with sqlite3.connect(_sqlite_template) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return sqlite_url(target)


def settings_for(db_url: str, data_dir: Path, **changes: Any) -> Settings:
    settings = Settings(
        data_dir=data_dir, db_url=db_url, argon2=CHEAP_ARGON2, migrate_on_start=False, analyser=FAKE_ANALYSER
    )
    return replace(settings, **changes)


def immediate_queue(settings: Settings) -> AnalysisQueue:
    """A queue that runs each job as it is enqueued (huey's immediate mode), for tests of results."""
    queue = AnalysisQueue(settings)
    queue.huey.immediate = True
    return queue


@dataclass
class CloudApp:
    app: FastAPI
    client: TestClient
    settings: Settings

    @property
    def services(self) -> Any:
        return self.app.state.services


def make_cloud(db_url: str, data_dir: Path, queue: AnalysisQueue | None = None, **changes: Any) -> CloudApp:
    settings = settings_for(db_url, data_dir, **changes)
    app = create_app(settings, queue=queue)
    return CloudApp(app, TestClient(app), settings)


def fake_analyser(chunks: Iterable[np.ndarray], fs: float, **_: Any) -> dict[str, Any]:
    """Stands in for cloud.analysis.analyse_stream: sums what it is fed, so tests can check the feed."""
    n = 0
    total = 0.0
    for chunk in chunks:
        n += chunk.shape[0]
        total += float(np.sum(chunk))
    return {"samples": n, "fs": fs, "sum_mv": total, "duration_s": n / fs}


def failing_analyser(chunks: Iterable[np.ndarray], fs: float, **_: Any) -> dict[str, Any]:
    raise ValueError("signal too short to analyse")


def snippet_json(samples: np.ndarray, start: str, fs: float = 250.0, lsb_uv: float = 1.0) -> dict[str, Any]:
    return {
        "fs": fs,
        "lsb_uv": lsb_uv,
        "start": start,
        "samples_b64": base64.b64encode(samples.astype("<i2").tobytes()).decode(),
    }


def ecg_like(n: int, seed: int = 0) -> np.ndarray:
    """int16 samples that look enough like ECG for compression to behave as on real data."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 250.0
    beats = 800 * np.exp(-(((t % 0.8) - 0.4) ** 2) / 0.0005)
    return (beats + 50 * np.sin(2 * np.pi * 0.3 * t) + rng.normal(0, 3, n)).astype(np.int16)


def hanging_analyser(chunks: Iterable[np.ndarray], fs: float, **_: Any) -> dict[str, Any]:
    """Says it started (in the file named by $ECG_TEST_MARKER), then never finishes: a worker to kill."""
    Path(os.environ["ECG_TEST_MARKER"]).write_text("started")
    time.sleep(600)
    raise AssertionError("should have been killed")


def saved_id(row: Any) -> int:
    """The primary key of a row already flushed to the database."""
    assert row.id is not None, "flush the row first"
    return int(row.id)
