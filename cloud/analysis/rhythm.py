"""Rhythm results from the rhythm model's per-window class probabilities."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cloud.analysis.protocols import AF_CLASSES, VT_CLASSES


def rhythm_summary(probs: np.ndarray, classes: Sequence[str], window_s: float) -> dict[str, Any]:
    """Each window's most probable class, and the share of analysed time in each class."""
    if len(probs) == 0:
        return {"reason": f"record shorter than one {window_s:g}-s rhythm window"}
    winner = probs.argmax(axis=1)
    share = np.bincount(winner, minlength=len(classes)) / len(probs)
    return {
        "window_s": window_s,
        "windows": len(probs),
        "classes": list(classes),
        "label": [classes[i] for i in winner.tolist()],
        "probability": [round(float(p), 4) for p in probs.max(axis=1)],
        "time_fraction": {c: float(s) for c, s in zip(classes, share, strict=True)},
    }


def af_burden(probs: np.ndarray, classes: Sequence[str], window_s: float) -> dict[str, Any]:
    """Share of analysed time (%) in windows whose most probable class is atrial fibrillation."""
    af = [i for i, c in enumerate(classes) if c.upper() in AF_CLASSES]
    if not af:
        return {"reason": f"the rhythm model has no atrial fibrillation class (it has {', '.join(classes)})"}
    if len(probs) == 0:
        return {"reason": f"record shorter than one {window_s:g}-s rhythm window"}
    in_af = np.isin(probs.argmax(axis=1), af)
    return {
        "percent": float(100.0 * in_af.mean()),
        "af_windows": int(in_af.sum()),
        "windows": len(probs),
        "window_s": window_s,
    }


def vt_episodes(probs: np.ndarray, classes: Sequence[str], window_s: float) -> dict[str, Any]:
    """Runs of consecutive windows whose most probable class is a ventricular tachyarrhythmia."""
    vt = [i for i, c in enumerate(classes) if c.upper() in VT_CLASSES]
    if not vt:
        return {"reason": f"the rhythm model has no ventricular tachycardia class (it has {', '.join(classes)})"}
    if len(probs) == 0:
        return {"reason": f"record shorter than one {window_s:g}-s rhythm window"}
    flagged = np.isin(probs.argmax(axis=1), vt).astype(np.int8)
    edges = np.diff(np.concatenate([[0], flagged, [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    vt_prob = probs[:, vt].sum(axis=1)
    episodes = [
        {
            "onset_s": float(a * window_s),
            "duration_s": float((b - a) * window_s),
            "max_probability": round(float(vt_prob[a:b].max()), 4),
        }
        for a, b in zip(starts.tolist(), stops.tolist(), strict=True)
    ]
    return {"count": len(episodes), "window_s": window_s, "episodes": episodes}
