"""Feeding the beat and rhythm models block by block: their input signal, beat windows with RR
features, and 10-s rhythm windows, each handed over in batches as soon as it is complete."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from cloud.analysis.blocks import Block
from cloud.analysis.protocols import (
    BEAT_AFTER_S,
    BEAT_BEFORE_S,
    MODEL_FS,
    RHYTHM_WINDOW_S,
    RR_LOCAL_BEATS,
    BeatClassifier,
    RhythmClassifier,
)

UNCLASSIFIED = "Q"  # label of a beat with no neighbour to take RR features from
NEXT_WAIT_S = 10.0  # a beat with no next beat after this long is labelled without it (well inside keep_s)


class ModelSignal:
    """The stream as the models see it (at MODEL_FS, band-passed as on the patch), last `keep_s` only.

    Each block contributes its core; its context only warms the filters, so the stitched signal is
    the one a whole-record filter would give.
    """

    def __init__(self, fs: float, keep_s: float = 60.0) -> None:
        self.fs = fs
        self.keep = round(keep_s * MODEL_FS)
        self.start = 0  # model-rate index of buffer[0]
        self.buffer = np.zeros(0, dtype=np.float32)
        self.final = False

    @property
    def end(self) -> int:
        return self.start + len(self.buffer)

    def add(self, block: Block) -> None:
        from model_compression.datasets.preprocess import model_input

        converted = model_input(block.samples[:, None], self.fs, MODEL_FS)[:, 0]
        first = self._model_index(block.offset)
        lo = self._model_index(block.core_start) - first
        hi = len(converted) if block.last else self._model_index(block.core_end) - first
        part = converted[max(lo, 0) : max(hi, 0)].astype(np.float32)
        tail = self.buffer[len(self.buffer) - self.keep :] if len(self.buffer) > self.keep else self.buffer
        self.buffer = np.concatenate([tail, part])
        self.start = self._model_index(block.core_start) - len(tail)
        self.final = block.last

    def take(self, starts: np.ndarray, length: int) -> np.ndarray:
        """Windows [s, s + length) at the model rate as (n, length, 1); the record's edges repeat outward.

        Windows must start at or after `start`, except before the record's beginning."""
        index = np.asarray(starts, dtype=np.int64)[:, None] + np.arange(length)
        local = np.clip(index - self.start, 0, max(len(self.buffer) - 1, 0))
        return self.buffer[local][..., None]

    def _model_index(self, sample: int) -> int:
        return round(sample * MODEL_FS / self.fs)


@dataclass
class BeatLabeller:
    """Labels beats once both their neighbours and their whole window are known."""

    classifier: BeatClassifier
    fs: float
    _pending: list[int] = field(default_factory=list)
    _before: int | None = None  # sample of the last labelled beat
    _history: deque[float] = field(default_factory=lambda: deque(maxlen=RR_LOCAL_BEATS))

    def add(self, beats: np.ndarray) -> None:
        self._pending.extend(beats.tolist())

    def ready(self, signal: ModelSignal) -> tuple[np.ndarray, list[str]]:
        """Beats (samples) labelled now, with their labels, in order."""
        before = round(BEAT_BEFORE_S * MODEL_FS)
        length = before + round(BEAT_AFTER_S * MODEL_FS)
        pending = self._pending
        starts = np.rint(np.asarray(pending, dtype=np.float64) * MODEL_FS / self.fs).astype(np.int64) - before
        count = len(pending)
        if not signal.final:
            # A beat waits for the next one (its RR feature), unless none has come for NEXT_WAIT_S.
            if count and signal.end - starts[-1] < round(NEXT_WAIT_S * MODEL_FS):
                count -= 1
            count = min(count, int(np.searchsorted(starts + length, signal.end, side="right")))
        if count == 0:
            return np.zeros(0, dtype=np.int64), []
        beats = np.asarray(pending[: count + 1], dtype=np.int64)
        rr = self._rr_features(beats, count)
        labels = [UNCLASSIFIED] * count
        # A beat settled long after it happened (none is expected) may have left the kept signal.
        known = np.isfinite(rr).all(axis=1) & ((starts[:count] >= signal.start) | (signal.start == 0))
        if known.any():
            windows = signal.take(starts[:count][known], length)
            found = list(np.asarray(self.classifier(windows, rr[known].astype(np.float32))).astype(str))
            if len(found) != int(known.sum()):
                raise ValueError(f"beat classifier returned {len(found)} labels for {int(known.sum())} beats")
            for i, label in zip(np.flatnonzero(known).tolist(), found, strict=True):
                labels[i] = label
        del pending[:count]
        return beats[:count], labels

    def _rr_features(self, beats: np.ndarray, count: int) -> np.ndarray:
        """(count, 3) previous, next and local mean RR in s; a missing neighbour borrows the other's."""
        rr = np.full((count, 3), np.nan)
        for i in range(count):
            t = int(beats[i])
            previous = (t - self._before) / self.fs if self._before is not None else np.nan
            following = (int(beats[i + 1]) - t) / self.fs if i + 1 < len(beats) else np.nan
            if np.isfinite(previous):
                self._history.append(previous)
            local = sum(self._history) / len(self._history) if self._history else np.nan
            previous = following if np.isnan(previous) else previous
            following = previous if np.isnan(following) else following
            local = previous if np.isnan(local) else local
            rr[i] = (previous, following, local)
            self._before = t
        return rr


@dataclass
class RhythmLabeller:
    """Classifies consecutive 10-s windows on a grid from the stream's start; a last partial window
    is left out."""

    classifier: RhythmClassifier
    probabilities: list[np.ndarray] = field(default_factory=list)
    _next: int = 0

    @property
    def classes(self) -> Sequence[str]:
        return tuple(str(c) for c in self.classifier.classes)

    def ready(self, signal: ModelSignal) -> None:
        length = round(RHYTHM_WINDOW_S * MODEL_FS)
        count = max(0, signal.end // length - self._next)
        if count == 0:
            return
        starts = (self._next + np.arange(count)) * length
        probs = np.asarray(self.classifier(signal.take(starts, length)), dtype=np.float64)
        if probs.shape != (count, len(self.classes)):
            raise ValueError(
                f"rhythm classifier returned shape {probs.shape}, expected {(count, len(self.classes))}"
            )
        self.probabilities.append(probs.astype(np.float32))
        self._next += count

    def result(self) -> np.ndarray:
        if not self.probabilities:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        return np.concatenate(self.probabilities)
