"""Waveform storage: integer samples, delta-coded per lead, packed and compressed, in chunks of whole frames.

A chunk holds `n_frames` frames of every lead, stored lead after lead. Deltas wrap around in the
samples' own width, so decoding (a cumulative sum in that width) gives back the exact integers, and a
record of any length is read back one chunk at a time. Encodings:

- d8: int16 samples; each delta in one signed byte, or the escape byte -128 with the delta as int16
  LE appended after all the bytes (ECG deltas rarely need it). About half the int16 size at a tenth
  of zlib's CPU: the gateway ingest path, where CPU per event is the limit.
- d8z: d8, then zlib level 1: a fifth smaller again, for uploads and anything not CPU-bound.
- d16z / d32z: int16 / int32 deltas, zlib level 1 (int32 samples, whose deltas may not fit a byte).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session
from sqlmodel import col

from cloud.models import Record, WaveformChunk

# 65,536 frames: 4.4 min at 250 Hz; a 24-h, 250-Hz record is 330 chunks.
CHUNK_FRAMES = 1 << 16
ZLIB_LEVEL = 1  # level 6 saves about 1 % more on ECG deltas at six times the CPU
ENCODINGS: dict[str, np.dtype[np.signedinteger[Any]]] = {"d16z": np.dtype("<i2"), "d32z": np.dtype("<i4")}
BYTE_ENCODINGS = ("d8", "d8z")
ESCAPE = -128
INT16 = np.iinfo(np.int16)
INT32 = np.iinfo(np.int32)


def encode_chunk(frames: np.ndarray, *, fast: bool = False) -> tuple[str, bytes]:
    """(encoding, blob) of an int16 or int32 array of shape (frames, leads); `fast` skips zlib for int16."""
    if frames.ndim != 2:
        raise ValueError(f"expected (frames, leads), got shape {frames.shape}")
    dtype = np.dtype("<i2") if frames.dtype == np.int16 else np.dtype("<i4")
    by_lead = np.ascontiguousarray(frames.T, dtype=dtype)
    deltas = np.diff(by_lead, axis=1, prepend=np.zeros((by_lead.shape[0], 1), dtype=dtype)).ravel()
    if dtype.itemsize == 4:
        return "d32z", zlib.compress(deltas.tobytes(), ZLIB_LEVEL)
    wide = (deltas < -127) | (deltas > 127)
    packed = deltas.astype(np.int8)
    packed[wide] = ESCAPE
    blob = packed.tobytes() + deltas[wide].astype("<i2").tobytes()
    return ("d8", blob) if fast else ("d8z", zlib.compress(blob, ZLIB_LEVEL))


def decode_chunk(encoding: str, blob: bytes, n_frames: int, n_leads: int) -> np.ndarray:
    """The (frames, leads) integers of one chunk."""
    size = n_frames * n_leads
    if encoding in BYTE_ENCODINGS:
        raw = zlib.decompress(blob) if encoding == "d8z" else blob
        packed = np.frombuffer(raw, dtype=np.int8, count=size)
        escaped = packed == ESCAPE
        deltas = packed.astype(np.int16)
        deltas[escaped] = np.frombuffer(raw, dtype="<i2", offset=size, count=int(escaped.sum()))
        return np.cumsum(deltas.reshape(n_leads, n_frames), axis=1, dtype=np.int16).T
    dtype = ENCODINGS.get(encoding)
    if dtype is None:
        raise ValueError(f"unknown waveform encoding {encoding!r}")
    stored = np.frombuffer(zlib.decompress(blob), dtype=dtype).reshape(n_leads, n_frames)
    return np.cumsum(stored, axis=1, dtype=dtype).T


def narrowest(samples: np.ndarray) -> np.ndarray:
    """int16 when every sample fits, else int32."""
    if samples.size == 0 or (samples.min() >= INT16.min and samples.max() <= INT16.max):
        return samples.astype(np.int16)
    return samples.astype(np.int32)


def quantise(signal_mv: np.ndarray, lsb_mv: Iterable[float]) -> np.ndarray:
    """Integers of a (frames, leads) signal in mV at one step per lead; ValueError when out of range."""
    steps = np.asarray(list(lsb_mv), dtype=np.float64)
    digital = np.rint(signal_mv / steps)
    if digital.size and (digital.min() < INT32.min or digital.max() > INT32.max):
        raise ValueError("samples exceed the 32-bit range at this resolution")
    return narrowest(digital.astype(np.int64))


def chunk_rows(
    record_id: int, frames: np.ndarray, chunk_frames: int = CHUNK_FRAMES, *, fast: bool = False
) -> list[dict[str, Any]]:
    """Rows of `waveform_chunk` for a whole (frames, leads) integer array."""
    rows = []
    for seq, first in enumerate(range(0, frames.shape[0], chunk_frames)):
        part = frames[first : first + chunk_frames]
        encoding, blob = encode_chunk(part, fast=fast)
        rows.append(
            {
                "record_id": record_id,
                "seq": seq,
                "first_frame": first,
                "n_frames": part.shape[0],
                "encoding": encoding,
                "data": blob,
            }
        )
    return rows


def iter_frames(
    db: Session | Connection,
    record: Record,
    start: int = 0,
    stop: int | None = None,
    on_chunk: Callable[[], None] | None = None,
) -> Iterator[np.ndarray]:
    """The integer frames [start, stop) of a record, one stored chunk at a time (each fetched alone)."""
    stop = record.n_samples if stop is None else min(stop, record.n_samples)
    if start >= stop:
        return
    n_leads = len(record.leads)
    for seq in range(start // record.chunk_frames, (stop - 1) // record.chunk_frames + 1):
        row = db.execute(
            select(col(WaveformChunk.first_frame), col(WaveformChunk.n_frames), col(WaveformChunk.encoding), col(WaveformChunk.data))
            .where(col(WaveformChunk.record_id) == record.id, col(WaveformChunk.seq) == seq)
        ).one_or_none()
        if row is None:
            raise LookupError(f"record {record.id}: waveform chunk {seq} is missing")
        first, n_frames, encoding, blob = row
        frames = decode_chunk(encoding, blob, n_frames, n_leads)
        yield frames[max(start - first, 0) : stop - first]
        if on_chunk is not None:
            on_chunk()


def read_frames(db: Session | Connection, record: Record, start: int = 0, stop: int | None = None) -> np.ndarray:
    """The integer frames [start, stop) as one array (for windows; whole records go through iter_frames)."""
    parts = list(iter_frames(db, record, start, stop))
    if not parts:
        return np.zeros((0, len(record.leads)), dtype=np.int32)
    return np.concatenate(parts)


def iter_lead_mv(
    db: Session | Connection, record: Record, lead: int = 0, on_chunk: Callable[[], None] | None = None
) -> Iterator[np.ndarray]:
    """One lead in mV, chunk by chunk, as the analysis engine takes it."""
    step = float(record.lsb_mv[lead])
    for frames in iter_frames(db, record, on_chunk=on_chunk):
        yield frames[:, lead].astype(np.float64) * step
