"""What the beat classifier sees of a beat, computed as the patch computes it.

A beat is judged against the patient's own recent beats, not against other patients' averages:
its window (band-passed, decimated to `FS`), beside the mean of the previous `TEMPLATE_BEATS`
windows, both divided by that template's QRS amplitude; and its RR context relative to the local
mean RR. Inter-patient differences in amplitude and morphology then largely cancel, which is what
lets a classifier trained on some patients judge others (de Chazal et al. 2004's lesson).
"""

from __future__ import annotations

import numpy as np

DECIMATE = 2  # the 250 Hz beat windows are taken at 125 Hz: QRS detail enough, half the work
FS = 125
SAMPLES = 87  # 0.25 s before the detection, 0.45 s after (174 samples at 250 Hz), at FS
DETECTION = 31  # index of the detection in the window
TEMPLATE_BEATS = 8
QRS_HALF_WIDTH = 6  # samples each side of the detection searched for the template's amplitude (48 ms)
MIN_AMPLITUDE_MV = 0.05
CLIP = 4.0  # in template amplitudes; taller is as telling as 4x and would waste int8 range
RR_FEATURES = ("prev/local", "next/local", "local_s", "prev_s", "next_s")
RR_CLIP = 4.0
CHANNELS = 2  # the beat, the template


def decimate(windows_250: np.ndarray) -> np.ndarray:
    """(n, 174, 1) windows at 250 Hz (already low-passed at 50 Hz) to (n, 87) at 125 Hz."""
    return np.asarray(windows_250)[:, ::DECIMATE, 0].astype(np.float32)


def templates(windows: np.ndarray, record: np.ndarray) -> np.ndarray:
    """Per beat, the mean of the previous TEMPLATE_BEATS windows of the same record (fewer at its
    start; the beat itself for the first). Beats are in time order within each record."""
    windows = np.asarray(windows, dtype=np.float64)
    out = np.empty_like(windows)
    record = np.asarray(record)
    for rec in dict.fromkeys(record.tolist()):
        idx = np.flatnonzero(record == rec)
        w = windows[idx]
        total = np.concatenate([np.zeros((1, w.shape[1])), np.cumsum(w, axis=0)])
        end = np.arange(len(w))
        start = np.maximum(end - TEMPLATE_BEATS, 0)
        count = (end - start)[:, None]
        mean = (total[end] - total[start]) / np.maximum(count, 1)
        mean[0] = w[0]
        out[idx] = mean
    return out.astype(np.float32)


def amplitude(template: np.ndarray) -> np.ndarray:
    lo, hi = DETECTION - QRS_HALF_WIDTH, DETECTION + QRS_HALF_WIDTH + 1
    return np.maximum(np.abs(template[:, lo:hi]).max(axis=1), MIN_AMPLITUDE_MV)


def beat_input(windows: np.ndarray, template: np.ndarray) -> np.ndarray:
    """(n, SAMPLES, 2): the beat and its template in units of the template's QRS amplitude."""
    scale = amplitude(template)[:, None]
    x = np.stack([windows / scale, template / scale], axis=-1)
    return np.clip(x, -CLIP, CLIP).astype(np.float32)


def rr_input(rr: np.ndarray) -> np.ndarray:
    """(n, 5) from (previous RR, next RR, local mean RR) in s."""
    rr = np.asarray(rr, dtype=np.float64)
    local = np.maximum(rr[:, 2], 0.2)
    x = np.stack([rr[:, 0] / local, rr[:, 1] / local, local, rr[:, 0], rr[:, 1]], axis=1)
    return np.clip(x, 0.0, RR_CLIP).astype(np.float32)
