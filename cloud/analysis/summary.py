"""Heart rate, its trend, RR statistics and pauses, from beat times alone."""

from __future__ import annotations

from typing import Any

import numpy as np

MIN_COVERAGE = 0.5  # a trend interval counts for min/max HR when RR intervals cover this share of it


def heart_rate(beat_s: np.ndarray, duration_s: float, interval_s: float) -> dict[str, Any]:
    """Mean HR (60 / mean RR: beats per minute of time between the first and last beat), and the
    mean HR of each `interval_s` of the record (null where no RR interval ends in it); min and max
    are the lowest and highest of those interval means, over intervals well covered by beats."""
    if len(beat_s) < 2:
        return {"reason": f"needs two beats, found {len(beat_s)}"}
    rr = np.diff(beat_s)
    bins = max(1, int(np.ceil(duration_s / interval_s)))
    which = np.minimum((beat_s[1:] // interval_s).astype(np.int64), bins - 1)
    counts = np.bincount(which, minlength=bins)
    spans = np.bincount(which, weights=rr, minlength=bins)
    lengths = np.minimum(interval_s, duration_s - np.arange(bins) * interval_s)
    with np.errstate(divide="ignore", invalid="ignore"):
        trend = np.where(counts > 0, 60.0 * counts / spans, np.nan)
    covered = (counts > 0) & (spans >= MIN_COVERAGE * lengths)
    out: dict[str, Any] = {"mean_bpm": float(60.0 / rr.mean())}
    if covered.any():
        out["min_bpm"] = float(trend[covered].min())
        out["max_bpm"] = float(trend[covered].max())
    else:
        out["min_max_reason"] = f"no {interval_s:g}-s interval is half covered by RR intervals"
    out["trend"] = {
        "interval_s": interval_s,
        "mean_bpm": [None if np.isnan(v) else round(float(v), 2) for v in trend],
    }
    return out


def rr_stats(beat_s: np.ndarray) -> dict[str, Any]:
    """All RR intervals, whatever the beats' labels."""
    if len(beat_s) < 2:
        return {"reason": f"needs two beats, found {len(beat_s)}"}
    rr_ms = np.diff(beat_s) * 1000.0
    out = {
        "count": len(rr_ms),
        "mean_ms": float(rr_ms.mean()),
        "median_ms": float(np.median(rr_ms)),
        "min_ms": float(rr_ms.min()),
        "max_ms": float(rr_ms.max()),
    }
    if len(rr_ms) >= 2:
        out["sd_ms"] = float(rr_ms.std(ddof=1))
    return out


def pauses(beat_s: np.ndarray, threshold_s: float, steps_s: np.ndarray | None = None) -> dict[str, Any]:
    """RR intervals of at least `threshold_s`: onset (the beat before) and duration, in s.

    One with a baseline step inside (`steps_s`, see artefacts) is listed with `artefact` true and
    counted apart: the lead may have lost the QRS there, so it is for a reviewer to judge, and it is
    neither hidden nor counted as a pause of the heart.
    """
    rr = np.diff(beat_s)
    long = np.flatnonzero(rr >= threshold_s)
    steps = np.zeros(0) if steps_s is None else np.asarray(steps_s, dtype=np.float64)
    # Steps strictly between the beat before and the beat after each long interval.
    first_after = np.searchsorted(steps, beat_s[long], side="right")
    before_end = np.searchsorted(steps, beat_s[long + 1], side="left")
    artefact = before_end > first_after
    clean = long[~artefact]
    return {
        "threshold_s": threshold_s,
        "count": len(clean),
        "longest_s": float(rr[clean].max()) if len(clean) else None,
        "in_artefact_count": int(artefact.sum()),
        "episodes": [
            {"onset_s": round(float(beat_s[i]), 3), "duration_s": round(float(rr[i]), 3), "artefact": bool(a)}
            for i, a in zip(long.tolist(), artefact.tolist(), strict=True)
        ],
    }
