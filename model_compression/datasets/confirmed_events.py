"""Doctor-reviewed events as labelled training data (VT windows, rhythm records), so that
confirmed labels flow back into the models.

A folder of reviewed events holds one WFDB record per event snippet (`.hea`, signal file, `.atr`),
the layout PhysioNet's databases use, so that any WFDB tool reads it and the windows are cut by
the same code as `vfdb` and `mitdb` (`vt_windows.record_windows`):

- the header's comments carry `patient: <pseudonymous id>`; a patient's snippets stay in one
  cross-validation fold (a record without it is its own patient);
- the annotation file holds the reviewed span as a rhythm episode, an aux note `(VT` (or `(VFL`,
  `(VF`, `(VFIB`) for a confirmed ventricular arrhythmia, any other rhythm (`(N`, `(AFIB`, `(NOISE`,
  ...) for an alarm the doctor rejected: the hard negatives the patch got wrong. Time outside every
  episode is unknown and gives no window.

Any sampling rate and lead set the reader takes; windows that would mix reviewed and unknown time
are dropped as in the databases. A record that cannot be read, or has no annotations, stops the
load with its path and the reason: a doctor's label is not dropped silently.

For the rhythm network each reviewed span is one record, as a CinC 2017 recording is: `(N` is
Normal, `(AFIB` AF, `(NOISE` Noisy and any other rhythm Other (the challenge's classes; atrial
flutter, sinus bradycardia and VT were "Other" there too). A span shorter than the challenge's
shortest recording is left out, with a line saying so.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from ecg_data.errors import RecordError
from ecg_data.reader import list_records, read_record
from ecg_data.record import Record
from model_compression.datasets.preprocess import model_input
from model_compression.datasets.records import lead_order
from model_compression.datasets.rhythm_records import RHYTHM_CLASSES, RhythmRecords
from model_compression.datasets.vt_windows import VtWindowConfig, VtWindows, record_windows

_PATIENT = re.compile(r"^\s*patient\s*:\s*(\S+)\s*$", re.IGNORECASE | re.MULTILINE)
RHYTHM_CLASS_OF = {"N": "N", "AFIB": "A", "NOISE": "~"}  # any other reviewed rhythm: "O"
MIN_RHYTHM_SPAN_S = 9.0  # CinC 2017's shortest recording


def confirmed_vt_windows(folder: str | Path, config: VtWindowConfig) -> VtWindows:
    """Every reviewed snippet of `folder` cut into labelled windows as `config` says."""
    samples = round(config.window_s * config.fs)
    parts = []
    for record, patient in reviewed_records(folder):
        part = record_windows(record, config)
        parts.append(replace(part, patient=np.full(len(part.label), patient)))
    return VtWindows.concat(parts, samples, config.leads)


def confirmed_rhythm_records(folder: str | Path, fs: int) -> tuple[RhythmRecords, np.ndarray]:
    """Every reviewed span of `folder` as a rhythm record at `fs` (band-passed as the patch does),
    and the patient of each."""
    signals, labels, names, patients = [], [], [], []
    for record, patient in reviewed_records(folder):
        assert record.annotations is not None
        # Filtered whole, then cut, so that a span's edges carry no filter start-up.
        signal = model_input(record.signal[:, lead_order(record)[:1]], record.fs, fs)[:, 0].astype(np.float32)
        for episode in record.annotations.rhythms:
            start, end = round(episode.start * fs / record.fs), round(episode.end * fs / record.fs)
            if (end - start) / fs < MIN_RHYTHM_SPAN_S:
                _log(f"{record.database}/{record.name}: ({episode.label} at {episode.start / record.fs:.1f} s "
                     f"left out of rhythm training, {(end - start) / fs:.1f} s < {MIN_RHYTHM_SPAN_S:g} s")  # fmt: skip
                continue
            signals.append(signal[start:end])
            labels.append(RHYTHM_CLASSES.index(RHYTHM_CLASS_OF.get(episode.label, "O")))
            names.append(f"{record.database}/{record.name}@{episode.start / record.fs:g}s")
            patients.append(patient)
    length = np.array([len(s) for s in signals], dtype=np.int64)
    records = RhythmRecords(
        signal=np.concatenate(signals) if signals else np.zeros(0, np.float32),
        start=(np.cumsum(length) - length).astype(np.int64),
        length=length,
        label=np.array(labels, dtype=np.int64),
        name=np.array(names, dtype=str),
    )
    return records, np.array(patients, dtype=str)


def reviewed_records(folder: str | Path) -> Iterator[tuple[Record, str]]:
    """Each reviewed snippet of `folder` with its patient key (`confirmed/<id>`)."""
    folder = Path(folder)
    names = list_records(folder)
    if not names:
        raise RecordError(folder, "no reviewed event records (no .hea files, no RECORDS list)")
    for name in names:
        record = read_record(folder / name)
        if record.annotations is None or not record.annotations.rhythms:
            raise RecordError(folder / name, "no rhythm annotations: the reviewed span is not marked")
        yield record, f"confirmed/{patient_of(record.extra.get('comments', ''), record.name)}"


def patient_of(comments: str, record_name: str) -> str:
    """The header's `patient:` comment, else the record itself."""
    found = _PATIENT.search(comments)
    return found.group(1) if found else record_name



def _log(message: str) -> None:
    print(f"confirmed_events: {message}", file=sys.stderr, flush=True)
