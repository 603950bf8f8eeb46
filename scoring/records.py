"""The annotated records a scoring run works through, read one at a time to keep memory flat."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TextIO

from ecg_data.reader import list_records
from ecg_data.record import Record
from ecg_data.wfdb_records import read_wfdb, window_annotations
from scoring.report import say

PACED_SYMBOL = "/"


def parse_names(text: str | None) -> list[str] | None:
    """`--records 101,102` as a list; None (all records) when not given."""
    if not text:
        return None
    return [name.strip() for name in text.split(",") if name.strip()]


def annotated_paths(data: str | Path, names: Sequence[str] | None = None) -> list[Path]:
    """Records (paths without extension) of folder `data` that have a reference `.atr` file, in the
    folder's RECORDS order (else by name), or in the order of `names` when given.

    Raises FileNotFoundError naming the folder or the requested records it lacks.
    """
    folder = Path(data)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    if names is None:
        return [folder / n for n in list_records(folder) if (folder / f"{n}.atr").is_file()]
    missing = [n for n in names if not (folder / f"{n}.hea").is_file() or not (folder / f"{n}.atr").is_file()]
    if missing:
        raise FileNotFoundError(f"{folder}: no annotated record {', '.join(missing)}")
    return [folder / n for n in names]


def read_beat_records(paths: Sequence[Path]) -> Iterator[Record]:
    """Each record that has at least one reference beat, in order."""
    for path in paths:
        record = read_wfdb(path)
        if record.annotations is not None and len(record.annotations.beats()):
            yield record


def lead_of(record: Record, lead: str | None) -> int | None:
    """The lead's index, or None when the record lacks that lead (it is then skipped)."""
    return record.lead_index(lead) if lead is None or lead in record.leads else None


def with_lead(
    records: Iterable[Record], lead: str | None, progress: TextIO | None, total: int | None
) -> Iterator[tuple[str, Record, int]]:
    """Each record with a "[k/total]" tag and its lead's index; one lacking the lead is said and skipped."""
    for k, record in enumerate(records, 1):
        tag = f"[{k}/{total}]" if total else f"[{k}]"
        index = lead_of(record, lead)
        if index is None:
            say(progress, f"{tag} {record.name}: skipped, no lead {lead!r}")
            continue
        yield tag, record, index


def is_paced(record: Record) -> bool:
    return record.annotations is not None and PACED_SYMBOL in record.annotations.symbol


def head(record: Record, seconds: float) -> Record:
    """The first `seconds` of a record, annotations included, for quick runs and tests."""
    n = min(record.signal.shape[0], round(seconds * record.fs))
    annotations = None if record.annotations is None else window_annotations(record.annotations, 0, n)
    return dataclasses.replace(record, signal=record.signal[:n], annotations=annotations)
