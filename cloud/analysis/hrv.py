"""Heart rate variability from NN intervals: time domain and frequency domain (Task Force 1996).

Each group of indices is either all there or replaced by a `reason`; nothing is ever NaN or inf.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.signal as sps
from scipy.interpolate import CubicSpline
from scipy.ndimage import median_filter

MIN_TIME_DOMAIN_S = 60.0  # ultra-short term; 5 min is the Task Force's short-term standard
MIN_TIME_DOMAIN_NN = 30
MIN_FREQUENCY_DOMAIN_S = 120.0  # LF needs 2 min (Task Force 1996)
RECOMMENDED_S = 300.0
RESAMPLE_HZ = 4.0
WELCH_SEGMENT_S = 256.0
LF_HZ = (0.04, 0.15)
HF_HZ = (0.15, 0.4)
FIVE_MIN_S = 300.0

RrFilter = Literal["none", "median20"]
RR_FILTERS: tuple[str, ...] = ("none", "median20")
MEDIAN20_BEATS = 11
MEDIAN20_TOLERANCE = 0.2


@dataclass(frozen=True)
class NN:
    """NN intervals in ms, the time (s) of the beat ending each, and whether each follows the one
    before it directly (sharing a beat), which successive differences require."""

    ms: np.ndarray
    end_s: np.ndarray
    successive: np.ndarray
    definition: str

    @property
    def span_s(self) -> float:
        """Time the intervals cover, from the first one's start to the last one's end."""
        if len(self.ms) == 0:
            return 0.0
        return float(self.end_s[-1] - self.end_s[0] + self.ms[0] / 1000)

    def differences(self) -> np.ndarray:
        return np.diff(self.ms)[self.successive[1:]]


def nn_intervals(beat_s: np.ndarray, labels: np.ndarray | None = None, rr_filter: RrFilter = "none") -> NN:
    """RR intervals between consecutive beats, kept as NN when both beats are normal ("N"; every beat
    when `labels` is None) and, with `rr_filter="median20"`, when within 20 % of the median of the 11
    intervals around it (which drops an ectopic beat's short and long intervals alike)."""
    if rr_filter not in RR_FILTERS:
        raise ValueError(f"rr_filter must be one of {', '.join(RR_FILTERS)}, got {rr_filter!r}")
    rr_ms = np.diff(beat_s) * 1000.0
    keep = np.ones(len(rr_ms), dtype=bool)
    if labels is None:
        definition = "RR between consecutive detected beats, every beat counted as N"
    else:
        normal = np.asarray(labels) == "N"
        keep &= normal[:-1] & normal[1:]
        definition = "RR between consecutive beats both labelled N by the beat classifier"
    if rr_filter == "median20" and len(rr_ms):
        local = median_filter(rr_ms, size=MEDIAN20_BEATS, mode="nearest")
        keep &= np.abs(rr_ms - local) <= MEDIAN20_TOLERANCE * local
        definition += "; intervals off the median of the 11 around them by over 20 % dropped"
    else:
        definition += "; no RR filter"
    index = np.flatnonzero(keep)
    successive = np.zeros(len(index), dtype=bool)
    successive[1:] = np.diff(index) == 1
    return NN(rr_ms[index], beat_s[1:][index], successive, definition)


def time_domain(nn: NN) -> dict[str, Any]:
    """Mean NN, SDNN, RMSSD, pNN50 (and SDANN, SDNN index from two 5-min segments up)."""
    if nn.span_s < MIN_TIME_DOMAIN_S or len(nn.ms) < MIN_TIME_DOMAIN_NN:
        return {
            "reason": f"needs at least {MIN_TIME_DOMAIN_S:.0f} s and {MIN_TIME_DOMAIN_NN} NN intervals, "
            f"has {nn.span_s:.1f} s and {len(nn.ms)}"
        }
    diffs = nn.differences()
    out: dict[str, Any] = {
        "nn_count": len(nn.ms),
        "mean_nn_ms": float(nn.ms.mean()),
        "sdnn_ms": float(nn.ms.std(ddof=1)),
    }
    if len(diffs):
        out["rmssd_ms"] = float(np.sqrt(np.mean(diffs**2)))
        out["pnn50_pct"] = float(100.0 * np.mean(np.abs(diffs) > 50.0))
    else:
        out["rmssd_reason"] = "no two successive NN intervals"
    out.update(_five_minute_indices(nn))
    if nn.span_s < RECOMMENDED_S:
        out["note"] = f"shorter than the {RECOMMENDED_S:.0f} s recommended for short-term HRV"
    return out


def _five_minute_indices(nn: NN) -> dict[str, Any]:
    """SDANN (SD of 5-min mean NN) and SDNN index (mean of 5-min SDNN), Task Force long-term indices."""
    segment = np.floor((nn.end_s - nn.end_s[0]) / FIVE_MIN_S).astype(np.int64)
    counts = np.bincount(segment)
    sums = np.bincount(segment, weights=nn.ms)
    squares = np.bincount(segment, weights=nn.ms**2)
    # Segments mostly covered by NN intervals only: a record's last few seconds are no segment.
    full = (counts >= 2) & (sums >= 1000.0 * FIVE_MIN_S / 2)
    if full.sum() < 2:
        return {"sdann_reason": "needs two 5-min segments at least half covered by NN intervals"}
    mean = sums[full] / counts[full]
    var = (squares[full] - counts[full] * mean**2) / (counts[full] - 1)
    return {
        "sdann_ms": float(mean.std(ddof=1)),
        "sdnn_index_ms": float(np.sqrt(np.clip(var, 0.0, None)).mean()),
        "five_minute_segments": int(full.sum()),
    }


def frequency_domain(nn: NN) -> dict[str, Any]:
    """LF and HF power (ms²) by Welch's method on the NN series resampled at 4 Hz.

    The series is a cubic spline through the NN intervals at their end times; Welch uses 256-s Hann
    segments (the record's length when shorter), 50 % overlap, each detrended linearly, so a long
    record's spectrum is the mean of short-term ones, as the Task Force advises.
    """
    if nn.span_s < MIN_FREQUENCY_DOMAIN_S or len(nn.ms) < 4:
        return {"reason": f"needs at least {MIN_FREQUENCY_DOMAIN_S:.0f} s of NN intervals, has {nn.span_s:.1f} s"}
    lf, hf = band_powers(nn.end_s, nn.ms)
    out: dict[str, Any] = {
        "lf_ms2": lf,
        "hf_ms2": hf,
        "method": f"Welch, NN resampled at {RESAMPLE_HZ:g} Hz (cubic spline), {WELCH_SEGMENT_S:g}-s Hann "
        "segments, 50 % overlap, linear detrend",
    }
    if hf > 0:
        out["lf_hf"] = lf / hf
    else:
        out["lf_hf_reason"] = "no HF power"
    if lf + hf > 0:
        out["lf_nu"] = 100.0 * lf / (lf + hf)
        out["hf_nu"] = 100.0 * hf / (lf + hf)
    if nn.span_s < RECOMMENDED_S:
        out["note"] = f"shorter than the {RECOMMENDED_S:.0f} s recommended for LF/HF"
    return out


def band_powers(t_s: np.ndarray, values: np.ndarray) -> tuple[float, float]:
    """(LF, HF) power of `values` sampled at times `t_s`, in the squared unit of `values`."""
    order = np.argsort(t_s, kind="stable")
    t, v = t_s[order], values[order]
    unique = np.concatenate([[True], np.diff(t) > 0])
    t, v = t[unique], v[unique]
    grid = np.arange(t[0], t[-1], 1.0 / RESAMPLE_HZ)
    series = CubicSpline(t, v)(grid)
    nperseg = min(len(series), round(WELCH_SEGMENT_S * RESAMPLE_HZ))
    freq, psd = sps.welch(
        series, fs=RESAMPLE_HZ, window="hann", nperseg=nperseg, noverlap=nperseg // 2, detrend="linear"
    )
    df = freq[1] - freq[0]
    lf = float(psd[(freq >= LF_HZ[0]) & (freq < LF_HZ[1])].sum() * df)
    hf = float(psd[(freq >= HF_HZ[0]) & (freq < HF_HZ[1])].sum() * df)
    return lf, hf
