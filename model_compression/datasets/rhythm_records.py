"""CinC 2017 records for the rhythm network, whole, at the model's rate and band-passed.

Records are 9 to 61 s long, so they are kept whole (one flat array and offsets) and windows are
cut at training or evaluation time, as the patch cuts them from its stream.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from ecg_data.errors import RecordError
from ecg_data.paths import data_root
from ecg_data.reader import list_records, read_record
from model_compression.datasets.cache import Arrays, cached
from model_compression.datasets.preprocess import model_input

RHYTHM_CLASSES: tuple[str, ...] = ("N", "A", "O", "~")
_FORMAT = 2  # 2: band-passed at the patch's 250 Hz, then resampled


@dataclass(frozen=True)
class RhythmRecordConfig:
    fs: int = 125
    database: str = "cinc2017"
    max_records: int | None = None


@dataclass(frozen=True)
class RhythmRecords:
    signal: np.ndarray  # float32, all records one after another, mV
    start: np.ndarray  # int64 offset of each record in `signal`
    length: np.ndarray  # int64 samples of each record
    label: np.ndarray  # index into RHYTHM_CLASSES
    name: np.ndarray

    def record(self, i: int) -> np.ndarray:
        return self.signal[self.start[i] : self.start[i] + self.length[i]]

    def to_arrays(self) -> Arrays:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_arrays(cls, arrays: Arrays) -> RhythmRecords:
        return cls(**{f.name: arrays[f.name] for f in fields(cls)})

    @classmethod
    def concat(cls, parts: list[RhythmRecords]) -> RhythmRecords:
        length = np.concatenate([p.length for p in parts])
        return cls(
            signal=np.concatenate([p.signal for p in parts]),
            start=(np.cumsum(length) - length).astype(np.int64),
            length=length,
            label=np.concatenate([p.label for p in parts]),
            name=np.concatenate([p.name.astype(str) for p in parts]),
        )


def load_rhythm_records(
    config: RhythmRecordConfig | None = None, *, root: str | Path | None = None, cache_dir: str | Path | None = None
) -> RhythmRecords:
    config = config or RhythmRecordConfig()
    folder = (Path(root) if root is not None else data_root()) / config.database
    params = {"format": _FORMAT, "root": str(folder.resolve()), **asdict(config)}
    return RhythmRecords.from_arrays(cached("rhythm_records", params, lambda: build(config, folder).to_arrays(), cache_dir))


def build(config: RhythmRecordConfig, folder: Path) -> RhythmRecords:
    names = list_records(folder)[: config.max_records]
    signals, labels, kept = [], [], []
    for i, name in enumerate(names, 1):
        try:
            record = read_record(folder / name)
        except RecordError as exc:
            _log(f"{name}: skipped, {exc.problem}")
            continue
        if record.label not in RHYTHM_CLASSES:
            _log(f"{name}: skipped, no label")
            continue
        signals.append(model_input(record.signal[:, :1], record.fs, config.fs)[:, 0].astype(np.float32))
        labels.append(RHYTHM_CLASSES.index(record.label))
        kept.append(name)
        if i % 1000 == 0 or i == len(names):
            _log(f"{i}/{len(names)} records")
    length = np.array([len(s) for s in signals], dtype=np.int64)
    return RhythmRecords(
        signal=np.concatenate(signals) if signals else np.zeros(0, np.float32),
        start=np.concatenate([[0], np.cumsum(length)[:-1]]).astype(np.int64) if signals else np.zeros(0, np.int64),
        length=length,
        label=np.array(labels, dtype=np.int64),
        name=np.array(kept),
    )


def _log(message: str) -> None:
    print(f"rhythm_records: {message}", file=sys.stderr, flush=True)
