"""Beat-by-beat matching of detections against reference beats (ANSI/AAMI EC57, as WFDB's `bxb`).

Differences from `bxb` run with its defaults, by design: the whole record is scored (no 5-minute
learning period), and only QRS detection is scored (every beat label counts the same). Shutdown
intervals only decide whether `bxb` labels an unmatched beat `O` or `X`; both count as errors in its
QRS figures, so they are not modelled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from ecg_data.record import BEAT_SYMBOLS, Annotations

MATCH_WINDOW_S = 0.15
VF_ON, VF_OFF = "[", "]"

# Stands in for "no further annotation", like bxb's huge_time.
_END = 1 << 62


@dataclass(frozen=True)
class BeatMatch:
    """Outcome of one comparison; every index refers to the arrays the caller passed in.

    `ref_matched[k]` and `test_matched[k]` form the k-th pair, in time order. Detections left
    unmatched inside a reference flutter/fibrillation episode are in `test_ignored` and count
    neither way; reference beats inside such an episode are not references at all.
    """

    ref_matched: np.ndarray
    test_matched: np.ndarray
    ref_missed: np.ndarray
    test_extra: np.ndarray
    test_ignored: np.ndarray
    window: int  # samples, inclusive

    @property
    def tp(self) -> int:
        return len(self.ref_matched)

    @property
    def fp(self) -> int:
        return len(self.test_extra)

    @property
    def fn(self) -> int:
        return len(self.ref_missed)

    @property
    def sensitivity(self) -> float:
        return sensitivity(self.tp, self.fn)

    @property
    def positive_predictivity(self) -> float:
        return positive_predictivity(self.tp, self.fp)


def sensitivity(tp: int, fn: int) -> float:
    """TP / (TP + FN); NaN when there is no reference beat."""
    return tp / (tp + fn) if tp + fn else math.nan


def positive_predictivity(tp: int, fp: int) -> float:
    """TP / (TP + FP); NaN when nothing was counted as detected."""
    return tp / (tp + fp) if tp + fp else math.nan


def window_samples(fs: float, window_s: float = MATCH_WINDOW_S) -> int:
    """The match window in samples, rounded as WFDB's strtim() does (54 at 360 Hz)."""
    return math.floor(window_s * fs + 0.5)


def match_beats(
    ref: ArrayLike,
    test: ArrayLike,
    window: int,
    excluded: ArrayLike = (),
) -> BeatMatch:
    """Pair reference beat samples with detection samples, one to one, within ±`window` samples.

    `excluded` holds inclusive (start, end) sample intervals with no beats to find (reference
    ventricular flutter/fibrillation): reference beats inside them are dropped, and detections
    inside them that match nothing are ignored. Inputs need not be sorted.
    """
    ref_s = np.asarray(ref, dtype=np.int64).reshape(-1)
    test_s = np.asarray(test, dtype=np.int64).reshape(-1)
    spans = np.asarray(excluded, dtype=np.int64).reshape(-1, 2)

    ref_keep = np.flatnonzero(~_inside(ref_s, spans))
    ref_order = ref_keep[np.argsort(ref_s[ref_keep], kind="stable")]
    test_order = np.argsort(test_s, kind="stable")
    pairs = _bxb_pairs(ref_s[ref_order].tolist(), test_s[test_order].tolist(), window)

    pair_idx = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    ref_matched = ref_order[pair_idx[:, 0]]
    test_matched = test_order[pair_idx[:, 1]]
    ref_missed = np.setdiff1d(ref_order, ref_matched)
    test_unmatched = np.setdiff1d(test_order, test_matched)
    in_vf = _inside(test_s[test_unmatched], spans)
    return BeatMatch(
        ref_matched=ref_matched,
        test_matched=test_matched,
        ref_missed=ref_missed,
        test_extra=test_unmatched[~in_vf],
        test_ignored=test_unmatched[in_vf],
        window=window,
    )


def match_annotations(
    annotations: Annotations,
    detections: ArrayLike,
    fs: float,
    *,
    unit: Literal["s", "samples"] = "s",
    detection_fs: float | None = None,
    window_s: float = MATCH_WINDOW_S,
) -> BeatMatch:
    """Score detections against a record's reference annotations at the reference rate `fs`.

    Detections are times in seconds (`unit="s"`) or sample indices at `detection_fs` (default `fs`);
    they are rounded to the nearest reference sample. Reference indices in the result index
    `annotations.sample` / `annotations.symbol`, so matched beats keep their labels.
    """
    det = np.asarray(detections, dtype=np.float64).reshape(-1)
    scale = fs if unit == "s" else fs / (detection_fs or fs)
    test = np.rint(det * scale).astype(np.int64)

    beat_idx = np.flatnonzero([s in BEAT_SYMBOLS for s in annotations.symbol]).astype(np.int64)
    result = match_beats(
        annotations.sample[beat_idx], test, window_samples(fs, window_s), vf_episodes(annotations)
    )
    return BeatMatch(
        ref_matched=beat_idx[result.ref_matched],
        test_matched=result.test_matched,
        ref_missed=beat_idx[result.ref_missed],
        test_extra=result.test_extra,
        test_ignored=result.test_ignored,
        window=result.window,
    )


def vf_episodes(annotations: Annotations) -> np.ndarray:
    """Inclusive (start, end) samples of the `[` ... `]` episodes; an unclosed one runs to the end.

    A `]` before any `[` means the record (or a window cut from it) began in flutter; any other `]`
    without an opening `[` is ignored, as bxb does.
    """
    spans: list[tuple[int, int]] = []
    start: int | None = None
    for sample, symbol in zip(annotations.sample.tolist(), annotations.symbol, strict=True):
        if symbol == VF_ON and start is None:
            start = sample
        elif symbol == VF_OFF and (start is not None or not spans):
            spans.append((0 if start is None else start, sample))
            start = None
    if start is not None:
        spans.append((start, _END))
    return np.asarray(spans, dtype=np.int64).reshape(-1, 2)


def _inside(samples: np.ndarray, spans: np.ndarray) -> np.ndarray:
    hit = np.zeros(samples.shape, dtype=bool)
    for start, end in spans.tolist():
        hit |= (samples >= start) & (samples <= end)
    return hit


def _bxb_pairs(ref: list[int], test: list[int], window: int) -> list[tuple[int, int]]:
    """bxb's pairing loop over two sorted streams; returns (ref position, test position) pairs.

    Whichever of the current reference beat T and detection t comes first is paired with the other
    when they are within the window and no closer than the next annotation of the other stream
    (strictly: on a tie the later candidate wins); otherwise it is left unmatched and skipped.
    """
    n_ref, n_test = len(ref), len(test)
    i = j = 0
    pairs: list[tuple[int, int]] = []
    while i < n_ref or j < n_test:
        big_t = ref[i] if i < n_ref else _END
        t = test[j] if j < n_test else _END
        if t < big_t:
            t_next = test[j + 1] if j + 1 < n_test else _END
            if big_t - t <= window and big_t - t < abs(big_t - t_next):
                pairs.append((i, j))
                i += 1
            j += 1
        else:
            big_t_next = ref[i + 1] if i + 1 < n_ref else _END
            if t - big_t <= window and t - big_t < abs(t - big_t_next):
                pairs.append((i, j))
                j += 1
            i += 1
    return pairs
