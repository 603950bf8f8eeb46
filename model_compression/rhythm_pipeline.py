"""The patch's rhythm verdict over a recording: 10-s windows, each scaled by its own spread, the
network's probabilities averaged over the windows of the record.

Scaling each window by its standard deviation removes the electrode- and patient-dependent gain
the int8 input could not afford; the patch computes it over the window it already holds.
"""

from __future__ import annotations

import numpy as np

WINDOW_S = 10.0
HOP_S = 5.0
MIN_STD_MV = 0.05
CLIP = 8.0  # in window standard deviations


def window_starts(length: int, window: int, hop: int) -> np.ndarray:
    """Starts of the windows that cover a record: every `hop`, plus one ending at its end."""
    if length <= window:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, length - window + 1, hop, dtype=np.int64)
    if starts[-1] != length - window:
        starts = np.append(starts, length - window)
    return starts


def cut_windows(signal: np.ndarray, window: int, hop: int) -> np.ndarray:
    """(n, window) windows of a 1-D record; a record shorter than a window is zero-padded."""
    x = np.asarray(signal, dtype=np.float32)
    if len(x) < window:
        x = np.concatenate([x, np.zeros(window - len(x), dtype=np.float32)])
    starts = window_starts(len(x), window, hop)
    return x[starts[:, None] + np.arange(window)]


def normalise(windows: np.ndarray) -> np.ndarray:
    """(n, window) mV to (n, window, 1) in units of each window's standard deviation, clipped."""
    w = np.asarray(windows, dtype=np.float32)
    w = w - w.mean(axis=1, keepdims=True)
    std = np.maximum(w.std(axis=1, keepdims=True), MIN_STD_MV)
    return np.clip(w / std, -CLIP, CLIP)[:, :, None].astype(np.float32)


def record_probabilities(window_probabilities: np.ndarray) -> np.ndarray:
    """The record's class probabilities: the mean over its windows."""
    return np.asarray(window_probabilities, dtype=np.float64).mean(axis=0)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def f1_scores(confusion: np.ndarray, classes: tuple[str, ...]) -> dict[str, float]:
    """Per-class F1 (2 TP / (row + column)) of a reference-by-model confusion matrix."""
    m = np.asarray(confusion, dtype=np.float64)
    out = {}
    for i, name in enumerate(classes):
        denominator = m[i].sum() + m[:, i].sum()
        out[name] = float(2 * m[i, i] / denominator) if denominator else float("nan")
    return out


def challenge_score(f1: dict[str, float]) -> float:
    """The 2017 challenge's score: the mean F1 of Normal, AF and Other rhythm."""
    return float(np.mean([f1["N"], f1["A"], f1["O"]]))
