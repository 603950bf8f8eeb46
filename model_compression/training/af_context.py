"""RR context of atrial fibrillation, synthesised, for the beat classifier's training.

In atrial fibrillation every conducted beat is normal (AAMI N) whatever its prematurity, but DS1 has
only two patients in AF (201, 203): a network trained on it learns that a short interval followed by
a long one means an ectopic beat, and calls normal-looking beats in fast AF ventricular. Giving
some normal beats the RR context of a synthetic AF rhythm (intervals drawn independently around a
drifting mean) teaches that in an irregular rhythm the morphology, not the timing, decides. The
features come from the same functions as the real beats'.
"""

from __future__ import annotations

import numpy as np

from model_compression.beat_features import rr_model_input
from model_compression.datasets.beat_windows import BeatWindowConfig, rr_features

SEGMENT_BEATS = 64  # beats at one mean rate and one irregularity
RATE_BPM = (60.0, 170.0)  # mean ventricular rate in AF, controlled to rapid
VARIATION = (0.10, 0.40)  # SD over mean of the intervals (0.1-0.4 in AF)
RR_LIMITS_S = (0.25, 2.0)


def af_intervals(n: int, rng: np.random.Generator, variation: tuple[float, float] = VARIATION) -> np.ndarray:
    """n RR intervals in s: segments of SEGMENT_BEATS independent draws about a mean rate, with an
    SD over mean drawn from `variation` per segment."""
    segments = -(-n // SEGMENT_BEATS)
    mean = 60.0 / rng.uniform(*RATE_BPM, segments)
    sd = mean * rng.uniform(*variation, segments)
    rr = rng.normal(np.repeat(mean, SEGMENT_BEATS), np.repeat(sd, SEGMENT_BEATS))[:n]
    return np.clip(rr, *RR_LIMITS_S)


def af_rr_bank(n: int, seed: int, variation: tuple[float, float] = VARIATION) -> np.ndarray:
    """(n, 10) model RR inputs of n beats of a synthetic AF rhythm (after a warm-up long enough to
    fill every mean)."""
    rng = np.random.default_rng(seed)
    warm = 64
    times = np.concatenate([[0.0], np.cumsum(af_intervals(n + warm + 1, rng, variation))])
    rr = rr_features(times, BeatWindowConfig().rr_beats)  # previous, next, local mean
    previous = rr[1:-1, 0]  # every beat's previous RR but the first's (NaN) and the last's next
    record = np.zeros(len(previous), dtype=np.int64)
    features = rr_model_input(rr[1:-1], previous, record)
    return features[warm : warm + n]
