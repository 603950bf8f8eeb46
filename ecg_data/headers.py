"""WFDB headers through `wfdb`, and the file checks `wfdb` leaves out."""

from __future__ import annotations

import math
from pathlib import Path

import wfdb

from ecg_data.errors import RecordError

# Extensions a caller may hand us instead of the bare record path.
RECORD_SUFFIXES = frozenset({".hea", ".dat", ".mat", ".atr"})

# Bytes per sample of each uncompressed WFDB format (212 packs two 12-bit samples in three bytes).
BYTES_PER_SAMPLE = {
    "8": 1.0,
    "16": 2.0,
    "24": 3.0,
    "32": 4.0,
    "61": 2.0,
    "80": 1.0,
    "160": 2.0,
    "212": 1.5,
    "310": 4 / 3,
    "311": 4 / 3,
}


def record_stem(path: str | Path) -> Path:
    """The record path without extension: "mitdb/101.hea" and "mitdb/101" both give "mitdb/101"."""
    path = Path(path)
    return path.parent / path.stem if path.suffix in RECORD_SUFFIXES else path


def with_ext(stem: Path, ext: str) -> Path:
    """`stem` plus an extension, keeping dots already in the record name."""
    return stem.parent / f"{stem.name}.{ext}"


def read_header(path: str | Path) -> wfdb.Record:
    """The parsed header of record `path`; RecordError when it is missing or malformed."""
    stem = record_stem(path)
    hea = with_ext(stem, "hea")
    if not hea.is_file():
        raise RecordError(hea, "missing header file")
    try:
        header = wfdb.rdheader(str(stem))
    except Exception as exc:
        raise RecordError(hea, f"malformed header: {exc}") from exc
    if isinstance(header, wfdb.MultiRecord):
        raise RecordError(hea, "multi-segment records are not supported")
    if not header.n_sig:
        raise RecordError(hea, "header declares no signals")
    if not header.fs or header.fs <= 0:
        raise RecordError(hea, f"invalid sampling frequency {header.fs!r}")
    return header


def declared_length(header: wfdb.Record) -> int | None:
    """Samples per signal the header declares; None when it leaves the length to the file size."""
    return int(header.sig_len) if header.sig_len else None


def check_signal_files(header: wfdb.Record, directory: Path) -> None:
    """Raise RecordError when a signal file is missing or holds fewer samples than the header declares.

    `wfdb` does not check this: a short .dat gives a broadcast ValueError or "Samples were not loaded
    correctly", and a read with `sampto` inside the surviving part silently succeeds.
    """
    length = declared_length(header)
    files: dict[str, tuple[str, int, int]] = {}  # file -> (format, byte offset, samples per frame)
    for i, name in enumerate(header.file_name):
        fmt = str(header.fmt[i])
        spf = int(header.samps_per_frame[i] or 1)
        offset = int(header.byte_offset[i] or 0)
        previous = files.get(name)
        files[name] = (fmt, offset, spf + (previous[2] if previous else 0))
    for name, (fmt, offset, frame) in files.items():
        data = directory / name
        if not data.is_file():
            raise RecordError(data, f"missing signal file (named in {header.record_name}.hea)")
        if length is None or fmt not in BYTES_PER_SAMPLE:
            continue  # compressed formats (508, ...) have no fixed size
        size = data.stat().st_size
        needed = offset + math.ceil(length * frame * BYTES_PER_SAMPLE[fmt])
        if size < needed:
            held = max(size - offset, 0) / (frame * BYTES_PER_SAMPLE[fmt])
            raise RecordError(
                data,
                f"truncated: {size} bytes hold {int(held)} samples per signal, but "
                f"{header.record_name}.hea declares {length} ({needed} bytes)",
            )


# Records promise millivolts; these are the other voltage units found in WFDB headers.
MV_PER_UNIT = {"mV": 1.0, "uV": 1e-3, "μV": 1e-3, "V": 1e3}


def mv_per_unit(header: wfdb.Record, hea: Path) -> list[float]:
    """Per signal, the factor from the header's physical units to millivolts."""
    factors = []
    for i, unit in enumerate(header.units):
        if (unit or "mV") not in MV_PER_UNIT:
            raise RecordError(hea, f"signal {i} ({header.sig_name[i]}) is in {unit!r}, not a voltage")
        factors.append(MV_PER_UNIT[unit or "mV"])
    return factors
