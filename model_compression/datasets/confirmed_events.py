"""Doctor-reviewed events as labelled VT windows, so that confirmed labels flow back into training.

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
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np

from ecg_data.errors import RecordError
from ecg_data.reader import list_records, read_record
from model_compression.datasets.vt_windows import VtWindowConfig, VtWindows, record_windows

_PATIENT = re.compile(r"^\s*patient\s*:\s*(\S+)\s*$", re.IGNORECASE | re.MULTILINE)


def confirmed_vt_windows(folder: str | Path, config: VtWindowConfig) -> VtWindows:
    """Every reviewed snippet of `folder` cut into labelled windows as `config` says."""
    folder = Path(folder)
    names = list_records(folder)
    if not names:
        raise RecordError(folder, "no reviewed event records (no .hea files, no RECORDS list)")
    samples = round(config.window_s * config.fs)
    parts = []
    for name in names:
        record = read_record(folder / name)
        if record.annotations is None or not record.annotations.rhythms:
            raise RecordError(folder / name, "no rhythm annotations: the reviewed span is not marked")
        part = record_windows(record, config)
        patient = patient_of(record.extra.get("comments", ""), record.name)
        parts.append(replace(part, patient=np.full(len(part.label), f"confirmed/{patient}")))
    return VtWindows.concat(parts, samples, config.leads)


def patient_of(comments: str, record_name: str) -> str:
    """The header's `patient:` comment, else the record itself."""
    found = _PATIENT.search(comments)
    return found.group(1) if found else record_name

