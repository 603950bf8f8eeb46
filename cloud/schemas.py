"""Request and response bodies of the API (the tables stay internal)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from cloud.models import ReviewStatus, Role

PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{5,30}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
USERNAME = r"^[A-Za-z0-9_.-]{3,64}$"


def normalise_email(value: str | None) -> str | None:
    if value is None:
        return None
    if not EMAIL.match(value) or len(value) > 254:
        raise ValueError("not an e-mail address")
    return value.lower()


def normalise_phone(value: str | None) -> str | None:
    """Digits only, with a leading + kept: '+44 (20) 7946-0000' and '+442079460000' are one number."""
    if value is None:
        return None
    if not PHONE.match(value):
        raise ValueError("not a phone number")
    return ("+" if value.startswith("+") else "") + re.sub(r"\D", "", value)


Email = Annotated[str, Field(max_length=254), AfterValidator(normalise_email)]
Phone = Annotated[str, Field(max_length=32), AfterValidator(normalise_phone)]
Password = Annotated[str, Field(min_length=8, max_length=256)]
Username = Annotated[str, Field(pattern=USERNAME)]
Name = Annotated[str, Field(max_length=200)]
# Row ids are 32-bit integers on PostgreSQL; larger ones are refused before they reach the database.
MAX_ID = 2**31 - 1
DbId = Annotated[int, Field(ge=1, le=MAX_ID)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterIn(Strict):
    username: Username
    password: Password
    email: Email | None = None
    phone: Phone | None = None
    full_name: Name = ""

    @model_validator(mode="after")
    def _reachable(self) -> RegisterIn:
        if self.email is None and self.phone is None:
            raise ValueError("give an e-mail address or a phone number")
        return self


class UserCreateIn(RegisterIn):
    role: Role = Role.doctor
    active: bool = True


class LoginIn(Strict):
    login: str = Field(min_length=1, max_length=254, description="username, e-mail address or phone number")
    password: str = Field(min_length=1, max_length=256)


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime


class UserOut(BaseModel):
    id: int
    username: str
    email: str | None
    phone: str | None
    full_name: str
    role: Role
    active: bool
    created_at: datetime


class UserUpdateIn(Strict):
    """Fields left out stay as they are. Only administrators may send username, role or active."""

    username: Username | None = None
    email: Email | None = None
    phone: Phone | None = None
    full_name: Name | None = None
    role: Role | None = None
    active: bool | None = None


class PasswordChangeIn(Strict):
    new_password: Password
    current_password: str | None = Field(
        default=None, max_length=256, description="required when changing one's own password as a doctor"
    )


class PatientIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    birth_date: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")] | None = None
    sex: Literal["F", "M", "X"] | None = None
    notes: Annotated[str, Field(max_length=2000)] = ""
    doctor_id: DbId | None = Field(default=None, description="administrators only; doctors own what they create")


class PatientUpdateIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    birth_date: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")] | None = None
    sex: Literal["F", "M", "X"] | None = None
    notes: Annotated[str, Field(max_length=2000)] | None = None
    doctor_id: DbId | None = Field(default=None, description="administrators only")


class PatientOut(BaseModel):
    id: int
    name: str
    birth_date: str | None
    sex: str | None
    notes: str
    doctor_id: int
    created_at: datetime


class GatewayIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]


class GatewayOut(BaseModel):
    id: int
    name: str
    active: bool
    created_at: datetime


class GatewayKeyOut(GatewayOut):
    key: str = Field(description="shown once; the service stores only its hash")


class DeviceIn(Strict):
    serial: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
    gateway_id: DbId | None = None


class DeviceUpdateIn(Strict):
    gateway_id: DbId | None


class DeviceOut(BaseModel):
    id: int
    serial: str
    gateway_id: int | None
    created_at: datetime


class AssignmentIn(Strict):
    patient_id: DbId
    start: AwareDatetime
    end: AwareDatetime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> AssignmentIn:
        if self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class AssignmentOut(BaseModel):
    id: int
    device_id: int
    patient_id: int
    start: datetime
    end: datetime | None


class AnalysisOut(BaseModel):
    id: int
    record_id: int
    status: str
    engine: str
    error: str | None
    result: dict[str, Any] | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class RecordOut(BaseModel):
    id: int
    patient_id: int
    source: str
    name: str
    fs: float
    n_samples: int
    duration_s: float
    leads: list[str]
    units: list[str]
    lsb_mv: list[float]
    start_time: datetime | None
    meta: dict[str, Any] | None
    analysis_status: str
    analysis_error: str | None
    created_at: datetime


class AnalyseIn(Strict):
    """Which of the caller's records to (re)analyse: listed ones, never-analysed ones, or old ones."""

    record_ids: list[DbId] | None = Field(default=None, max_length=1000)
    unanalysed: bool = False
    analysed_before: AwareDatetime | None = None


class AnalyseOut(BaseModel):
    queued: list[int] = Field(description="analysis ids now queued")


class EventOut(BaseModel):
    id: int
    patient_id: int
    device_id: int
    gateway_id: int | None
    patch_event_id: int
    type: str
    onset: datetime
    end: datetime | None
    confidence: float
    heart_rate: float | None
    patch_verdict: str | None
    gateway_verdict: str | None
    review_status: ReviewStatus
    review_note: str
    reviewed_by: int | None
    reviewed_at: datetime | None
    snippet_record_id: int | None
    received_at: datetime


class ReviewIn(Strict):
    status: ReviewStatus
    note: Annotated[str, Field(max_length=2000)] = ""


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor_kind: str
    actor_id: int | None
    action: str
    target_kind: str
    target_id: int | None
    detail: dict[str, Any] | None
