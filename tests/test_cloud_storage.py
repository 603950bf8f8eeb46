"""Storage: migrations give the models' schema on both databases, and waveforms round-trip compactly in chunks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from cloud_support import BACKENDS, ecg_like, fresh_database, saved_id
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sqlalchemy import insert, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

from cloud.db import insert_rows, make_engine, reserve_ids
from cloud.migrate import current_revision, head_revision, migrate
from cloud.models import Patient, Record, Role, User, WaveformChunk
from cloud.waveforms import chunk_rows, decode_chunk, encode_chunk, iter_lead_mv, read_frames


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrations_build_the_models_schema(backend: str, tmp_path: Path) -> None:
    engine = make_engine(fresh_database(backend, tmp_path))
    with engine.connect() as connection:
        assert current_revision(connection) == head_revision()
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert differences == []
    assert {"record", "waveform_chunk", "event", "analysis", "audit"} <= set(inspect(engine).get_table_names())
    engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrating_again_changes_nothing(backend: str, tmp_path: Path) -> None:
    url = fresh_database(backend, tmp_path)
    migrate(url)
    engine = make_engine(url)
    with engine.connect() as connection:
        assert current_revision(connection) == head_revision()
    engine.dispose()


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    engine = make_engine(fresh_database("sqlite", tmp_path))
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL: a 2xx survives a power cut
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from([np.int16, np.int32]).flatmap(
        lambda dtype: arrays(dtype, st.tuples(st.integers(0, 300), st.integers(1, 4)))
    ),
    st.booleans(),
)
def test_chunks_decode_to_the_same_integers(frames: np.ndarray, fast: bool) -> None:
    encoding, blob = encode_chunk(frames, fast=fast)
    decoded = decode_chunk(encoding, blob, frames.shape[0], frames.shape[1])
    assert decoded.dtype == frames.dtype and np.array_equal(decoded, frames)


def test_ecg_compresses_well_and_fast_encoding_nearly_as_well() -> None:
    frames = ecg_like(15000).reshape(-1, 1)
    assert encode_chunk(frames)[0] == "d8z" and encode_chunk(frames, fast=True)[0] == "d8"
    assert len(encode_chunk(frames)[1]) < 0.45 * frames.nbytes
    assert len(encode_chunk(frames, fast=True)[1]) < 0.6 * frames.nbytes
    steps = frames.copy()
    steps[::100] = 30000  # deltas too wide for a byte take the escape
    assert np.array_equal(decode_chunk(*encode_chunk(steps, fast=True), 15000, 1), steps)


def doctors_patient(s: Session) -> Patient:
    """A doctor and one patient of theirs, flushed so both have ids."""
    doctor = User(username="d", email="d@example.org", role=Role.doctor, password_hash="x")
    s.add(doctor)
    s.flush()
    patient = Patient(name="P", doctor_id=saved_id(doctor))
    s.add(patient)
    s.flush()
    return patient


@pytest.mark.parametrize("backend", BACKENDS)
def test_long_record_is_read_back_chunk_by_chunk(backend: str, tmp_path: Path) -> None:
    """A 24-h, 250-Hz record read as windows and as the analysis engine's stream, never whole."""
    n = 24 * 3600 * 250
    frames = np.tile(ecg_like(250 * 60), n // (250 * 60)).reshape(-1, 1)
    engine = make_engine(fresh_database(backend, tmp_path))
    with Session(engine, expire_on_commit=False) as s:
        patient = doctors_patient(s)
        record = Record(patient_id=saved_id(patient), source="csv", fs=250.0, n_samples=n, leads=["I"], units=["mV"],
                        lsb_mv=[0.002], chunk_frames=1 << 16)
        s.add(record)
        s.flush()
        assert record.id is not None
        s.execute(insert(WaveformChunk), chunk_rows(record.id, frames))
        s.commit()
        window = read_frames(s, record, 65_000, 66_000)  # spans two chunks
        assert np.array_equal(window, frames[65_000:66_000])
        sizes = [chunk.shape[0] for chunk in iter_lead_mv(s, record)]
        assert len(sizes) == -(-n // (1 << 16)) and max(sizes) == 1 << 16 and sum(sizes) == n
        last = next(iter(iter_lead_mv(s, record)))
        assert np.allclose(last, frames[: 1 << 16, 0] * 0.002)
    engine.dispose()


def test_waveform_blobs_are_not_compressed_again_by_postgresql(tmp_path: Path) -> None:
    """Chunks are delta-coded (and for uploads zlib-compressed) already: TOAST stores them as they are."""
    engine = make_engine(fresh_database("postgresql", tmp_path))
    with engine.connect() as connection:
        storage = connection.execute(
            text("SELECT attstorage FROM pg_attribute WHERE attrelid = 'waveform_chunk'::regclass AND attname = 'data'")
        ).scalar_one()
    engine.dispose()
    assert storage == "e"  # EXTERNAL: out of line, never pglz


@pytest.mark.parametrize("backend", BACKENDS)
def test_insert_rows_stores_what_the_orm_would(backend: str, tmp_path: Path) -> None:
    """insert_rows (COPY on PostgreSQL) keeps types, NULLs and column defaults, and refuses duplicates as ORM inserts do."""
    engine = make_engine(fresh_database(backend, tmp_path))
    start = datetime(2026, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)
    frames = ecg_like(5000).reshape(-1, 1)
    with Session(engine, expire_on_commit=False) as s:
        patient = doctors_patient(s)
        ids = reserve_ids(s, {"record": 2, "analysis": 0})
        assert len(ids["record"]) == 2 and ids["analysis"] == []
        rows = [
            {"id": record_id, "patient_id": saved_id(patient), "source": "gateway", "fs": 250.0, "n_samples": 5000,
             "leads": ["ECG"], "units": ["mV"], "lsb_mv": [0.001], "start_time": start, "chunk_frames": 1 << 16,
             "meta": {"event_type": "VT", "nested": [1, None]} if n else None, "created_at": start}
            for n, record_id in enumerate(ids["record"])
        ]
        insert_rows(s, Record, rows)
        insert_rows(s, WaveformChunk, [dict(chunk, record_id=ids["record"][0]) for chunk in chunk_rows(0, frames, fast=True)])
        s.commit()
        stored = [s.get(Record, record_id) for record_id in ids["record"]]
        assert [r.name for r in stored if r] == ["", ""]  # the column default, as executemany would fill it in
        assert stored[0] is not None and stored[1] is not None
        assert stored[0].meta is None and stored[1].meta == {"event_type": "VT", "nested": [1, None]}
        assert stored[1].start_time == start and stored[1].leads == ["ECG"] and stored[1].lsb_mv == [0.001]
        assert stored[1].analysis_status == "pending"
        assert np.array_equal(read_frames(s, stored[0]), frames)
        with pytest.raises(IntegrityError):
            insert_rows(s, Record, rows[:1])
        s.rollback()
        assert s.execute(text("SELECT count(*) FROM record")).scalar_one() == 2
    engine.dispose()
