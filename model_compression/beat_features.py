"""What the beat classifier sees of a beat, computed as the patch computes it.

A beat is judged against the patient's own dominant beat, not against other patients' averages:
its window (band-passed, decimated to `FS`), the sample-wise median of the previous
`TEMPLATE_BEATS` windows (the dominant morphology while fewer than half the beats are ectopic)
and their difference, all divided by the template's QRS amplitude; and its RR context relative to
the local and the longer-term mean RR, with how irregular the local rhythm is (so that a short
interval in atrial fibrillation is not read as a premature beat) and the previous interval over
the one before it. A bundle branch block then looks like its own template, an
ectopic beat does not, whatever the patient's amplitude and axis: what lets a classifier trained
on some patients judge others (de Chazal et al. 2004's lesson).
"""

from __future__ import annotations

import numpy as np

DECIMATE = 2  # the 250 Hz beat windows are taken at 125 Hz: QRS detail enough, half the work
FS = 125
SAMPLES = 87  # 0.25 s before the detection, 0.45 s after (174 samples at 250 Hz), at FS
DETECTION = 31  # index of the detection in the window
TEMPLATE_BEATS = 32
QRS_HALF_WIDTH = 6  # samples each side of the detection searched for the template's amplitude (48 ms)
MIN_AMPLITUDE_MV = 0.05
CLIP = 4.0  # in template amplitudes; taller is as telling as 4x and would waste int8 range
RR_FEATURES = (
    "prev/local", "next/local", "prev/long", "next/long", "local/long", "local_s", "prev_s", "next_s",
    "irregularity", "prev/before",
)  # fmt: skip
RR_CLIP = 4.0
LOCAL_BEATS = 8  # the local mean RR's intervals (the patch's heart rate)
# Mean |successive RR difference| over the mean RR is about 0.02 in sinus rhythm and 0.2 in atrial
# fibrillation: times 4 it spreads over more of the int8 input's steps.
IRREGULARITY_GAIN = 4.0
CHANNELS = 3  # the beat, the template, their difference
# The classifier's outputs: the AAMI classes it can learn from DS1 (Q is 5 beats there), and X for
# detections that are not beats, so noise spikes do not become ectopic beats.
BEAT_CLASSES: tuple[str, ...] = ("N", "S", "V", "F", "X")


def decimate(windows_250: np.ndarray) -> np.ndarray:
    """(n, 174, 1) windows at 250 Hz (already low-passed at 50 Hz) to (n, 87) at 125 Hz."""
    return np.asarray(windows_250)[:, ::DECIMATE, 0].astype(np.float32)


def templates(windows: np.ndarray, record: np.ndarray) -> np.ndarray:
    """Per beat, the sample-wise median of the previous TEMPLATE_BEATS windows of the same record
    (fewer at its start; the beat itself for the first). Beats are in time order within a record."""
    windows = np.asarray(windows, dtype=np.float32)
    out = np.empty_like(windows)
    record = np.asarray(record)
    for rec in dict.fromkeys(record.tolist()):
        idx = np.flatnonzero(record == rec)
        w = windows[idx]
        padded = np.concatenate([np.full((TEMPLATE_BEATS, w.shape[1]), np.nan, dtype=np.float32), w])
        # Row i of the view holds beats i - TEMPLATE_BEATS .. i - 1.
        previous = np.lib.stride_tricks.sliding_window_view(padded[:-1], TEMPLATE_BEATS, axis=0)
        with np.errstate(all="ignore"):
            median = np.nanmedian(previous[1:], axis=2) if len(w) > 1 else np.zeros((0, w.shape[1]))
        out[idx[0]] = w[0]
        out[idx[1:]] = median
    return out


def long_rr(previous_rr: np.ndarray, record: np.ndarray) -> np.ndarray:
    """Per beat, the mean of the last TEMPLATE_BEATS previous-RR values of its record, itself
    included (the rate the template's beats came at)."""
    previous_rr = np.asarray(previous_rr, dtype=np.float64)
    out = np.empty_like(previous_rr)
    record = np.asarray(record)
    for rec in dict.fromkeys(record.tolist()):
        idx = np.flatnonzero(record == rec)
        total = np.concatenate([[0.0], np.cumsum(previous_rr[idx])])
        end = np.arange(1, len(idx) + 1)
        start = np.maximum(end - TEMPLATE_BEATS, 0)
        out[idx] = (total[end] - total[start]) / (end - start)
    return out


def rr_context(previous_rr: np.ndarray, record: np.ndarray) -> np.ndarray:
    """(n, 2) per beat, from its record's previous-RR values in time order (the first one standing
    in for the interval before the first beat, as the patch has it): the irregularity
    IRREGULARITY_GAIN * mean |successive difference| / mean RR over the last (up to) LOCAL_BEATS
    intervals of the beats after the first, 0 with fewer than two; and the previous RR over the one
    before it (1 for the first beat)."""
    previous_rr = np.asarray(previous_rr, dtype=np.float64)
    out = np.zeros((len(previous_rr), 2), dtype=np.float64)
    record = np.asarray(record)
    for rec in dict.fromkeys(record.tolist()):
        idx = np.flatnonzero(record == rec)
        rr = previous_rr[idx]
        before = np.concatenate([rr[:1], rr[:-1]])
        out[idx, 1] = rr / np.maximum(before, 1e-9)
        step = np.abs(rr - before)
        step[:2] = 0.0  # beat 1's step is to the stand-in of beat 0
        total_rr = np.concatenate([[0.0], np.cumsum(rr)])
        total_step = np.concatenate([[0.0], np.cumsum(step)])
        end = np.arange(1, len(idx) + 1)
        count = np.minimum(end - 1, LOCAL_BEATS)  # intervals of beats 1..k: k = end - 1
        start = end - count
        with np.errstate(invalid="ignore", divide="ignore"):
            irregular = (
                IRREGULARITY_GAIN * count * (total_step[end] - total_step[start + 1])
                / ((count - 1) * (total_rr[end] - total_rr[start]))
            )  # fmt: skip
        out[idx, 0] = np.where(count >= 2, irregular, 0.0)
    return out


def rr_model_input(rr: np.ndarray, previous_rr: np.ndarray, record: np.ndarray) -> np.ndarray:
    """rr_input of the beats `rr` (previous RR, next RR, local mean RR in s), whose longer-term mean
    and RR context come from `previous_rr`: every beat's previous RR in time order per `record`,
    ending with these beats' own (earlier beats first, as a patch's kept history is)."""
    kept = len(previous_rr) - len(rr)
    return rr_input(rr, long_rr(previous_rr, record)[kept:], rr_context(previous_rr, record)[kept:])


def amplitude(template: np.ndarray) -> np.ndarray:
    lo, hi = DETECTION - QRS_HALF_WIDTH, DETECTION + QRS_HALF_WIDTH + 1
    return np.maximum(np.abs(template[:, lo:hi]).max(axis=1), MIN_AMPLITUDE_MV)


def beat_input(windows: np.ndarray, template: np.ndarray) -> np.ndarray:
    """(n, SAMPLES, 3): the beat, its template and their difference in template QRS amplitudes."""
    scale = amplitude(template)[:, None]
    x = np.stack([windows / scale, template / scale, (windows - template) / scale], axis=-1)
    return np.clip(x, -CLIP, CLIP).astype(np.float32)


def rr_input(rr: np.ndarray, long_mean: np.ndarray, context: np.ndarray) -> np.ndarray:
    """(n, 10) from (previous RR, next RR, local mean RR) in s, the longer-term mean RR and
    rr_context's two columns."""
    rr = np.asarray(rr, dtype=np.float64)
    local = np.maximum(rr[:, 2], 0.2)
    long = np.maximum(np.asarray(long_mean, dtype=np.float64), 0.2)
    x = np.stack(
        [rr[:, 0] / local, rr[:, 1] / local, rr[:, 0] / long, rr[:, 1] / long, local / long, local, rr[:, 0], rr[:, 1],
         context[:, 0], context[:, 1]],
        axis=1,
    )
    return np.clip(x, 0.0, RR_CLIP).astype(np.float32)
