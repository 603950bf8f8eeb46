"""Tables. Waveform samples live in `waveform_chunk` as compressed blobs (see cloud.waveforms).

Postponed annotations are left off here: SQLModel reads the field types at class creation.
"""

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, ForeignKey, Index, Integer, LargeBinary, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC on every backend, handed out as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _time(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def _created() -> Any:
    return Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


def _fk(target: str, *, ondelete: str, nullable: bool = False, index: bool = True) -> Any:
    return Field(
        default=None,
        sa_column=Column(Integer, ForeignKey(target, ondelete=ondelete), nullable=nullable, index=index),
    )


def _json(*, nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(JSON, nullable=nullable))


class Role(enum.StrEnum):
    admin = "admin"
    doctor = "doctor"


class ReviewStatus(enum.StrEnum):
    pending = "pending"
    confirmed = "confirmed"
    rejected = "rejected"


class AnalysisStatus(enum.StrEnum):
    pending = "pending"  # stored, never queued (a record's status before its first analysis)
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class User(SQLModel, table=True):
    __tablename__ = "app_user"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    email: str | None = Field(default=None, max_length=254, unique=True)
    phone: str | None = Field(default=None, max_length=32, unique=True)
    full_name: str = Field(default="", max_length=200)
    role: str = Field(max_length=16)
    active: bool = True
    password_hash: str = Field(max_length=256)
    created_at: datetime = _created()


class AuthSession(SQLModel, table=True):
    __tablename__ = "auth_session"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = _fk("app_user.id", ondelete="CASCADE")
    created_at: datetime = _created()
    expires_at: datetime = _time()


class LoginThrottle(SQLModel, table=True):
    """Failed logins per account and per client address."""

    __tablename__ = "login_throttle"
    key: str = Field(primary_key=True, max_length=300)
    failures: int = 0
    locked_until: datetime | None = _time(nullable=True)


class Patient(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    birth_date: str | None = Field(default=None, max_length=10)
    sex: str | None = Field(default=None, max_length=1)
    notes: str = Field(default="", max_length=2000)
    doctor_id: int = _fk("app_user.id", ondelete="RESTRICT")
    created_at: datetime = _created()


class Gateway(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    key_hash: str = Field(max_length=64, unique=True)
    active: bool = True
    created_at: datetime = _created()


class Device(SQLModel, table=True):
    """A patch, known by its serial number, and the gateway it reports through."""

    id: int | None = Field(default=None, primary_key=True)
    serial: str = Field(max_length=64, unique=True)
    gateway_id: int | None = _fk("gateway.id", ondelete="SET NULL", nullable=True)
    created_at: datetime = _created()


class DeviceAssignment(SQLModel, table=True):
    """A patch worn by a patient from `start` until `end` (open while None)."""

    __tablename__ = "device_assignment"
    id: int | None = Field(default=None, primary_key=True)
    device_id: int = _fk("device.id", ondelete="CASCADE")
    patient_id: int = _fk("patient.id", ondelete="CASCADE")
    start: datetime = _time()
    end: datetime | None = _time(nullable=True)


class Record(SQLModel, table=True):
    """Raw ECG: an uploaded recording or an event's snippet. Physical value = digital × lsb_mv[lead]."""

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = _fk("patient.id", ondelete="CASCADE")
    source: str = Field(max_length=16)  # wfdb, cinc, csv, gateway
    name: str = Field(default="", max_length=200)
    fs: float
    n_samples: int
    leads: list[str] = _json(nullable=False)
    units: list[str] = _json(nullable=False)
    lsb_mv: list[float] = _json(nullable=False)
    start_time: datetime | None = _time(nullable=True)
    chunk_frames: int
    meta: dict[str, Any] | None = _json()
    annotations: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    uploaded_by: int | None = Field(default=None)
    gateway_id: int | None = _fk("gateway.id", ondelete="SET NULL", nullable=True, index=False)
    analysis_status: str = Field(default=AnalysisStatus.pending, max_length=16, index=True)
    analysis_error: str | None = Field(default=None, max_length=4000)
    created_at: datetime = _created()


class WaveformChunk(SQLModel, table=True):
    __tablename__ = "waveform_chunk"
    record_id: int = Field(
        sa_column=Column(Integer, ForeignKey("record.id", ondelete="CASCADE"), primary_key=True)
    )
    seq: int = Field(primary_key=True)
    first_frame: int
    n_frames: int
    encoding: str = Field(max_length=16)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class Event(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("device_id", "patch_event_id", "onset", name="uq_event_patch_key"),
        Index("ix_event_patient_onset", "patient_id", "onset"),
    )
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = _fk("patient.id", ondelete="CASCADE", index=False)
    device_id: int = _fk("device.id", ondelete="CASCADE", index=False)
    gateway_id: int | None = _fk("gateway.id", ondelete="SET NULL", nullable=True, index=False)
    patch_event_id: int
    type: str = Field(max_length=16)
    onset: datetime = _time()
    end: datetime | None = _time(nullable=True)
    confidence: float
    heart_rate: float | None = None
    patch_verdict: str | None = Field(default=None, max_length=32)
    gateway_verdict: str | None = Field(default=None, max_length=32)
    review_status: str = Field(default=ReviewStatus.pending, max_length=16)
    review_note: str = Field(default="", max_length=2000)
    reviewed_by: int | None = None
    reviewed_at: datetime | None = _time(nullable=True)
    snippet_record_id: int | None = _fk("record.id", ondelete="SET NULL", nullable=True)
    received_at: datetime = _created()


class Analysis(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    record_id: int = _fk("record.id", ondelete="CASCADE")
    status: str = Field(default=AnalysisStatus.queued, max_length=16)
    engine: str = Field(default="", max_length=200)
    error: str | None = Field(default=None, max_length=4000)
    result: dict[str, Any] | None = _json()
    requested_by: int | None = None
    created_at: datetime = _created()
    started_at: datetime | None = _time(nullable=True)
    finished_at: datetime | None = _time(nullable=True)
    lease_until: datetime | None = _time(nullable=True)


class IngestBatch(SQLModel, table=True):
    """A gateway batch already taken in, so that its retries change nothing."""

    __tablename__ = "ingest_batch"
    __table_args__ = (UniqueConstraint("gateway_id", "batch_key", name="uq_ingest_batch_key"),)
    id: int | None = Field(default=None, primary_key=True)
    gateway_id: int = _fk("gateway.id", ondelete="CASCADE", index=False)
    batch_key: str = Field(max_length=100)
    body_sha256: str = Field(max_length=64)
    response: dict[str, Any] = _json(nullable=False)
    received_at: datetime = _created()


class AuditEntry(SQLModel, table=True):
    """Who saw, changed, confirmed or deleted what. Actor ids carry no foreign key: history outlives users."""

    __tablename__ = "audit"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True))
    actor_kind: str = Field(max_length=16)  # user, gateway, anonymous
    actor_id: int | None = None
    action: str = Field(max_length=32)
    target_kind: str = Field(max_length=32)
    target_id: int | None = None
    detail: dict[str, Any] | None = _json()
