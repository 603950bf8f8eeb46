"""Detections the beat classifier calls "not a beat" are dropped only where that leaves a plausible rhythm.

A false detection (noise, a tall T wave) sits between two real beats: without it the RR is the
usual one. A real beat the classifier rejects leaves a gap of about two RR behind: dropping it
would invent a pause and spoil RR and HRV, so it stays, labelled Q (unclassifiable).
"""

from __future__ import annotations

import numpy as np

from cloud.analysis.protocols import NOT_A_BEAT

GAP_FACTOR = 1.5  # a gap this many local RR long is a missing beat
NEIGHBOURS = 8  # kept beats each side whose RR give the local RR
KEPT_LABEL = "Q"


def settle_rejections(samples: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """The beats kept and their labels, and how many rejections were overruled."""
    labels = np.array(labels, dtype=object)
    keep = labels != NOT_A_BEAT
    kept = np.flatnonzero(keep)  # indices of the beats kept so far, in order
    overruled = 0
    for i in np.flatnonzero(~keep):
        at = int(np.searchsorted(kept, i))
        if at == 0 or at == len(kept):
            continue  # nothing on one side: dropping it leaves no gap
        around = kept[max(0, at - NEIGHBOURS) : at + NEIGHBOURS]
        local_rr = float(np.median(np.diff(samples[around]))) if len(around) > 1 else 0.0
        if local_rr > 0 and samples[kept[at]] - samples[kept[at - 1]] > GAP_FACTOR * local_rr:
            keep[i] = True
            kept = np.insert(kept, at, i)
            labels[i] = KEPT_LABEL
            overruled += 1
    return samples[keep], labels[keep].astype(str), overruled
