"""Synthetic single-lead ECG with beats exactly where asked: for tests and demonstrations.

Each beat is the same P-QRS-T shape (Gaussian waves, R peak 1 mV at the beat time); baseline
wander, mains hum and white noise can be added.
"""

from __future__ import annotations

import numpy as np

# (offset from the R peak in s, amplitude in mV, width sigma in s) of the P, Q, R, S and T waves.
WAVES = (
    (-0.18, 0.12, 0.025),
    (-0.03, -0.12, 0.008),
    (0.0, 1.0, 0.01),
    (0.03, -0.25, 0.008),
    (0.26, 0.3, 0.045),
)
BEFORE_S, AFTER_S = 0.35, 0.5


def beat_shape(fs: float) -> tuple[np.ndarray, int]:
    """One beat sampled at `fs`, and the index of its R peak in it."""
    t = np.arange(-round(BEFORE_S * fs), round(AFTER_S * fs) + 1) / fs
    shape = sum(a * np.exp(-0.5 * ((t - at) / width) ** 2) for at, a, width in WAVES)
    return np.asarray(shape, dtype=np.float64), round(BEFORE_S * fs)


def ecg(
    beat_s: np.ndarray,
    fs: float,
    duration_s: float,
    *,
    wander_mv: float = 0.0,
    mains_hz: float = 50.0,
    mains_mv: float = 0.0,
    noise_mv: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """`duration_s` of ECG at `fs` with an R peak at each of `beat_s` (rounded to a sample)."""
    n = round(duration_s * fs)
    shape, r = beat_shape(fs)
    padded = np.zeros(n + len(shape))
    for at in np.rint(np.asarray(beat_s) * fs).astype(np.int64).tolist():
        if 0 <= at < n:
            padded[at : at + len(shape)] += shape
    x = padded[r : r + n]
    t = np.arange(n) / fs
    x += wander_mv * np.sin(2 * np.pi * 0.3 * t) + mains_mv * np.sin(2 * np.pi * mains_hz * t)
    if noise_mv:
        x += np.random.default_rng(seed).normal(0.0, noise_mv, n)
    return x


def beat_times(rr_s: np.ndarray, first_s: float = 0.5) -> np.ndarray:
    """Beat times from a first beat and the RR intervals after it."""
    return first_s + np.concatenate([[0.0], np.cumsum(rr_s)])


def modulated_rr(duration_s: float, mean_s: float, amplitude_s: float, freq_hz: float) -> np.ndarray:
    """RR intervals whose length follows mean + amplitude * sin(2 pi f t) at each beat's time."""
    rr = []
    t = 0.5
    while t < duration_s:
        step = mean_s + amplitude_s * np.sin(2 * np.pi * freq_hz * t)
        rr.append(step)
        t += step
    return np.asarray(rr)
