"""Beat classifier inputs and EC57 class scoring."""

from __future__ import annotations

import math

import numpy as np
import pytest

from model_compression.beat_features import (
    CLIP,
    DETECTION,
    IRREGULARITY_GAIN,
    LOCAL_BEATS,
    MIN_AMPLITUDE_MV,
    SAMPLES,
    TEMPLATE_BEATS,
    beat_input,
    long_rr,
    rr_context,
    rr_input,
    templates,
)
from model_compression.beat_pipeline import fill_rr
from scoring.beat_classes import MISSED, NOT_A_BEAT, class_confusion, class_stats


def test_template_is_the_median_of_the_previous_beats_of_the_same_record() -> None:
    windows = np.arange(50, dtype=np.float32)[:, None] * np.ones((1, SAMPLES), dtype=np.float32)
    record = np.array(["a"] * 40 + ["b"] * 10)
    t = templates(windows, record)
    assert t[0, 0] == 0  # the first beat stands for itself
    assert t[1, 0] == 0  # beat 0 alone
    assert t[3, 0] == pytest.approx(1.0)  # median of 0, 1, 2
    assert t[39, 0] == pytest.approx(np.median(np.arange(39 - TEMPLATE_BEATS, 39)))
    assert t[40, 0] == 40  # a new record starts afresh
    assert t[43, 0] == pytest.approx(41.0)


def test_template_keeps_the_dominant_beat_through_ectopy() -> None:
    # Every third beat ectopic (a tall spike): the median template stays the normal beat.
    normal = np.zeros(SAMPLES, dtype=np.float32)
    normal[DETECTION] = 1.0
    ectopic = np.zeros(SAMPLES, dtype=np.float32)
    ectopic[DETECTION - 3 : DETECTION + 4] = -2.0
    windows = np.stack([ectopic if i % 3 == 2 else normal for i in range(60)])
    t = templates(windows, np.zeros(60))
    np.testing.assert_array_equal(t[59], normal)
    x = beat_input(windows, t)
    assert x.shape == (60, SAMPLES, 3)
    assert np.abs(x[58, :, 2]).max() == 0  # a normal beat matches its template
    assert np.abs(x[53, :, 2]).max() > 1  # an ectopic beat (53 % 3 == 2) does not


def test_long_rr_is_the_mean_of_the_recent_intervals() -> None:
    rr = np.array([1.0, 1.0, 2.0, 2.0, 0.5])
    np.testing.assert_allclose(long_rr(rr, np.array([0, 0, 0, 1, 1])), [1.0, 1.0, 4 / 3, 2.0, 1.25])


def test_beat_input_is_in_template_amplitudes_and_clipped() -> None:
    template = np.zeros((2, SAMPLES), dtype=np.float32)
    template[:, DETECTION] = [2.0, 0.0]  # a 2-mV QRS; a flat template
    beat = np.zeros_like(template)
    beat[:, DETECTION] = [-1.0, 1.0]
    x = beat_input(beat, template)
    assert x.shape == (2, SAMPLES, 3)
    assert x[0, DETECTION, 0] == pytest.approx(-0.5) and x[0, DETECTION, 1] == pytest.approx(1.0)
    assert x[0, DETECTION, 2] == pytest.approx(-1.5)  # beat minus template
    # A flat template falls back to the minimum amplitude and the beat is clipped.
    assert x[1, DETECTION, 0] == pytest.approx(min(1.0 / MIN_AMPLITUDE_MV, CLIP))


def test_rr_input_relates_each_interval_to_the_local_and_long_means() -> None:
    context = np.array([[0.3, 0.5], [0.0, 10.0]])
    x = rr_input(np.array([[0.5, 1.2, 1.0], [10.0, 1.0, 1.0]]), np.array([0.8, 1.0]), context)
    np.testing.assert_allclose(x[0], [0.5, 1.2, 0.625, 1.5, 1.25, 1.0, 0.5, 1.2, 0.3, 0.5])
    assert x[1].max() <= 4.0  # a long pause is clipped, not an overflow of the int8 input


def test_rr_context_is_the_local_irregularity_and_the_last_change() -> None:
    rng = np.random.default_rng(3)
    rr = np.concatenate([rng.uniform(0.5, 1.3, 30), np.full(20, 0.8)])
    record = np.array([0] * 30 + [1] * 20)
    c = rr_context(rr, record)
    for start, end in ((0, 30), (30, 50)):
        for k in range(end - start):
            m = min(k, LOCAL_BEATS)  # the first value of a record only stands in for a missing one
            last = rr[start + k - m + 1 : start + k + 1]
            expected = IRREGULARITY_GAIN * np.abs(np.diff(last)).mean() / last.mean() if m >= 2 else 0.0
            assert c[start + k, 0] == pytest.approx(expected)
            before = rr[start + max(k - 1, 0)]
            assert c[start + k, 1] == pytest.approx(rr[start + k] / before)
    # An irregular rhythm stands apart from a regular one; a record starts afresh.
    assert c[10:30, 0].min() > 0.2 and (c[32:, 0] == 0).all() and c[30, 1] == 1.0


def test_missing_neighbours_are_filled_from_the_other_side() -> None:
    rr = np.array([[math.nan, 0.8, math.nan], [0.8, 0.9, 0.8], [0.9, math.nan, 0.85]])
    filled = fill_rr(rr)
    assert not np.isnan(filled).any()
    np.testing.assert_allclose(filled[0], [0.8, 0.8, 0.8])
    np.testing.assert_allclose(filled[2], [0.9, 0.9, 0.85])


def test_ec57_class_statistics() -> None:
    ref = ["V"] * 10 + ["N"] * 100 + ["F"] * 5 + [NOT_A_BEAT] * 3 + ["S"] * 8 + ["V"]
    got = ["V"] * 9 + ["N"] + ["N"] * 98 + ["V", "S"] + ["V"] * 5 + ["V", "Q", "S"] + ["S"] * 6 + ["N", "N"] + [MISSED]
    m = class_confusion(ref, got)
    stats = class_stats(m)
    # V: 9 of 11 reference V found (one missed by the detector); V labels on fusion beats do not
    # count, the N beat and the false detection labelled V do.
    assert stats["veb_sensitivity"] == pytest.approx(9 / 11)
    assert stats["veb_ppv"] == pytest.approx(9 / 11)
    assert stats["sveb_sensitivity"] == pytest.approx(6 / 8)
    assert stats["sveb_ppv"] == pytest.approx(6 / 8)


def test_unknown_labels_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown label"):
        class_confusion(["N"], ["Z"])
    with pytest.raises(ValueError, match="1 reference labels but 2"):
        class_confusion(["N"], ["N", "N"])
