"""Analysis in the background: results and failures kept on the record, re-analysis, and jobs that
survive a killed worker (a real huey consumer process, killed with SIGKILL and started again)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cloud_support import (
    BACKENDS,
    CloudApp,
    ecg_like,
    fresh_database,
    immediate_queue,
    make_cloud,
    saved_id,
    settings_for,
)
from sqlalchemy import select
from sqlmodel import Session, col

from cloud.models import Analysis, AuthSession, Patient, Record, Role, User
from cloud.security import digest

TOKEN = "doctor-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TESTS = Path(__file__).parent
ROOT = TESTS.parent


def seed(app: CloudApp) -> None:
    with Session(app.services.engine) as s:
        doctor = User(username="doc", email="doc@example.org", role=Role.doctor, password_hash="x")
        s.add(doctor)
        s.flush()
        s.add(Patient(name="P", doctor_id=saved_id(doctor)))
        s.add(AuthSession(token_hash=digest(TOKEN), user_id=saved_id(doctor), expires_at=datetime.now(UTC) + timedelta(hours=1)))
        s.commit()


def cloud_with(backend: str, folder: Path, analyser: str, immediate: bool = True) -> CloudApp:
    db_url = fresh_database(backend, folder)
    settings = settings_for(db_url, folder, analyser=analyser)
    app = make_cloud(db_url, folder, queue=immediate_queue(settings) if immediate else None, analyser=analyser)
    seed(app)
    return app


def upload_csv(app: CloudApp, n: int = 1000) -> dict[str, Any]:
    content = "\n".join(str((i % 50) / 100) for i in range(n)).encode()
    response = app.client.post(
        "/records/upload", data={"patient_id": "1", "fs": "250"}, files=[("files", ("x.csv", content))], headers=AUTH
    )
    assert response.status_code == 201, response.text
    return response.json()


def record(app: CloudApp, record_id: int) -> dict[str, Any]:
    return app.client.get(f"/records/{record_id}", headers=AUTH).json()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def test_result_is_kept_as_an_analysis_of_the_record(backend: str, tmp_path: Path) -> None:
    app = cloud_with(backend, tmp_path, "cloud_support:fake_analyser")
    created = upload_csv(app, 70_000)  # more than one stored chunk
    assert record(app, created["id"])["analysis_status"] == "done"
    analyses = app.client.get(f"/records/{created['id']}/analyses", headers=AUTH).json()
    assert len(analyses) == 1 and analyses[0]["status"] == "done"
    expected_sum = sum((i % 50) / 100 for i in range(70_000))
    assert analyses[0]["result"]["samples"] == 70_000 and abs(analyses[0]["result"]["sum_mv"] - expected_sum) < 1e-3
    assert analyses[0]["engine"] == "cloud_support:fake_analyser"


def test_failed_job_says_why_on_the_record(backend: str, tmp_path: Path) -> None:
    app = cloud_with(backend, tmp_path, "cloud_support:failing_analyser")
    created = upload_csv(app)
    shown = record(app, created["id"])
    assert shown["analysis_status"] == "failed"
    assert shown["analysis_error"] == "ValueError: signal too short to analyse"


def test_missing_engine_fails_the_job_with_its_name(backend: str, tmp_path: Path) -> None:
    app = cloud_with(backend, tmp_path, "no_such_module:analyse_stream")
    shown = record(app, upload_csv(app)["id"])
    assert shown["analysis_status"] == "failed" and "no_such_module:analyse_stream is unavailable" in shown["analysis_error"]


def test_failed_and_old_records_can_be_analysed_again(backend: str, tmp_path: Path) -> None:
    app = cloud_with(backend, tmp_path, "cloud_support:failing_analyser")
    failed = upload_csv(app)["id"]
    # The engine is mended: the queue's workers now run one that works.
    app.services.queue.settings = settings_for(app.settings.db_url, tmp_path, analyser="cloud_support:fake_analyser")
    again = app.client.post("/records/analyse", json={"unanalysed": True}, headers=AUTH)
    assert again.status_code == 202 and len(again.json()["queued"]) == 1
    assert record(app, failed)["analysis_status"] == "done"
    assert app.client.post("/records/analyse", json={"unanalysed": True}, headers=AUTH).json()["queued"] == []
    later = datetime.now(UTC) + timedelta(minutes=1)
    old = app.client.post("/records/analyse", json={"analysed_before": later.isoformat()}, headers=AUTH)
    assert len(old.json()["queued"]) == 1
    assert len(app.client.get(f"/records/{failed}/analyses", headers=AUTH).json()) == 3


def _worker(folder: Path, db_url: str, analyser: str, marker: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), str(ROOT)]),
        "ECG_CLOUD_ANALYSER": analyser,
        "ECG_CLOUD_JOB_LEASE_S": "2",
        "ECG_TEST_MARKER": str(marker),
    }
    argv = [sys.executable, "-m", "ecg_cli.main", "cloud", "worker", "--data-dir", str(folder), "--db-url", db_url]
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=open(folder / "worker.log", "ab"))


def _wait(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _status(app: CloudApp, analysis_id: int) -> str:
    with Session(app.services.engine) as s:
        return s.execute(select(col(Analysis.status)).where(col(Analysis.id) == analysis_id)).scalar_one()


def test_job_survives_a_killed_worker_and_a_server_restart(backend: str, tmp_path: Path) -> None:
    app = cloud_with(backend, tmp_path, "cloud_support:fake_analyser", immediate=False)
    db_url = app.settings.db_url
    record_id = upload_csv(app)["id"]
    with Session(app.services.engine) as s:
        analysis_id = s.execute(select(col(Analysis.id)).where(col(Analysis.record_id) == record_id)).scalar_one()
    app.services.engine.dispose()
    del app  # the server is gone; the job waits in the queue file

    marker = tmp_path / "started"
    first = _worker(tmp_path, db_url, "cloud_support:hanging_analyser", marker)
    try:
        _wait(marker.exists, 60, "the first worker to start the job")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    viewer = make_cloud(db_url, tmp_path)
    assert _status(viewer, analysis_id) == "running", "the killed worker left the job running"
    time.sleep(2.5)  # its lease lapses

    second = _worker(tmp_path, db_url, "cloud_support:fake_analyser", marker)
    try:
        _wait(lambda: _status(viewer, analysis_id) == "done", 60, "the restarted worker to finish the job")
    finally:
        second.send_signal(signal.SIGINT)
        try:
            second.wait(20)
        except subprocess.TimeoutExpired:
            second.kill()
    with Session(viewer.services.engine) as s:
        rec = s.get(Record, record_id)
        assert rec is not None and rec.analysis_status == "done"
    viewer.services.engine.dispose()


def test_the_real_engine_analyses_an_uploaded_record(tmp_path: Path) -> None:
    """cloud.analysis.analyse_stream, fed from the compressed store: beats of a 75-bpm signal are found."""
    pytest.importorskip("cloud.analysis")
    app = cloud_with("sqlite", tmp_path, "cloud.analysis:analyse_stream")
    signal = ecg_like(250 * 120) / 1000.0  # mV
    content = "\n".join(f"{v:.3f}" for v in signal).encode()
    response = app.client.post(
        "/records/upload", data={"patient_id": "1", "fs": "250"}, files=[("files", ("x.csv", content))], headers=AUTH
    )
    assert response.status_code == 201, response.text
    analysis = app.client.get(f"/records/{response.json()['id']}/analyses", headers=AUTH).json()[0]
    assert analysis["status"] == "done", analysis["error"]
    assert analysis["result"]["samples"] == 250 * 120
    assert 140 <= analysis["result"]["beats"]["count"] <= 160  # 120 s at one beat per 0.8 s
