"""WFDB records (MIT-BIH, VFDB, NSTDB, CinC headers) through the `wfdb` package."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import wfdb

from ecg_data.errors import RecordError
from ecg_data.record import Annotations, Record


def read_wfdb(path: str | Path, annotator: str | None = "atr") -> Record:
    """Read record `path` (no extension) in mV, with its annotations when the file exists."""
    path = Path(path)
    try:
        rec = wfdb.rdrecord(str(path), physical=True)
    except Exception as exc:
        raise RecordError(path.with_suffix(".hea"), f"cannot read WFDB record: {exc}") from exc
    signal = np.asarray(rec.p_signal, dtype=np.float64)
    annotations = None
    if annotator and path.with_suffix("." + annotator).exists():
        try:
            ann = wfdb.rdann(str(path), annotator)
        except Exception as exc:
            raise RecordError(path.with_suffix("." + annotator), f"cannot read annotations: {exc}") from exc
        annotations = Annotations(
            sample=np.asarray(ann.sample, dtype=np.int64),
            symbol=tuple(ann.symbol),
            aux=tuple((a or "").rstrip("\x00") for a in ann.aux_note),
        )
    return Record(
        name=path.name,
        database=path.parent.name,
        fs=float(rec.fs),
        signal=signal,
        leads=tuple(rec.sig_name),
        units=tuple(rec.units),
        annotations=annotations,
    )
