"""Gateway ingestion: JSON batches of events with snippets, idempotent by batch and by event, on both databases."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
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
    snippet_json,
)
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlmodel import Session, col

from cloud import ingest
from cloud.ingest import store_batch
from cloud.ingest_schema import BatchIn
from cloud.models import (
    Analysis,
    Device,
    DeviceAssignment,
    Event,
    Gateway,
    IngestBatch,
    Patient,
    Record,
    Role,
    User,
    WaveformChunk,
)
from cloud.security import digest
from cloud.waveforms import read_frames

KEY = "gateway-key"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def cloud(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CloudApp]:
    db_url = fresh_database(request.param, tmp_path)
    app = make_cloud(db_url, tmp_path, queue=immediate_queue(settings_for(db_url, tmp_path)))
    with Session(app.services.engine) as s:
        doctor = User(username="doc", email="doc@example.org", role=Role.doctor, password_hash="x")
        gateway = Gateway(name="home", key_hash=digest(KEY))
        other = Gateway(name="elsewhere", key_hash=digest("other-key"))
        s.add_all([doctor, gateway, other])
        s.flush()
        patient = Patient(name="P", doctor_id=saved_id(doctor))
        s.add(patient)
        s.add_all([Device(serial="A1", gateway_id=gateway.id), Device(serial="B2", gateway_id=gateway.id),
                   Device(serial="C3", gateway_id=other.id)])
        s.flush()
        for serial_id in (1, 2, 3):
            s.add(DeviceAssignment(device_id=serial_id, patient_id=saved_id(patient), start=T0 - timedelta(days=1)))
        s.commit()
    yield app
    app.services.engine.dispose()


def event(serial: str, number: int, *, snippet: bool = True) -> dict[str, Any]:
    onset = T0 + timedelta(minutes=number)
    body = {"patch_serial": serial, "patch_event_id": number, "type": "VT", "onset": onset.isoformat(),
            "end": (onset + timedelta(seconds=8)).isoformat(), "confidence": 0.93, "heart_rate": 182.0,
            "patch_verdict": "VT", "gateway_verdict": "VT"}
    if snippet:
        body["snippet"] = snippet_json(ecg_like(15000, seed=number), (onset - timedelta(seconds=30)).isoformat())
    return body


def post(app: CloudApp, batch_id: str, events: list[dict[str, Any]], key: str = KEY) -> Any:
    return app.client.post("/ingest/batches", json={"batch_id": batch_id, "events": events}, headers={"X-Gateway-Key": key})


def counts(app: CloudApp) -> dict[str, int]:
    with Session(app.services.engine) as s:
        return {
            table.__name__: s.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (Event, Record, WaveformChunk, Analysis, IngestBatch)
        }


def test_batch_is_stored_with_snippets_read_back_exactly(cloud: CloudApp) -> None:
    response = post(cloud, "b1", [event("A1", 1), event("B2", 2, snippet=False) | {"type": "AF"}])
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 2 and response.json()["duplicates"] == 0
    assert counts(cloud) == {"Event": 2, "Record": 1, "WaveformChunk": 1, "Analysis": 1, "IngestBatch": 1}
    with Session(cloud.services.engine) as s:
        stored = s.get(Event, response.json()["event_ids"][0])
        assert stored is not None and stored.snippet_record_id is not None
        assert (stored.type, stored.onset, stored.heart_rate) == ("VT", T0 + timedelta(minutes=1), 182.0)
        record = s.get(Record, stored.snippet_record_id)
        assert record is not None and (record.fs, record.n_samples, record.lsb_mv) == (250.0, 15000, [0.001])
        assert np.array_equal(read_frames(s, record)[:, 0], ecg_like(15000, seed=1))
        blob = s.execute(select(col(WaveformChunk.data))).scalar_one()
        assert len(blob) < 0.6 * 15000 * 2, "stored compressed"
        analysis = s.execute(select(Analysis)).scalar_one()
        assert analysis.status == "done" and analysis.result is not None and analysis.result["samples"] == 15000


def test_repeated_batch_changes_nothing(cloud: CloudApp) -> None:
    events = [event("A1", 1), event("A1", 2)]
    first = post(cloud, "b1", events)
    before = counts(cloud)
    again = post(cloud, "b1", events)
    assert again.status_code == 200
    assert again.json() == {**first.json(), "duplicate_batch": True}
    assert counts(cloud) == before


def test_events_already_stored_are_skipped_in_a_new_batch(cloud: CloudApp) -> None:
    post(cloud, "b1", [event("A1", 1)])
    response = post(cloud, "b2", [event("A1", 1), event("A1", 2), event("A1", 2)])
    assert response.json()["accepted"] == 1 and response.json()["duplicates"] == 2
    ids = response.json()["event_ids"]
    assert ids[1] == ids[2] and ids[0] != ids[1]
    assert counts(cloud)["Event"] == 2 and counts(cloud)["Record"] == 2


def test_same_batch_id_with_other_contents_is_refused(cloud: CloudApp) -> None:
    post(cloud, "b1", [event("A1", 1)])
    response = post(cloud, "b1", [event("A1", 2)])
    assert response.status_code == 409 and "other contents" in response.text


def test_refused_batch_stores_nothing_and_its_retry_stores_it_once(cloud: CloudApp) -> None:
    batch = [event("A1", 1), event("B2", 2), event("C3", 3)]  # C3 reports through another gateway
    refused = post(cloud, "b1", batch)
    assert refused.status_code == 403 and "'C3'" in refused.text
    assert counts(cloud) == dict.fromkeys(("Event", "Record", "WaveformChunk", "Analysis", "IngestBatch"), 0)
    with Session(cloud.services.engine) as s:
        device = s.execute(select(Device).where(col(Device.serial) == "C3")).scalar_one()
        device.gateway_id = 1
        s.commit()
    retried = post(cloud, "b1", batch)
    assert retried.status_code == 200 and retried.json()["accepted"] == 3
    assert post(cloud, "b1", batch).json()["duplicate_batch"] is True
    assert counts(cloud)["Event"] == 3


def test_failure_inside_the_transaction_rolls_back_and_the_retry_succeeds(
    cloud: CloudApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection fails after the events were inserted but before commit: the retry stores them once."""

    def broken(*args: Any, **kwargs: Any) -> list[int]:
        raise ConnectionError("database went away")

    monkeypatch.setattr(ingest, "_queue_analyses", broken)
    client = TestClient(cloud.app, raise_server_exceptions=False)
    batch = {"batch_id": "b1", "events": [event("A1", 1), event("A1", 2)]}
    assert client.post("/ingest/batches", json=batch, headers={"X-Gateway-Key": KEY}).status_code == 500
    assert counts(cloud)["Event"] == 0 and counts(cloud)["Record"] == 0
    monkeypatch.undo()
    response = client.post("/ingest/batches", json=batch, headers={"X-Gateway-Key": KEY})
    assert response.status_code == 200 and response.json()["accepted"] == 2
    assert counts(cloud) == {"Event": 2, "Record": 2, "WaveformChunk": 2, "Analysis": 2, "IngestBatch": 1}


def test_concurrent_copies_of_a_batch_store_it_once(cloud: CloudApp) -> None:
    batch = BatchIn.model_validate({"batch_id": "b1", "events": [event("A1", n, snippet=n == 1) for n in range(1, 6)]})
    digest_ = hashlib.sha256(b"same body").hexdigest()
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: store_batch(cloud.services.engine, 1, batch, digest_, 60.0).response, range(4)))
    assert sum(not r["duplicate_batch"] for r in results) == 1
    assert counts(cloud)["Event"] == 5 and counts(cloud)["Record"] == 1


@pytest.mark.parametrize(
    "change,words",
    [
        ({"confidence": 1.5}, "confidence"),
        ({"type": "HICCUP"}, "type"),
        ({"onset": "2026-03-01T12:00:00"}, "timezone"),
        ({"snippet": {"fs": 250, "lsb_uv": 1, "start": "2026-03-01T12:00:00Z", "samples_b64": "AAAB"}}, "even"),
        ({"snippet": {"fs": 0, "lsb_uv": 1, "start": "2026-03-01T12:00:00Z", "samples_b64": "AAAAAA=="}}, "fs"),
        ({"snippet": {"fs": 250, "lsb_uv": 1, "start": "2026-03-01T12:00:00Z", "samples": [1, 2]}}, "samples"),
    ],
)
def test_invalid_events_are_refused_with_the_reason(cloud: CloudApp, change: dict[str, Any], words: str) -> None:
    response = post(cloud, "bad", [event("A1", 1, snippet=False) | change])
    assert response.status_code == 422, response.text
    assert words in response.json()["detail"]
    assert counts(cloud)["Event"] == 0


def test_unknown_key_and_content_type(cloud: CloudApp) -> None:
    assert post(cloud, "b1", [event("A1", 1)], key="guess").status_code == 401
    body = json.dumps({"batch_id": "b1", "events": []})
    wrong = cloud.client.post("/ingest/batches", content=body, headers={"X-Gateway-Key": KEY, "Content-Type": "text/plain"})
    assert wrong.status_code == 415


def test_event_outside_any_wearing_period_is_refused(cloud: CloudApp) -> None:
    early = event("A1", 1) | {"onset": (T0 - timedelta(days=2)).isoformat(), "end": None}
    response = post(cloud, "b1", [early])
    assert response.status_code == 422 and "worn by no patient" in response.text
