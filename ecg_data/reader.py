"""One entry point for any record, and walking a database folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import wfdb

from ecg_data.cinc import read_cinc
from ecg_data.errors import RecordError
from ecg_data.headers import read_header, record_stem
from ecg_data.paths import data_root
from ecg_data.record import Record
from ecg_data.wfdb_records import read_wfdb, window_stop

RECORDS = "RECORDS"


def is_cinc(header: wfdb.Record) -> bool:
    """CinC 2017 headers point at a .mat file that scipy, not a WFDB signal reader, should open."""
    return any(str(name).lower().endswith(".mat") for name in header.file_name)


def read_record(path: str | Path, *, sampfrom: int = 0, sampto: int | None = None) -> Record:
    """Read any record (extension optional): CinC 2017 .mat or WFDB, with labels or annotations."""
    stem = record_stem(path)
    if not is_cinc(read_header(stem)):
        return read_wfdb(stem, sampfrom=sampfrom, sampto=sampto)
    record = read_cinc(stem)
    if sampfrom == 0 and sampto is None:
        return record
    stop = window_stop(stem, record.signal.shape[0], sampfrom, sampto)
    return Record(
        name=record.name,
        database=record.database,
        fs=record.fs,
        signal=record.signal[sampfrom:stop],
        leads=record.leads,
        units=record.units,
        label=record.label,
        start=sampfrom,
    )


def list_records(db_dir: str | Path) -> list[str]:
    """Record names of a database folder: its RECORDS file, else every header in it, sorted."""
    folder = Path(db_dir)
    if not folder.is_dir():
        raise RecordError(folder, "no such database folder")
    listing = folder / RECORDS
    if listing.is_file():
        try:
            lines = listing.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise RecordError(listing, f"unreadable: {exc}") from exc
        return [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return sorted(p.stem for p in folder.glob("*.hea"))


def iter_records(db_dir: str | Path, *, sampfrom: int = 0, sampto: int | None = None) -> Iterator[Record]:
    """Every record of a database folder, read one at a time in RECORDS order."""
    folder = Path(db_dir)
    for name in list_records(folder):
        yield read_record(folder / name, sampfrom=sampfrom, sampto=sampto)


def list_databases(root: str | Path | None = None) -> list[Path]:
    """Folders under the data root (default: $ECG_DATA_DIR) that hold a RECORDS file or headers."""
    base = data_root() if root is None else Path(root)
    if not base.is_dir():
        raise RecordError(base, "no such data folder")
    return sorted(
        d for d in base.iterdir() if d.is_dir() and ((d / RECORDS).is_file() or any(d.glob("*.hea")))
    )


def database_dir(name: str, root: str | Path | None = None) -> Path:
    """The folder of database `name` ("mitdb", "cinc2017", ...) under the data root."""
    return (data_root() if root is None else Path(root)) / name
