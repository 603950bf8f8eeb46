"""Zero-phase filters for one block of ECG: a QRS band for detection and a clean signal for placing beats.

Both run forward and backward (no delay to undo). The analysis blocks carry seconds of context on
each side, so the filters' edge transients fall outside the part of a block whose beats are kept.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.signal as sps
from scipy.ndimage import uniform_filter1d

# QRS band for detection: baseline wander, mains and most P and T wave energy lie outside it. Higher
# than Hamilton and Tompkins' 5-11 Hz, which on MIT-BIH 108 lets tall P waves rival the QRS.
QRS_BAND_HZ = (8.0, 20.0)
# Diagnostic-ish band for placing the R peak: baseline wander below, muscle noise and mains above.
CLEAN_BAND_HZ = (0.5, 40.0)
MAINS_HZ = (50.0, 60.0)
NOTCH_Q = 30.0
MIN_FS = 50.0  # below this the QRS band no longer fits


@lru_cache(maxsize=16)
def qrs_band_sos(fs: float, band: tuple[float, float] = QRS_BAND_HZ) -> np.ndarray:
    return sps.butter(2, band, btype="bandpass", fs=fs, output="sos")


@lru_cache(maxsize=16)
def clean_sos(fs: float) -> np.ndarray:
    """High-pass 0.5 Hz, low-pass 40 Hz (where it fits) and notches at 50 and 60 Hz (where they fit)."""
    sections = [sps.butter(2, CLEAN_BAND_HZ[0], btype="highpass", fs=fs, output="sos")]
    if CLEAN_BAND_HZ[1] < 0.45 * fs:
        sections.append(sps.butter(4, CLEAN_BAND_HZ[1], btype="lowpass", fs=fs, output="sos"))
    for mains in MAINS_HZ:
        if mains < 0.45 * fs:
            b, a = sps.iirnotch(mains, NOTCH_Q, fs=fs)
            sections.append(sps.tf2sos(b, a))
    return np.vstack(sections)


def qrs_band(x: np.ndarray, fs: float, band: tuple[float, float] = QRS_BAND_HZ) -> np.ndarray:
    return sps.sosfiltfilt(qrs_band_sos(fs, band), x)


def clean(x: np.ndarray, fs: float) -> np.ndarray:
    return sps.sosfiltfilt(clean_sos(fs), x)


def moving_mean(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average over `width` samples (edges use the nearest value)."""
    return uniform_filter1d(x, size=max(1, width), mode="nearest")
