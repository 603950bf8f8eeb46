"""A teacher's softened knowledge, kept as numbers instead of weights.

Distillation needs only the teacher's logits on the crops the student trains on. Computed once on a
grid of 10-s windows (one every `hop` samples, plus one ending at the record's end, as the patch's
windowing does) they are about 1 MB a fold in float16, against 42 MB for the teacher's weights: a
cross-validation fold whose teacher finished in one sitting keeps them in the repository, and its
student trains in a later one without the teacher.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model_compression.rhythm_pipeline import window_starts


@dataclass(frozen=True)
class TeacherLogits:
    """Logits of grid windows: window j of record `record[j]` starts at sample `start[j]`."""

    record: np.ndarray  # (m,) int64, record indices, grouped and ascending
    start: np.ndarray  # (m,) int64
    logits: np.ndarray  # (m, classes) float32

    def windows_of(self, record: int) -> np.ndarray:
        """Row indices of one record's windows (empty if the record has none)."""
        lo, hi = np.searchsorted(self.record, [record, record + 1])
        return np.arange(lo, hi)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as f:
            np.savez_compressed(
                f,
                record=self.record.astype(np.int32),
                start=self.start.astype(np.int32),
                logits=self.logits.astype(np.float16),
            )
        tmp.replace(path)  # a session cut mid-write leaves no half file behind

    @classmethod
    def load(cls, path: Path) -> TeacherLogits:
        with np.load(path) as z:
            return cls(
                z["record"].astype(np.int64), z["start"].astype(np.int64), z["logits"].astype(np.float32)
            )


def grid_logits(
    signal_of: Callable[[int], np.ndarray],
    index: np.ndarray,
    window: int,
    hop: int,
    predict: Callable[[np.ndarray], np.ndarray],
    *,
    batch: int = 512,
    progress: Callable[[int, int], None] | None = None,
) -> TeacherLogits:
    """`predict` ((n, window) raw windows -> (n, classes) logits) on every grid window of the records
    in `index`; a record shorter than a window gets one, zero-padded."""
    order = np.sort(np.asarray(index, dtype=np.int64))
    lengths = [len(signal_of(int(i))) for i in order]
    rec = np.concatenate(
        [np.full(len(window_starts(n, window, hop)), i) for i, n in zip(order, lengths, strict=True)]
    )
    start = np.concatenate([window_starts(n, window, hop) for n in lengths])
    out: list[np.ndarray] = []
    for lo in range(0, len(rec), batch):
        rows = slice(lo, lo + batch)
        out.append(np.asarray(predict(np.stack([crop_at(signal_of(int(r)), int(s), window)
                                                for r, s in zip(rec[rows], start[rows], strict=True)]))))  # fmt: skip
        if progress is not None:
            progress(min(lo + batch, len(rec)), len(rec))
    return TeacherLogits(rec.astype(np.int64), start.astype(np.int64), np.concatenate(out).astype(np.float32))


def crop_at(signal: np.ndarray, start: int, window: int) -> np.ndarray:
    """The window at `start`, zero-padded at the end of a record shorter than a window."""
    x = np.asarray(signal[start : start + window], dtype=np.float32)
    if len(x) < window:
        x = np.concatenate([x, np.zeros(window - len(x), dtype=np.float32)])
    return x
