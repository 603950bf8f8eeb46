"""What a gateway sends: a batch of events, each with an optional ECG snippet.

`decode_batch` is the one place that turns a request body into a batch, whatever its content type.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import (
    AwareDatetime,
    Base64Bytes,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

EventType = Literal[
    "VT", "NSVT", "VF", "AF", "OTHER", "BRADY", "TACHY", "PAUSE", "NOISE", "LEAD_OFF", "SYMPTOM", "SUMMARY"
]
MAX_EVENTS = 1000
MAX_SNIPPET_SAMPLES = 1 << 20  # about 70 min at 250 Hz
Verdict = Annotated[str, Field(max_length=32)]


class SnippetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fs: float = Field(gt=0, le=10_000, description="sampling rate, Hz")
    lsb_uv: float = Field(gt=0, le=1e6, description="microvolts per LSB of the samples")
    start: AwareDatetime = Field(description="UTC time of the first sample")
    lead: Annotated[str, Field(min_length=1, max_length=32)] = "ECG"
    samples_b64: Base64Bytes = Field(description="base64 of little-endian int16 samples")

    @model_validator(mode="after")
    def _whole_samples(self) -> SnippetIn:
        size = len(self.samples_b64)
        if size == 0 or size % 2:
            raise ValueError(f"samples_b64 holds {size} bytes, expected a positive even count (int16)")
        if size // 2 > MAX_SNIPPET_SAMPLES:
            raise ValueError(f"snippet of {size // 2} samples, at most {MAX_SNIPPET_SAMPLES}")
        return self

    def samples(self) -> np.ndarray:
        return np.frombuffer(self.samples_b64, dtype="<i2").astype(np.int16, copy=False)


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    patch_serial: Annotated[str, Field(min_length=1, max_length=64)]
    patch_event_id: int = Field(ge=0, lt=2**31, description="the patch's own event counter")
    type: EventType
    onset: AwareDatetime
    end: AwareDatetime | None = None
    confidence: float = Field(ge=0, le=1)
    heart_rate: float | None = Field(default=None, ge=0, le=400, description="beats per minute")
    patch_verdict: Verdict | None = None
    gateway_verdict: Verdict | None = None
    snippet: SnippetIn | None = None

    @model_validator(mode="after")
    def _ordered(self) -> EventIn:
        if self.end is not None and self.end < self.onset:
            raise ValueError("end is before onset")
        return self


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,100}$")] = Field(
        description="the gateway's key for this batch: sending it again changes nothing"
    )
    events: list[EventIn] = Field(max_length=MAX_EVENTS)


class BatchDecodeError(ValueError):
    """The body is not a batch; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def decode_batch(content_type: str, body: bytes) -> BatchIn:
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json":
        try:
            return BatchIn.model_validate_json(body)
        except ValidationError as exc:
            raise BatchDecodeError(_summary(exc)) from None
    if media == "application/octet-stream":
        from cloud.wire_batch import decode_wire_batch

        return decode_wire_batch(body)
    raise BatchDecodeError(
        f"unsupported content type {media or '(none)'!r}; send application/json or application/octet-stream", 415
    )


def _summary(exc: ValidationError) -> str:
    problems = [f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()[:10]]
    more = exc.error_count() - len(problems)
    return "; ".join(problems) + (f"; and {more} more" if more > 0 else "")
