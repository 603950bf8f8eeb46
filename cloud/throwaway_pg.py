"""A throw-away PostgreSQL cluster in a temporary folder, for tests and benchmarks.

As root, initdb and the server run as the `postgres` user (PostgreSQL refuses root). Trust
authentication, loopback and a private socket folder only. For tests durability is off, since the
cluster is deleted when stopped; `durable=True` keeps PostgreSQL's own defaults (fsync, synchronous
commit, full-page writes), for measurements that must stand for a production server.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import create_engine, text

PG_BIN = Path(os.environ.get("ECG_PG_BIN", "/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_available() -> bool:
    return (PG_BIN / "initdb").is_file() and (PG_BIN / "pg_ctl").is_file()


class ThrowawayPostgres:
    def __init__(self, max_connections: int = 200, *, durable: bool = False, settings: dict[str, str] | None = None) -> None:
        if not postgres_available():
            raise RuntimeError(f"PostgreSQL server binaries not found in {PG_BIN} (apt-get install postgresql)")
        self.folder = Path(tempfile.mkdtemp(prefix="ecg-pg-"))
        self.data = self.folder / "data"
        self.sockets = self.folder / "sockets"
        self.sockets.mkdir()
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.folder, "postgres")
            shutil.chown(self.sockets, "postgres")
        self._pg(f"initdb -D {self.data} -A trust -U postgres --no-sync -E UTF8")
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c max_connections={max_connections}"
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        for name, value in (settings or {}).items():
            options += f" -c {name}={value}"
        self._pg(f"pg_ctl -D {self.data} -l {self.folder / 'server.log'} -w -o '{options}' start")

    def _pg(self, command: str) -> None:
        line = f"{PG_BIN}/{command}"
        argv = ["su", "postgres", "-c", line] if self._as_postgres else ["sh", "-c", line]
        subprocess.run(argv, check=True, capture_output=True, timeout=120)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        engine = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.url(name)

    def stop(self) -> None:
        try:
            self._pg(f"pg_ctl -D {self.data} -m immediate -w stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> ThrowawayPostgres:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
