"""WFDB records (MIT-BIH, VFDB, NSTDB, CinC headers) through the `wfdb` package."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import wfdb

from ecg_data.errors import RecordError
from ecg_data.headers import (
    check_signal_files,
    declared_length,
    mv_per_unit,
    read_header,
    record_stem,
    with_ext,
)
from ecg_data.record import Annotations, Record
from ecg_data.rhythm import clip_episodes, flutter_episodes, rhythm_episodes


def read_wfdb(
    path: str | Path, annotator: str | None = "atr", *, sampfrom: int = 0, sampto: int | None = None
) -> Record:
    """Read record `path` (extension optional) in mV, with its annotations when the file exists.

    `sampfrom`/`sampto` read a window; annotation samples and episodes are then relative to `sampfrom`.
    """
    stem = record_stem(path)
    header = read_header(stem)
    scale = mv_per_unit(header, with_ext(stem, "hea"))
    length = declared_length(header)
    check_signal_files(header, stem.parent)
    stop = window_stop(stem, length, sampfrom, sampto)
    try:
        rec = wfdb.rdrecord(str(stem), sampfrom=sampfrom, sampto=stop, physical=False)
    except Exception as exc:
        raise RecordError(with_ext(stem, "hea"), f"cannot read signals: {exc}") from exc
    digital = np.asarray(rec.d_signal)
    rows = None if stop is None else stop - sampfrom
    if (
        digital.ndim != 2
        or digital.shape[1] != header.n_sig
        or (rows is not None and digital.shape[0] != rows)
    ):
        raise RecordError(
            stem.parent / header.file_name[0],
            f"read {digital.shape} samples, expected ({rows}, {header.n_sig}) from the header",
        )
    _verify_samples(header, digital, stem.parent, first=sampfrom == 0, whole=sampfrom == 0 and stop == length)
    end = length if length is not None else sampfrom + digital.shape[0]
    annotations = None
    if annotator:
        annotations = read_annotations(stem, annotator, length=end)
        if annotations is not None and (sampfrom > 0 or sampfrom + digital.shape[0] < end):
            annotations = window_annotations(annotations, sampfrom, sampfrom + digital.shape[0])
    return Record(
        name=stem.name,
        database=stem.parent.name,
        fs=float(header.fs),
        signal=np.asarray(rec.dac(expanded=False, return_res=64), dtype=np.float64) * scale,
        leads=tuple(header.sig_name),
        units=("mV",) * header.n_sig,
        annotations=annotations,
        extra={"comments": "\n".join(header.comments)} if header.comments else {},
        start=sampfrom,
    )


def window_stop(stem: Path, length: int | None, sampfrom: int, sampto: int | None) -> int | None:
    """The validated end of a window (None: to the end of a record of unknown length)."""
    stop = length if sampto is None else sampto
    outside = stop is not None and (stop <= sampfrom or (length is not None and stop > length))
    if sampfrom < 0 or outside:
        raise ValueError(f"{stem.name}: window {sampfrom}:{sampto} is outside the record's {length} samples")
    return stop


def _verify_samples(
    header: wfdb.Record, digital: np.ndarray, directory: Path, first: bool, whole: bool
) -> None:
    """Compare the samples with the header's initial values (`first`: read from sample 0) and 16-bit
    checksums (`whole`: every sample read)."""
    for i in range(header.n_sig):
        data = directory / header.file_name[i]
        initial = header.init_value[i] if header.init_value else None
        if first and initial is not None and digital.shape[0] and int(digital[0, i]) != int(initial):
            raise RecordError(data, f"corrupt: signal {i} starts at {digital[0, i]}, header says {initial}")
        checksum = header.checksum[i] if header.checksum else None
        # CinC 2017 headers write 0 for every record, so 0 counts as absent. With several samples per
        # frame wfdb averages them and the sum no longer matches.
        if whole and checksum and (header.samps_per_frame[i] or 1) == 1:
            # A 16-bit sum: writers differ on whether they store it signed or unsigned.
            total = int(digital[:, i].astype(np.int64).sum()) % 65536
            if total != int(checksum) % 65536:
                raise RecordError(data, f"corrupt: signal {i} checksum {total}, header says {checksum}")


def read_annotations(
    path: str | Path, annotator: str = "atr", length: int | None = None
) -> Annotations | None:
    """Annotations of record `path`, None when the annotation file does not exist.

    `length` (samples in the record) ends the last rhythm episode and bounds the annotation samples.
    """
    stem = record_stem(path)
    file = with_ext(stem, annotator)
    if not file.is_file():
        return None
    # Every annotation file ends with a zero word; wfdb reads a file cut at an even byte without complaint.
    with file.open("rb") as f:
        f.seek(max(file.stat().st_size - 2, 0))
        if f.read() != b"\x00\x00":
            raise RecordError(file, "truncated: no end-of-file marker")
    try:
        ann = wfdb.rdann(str(stem), annotator)
    except Exception as exc:
        raise RecordError(file, f"corrupt annotations: {exc}") from exc
    sample = np.asarray(ann.sample, dtype=np.int64)
    if sample.size and (sample[0] < 0 or np.any(np.diff(sample) < 0)):
        raise RecordError(file, "corrupt: annotation samples are negative or out of order")
    if length is not None and sample.size and sample[-1] > length:
        raise RecordError(file, f"corrupt: annotation at sample {sample[-1]} beyond the record's {length}")
    symbol = tuple(ann.symbol)
    aux = tuple((a or "").rstrip("\x00") for a in ann.aux_note)
    if length is not None:
        end = length
    else:
        end = int(sample[-1]) + 1 if sample.size else 0
    return Annotations(
        sample=sample,
        symbol=symbol,
        aux=aux,
        rhythms=rhythm_episodes(sample, symbol, aux, end),
        flutter=flutter_episodes(sample, symbol, end),
    )


def window_annotations(ann: Annotations, start: int, stop: int) -> Annotations:
    """The annotations inside [start, stop), with samples and episodes relative to `start`."""
    keep = (ann.sample >= start) & (ann.sample < stop)
    index = np.flatnonzero(keep)
    return Annotations(
        sample=ann.sample[keep] - start,
        symbol=tuple(ann.symbol[i] for i in index),
        aux=tuple(ann.aux[i] for i in index),
        rhythms=clip_episodes(ann.rhythms, start, stop),
        flutter=clip_episodes(ann.flutter, start, stop),
    )
