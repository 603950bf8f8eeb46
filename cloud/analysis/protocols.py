"""What the engine expects of the beat and rhythm models, and what it hands them.

The inputs match the training sets in model_compression.datasets: the signal at MODEL_FS, through
the patch's 0.5-50 Hz band-pass, in mV, float32, shaped (n, samples, 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

MODEL_FS = 250
# Beat windows: this long before and after the detected R peak (model_compression's BeatWindowConfig).
BEAT_BEFORE_S = 0.25
BEAT_AFTER_S = 0.45
RR_LOCAL_BEATS = 8  # the local mean RR runs over the last this many intervals
RR_FEATURES: tuple[str, ...] = ("previous_rr_s", "next_rr_s", "local_mean_rr_s")
RHYTHM_WINDOW_S = 10.0

NORMAL_BEAT = "N"
# A beat label saying the detection is no beat at all (model_compression's FALSE_DETECTION).
NOT_A_BEAT = "FD"
# Rhythm class names that count as atrial fibrillation and as ventricular tachyarrhythmia.
AF_CLASSES = frozenset({"A", "AF", "AFIB", "AFL"})
VT_CLASSES = frozenset({"VT", "VF", "VFL", "VFIB"})


@runtime_checkable
class BeatClassifier(Protocol):
    """(n, samples, 1) beat windows and (n, 3) RR features in s (RR_FEATURES) -> n labels.

    Labels are AAMI classes ("N", "S", "V", "F", "Q"), or NOT_A_BEAT for a false detection,
    which the engine then drops from the beats.
    """

    def __call__(self, windows: np.ndarray, rr_features: np.ndarray) -> Sequence[str] | np.ndarray: ...


@runtime_checkable
class RhythmClassifier(Protocol):
    """(n, samples, 1) windows of RHYTHM_WINDOW_S -> (n, len(classes)) class probabilities."""

    classes: Sequence[str]

    def __call__(self, windows: np.ndarray) -> np.ndarray: ...
