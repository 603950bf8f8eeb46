"""`ecg bench ingest`: events per second a real server accepts, each event with its 60-s snippet.

A uvicorn server process (`ecg cloud serve`) runs on loopback against a fresh SQLite file or a
throw-away PostgreSQL cluster. Setup goes through the API (administrator, gateway key, patches,
patients); then several client connections post pre-encoded batches at once, and the time from the
first request to the last answer gives the rate. Bodies are encoded before the clock starts, so the
figure is the server's, not the client's JSON encoding.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlmodel import Session

from cloud.db import make_engine
from cloud.migrate import migrate
from cloud.models import Role, User
from cloud.security import Passwords
from cloud.settings import Argon2Cost, sqlite_url
from cloud.throwaway_pg import ThrowawayPostgres, free_port

FS = 250
SNIPPET_SECONDS = 60
PATCHES = 8
DISTINCT_SNIPPETS = 16
ADMIN_PASSWORD = "bench administrator"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
# SQLite takes one writer at a time: a second process mostly waits for the lock.
DEFAULT_WORKERS = {"sqlite": 1, "postgresql": 2}


@dataclass
class Figures:
    database: str
    workers: int
    clients: int
    events: int
    batch: int
    seconds: float
    events_per_s: float
    mb_per_s: float
    stored_bytes_per_snippet: float | None


def synthetic_snippet(seed: int) -> np.ndarray:
    """60 s of ECG-like int16 samples at 250 Hz (1 µV/LSB): beats, baseline wander, noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(FS * SNIPPET_SECONDS) / FS
    period = 60.0 / rng.uniform(55, 110)
    beats = 1000 * np.exp(-(((t % period) - period / 2) ** 2) / 0.0004)
    return (beats + 80 * np.sin(2 * np.pi * 0.25 * t) + rng.normal(0, 4, t.size)).astype("<i2")


def encode_batches(events: int, batch: int) -> list[bytes]:
    """Request bodies, all different (batch ids, event ids, onsets), snippets from a small pool."""
    pool = [base64.b64encode(synthetic_snippet(seed).tobytes()).decode() for seed in range(DISTINCT_SNIPPETS)]
    bodies = []
    for first in range(0, events, batch):
        items = []
        for n in range(first, min(first + batch, events)):
            onset = T0 + timedelta(seconds=n)
            items.append(
                {
                    "patch_serial": f"BENCH{n % PATCHES}",
                    "patch_event_id": n + 1,
                    "type": "VT" if n % 3 else "AF",
                    "onset": onset.isoformat(),
                    "end": (onset + timedelta(seconds=8)).isoformat(),
                    "confidence": 0.9,
                    "heart_rate": 170.0,
                    "patch_verdict": "VT",
                    "snippet": {
                        "fs": FS,
                        "lsb_uv": 1.0,
                        "start": (onset - timedelta(seconds=30)).isoformat(),
                        "samples_b64": pool[n % DISTINCT_SNIPPETS],
                    },
                }
            )
        bodies.append(json.dumps({"batch_id": f"bench-{first}", "events": items}).encode())
    return bodies


class Server:
    """`ecg cloud serve` in a child process."""

    def __init__(self, db_url: str, data_dir: Path, workers: int) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        argv = [
            sys.executable, "-m", "ecg_cli.main", "cloud", "serve", "--host", "127.0.0.1", "--port", str(self.port),
            "--workers", str(workers), "--db-url", db_url, "--data-dir", str(data_dir), "--log-level", "warning",
            "--no-access-log",
        ]
        with open(data_dir / "server.log", "wb") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server did not start; see {data_dir / 'server.log'}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def prepare(base: str) -> str:
    """Gateway key, patients and patches through the API, as the administrator; the gateway's key."""
    with httpx.Client(base_url=base, timeout=30) as client:
        token = client.post("/auth/login", json={"login": "bench", "password": ADMIN_PASSWORD}).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        gateway = _ok(client.post("/gateways", json={"name": "bench gateway"}))
        me = _ok(client.get("/users/me"))
        for i in range(PATCHES):
            patient = _ok(client.post("/patients", json={"name": f"bench patient {i}", "doctor_id": me["id"]}))
            device = _ok(client.post("/devices", json={"serial": f"BENCH{i}", "gateway_id": gateway["id"]}))
            period = {"patient_id": patient["id"], "start": (T0 - timedelta(days=1)).isoformat()}
            _ok(client.post(f"/devices/{device['id']}/assignments", json=period))
    return str(gateway["key"])


def _ok(response: httpx.Response) -> Any:
    if response.status_code >= 300:
        raise RuntimeError(f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text}")
    return response.json()


def post_all(base: str, key: str, bodies: list[bytes], clients: int) -> tuple[float, int]:
    """Post every body over `clients` connections at once; (seconds, events accepted)."""
    next_body = iter(range(len(bodies)))
    lock = threading.Lock()
    accepted = [0] * clients
    errors: list[str] = []

    def client_loop(slot: int) -> None:
        headers = {"X-Gateway-Key": key, "Content-Type": "application/json"}
        with httpx.Client(base_url=base, timeout=120, headers=headers) as client:
            while True:
                with lock:
                    index = next(next_body, None)
                if index is None:
                    return
                response = client.post("/ingest/batches", content=bodies[index])
                if response.status_code != 200:
                    errors.append(f"{response.status_code} {response.text[:200]}")
                    return
                accepted[slot] += response.json()["accepted"]

    threads = [threading.Thread(target=client_loop, args=(slot,)) for slot in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"{len(errors)} batches refused, first: {errors[0]}")
    return elapsed, sum(accepted)


def stored_bytes_per_snippet(db_url: str) -> float | None:
    from sqlalchemy import func, select

    from cloud.models import WaveformChunk

    engine = make_engine(db_url)
    with Session(engine) as session:
        total, count = session.execute(
            select(func.sum(func.length(WaveformChunk.data)), func.count()).select_from(WaveformChunk)
        ).one()
    engine.dispose()
    return float(total) / count if count else None


def create_admin(db_url: str) -> None:
    migrate(db_url)
    engine = make_engine(db_url)
    with Session(engine) as session:
        password_hash = Passwords(Argon2Cost()).hash(ADMIN_PASSWORD)
        session.add(User(username="bench", email="bench@example.org", role=Role.admin, password_hash=password_hash))
        session.commit()
    engine.dispose()


def run_one(database: str, workers: int, clients: int, bodies: list[bytes], events: int, batch: int) -> Figures:
    with tempfile.TemporaryDirectory(prefix=f"ecg-bench-{database}-") as folder:
        data_dir = Path(folder)
        # Durable as a production server (fsync, synchronous commit, full-page writes): every 2xx is
        # a batch on disk. The test clusters' shortcuts would flatter the figure.
        cluster = ThrowawayPostgres(durable=True) if database == "postgresql" else None
        try:
            db_url = cluster.create_database("bench") if cluster else sqlite_url(data_dir / "cloud.db")
            create_admin(db_url)
            server = Server(db_url, data_dir, workers)
            try:
                key = prepare(server.base)
                seconds, accepted = post_all(server.base, key, bodies, clients)
            finally:
                server.stop()
            if accepted != events:
                raise RuntimeError(f"{accepted} events accepted of {events}")
            per_snippet = stored_bytes_per_snippet(db_url)
        finally:
            if cluster is not None:
                cluster.stop()
    body_mb = sum(len(b) for b in bodies) / 1e6
    return Figures(database, workers, clients, events, batch, round(seconds, 3), round(events / seconds, 1),
                   round(body_mb / seconds, 1), per_snippet and round(per_snippet))


def run_cli(args: argparse.Namespace) -> int:
    databases = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    bodies = encode_batches(args.events, args.batch)
    results = []
    for database in databases:
        workers = args.workers or DEFAULT_WORKERS[database]
        figures = run_one(database, workers, args.clients, bodies, args.events, args.batch)
        results.append(figures.__dict__)
        print(
            f"{database:10s} {figures.workers} workers, {figures.clients} clients: {figures.events} events "
            f"({SNIPPET_SECONDS}-s snippets at {FS} Hz) in {figures.seconds:.2f} s = "
            f"{figures.events_per_s:,.0f} events/s ({figures.mb_per_s} MB/s of JSON); "
            f"{figures.stored_bytes_per_snippet} bytes stored per snippet (raw {FS * SNIPPET_SECONDS * 2})"
        )
    if args.json:
        report = {"machine_cpus": os.cpu_count(), "snippet_samples": FS * SNIPPET_SECONDS, "runs": results}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0
