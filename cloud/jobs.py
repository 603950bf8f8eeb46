"""Analysis jobs: queue them as rows, claim one, feed the engine the stored waveform, keep the outcome.

An `analysis` row is the job's state: queued -> running -> done | failed. A running job holds a lease
that it renews at every chunk it reads; one whose worker died stops renewing and is queued again.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine, or_, select, update
from sqlmodel import Session, col

from cloud.models import Analysis, AnalysisStatus, Record, utcnow
from cloud.waveforms import read_frames

Analyser = Callable[..., dict[str, Any]]
ACTIVE = (AnalysisStatus.queued, AnalysisStatus.running)
log = logging.getLogger(__name__)


def load_analyser(spec: str) -> Analyser:
    """The function named by 'module:attribute'."""
    module_name, _, attribute = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
        analyser = getattr(module, attribute)
    except (ImportError, AttributeError) as exc:
        raise RuntimeError(f"analysis engine {spec} is unavailable: {exc}") from exc
    return analyser


def queue_analyses(
    session: Session, record_ids: Iterable[int], lease_s: float, requested_by: int | None = None
) -> list[int]:
    """Queue one analysis per record that has none queued or running; the new analysis ids."""
    ids = sorted(set(record_ids))
    if not ids:
        return []
    busy = set(
        session.execute(
            select(col(Analysis.record_id)).where(
                col(Analysis.record_id).in_(ids), col(Analysis.status).in_(ACTIVE)
            )
        ).scalars()
    )
    now = utcnow()
    queued = []
    for record_id in ids:
        if record_id in busy:
            continue
        analysis = Analysis(
            record_id=record_id,
            status=AnalysisStatus.queued,
            requested_by=requested_by,
            created_at=now,
            lease_until=now + timedelta(seconds=lease_s),
        )
        session.add(analysis)
        queued.append(analysis)
    if queued:
        session.execute(
            update(Record)
            .where(col(Record.id).in_([a.record_id for a in queued]))
            .values(analysis_status=AnalysisStatus.queued, analysis_error=None)
        )
    session.flush()
    return [a.id for a in queued if a.id is not None]


def claim_stale(engine: Engine, lease_s: float, now: datetime | None = None) -> list[int]:
    """Queue again the jobs whose lease lapsed (worker killed, message lost); their ids."""
    now = now or utcnow()
    with Session(engine) as session:
        ids = list(
            session.execute(
                update(Analysis)
                .where(col(Analysis.status).in_(ACTIVE), col(Analysis.lease_until) < now)
                .values(status=AnalysisStatus.queued, lease_until=now + timedelta(seconds=lease_s))
                .returning(col(Analysis.id))
            ).scalars()
        )
        session.commit()
    return ids


def run_analysis(engine: Engine, analysis_id: int, analyser_spec: str, lease_s: float) -> str:
    """Run one job unless another worker holds it or it is finished; its final status or 'skipped'."""
    record = _claim(engine, analysis_id, analyser_spec, lease_s)
    if record is None:
        return "skipped"
    try:
        analyser = load_analyser(analyser_spec)
        chunks = _chunks_mv(engine, record, lambda: _renew(engine, analysis_id, lease_s))
        result = _plain_json(analyser(chunks, float(record.fs)))
    except Exception as exc:
        log.exception("analysis %s of record %s failed", analysis_id, record.id)
        _finish(engine, analysis_id, record.id, AnalysisStatus.failed, error=f"{type(exc).__name__}: {exc}"[:4000])
        return AnalysisStatus.failed
    _finish(engine, analysis_id, record.id, AnalysisStatus.done, result=result)
    return AnalysisStatus.done


def _claim(engine: Engine, analysis_id: int, analyser_spec: str, lease_s: float) -> Record | None:
    now = utcnow()
    with Session(engine, expire_on_commit=False) as session:
        claimed = session.execute(
            update(Analysis)
            .where(
                col(Analysis.id) == analysis_id,
                or_(
                    col(Analysis.status) == AnalysisStatus.queued,
                    (col(Analysis.status) == AnalysisStatus.running) & (col(Analysis.lease_until) < now),
                ),
            )
            .values(
                status=AnalysisStatus.running,
                started_at=now,
                lease_until=now + timedelta(seconds=lease_s),
                engine=analyser_spec,
            )
            .returning(col(Analysis.record_id))
        ).scalar_one_or_none()
        if claimed is None:
            return None
        record = session.get(Record, claimed)
        if record is not None:
            record.analysis_status = AnalysisStatus.running
        session.commit()
        return record


def _chunks_mv(engine: Engine, record: Record, renew: Callable[[], None]) -> Iterator[np.ndarray]:
    """The first lead in mV, one stored chunk per short transaction (never a long-held one)."""
    step = float(record.lsb_mv[0])
    for start in range(0, record.n_samples, record.chunk_frames):
        with engine.connect() as connection:
            frames = read_frames(connection, record, start, start + record.chunk_frames)
        yield frames[:, 0].astype(np.float64) * step
        renew()


def _renew(engine: Engine, analysis_id: int, lease_s: float) -> None:
    with Session(engine) as session:
        session.execute(
            update(Analysis)
            .where(col(Analysis.id) == analysis_id)
            .values(lease_until=utcnow() + timedelta(seconds=lease_s))
        )
        session.commit()


def _finish(
    engine: Engine,
    analysis_id: int,
    record_id: int | None,
    status: str,
    *,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    with Session(engine) as session:
        session.execute(
            update(Analysis)
            .where(col(Analysis.id) == analysis_id)
            .values(status=status, result=result, error=error, finished_at=utcnow(), lease_until=None)
        )
        session.execute(
            update(Record)
            .where(col(Record.id) == record_id)
            .values(analysis_status=status, analysis_error=error)
        )
        session.commit()


def _plain_json(result: Any) -> dict[str, Any]:
    """The engine's result as plain JSON values (NumPy scalars and arrays converted)."""
    if not isinstance(result, dict):
        raise TypeError(f"the analysis engine returned {type(result).__name__}, expected a dict")
    return json.loads(json.dumps(result, default=_numpy_default, allow_nan=False))


def _numpy_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")
