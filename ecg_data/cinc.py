"""PhysioNet/CinC Challenge 2017 records: int16 `val` in a .mat, WFDB header, labels in REFERENCE.csv."""

from __future__ import annotations

import csv
import functools
import io
from pathlib import Path

import numpy as np
import scipy.io

from ecg_data.errors import RecordError
from ecg_data.headers import declared_length, mv_per_unit, read_header, record_stem, with_ext
from ecg_data.record import Record

LABELS = {"N": "normal rhythm", "A": "atrial fibrillation", "O": "other rhythm", "~": "too noisy to classify"}
REFERENCE = "REFERENCE.csv"
MAT_VARIABLE = "val"


def read_reference(csv_path: str | Path) -> dict[str, str]:
    """Record name -> label from a REFERENCE.csv (`record,label` lines, no header line)."""
    path = Path(csv_path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise RecordError(path, "missing reference file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordError(path, f"unreadable reference file: {exc}") from exc
    labels: dict[str, str] = {}
    for number, row in enumerate(csv.reader(io.StringIO(text)), 1):
        fields = [f.strip() for f in row]
        if not any(fields):
            continue
        if len(fields) != 2 or not fields[0]:
            raise RecordError(path, f"line {number}: expected 'record,label', got {','.join(row)!r}")
        name, label = fields
        if label not in LABELS:
            raise RecordError(
                path, f"line {number}: unknown label {label!r} for {name} (expected N, A, O or ~)"
            )
        if name in labels:
            raise RecordError(path, f"line {number}: record {name} is listed twice")
        labels[name] = label
    if not labels:
        raise RecordError(path, "no labels")
    return labels


def reference_label(path: str | Path) -> str | None:
    """The label of record `path` in the REFERENCE.csv beside it; None without one or when unlisted."""
    stem = record_stem(path)
    reference = stem.parent / REFERENCE
    if not reference.is_file():
        return None
    stat = reference.stat()
    return _cached_reference(str(reference), stat.st_mtime_ns, stat.st_size).get(stem.name)


@functools.lru_cache(maxsize=4)
def _cached_reference(path: str, mtime_ns: int, size: int) -> dict[str, str]:
    # Keyed on mtime and size so that an edited file is read again.
    return read_reference(path)


def read_cinc(path: str | Path, label: str | None = None) -> Record:
    """Read a CinC 2017 record in mV; `label` defaults to the one in the REFERENCE.csv beside it."""
    stem = record_stem(path)
    header = read_header(stem)
    hea = with_ext(stem, "hea")
    length = declared_length(header)
    if length is None:
        raise RecordError(hea, "header declares no signal length")
    if len(set(header.file_name)) != 1:
        raise RecordError(hea, "signals are spread over several files, expected one .mat")
    mat = stem.parent / header.file_name[0]
    val = _read_val(mat)
    if val.ndim != 2 or val.shape[0] != header.n_sig:
        raise RecordError(
            mat, f"{MAT_VARIABLE!r} has shape {val.shape}, {hea.name} declares {header.n_sig} signal(s)"
        )
    if val.shape[1] != length:
        raise RecordError(mat, f"{MAT_VARIABLE!r} holds {val.shape[1]} samples, {hea.name} declares {length}")
    # The initial values in CinC 2017 headers are stale for about 6 % of the released records
    # (A00013 says 3, its .mat starts at -20), so unlike WFDB files they are not checked.
    gain = np.asarray(header.adc_gain, dtype=np.float64)
    if np.any(gain <= 0):
        raise RecordError(hea, f"invalid ADC gain {header.adc_gain}")
    baseline = np.asarray(header.baseline, dtype=np.float64)
    signal = (val.T.astype(np.float64) - baseline) / gain * mv_per_unit(header, hea)
    if label is None:
        label = reference_label(stem)
    elif label not in LABELS:
        raise ValueError(f"{stem.name}: unknown label {label!r} (expected N, A, O or ~)")
    return Record(
        name=stem.name,
        database=stem.parent.name,
        fs=float(header.fs),
        signal=signal,
        leads=tuple(header.sig_name),
        units=("mV",) * header.n_sig,
        label=label,
    )


def _read_val(mat: Path) -> np.ndarray:
    """The numeric `val` matrix of a .mat file (signals, samples)."""
    if not mat.is_file():
        raise RecordError(mat, "missing signal file")
    try:
        contents = scipy.io.loadmat(str(mat))
    except Exception as exc:
        raise RecordError(mat, f"unreadable MAT file: {exc}") from exc
    if MAT_VARIABLE not in contents:
        names = ", ".join(k for k in contents if not k.startswith("__")) or "nothing"
        raise RecordError(mat, f"no variable {MAT_VARIABLE!r} (it holds {names})")
    val = np.asarray(contents[MAT_VARIABLE])
    if val.dtype.kind not in "iuf":
        raise RecordError(mat, f"{MAT_VARIABLE!r} is not numeric (dtype {val.dtype})")
    if val.dtype.kind == "f" and not np.all(np.isfinite(val)):
        raise RecordError(mat, f"{MAT_VARIABLE!r} holds NaN or infinite values")
    return val
