"""Storing a gateway batch: one transaction, a few multi-row statements, nothing stored twice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine, Integer, bindparam, func, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from cloud.audit import Actor, audit
from cloud.db import insert_rows, reserve_ids
from cloud.ingest_schema import BatchIn, EventIn
from cloud.models import (
    Analysis,
    AnalysisStatus,
    Device,
    DeviceAssignment,
    Event,
    IngestBatch,
    Record,
    WaveformChunk,
    utcnow,
)
from cloud.waveforms import CHUNK_FRAMES, chunk_rows


class IngestRefused(Exception):
    """The batch cannot be taken as it is; nothing of it was stored."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class StoredBatch:
    response: dict[str, Any]
    analysis_ids: list[int]


@dataclass(frozen=True)
class _Snippet:
    event: EventIn
    frames: np.ndarray
    chunks: list[dict[str, Any]]  # waveform_chunk rows without record_id


def prepare_snippets(batch: BatchIn) -> dict[int, _Snippet]:
    """Compress the snippets before any transaction opens (the CPU-heavy part of a batch)."""
    snippets = {}
    for i, event in enumerate(batch.events):
        if event.snippet is not None:
            frames = event.snippet.samples().reshape(-1, 1)
            snippets[i] = _Snippet(event, frames, chunk_rows(0, frames, fast=True))
    return snippets


def store_batch(engine: Engine, gateway_id: int, batch: BatchIn, body_sha256: str, lease_s: float) -> StoredBatch:
    """Store the batch, or answer its stored response again when it was taken before."""
    snippets = prepare_snippets(batch)
    for attempt in range(3):
        try:
            with Session(engine, expire_on_commit=False) as session:
                stored = _store(session, gateway_id, batch, body_sha256, snippets, lease_s)
                session.commit()
                return stored
        except IntegrityError:
            # The same events or batch came in at once on another connection: look again.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _store(
    session: Session,
    gateway_id: int,
    batch: BatchIn,
    body_sha256: str,
    snippets: dict[int, _Snippet],
    lease_s: float,
) -> StoredBatch:
    batch_row = session.execute(
        select(IngestBatch).where(
            col(IngestBatch.gateway_id) == gateway_id,
            col(IngestBatch.batch_key) == batch.batch_id,
        )
    ).scalars().first()
    if batch_row is not None:
        if batch_row.body_sha256 != body_sha256:
            raise IngestRefused(f"batch {batch.batch_id!r} was already received with other contents", 409)
        return StoredBatch({**batch_row.response, "duplicate_batch": True}, [])

    now = utcnow()
    devices, patients = _devices_and_wearers(session, gateway_id, batch.events)
    known = _known_events(session, devices, batch.events)

    event_ids: list[int | None] = []
    new_rows: list[dict[str, Any]] = []
    new_index: list[int] = []
    seen: dict[tuple[int, int, datetime], int] = {}
    for i, event in enumerate(batch.events):
        key = (devices[event.patch_serial], event.patch_event_id, event.onset)
        if key in known:
            event_ids.append(known[key])
        elif key in seen:
            event_ids.append(None)  # repeated inside this batch: filled in below
        else:
            seen[key] = i
            event_ids.append(None)
            new_index.append(i)
            new_rows.append(_event_row(event, devices[event.patch_serial], patients[i], gateway_id, now))

    new_snippets = {i: snippets[i] for i in new_index if i in snippets}
    # Every key this batch needs, in one round trip: a record and an analysis per new snippet.
    ids = reserve_ids(session, {"record": len(new_snippets), "event": len(new_rows), "analysis": len(new_snippets)})
    snippet_ids = _store_snippets(session, gateway_id, new_snippets, ids["record"], patients, now)
    for row, i, new_id in zip(new_rows, new_index, ids["event"], strict=True):
        row["id"] = new_id
        row["snippet_record_id"] = snippet_ids.get(i)
        event_ids[i] = new_id
    insert_rows(session, Event, new_rows)
    for i, event in enumerate(batch.events):
        if event_ids[i] is None:
            event_ids[i] = event_ids[seen[(devices[event.patch_serial], event.patch_event_id, event.onset)]]

    analysis_ids = _queue_analyses(session, list(snippet_ids.values()), ids["analysis"], now, lease_s)
    response = {
        "batch_id": batch.batch_id,
        "accepted": len(new_rows),
        "duplicates": len(batch.events) - len(new_rows),
        "event_ids": event_ids,
        "duplicate_batch": False,
    }
    session.add(IngestBatch(gateway_id=gateway_id, batch_key=batch.batch_id, body_sha256=body_sha256, response=response))
    audit(session, Actor("gateway", gateway_id), "ingest", "batch", None, batch_id=batch.batch_id,
          accepted=len(new_rows), duplicates=response["duplicates"])
    return StoredBatch(response, analysis_ids)


def _devices_and_wearers(
    session: Session, gateway_id: int, events: list[EventIn]
) -> tuple[dict[str, int], list[int]]:
    """The batch's patches (serial -> device id), and the patient wearing each event's patch at its onset."""
    serials = {e.patch_serial for e in events}
    # One query for both: each patch with its wearing periods (none: one row of NULLs).
    rows = session.execute(
        select(
            col(Device.serial), col(Device.id), col(Device.gateway_id),
            col(DeviceAssignment.patient_id), col(DeviceAssignment.start), col(DeviceAssignment.end),
        )
        .outerjoin(DeviceAssignment, col(DeviceAssignment.device_id) == col(Device.id))
        .where(col(Device.serial).in_(serials))
    ).all()
    found = {serial: (device_id, owner) for serial, device_id, owner, *_ in rows}
    for serial in sorted(serials):
        if serial not in found or found[serial][1] != gateway_id:
            raise IngestRefused(f"patch {serial!r} is not assigned to this gateway", 403)
    devices = {serial: device_id for serial, (device_id, _) in found.items()}
    periods = [(serial, patient, start, end) for serial, _, _, patient, start, end in rows if patient is not None]
    patients = []
    for event in events:
        wearer = next(
            (
                p for serial, p, start, end in periods
                if serial == event.patch_serial and start <= event.onset and (end is None or event.onset < end)
            ),
            None,
        )
        if wearer is None:
            raise IngestRefused(
                f"patch {event.patch_serial!r} was worn by no patient at {event.onset.isoformat()} "
                f"(event {event.patch_event_id})",
                422,
            )
        patients.append(wearer)
    return devices, patients


def _known_events(
    session: Session, devices: dict[str, int], events: list[EventIn]
) -> dict[tuple[int, int, datetime], int]:
    keys = {(devices[e.patch_serial], e.patch_event_id) for e in events}
    if not keys:
        return {}
    columns = (col(Event.device_id), col(Event.patch_event_id), col(Event.onset), col(Event.id))
    if session.get_bind().dialect.name == "postgresql":
        # The pairs as two arrays joined to the table: one statement text whatever the batch, which
        # psycopg prepares, and a plan (generic too) that probes uq_event_patch_key pair by pair. The
        # row-value IN list of 2 x 50 parameters ran as a filter over every event row: in a profile,
        # over a third of the server's CPU per batch by 20,000 events, and growing with the table.
        pairs = select(
            func.unnest(bindparam("device_ids", type_=ARRAY(Integer))).label("device_id"),
            func.unnest(bindparam("patch_event_ids", type_=ARRAY(Integer))).label("patch_event_id"),
        ).subquery()
        query = select(*columns).join(
            pairs,
            (col(Event.device_id) == pairs.c.device_id) & (col(Event.patch_event_id) == pairs.c.patch_event_id),
        )
        ordered = sorted(keys)
        params = {"device_ids": [d for d, _ in ordered], "patch_event_ids": [p for _, p in ordered]}
        rows = session.execute(query, params).all()
    else:
        rows = session.execute(select(*columns).where(tuple_(columns[0], columns[1]).in_(keys))).all()
    return {(d, p, onset): event_id for d, p, onset, event_id in rows}


def _event_row(event: EventIn, device_id: int, patient_id: int, gateway_id: int, now: datetime) -> dict[str, Any]:
    return {
        "patient_id": patient_id,
        "device_id": device_id,
        "gateway_id": gateway_id,
        "patch_event_id": event.patch_event_id,
        "type": event.type,
        "onset": event.onset,
        "end": event.end,
        "confidence": event.confidence,
        "heart_rate": event.heart_rate,
        "patch_verdict": event.patch_verdict,
        "gateway_verdict": event.gateway_verdict,
        "review_status": "pending",
        "review_note": "",
        "received_at": now,
    }


def _store_snippets(
    session: Session, gateway_id: int, snippets: dict[int, _Snippet], ids: list[int], patients: list[int], now: datetime
) -> dict[int, int]:
    """Record rows (with the reserved `ids`) and their chunks; event index -> record id."""
    if not snippets:
        return {}
    order = list(snippets)
    rows = []
    for i in order:
        event, frames = snippets[i].event, snippets[i].frames
        assert event.snippet is not None
        rows.append(
            {
                "patient_id": patients[i],
                "source": "gateway",
                "name": f"{event.patch_serial}/{event.patch_event_id}",
                "fs": event.snippet.fs,
                "n_samples": frames.shape[0],
                "leads": [event.snippet.lead],
                "units": ["mV"],
                "lsb_mv": [event.snippet.lsb_uv / 1000.0],
                "start_time": event.snippet.start,
                "chunk_frames": CHUNK_FRAMES,
                "meta": {"event_type": event.type},
                "gateway_id": gateway_id,
                "analysis_status": AnalysisStatus.queued,
                "created_at": now,
            }
        )
    for row, record_id in zip(rows, ids, strict=True):
        row["id"] = record_id
    insert_rows(session, Record, rows)
    chunks = [
        {**chunk, "record_id": record_id}
        for i, record_id in zip(order, ids, strict=True)
        for chunk in snippets[i].chunks
    ]
    insert_rows(session, WaveformChunk, chunks)
    return dict(zip(order, ids, strict=True))


def _queue_analyses(session: Session, record_ids: list[int], ids: list[int], now: datetime, lease_s: float) -> list[int]:
    if not record_ids:
        return []
    lease_until = now + timedelta(seconds=lease_s)
    rows = [
        {"id": i, "record_id": r, "status": AnalysisStatus.queued, "created_at": now, "lease_until": lease_until}
        for i, r in zip(ids, record_ids, strict=True)
    ]
    insert_rows(session, Analysis, rows)
    return ids
