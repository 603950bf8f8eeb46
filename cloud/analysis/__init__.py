"""The cloud's background analysis of long single-lead recordings (Holter-style reports).

`analyse_stream` takes consecutive chunks of one lead in mV, a 24-h recording included, and returns a
JSON-ready report: beats, heart rate and its trend, RR statistics, HRV (time and frequency domain),
pauses (those around a baseline step flagged as artefact), and, when the models are given, beat
labels, rhythm, AF burden and VT episodes. Memory stays bounded whatever the length: the signal is
processed in fixed blocks and only beat times and baseline steps are kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from cloud.analysis.engine import NO_MODEL, SCHEMA_VERSION, AnalysisConfig, StreamAnalysis, analyse_stream
from cloud.analysis.protocols import BeatClassifier, RhythmClassifier

__all__ = [
    "NO_MODEL",
    "SCHEMA_VERSION",
    "AnalysisConfig",
    "BeatClassifier",
    "RhythmClassifier",
    "StreamAnalysis",
    "analyse",
    "analyse_stream",
]


VIEW_SAMPLES = 1 << 20


def analyse(signal: np.ndarray, fs: float, **kw: Any) -> dict[str, Any]:
    """`analyse_stream` on one array holding the whole recording (read in views, never copied whole)."""
    x = np.asarray(signal)
    if x.ndim != 1:
        raise ValueError(f"signal must be a 1-D array of one lead, got shape {x.shape}")
    return analyse_stream(_views(x), fs, **kw)


def _views(x: np.ndarray) -> Iterable[np.ndarray]:
    for start in range(0, len(x), VIEW_SAMPLES):
        yield x[start : start + VIEW_SAMPLES]
