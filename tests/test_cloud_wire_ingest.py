"""Binary batches: the patch's wire frames (firmware/wire.py) posted as application/octet-stream."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cloud_support import BACKENDS, CloudApp, ecg_like, fresh_database, make_cloud, saved_id, snippet_json
from sqlalchemy import func, select
from sqlmodel import Session

from cloud.models import Device, DeviceAssignment, Event, Gateway, Patient, Record, Role, User
from cloud.security import digest
from cloud.waveforms import read_frames
from cloud.wire_batch import encode_wire_batch
from firmware import wire

KEY = "gateway-key"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)


@pytest.fixture(params=BACKENDS)
def cloud(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CloudApp]:
    app = make_cloud(fresh_database(request.param, tmp_path), tmp_path)
    with Session(app.services.engine) as s:
        doctor = User(username="doc", email="doc@example.org", role=Role.doctor, password_hash="x")
        gateway = Gateway(name="home", key_hash=digest(KEY))
        s.add_all([doctor, gateway])
        s.flush()
        patient = Patient(name="P", doctor_id=saved_id(doctor))
        device = Device(serial="A1", gateway_id=gateway.id)
        s.add_all([patient, device])
        s.flush()
        s.add(DeviceAssignment(device_id=saved_id(device), patient_id=saved_id(patient), start=T0 - timedelta(days=1)))
        s.commit()
    yield app
    app.services.engine.dispose()


def snippet_frames(snippet_id: int, event_id: int, samples: np.ndarray, fragment_size: int = 236) -> list[bytes]:
    encoding, payload = wire.compress_samples(samples.astype("<i2").tobytes(), 1)
    header = wire.snippet_header_for(
        snippet_id, event_id, T0_MS - 30_000, 250, 1000, 1, payload, fragment_size, encoding=encoding,
        total_samples=len(samples),
    )
    frames = [wire.encode(header)]
    for index in range(header["total_fragments"]):
        start, end = wire.fragment_bounds(header, index)
        frames.append(wire.encode_snippet_fragment(snippet_id, index, payload[start:end]))
    return frames


def event_frame(event_id: int, flags: int = 0, snippet: int = 0, samples: int = 0) -> bytes:
    return wire.encode_event(
        event_id, "VT", T0_MS + event_id * 60_000, T0_MS + event_id * 60_000 + 8000, 240, heart_rate=180,
        severity="HIGH", flags=flags, snippet_id=snippet, snippet_samples=samples,
    )


def post(app: CloudApp, body: bytes) -> Any:
    return app.client.post(
        "/ingest/batches", content=body, headers={"X-Gateway-Key": KEY, "Content-Type": "application/octet-stream"}
    )


def test_binary_batch_is_stored_like_the_json_form(cloud: CloudApp) -> None:
    samples = ecg_like(15000, seed=5)
    summary = wire.encode_summary(T0_MS + 600_000, 300, 72, 60, 90, 360, 2, 1, 250, 80)
    frames = [event_frame(1, snippet=9, samples=15000), *snippet_frames(9, 1, samples), event_frame(2), summary]
    response = post(cloud, encode_wire_batch("w1", "A1", frames))
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 3
    with Session(cloud.services.engine) as s:
        events = list(s.execute(select(Event).order_by(Event.patch_event_id)).scalars())  # type: ignore[arg-type]
        assert [e.type for e in events] == ["SUMMARY", "VT", "VT"]
        vt = events[1]
        assert vt.onset == T0 + timedelta(minutes=1) and vt.heart_rate == 180 and abs(vt.confidence - 240 / 255) < 1e-9
        assert vt.patch_verdict == "VT HIGH" and vt.snippet_record_id is not None
        record = s.get(Record, vt.snippet_record_id)
        assert record is not None and record.fs == 250 and record.lsb_mv == [0.001]
        assert np.array_equal(read_frames(s, record)[:, 0], samples)
    again = post(cloud, encode_wire_batch("w1", "A1", frames))
    assert again.json()["duplicate_batch"] is True


def test_the_same_event_in_json_then_binary_is_stored_once(cloud: CloudApp) -> None:
    onset = T0 + timedelta(minutes=1)
    json_event = {"patch_serial": "A1", "patch_event_id": 1, "type": "VT", "onset": onset.isoformat(),
                  "confidence": 0.9, "snippet": snippet_json(ecg_like(100), onset.isoformat())}
    first = cloud.client.post("/ingest/batches", json={"batch_id": "j1", "events": [json_event]}, headers={"X-Gateway-Key": KEY})
    assert first.status_code == 200
    second = post(cloud, encode_wire_batch("w1", "A1", [event_frame(1)]))
    assert second.json()["duplicates"] == 1 and second.json()["event_ids"] == first.json()["event_ids"]
    with Session(cloud.services.engine) as s:
        assert s.execute(select(func.count()).select_from(Event)).scalar_one() == 1


@pytest.mark.parametrize(
    "body,words",
    [
        (b"JUNK", "ECGB"),
        (encode_wire_batch("w1", "A1", [event_frame(1)])[:-1], "frame"),
        (encode_wire_batch("w1", "A1", [event_frame(1, flags=wire.FLAG_UNSYNCED)]), "boot clock"),
        (encode_wire_batch("w1", "A1", [event_frame(1)[:-2] + b"\x00\x00"]), "CRC"),
        (encode_wire_batch("w1", "A1", [event_frame(1, snippet=9, samples=15000), *snippet_frames(9, 1, ecg_like(15000))[:-1]]),
         "incomplete"),
        (encode_wire_batch("w1", "A1", [wire.encode_ack(1, "event", 5)]), "does not belong"),
    ],
    ids=["magic", "cut", "unsynced", "crc", "missing fragment", "command frame"],
)
def test_bad_binary_batches_are_refused_with_the_reason(cloud: CloudApp, body: bytes, words: str) -> None:
    response = post(cloud, body)
    assert response.status_code == 422 and words in response.json()["detail"], response.text
    with Session(cloud.services.engine) as s:
        assert s.execute(select(func.count()).select_from(Event)).scalar_one() == 0
