"""Signal-to-noise ratio as the MIT-BIH noise stress test defines it (WFDB `nst` and `sigamp`).

S = A**2 / 8, A the QRS peak-to-peak amplitude: the range within ±50 ms of each of the first 300
normal beats, the largest and smallest 5 % dropped, the rest averaged (/8 is exact for a sinusoid).
N = n**2, n the noise amplitude: the rms about the mean of each 1 s chunk, trimmed the same way,
which keeps sub-hertz wander that detectors ignore from dominating N.
SNR = 10 log10(S / N).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import maximum_filter1d, minimum_filter1d
from scipy.signal import find_peaks

from ecg_data.record import Annotations

QRS_HALF_WINDOW_S = 0.05
MAX_BEATS = 300
CHUNK_S = 1.0
# Beat finding without annotations: the refractory period and the relative height of a QRS swing.
REFRACTORY_S = 0.25
ROBUST_THRESHOLD = 0.4


def trimmed_mean(values: np.ndarray, cut: float = 0.05) -> float:
    """Mean after dropping the largest and smallest `cut` fraction, as sigamp does."""
    v = np.sort(np.asarray(values, dtype=np.float64))
    if v.size == 0:
        raise ValueError("no measurements to average")
    k = int(v.size * cut)
    return float(v[k : v.size - k].mean())


def normal_beats(annotations: Annotations | None) -> np.ndarray:
    """Sample indices of the normal beats, else of all beats (paced records have no 'N')."""
    if annotations is None:
        return np.zeros(0, dtype=np.int64)
    normal = np.asarray([s == "N" for s in annotations.symbol], dtype=bool)
    if normal.any():
        return annotations.sample[normal]
    return annotations.beats()


def qrs_peak_to_peak(signal: np.ndarray, fs: float, beats: np.ndarray | None = None) -> float:
    """QRS peak-to-peak amplitude A (signal units): sigamp on `beats`, else the robust estimate."""
    x = np.asarray(signal, dtype=np.float64)
    half = max(1, round(QRS_HALF_WINDOW_S * fs))
    if beats is not None:
        b = np.asarray(beats, dtype=np.int64)
        b = b[(b >= 0) & (b < x.size)][:MAX_BEATS]
        if b.size:
            idx = np.clip(b[:, None] + np.arange(-half, half + 1), 0, x.size - 1)
            windows = x[idx]
            return trimmed_mean(windows.max(axis=1) - windows.min(axis=1))
    return robust_qrs_peak_to_peak(x, fs)


def robust_qrs_peak_to_peak(signal: np.ndarray, fs: float) -> float:
    """A without annotations: each beat's QRS is its largest 100 ms swing, so the peaks of the
    sliding 100 ms range (>= 250 ms apart, above 40 % of the 99th percentile) stand in for beats."""
    x = np.asarray(signal, dtype=np.float64)
    if x.size == 0:
        return 0.0
    width = max(2, round(2 * QRS_HALF_WINDOW_S * fs))
    swing = maximum_filter1d(x, width) - minimum_filter1d(x, width)
    peaks, _ = find_peaks(
        swing, height=ROBUST_THRESHOLD * np.percentile(swing, 99), distance=max(1, round(REFRACTORY_S * fs))
    )
    if peaks.size == 0:
        return float(swing.max())
    return trimmed_mean(swing[peaks[:MAX_BEATS]])


def noise_rms(noise: np.ndarray, fs: float) -> float:
    """Noise amplitude n: trimmed mean of the per-second rms about each second's mean."""
    x = np.asarray(noise, dtype=np.float64)
    chunk = max(1, round(CHUNK_S * fs))
    n_chunks = x.size // chunk
    if n_chunks == 0:
        return float(np.sqrt(np.mean((x - x.mean()) ** 2))) if x.size else 0.0
    c = x[: n_chunks * chunk].reshape(n_chunks, chunk)
    return trimmed_mean(np.sqrt(np.mean((c - c.mean(axis=1, keepdims=True)) ** 2, axis=1)))


def snr_db(qrs_p2p: float, noise_amplitude: float) -> float:
    """10 log10(S / N) with S = A**2 / 8 and N = n**2."""
    return 10.0 * math.log10((qrs_p2p**2 / 8.0) / noise_amplitude**2)


def noise_gain(qrs_p2p: float, noise_amplitude: float, target_snr_db: float) -> float:
    """The scale a on the noise that gives the target SNR: SNR = 10 log10(S / (N a**2))."""
    if qrs_p2p <= 0:
        raise ValueError("the signal has no QRS amplitude to set an SNR against")
    if noise_amplitude <= 0:
        raise ValueError("the noise segment is flat")
    return math.sqrt((qrs_p2p**2 / 8.0) / (noise_amplitude**2 * 10.0 ** (target_snr_db / 10.0)))
