"""Records: upload from a PC, list, read back in windows, (re)analyse, delete."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Form, HTTPException, Query, Response, UploadFile, status
from pydantic import AwareDatetime
from sqlalchemy import func, insert, select
from sqlmodel import Session, col

from cloud.api.access import own_patients, visible_patient, visible_record
from cloud.api.deps import IdPath, IdQuery, ServicesDep, SessionDep, UserDep, actor
from cloud.audit import audit
from cloud.jobs import queue_analyses
from cloud.models import Analysis, AnalysisStatus, Record, User, WaveformChunk
from cloud.schemas import MAX_ID, AnalyseIn, AnalyseOut, AnalysisOut, RecordOut
from cloud.uploads import ParsedUpload, UploadError, parse_upload
from cloud.waveforms import CHUNK_FRAMES, chunk_rows, read_frames

router = APIRouter(prefix="/records", tags=["records"])
MAX_UPLOAD_BYTES = 512 * 1024 * 1024
MAX_WINDOW_FRAMES = 1 << 20
MAX_LISTED = 1000


def record_out(record: Record) -> RecordOut:
    return RecordOut(
        **record.model_dump(include=set(RecordOut.model_fields) - {"duration_s"}),
        duration_s=record.n_samples / record.fs,
    )


@router.post(
    "/upload",
    status_code=status.HTTP_201_CREATED,
    response_model=RecordOut,
    responses={422: {"description": "the files are not a valid record; the message says why"}},
)
def upload_record(
    user: UserDep,
    session: SessionDep,
    services: ServicesDep,
    files: Annotated[list[UploadFile], Form(description="WFDB .hea+.dat[+.atr], CinC .hea+.mat, or one .csv")],
    patient_id: Annotated[int, Form(ge=1, le=MAX_ID)],
    fs: Annotated[float | None, Form(description="sampling rate in Hz (CSV only)")] = None,
    units: Annotated[str, Form(description="units of CSV values: mV, uV or V")] = "mV",
    start_time: Annotated[AwareDatetime | None, Form(description="UTC time of the first sample")] = None,
) -> RecordOut:
    visible_patient(session, user, patient_id)
    session.commit()  # no transaction stays open while the files are parsed
    contents: dict[str, bytes] = {}
    total = 0
    for upload in files:
        name = upload.filename or ""
        if name in contents:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"file {name!r} uploaded twice")
        data = upload.file.read(MAX_UPLOAD_BYTES - total + 1)
        total += len(data)
        if total > MAX_UPLOAD_BYTES:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"upload larger than {MAX_UPLOAD_BYTES} bytes")
        contents[name] = data
    try:
        parsed = parse_upload(contents, fs=fs, units=units)
    except UploadError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    record, analysis_ids = _store_upload(session, services.settings.job_lease_s, user, patient_id, parsed, start_time)
    services.queue.enqueue(analysis_ids)
    return record_out(record)


def _store_upload(
    session: Session,
    lease_s: float,
    user: User,
    patient_id: int,
    parsed: ParsedUpload,
    start_time: AwareDatetime | None,
) -> tuple[Record, list[int]]:
    """The record, its chunks and its queued analysis in one transaction: all stored or none."""
    record = Record(
        patient_id=patient_id,
        source=parsed.source,
        name=parsed.name,
        fs=parsed.fs,
        n_samples=parsed.frames.shape[0],
        leads=parsed.leads,
        units=["mV"] * len(parsed.leads),
        lsb_mv=parsed.lsb_mv,
        start_time=start_time,
        chunk_frames=CHUNK_FRAMES,
        meta=parsed.meta,
        annotations=parsed.annotations,
        uploaded_by=user.id,
    )
    session.add(record)
    session.flush()
    assert record.id is not None
    session.execute(insert(WaveformChunk), chunk_rows(record.id, parsed.frames))
    analysis_ids = queue_analyses(session, [record.id], lease_s, requested_by=user.id)
    record.analysis_status = AnalysisStatus.queued
    audit(session, actor(user), "create", "record", record.id, source=parsed.source, samples=record.n_samples)
    session.commit()
    return record, analysis_ids


@router.get("", response_model=list[RecordOut])
def list_records(
    user: UserDep,
    session: SessionDep,
    patient_id: IdQuery = None,
    analysis_status: AnalysisStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LISTED)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> list[RecordOut]:
    query = own_patients(select(Record), user, col(Record.patient_id))
    if patient_id is not None:
        query = query.where(col(Record.patient_id) == patient_id)
    if analysis_status is not None:
        query = query.where(col(Record.analysis_status) == analysis_status)
    records = list(session.execute(query.order_by(col(Record.id).desc()).limit(limit).offset(offset)).scalars())
    audit(session, actor(user), "list", "record", None, count=len(records), patient_id=patient_id)
    session.commit()
    return [record_out(r) for r in records]


@router.get("/{record_id}", response_model=RecordOut)
def get_record(record_id: IdPath, user: UserDep, session: SessionDep) -> RecordOut:
    record = visible_record(session, user, record_id)
    audit(session, actor(user), "view", "record", record_id)
    session.commit()
    return record_out(record)


@router.get(
    "/{record_id}/samples",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "float32 mV, frames × leads"}},
)
def get_samples(
    record_id: IdPath,
    user: UserDep,
    session: SessionDep,
    start: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    count: Annotated[int, Query(ge=1, le=MAX_WINDOW_FRAMES)] = CHUNK_FRAMES,
) -> Response:
    """A window of the record in mV: little-endian float32, frame after frame, every lead in each frame."""
    record = visible_record(session, user, record_id)
    if start >= record.n_samples:
        raise HTTPException(status.HTTP_416_RANGE_NOT_SATISFIABLE, f"start {start} is past the record's {record.n_samples} samples")
    frames = read_frames(session, record, start, start + count)
    mv = (frames.astype(np.float64) * np.asarray(record.lsb_mv)).astype("<f4")
    audit(session, actor(user), "view", "record", record_id, start=start, count=int(frames.shape[0]))
    session.commit()
    headers = {
        "X-Sampling-Rate": repr(record.fs),
        "X-Leads": ",".join(record.leads),
        "X-Start": str(start),
        "X-Frames": str(frames.shape[0]),
    }
    return Response(mv.tobytes(), media_type="application/octet-stream", headers=headers)


@router.get("/{record_id}/analyses", response_model=list[AnalysisOut])
def list_analyses(record_id: IdPath, user: UserDep, session: SessionDep) -> list[Analysis]:
    visible_record(session, user, record_id)
    analyses = list(
        session.execute(select(Analysis).where(col(Analysis.record_id) == record_id).order_by(col(Analysis.id))).scalars()
    )
    audit(session, actor(user), "view", "analysis", None, record_id=record_id)
    session.commit()
    return analyses


@router.post("/{record_id}/analyse", status_code=status.HTTP_202_ACCEPTED, response_model=AnalyseOut)
def analyse_record(record_id: IdPath, user: UserDep, session: SessionDep, services: ServicesDep) -> AnalyseOut:
    """Queue the record for analysis again (nothing new when one is already queued or running)."""
    visible_record(session, user, record_id)
    return _queue(session, services, user, [record_id])


@router.post("/analyse", status_code=status.HTTP_202_ACCEPTED, response_model=AnalyseOut)
def analyse_records(body: AnalyseIn, user: UserDep, session: SessionDep, services: ServicesDep) -> AnalyseOut:
    """Queue the caller's records that match: listed ids, never (or unsuccessfully) analysed, analysed before a time."""
    query = own_patients(select(col(Record.id)), user, col(Record.patient_id))
    if body.record_ids is not None:
        query = query.where(col(Record.id).in_(body.record_ids))
    if body.unanalysed:
        query = query.where(col(Record.analysis_status).in_([AnalysisStatus.pending, AnalysisStatus.failed]))
    if body.analysed_before is not None:
        latest = (
            select(func.max(col(Analysis.finished_at)))
            .where(col(Analysis.record_id) == col(Record.id), col(Analysis.status) == AnalysisStatus.done)
            .scalar_subquery()
        )
        query = query.where(col(Record.analysis_status) == AnalysisStatus.done, latest < body.analysed_before)
    if body.record_ids is None and not body.unanalysed and body.analysed_before is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "say which records: record_ids, unanalysed or analysed_before")
    ids = list(session.execute(query.order_by(col(Record.id)).limit(MAX_LISTED)).scalars())
    return _queue(session, services, user, ids)


def _queue(session: Session, services: ServicesDep, user: User, record_ids: list[int]) -> AnalyseOut:
    analysis_ids = queue_analyses(session, record_ids, services.settings.job_lease_s, requested_by=user.id)
    audit(session, actor(user), "analyse", "record", None, records=record_ids)
    session.commit()
    services.queue.enqueue(analysis_ids)
    return AnalyseOut(queued=analysis_ids)


@router.delete("/{record_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_record(record_id: IdPath, user: UserDep, session: SessionDep) -> None:
    """Deletes the record with its samples and analyses."""
    record = visible_record(session, user, record_id)
    session.delete(record)
    audit(session, actor(user), "delete", "record", record_id)
    session.commit()
