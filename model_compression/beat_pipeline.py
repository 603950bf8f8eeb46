"""The patch's beat classification over a whole recording: detections in, one label per beat out.

Windows and RR context are cut as in training (model_compression.beat_features); beats at the
recording's edges, which lack a neighbour, take the RR they have in place of the missing one and
zeros beyond the signal, so every detection gets a label.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from model_compression.beat_features import BEAT_CLASSES, DECIMATE, beat_input, rr_model_input, templates
from model_compression.datasets.beat_windows import BeatWindowConfig, rr_features
from model_compression.datasets.preprocess import model_input

FS = BeatWindowConfig().fs  # windows are cut at 250 Hz, then decimated
# A detection judged not to be a beat is reported as unclassifiable (Q), as EC57 counts it.
EC57_OF_CLASS = {"N": "N", "S": "S", "V": "V", "F": "F", "X": "Q"}
SHIPPED_MODEL = Path(__file__).resolve().parents[1] / "firmware" / "models" / "beat_classifier.tflite"


def beat_model_inputs(lead_mv: np.ndarray, fs: float, times_s: np.ndarray) -> list[np.ndarray]:
    """[beat (n, 87, 3), rr (n, 10)] for detections at `times_s` on one lead sampled at `fs`."""
    config = BeatWindowConfig()
    signal = model_input(np.asarray(lead_mv, dtype=np.float64).reshape(-1, 1), fs, FS)[:, 0]
    before = round(config.before_s * FS)
    length = before + round(config.after_s * FS)
    first = np.rint(np.asarray(times_s) * FS).astype(np.int64) - before
    padded = np.concatenate([np.zeros(length), signal, np.zeros(length)])
    index = (first + length)[:, None] + np.arange(length)
    index = np.clip(index, 0, len(padded) - 1)
    windows = padded[index][:, ::DECIMATE].astype(np.float32)
    template = templates(windows, np.zeros(len(windows), dtype=np.int8))
    rr = fill_rr(rr_features(times_s, config.rr_beats))
    one_record = np.zeros(len(rr), dtype=np.int8)
    return [beat_input(windows, template), rr_model_input(rr, rr[:, 0], one_record)]


def fill_rr(rr: np.ndarray) -> np.ndarray:
    """Missing previous/next RR (first and last beat) from the other; missing local mean from either."""
    rr = rr.copy()
    prev, nxt, local = rr[:, 0], rr[:, 1], rr[:, 2]
    prev[np.isnan(prev)] = nxt[np.isnan(prev)]
    nxt[np.isnan(nxt)] = prev[np.isnan(nxt)]
    local[np.isnan(local)] = prev[np.isnan(local)]
    return np.nan_to_num(rr, nan=1.0)


def classify(model: Any, inputs: list[np.ndarray]) -> np.ndarray:
    """EC57 labels from an Int8Model (or anything with predict_int8 over the same inputs)."""
    if len(inputs[0]) == 0:
        return np.zeros(0, dtype="<U1")
    return ec57_labels(np.asarray(model.predict_int8(inputs)).argmax(axis=1))


def ec57_labels(predicted: np.ndarray) -> np.ndarray:
    """EC57 labels of network class indices (BEAT_CLASSES)."""
    return np.array([EC57_OF_CLASS[BEAT_CLASSES[i]] for i in predicted])
