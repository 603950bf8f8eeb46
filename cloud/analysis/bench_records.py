"""Long single-lead test records made of real ones: MIT-BIH MLII at 250 Hz, joined without steps.

Each source record is cut at midpoints between reference beats, so the interval across a seam is
about the mean of its neighbours, and has the straight line through its two ends removed, so every
piece starts and ends at 0 mV: no step at a seam, no drift over many. Records are used in RECORDS
order and again from the first when the hours asked for need more. The reference beats come along,
so heart rate and HRV can be judged against the annotations.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TextIO

import numpy as np
import scipy.signal as sps

from ecg_data.reader import list_records
from ecg_data.record import Record
from ecg_data.wfdb_records import read_wfdb
from scoring.report import say

BENCH_FS = 250
LEAD = "MLII"


@dataclass(frozen=True)
class Piece:
    """One source record at BENCH_FS, cut and flattened at its ends; reference beats count from the cut."""

    name: str
    signal: np.ndarray
    beats: np.ndarray
    symbols: np.ndarray


@dataclass(frozen=True)
class BuiltRecord:
    path: Path  # .npy of float64 mV at BENCH_FS
    samples: int
    beats: np.ndarray  # reference beat samples at BENCH_FS
    symbols: np.ndarray
    sources: list[str]  # record names, in order
    starts: list[int]  # sample where each source's piece begins

    @property
    def duration_s(self) -> float:
        return self.samples / BENCH_FS


def usable(record: Record) -> bool:
    """Non-paced, with the lead, and reference beats throughout (no flutter episode, which has none)."""
    ann = record.annotations
    return ann is not None and LEAD in record.leads and "/" not in ann.symbol and "[" not in ann.symbol


class Pieces:
    """The usable records of a MIT-BIH folder as pieces, read when first needed and then kept."""

    def __init__(self, mitdb: Path, names: Sequence[str] | None = None, progress: TextIO | None = None) -> None:
        self.mitdb = mitdb
        self._names = list(names) if names is not None else list_records(mitdb)
        self._next = 0
        self._pieces: list[Piece] = []
        self.progress = progress

    def __getitem__(self, k: int) -> Piece:
        """The k-th piece, going round again once every record has been used."""
        while len(self._pieces) <= k and self._next < len(self._names):
            name = self._names[self._next]
            self._next += 1
            record = read_wfdb(self.mitdb / name)
            if usable(record):
                self._pieces.append(to_piece(record))
                say(self.progress, f"bench records: {name} read")
        if not self._pieces:
            raise FileNotFoundError(f"{self.mitdb}: no non-paced record with lead {LEAD} and beat annotations")
        return self._pieces[k % len(self._pieces)]


def to_piece(record: Record) -> Piece:
    assert record.annotations is not None
    ratio = Fraction(BENCH_FS) / Fraction(record.fs).limit_denominator(1000)
    x = sps.resample_poly(record.signal[:, record.lead_index(LEAD)], ratio.numerator, ratio.denominator)
    beats = np.rint(record.annotations.beats() * float(ratio)).astype(np.int64)
    symbols = np.asarray(record.annotations.beat_symbols())
    # From midway between the first two beats to midway between the last two.
    start, stop = (beats[0] + beats[1]) // 2, (beats[-2] + beats[-1]) // 2
    inside = (beats >= start) & (beats < stop)
    return Piece(record.name, _flatten_ends(x[start:stop]), beats[inside] - start, symbols[inside])


def _flatten_ends(x: np.ndarray) -> np.ndarray:
    ramp = np.linspace(x[0], x[-1], len(x))
    return x - ramp


def build(pieces: Pieces, hours: float, path: Path) -> BuiltRecord:
    """`hours` of ECG from the pieces, cycling through them; the last one is cut to fit."""
    total = round(hours * 3600 * BENCH_FS)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(total,))
    beats, symbols, sources, starts = [], [], [], []
    at = 0
    k = 0
    while at < total:
        piece = pieces[k]
        n = min(len(piece.signal), total - at)
        out[at : at + n] = piece.signal[:n]
        keep = piece.beats < n
        beats.append(piece.beats[keep] + at)
        symbols.append(piece.symbols[keep])
        sources.append(piece.name)
        starts.append(at)
        at += n
        k += 1
    out.flush()
    del out
    return BuiltRecord(path, total, np.concatenate(beats), np.concatenate(symbols), sources, starts)


def iter_chunks(path: Path, chunk: int) -> Iterator[np.ndarray]:
    """Consecutive float64 chunks of a 1-D .npy file, read with plain reads: no memory map, whose
    touched pages would count as the reader's memory."""
    with open(path, "rb") as f:
        major, _ = np.lib.format.read_magic(f)
        read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(f)
        if len(shape) != 1 or dtype != np.float64:
            raise ValueError(f"{path}: expected a 1-D float64 array, got {shape} {dtype}")
        left = shape[0]
        while left > 0:
            buf = np.fromfile(f, dtype=np.float64, count=min(chunk, left))
            if len(buf) == 0:
                raise ValueError(f"{path}: file shorter than its header says")
            left -= len(buf)
            yield buf
