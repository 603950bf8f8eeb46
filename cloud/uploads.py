"""Whole recordings uploaded from a PC: WFDB (.hea + .dat [+ .atr]), CinC .mat + .hea, or CSV.

Files are written to a temporary folder and read by ecg_data's readers, whose RecordError says what
is wrong with a damaged file; every problem becomes an UploadError whose message is for the uploader.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cloud.waveforms import quantise

ALLOWED_SUFFIXES = frozenset({".hea", ".dat", ".atr", ".mat", ".csv"})
SAFE_NAME = re.compile(r"^[A-Za-z0-9_.+-]{1,100}$")
MAX_FS = 10_000.0
MAX_LEADS = 16
MAX_SECONDS = 48 * 3600
CSV_UNITS_MV = {"mV": 1.0, "uV": 1e-3, "µV": 1e-3, "V": 1e3}
DEFAULT_LSB_MV = 0.001  # 1 µV when nothing says what the samples' resolution is


class UploadError(ValueError):
    """The upload cannot be stored; the message says why."""


@dataclass
class ParsedUpload:
    name: str
    source: str  # wfdb, cinc, csv
    fs: float
    frames: np.ndarray  # (samples, leads) int16 or int32
    leads: list[str]
    lsb_mv: list[float]
    annotations: bytes | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def parse_upload(files: dict[str, bytes], *, fs: float | None = None, units: str = "mV") -> ParsedUpload:
    """Read uploaded files (name -> contents) as one record; `fs` and `units` are for CSV."""
    if not files:
        raise UploadError("no files uploaded")
    for name, data in files.items():
        if not SAFE_NAME.match(name) or name.startswith("."):
            raise UploadError(f"file name {name!r} is not allowed (letters, digits, _ . + - only)")
        if Path(name).suffix.lower() not in ALLOWED_SUFFIXES:
            raise UploadError(f"{name}: unsupported file type (expected .hea, .dat, .atr, .mat or .csv)")
        if not data:
            raise UploadError(f"{name}: empty file")
    csvs = [n for n in files if n.lower().endswith(".csv")]
    if csvs:
        if len(files) != 1:
            raise UploadError("upload a CSV file on its own")
        return _parse_csv(csvs[0], files[csvs[0]], fs, units)
    if fs is not None:
        raise UploadError("the sampling rate comes from the .hea header; send fs only with a CSV file")
    headers = [n for n in files if n.lower().endswith(".hea")]
    if len(headers) != 1:
        raise UploadError(f"expected one .hea header with its signal files, got {len(headers)} headers")
    with tempfile.TemporaryDirectory(prefix="ecg-upload-") as folder:
        for name, data in files.items():
            (Path(folder) / name).write_bytes(data)
        return _parse_header_record(Path(folder) / headers[0])


def _parse_header_record(hea: Path) -> ParsedUpload:
    from ecg_data.errors import RecordError
    from ecg_data.headers import mv_per_unit, read_header
    from ecg_data.reader import is_cinc, read_record

    stem = hea.with_suffix("")
    try:
        header = read_header(stem)
        record = read_record(stem)
        scale = mv_per_unit(header, hea)
    except RecordError as exc:
        raise UploadError(f"{exc.path.name}: {exc.problem}") from None
    source = "cinc" if is_cinc(header) else "wfdb"
    gains = [float(g or 0) for g in header.adc_gain]
    lsb_mv = [s / g if g > 0 else DEFAULT_LSB_MV for s, g in zip(scale, gains, strict=True)]
    signal = np.asarray(record.signal, dtype=np.float64)
    _check_signal(signal, float(record.fs), hea.name)
    meta: dict[str, Any] = {"file_units": list(header.units)}
    if record.label is not None:
        meta["label"] = record.label
    annotations = None
    if record.annotations is not None:
        ann = record.annotations
        meta["annotations"] = len(ann.symbol)
        annotations = zlib.compress(
            json.dumps({"sample": ann.sample.tolist(), "symbol": "".join(ann.symbol), "aux": list(ann.aux)}).encode()
        )
    return ParsedUpload(
        name=stem.name,
        source=source,
        fs=float(record.fs),
        frames=_quantise(signal, lsb_mv),
        leads=list(record.leads),
        lsb_mv=lsb_mv,
        annotations=annotations,
        meta=meta,
    )


def _parse_csv(name: str, data: bytes, fs: float | None, units: str) -> ParsedUpload:
    if fs is None:
        raise UploadError(f"{name}: give the sampling rate (fs, in Hz) for a CSV file")
    if not math.isfinite(fs) or fs <= 0 or fs > MAX_FS:
        raise UploadError(f"{name}: sampling rate {fs} Hz is not in (0, {MAX_FS:g}]")
    if units not in CSV_UNITS_MV:
        raise UploadError(f"{name}: units {units!r} is not one of {', '.join(CSV_UNITS_MV)}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UploadError(f"{name}: not UTF-8 text") from None
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if not rows:
        raise UploadError(f"{name}: no samples")
    leads = [f"lead{i + 1}" for i in range(len(rows[0]))]
    first_line = 1
    if not _numeric(rows[0][0]):
        leads = [cell.strip() or f"lead{i + 1}" for i, cell in enumerate(rows[0])]
        rows = rows[1:]
        first_line = 2
    if not rows:
        raise UploadError(f"{name}: a header line but no samples")
    values = np.empty((len(rows), len(leads)), dtype=np.float64)
    for number, row in enumerate(rows, first_line):
        if len(row) != len(leads):
            raise UploadError(f"{name}: line {number} has {len(row)} columns, expected {len(leads)}")
        for column, cell in enumerate(row):
            try:
                values[number - first_line, column] = float(cell)
            except ValueError:
                raise UploadError(f"{name}: line {number}, column {column + 1}: {cell.strip()!r} is not a number") from None
    signal = values * CSV_UNITS_MV[units]
    _check_signal(signal, fs, name)
    lsb_mv = [DEFAULT_LSB_MV] * len(leads)
    return ParsedUpload(
        name=Path(name).stem, source="csv", fs=fs, frames=_quantise(signal, lsb_mv), leads=leads, lsb_mv=lsb_mv,
        meta={"file_units": units},
    )


def _numeric(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _check_signal(signal: np.ndarray, fs: float, name: str) -> None:
    if not math.isfinite(fs) or fs <= 0 or fs > MAX_FS:
        raise UploadError(f"{name}: sampling rate {fs} Hz is not in (0, {MAX_FS:g}]")
    if signal.ndim != 2 or signal.shape[0] == 0:
        raise UploadError(f"{name}: no samples")
    if signal.shape[1] > MAX_LEADS:
        raise UploadError(f"{name}: {signal.shape[1]} leads, at most {MAX_LEADS}")
    if signal.shape[0] / fs > MAX_SECONDS:
        raise UploadError(f"{name}: {signal.shape[0] / fs / 3600:.1f} h long, at most {MAX_SECONDS // 3600} h")
    missing = int(np.count_nonzero(~np.isfinite(signal)))
    if missing:
        raise UploadError(f"{name}: {missing} samples are missing or not finite")
    if np.abs(signal).max() > 1000.0:
        raise UploadError(f"{name}: samples reach {np.abs(signal).max():.0f} mV; are the units right?")


def _quantise(signal: np.ndarray, lsb_mv: list[float]) -> np.ndarray:
    try:
        return quantise(signal, lsb_mv)
    except ValueError as exc:
        raise UploadError(str(exc)) from None
