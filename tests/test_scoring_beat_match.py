"""Beat matching: hand-made cases, then a cross-check with wfdb's compare_annotations on MIT-BIH."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from wfdb.processing import compare_annotations

from ecg_data.paths import data_root
from ecg_data.record import Annotations, Record
from ecg_data.wfdb_records import read_wfdb
from scoring.beat_match import match_annotations, match_beats, vf_episodes, window_samples
from scoring.records import head

FS = 360.0
W = 54  # 150 ms at 360 Hz
MITDB = data_root() / "mitdb"
# DS1 records without flutter episodes, which compare_annotations knows nothing about.
NO_FLUTTER = ("101", "106", "119", "203", "208", "209", "215", "223", "230")


def events(*marks: tuple[int, str]) -> Annotations:
    return Annotations(
        sample=np.array([s for s, _ in marks], dtype=np.int64),
        symbol=tuple(sym for _, sym in marks),
        aux=tuple("" for _ in marks),
    )


def counts(result) -> tuple[int, int, int]:
    return result.tp, result.fp, result.fn


def test_window_is_54_samples_at_360_hz_as_bxb_rounds_it() -> None:
    assert window_samples(360) == 54
    assert window_samples(250) == 38  # 37.5 rounds up, as strtim() does


@pytest.mark.parametrize(("offset", "matched"), [(54, True), (-54, True), (55, False), (-55, False)])
def test_boundary_at_exactly_150_ms_is_a_match(offset: int, matched: bool) -> None:
    result = match_beats([1000], [1000 + offset], W)
    assert counts(result) == ((1, 0, 0) if matched else (0, 1, 1))


def test_boundary_in_seconds_is_rounded_to_reference_samples() -> None:
    ann = events((1000, "N"))
    assert match_annotations(ann, [(1000 + 54) / FS], FS).tp == 1
    assert match_annotations(ann, [(1000 + 55) / FS], FS).tp == 0


def test_detections_at_another_rate_are_converted() -> None:
    ann = events((720, "N"), (1080, "V"))
    result = match_annotations(ann, [500, 750], FS, unit="samples", detection_fs=250)
    assert counts(result) == (2, 0, 0)


def test_two_detections_near_one_beat_the_nearest_wins() -> None:
    result = match_beats([1000], [980, 1010], W)
    assert counts(result) == (1, 1, 0)
    assert result.test_matched.tolist() == [1]
    assert result.test_extra.tolist() == [0]


def test_equidistant_detections_the_later_wins_as_in_bxb() -> None:
    result = match_beats([1000], [990, 1010], W)
    assert result.test_matched.tolist() == [1]


def test_one_detection_between_two_beats_pairs_once() -> None:
    result = match_beats([1000, 1040], [1030], W)
    assert counts(result) == (1, 0, 1)
    assert result.ref_matched.tolist() == [1]


def test_unsorted_detections_keep_their_indices() -> None:
    result = match_beats([1000, 2000, 3000], [3001, 999, 2500], W)
    assert dict(zip(result.ref_matched.tolist(), result.test_matched.tolist(), strict=True)) == {0: 1, 2: 0}
    assert result.test_extra.tolist() == [2]
    assert result.ref_missed.tolist() == [1]


def test_flutter_episode_detections_are_not_counted() -> None:
    ann = events(
        (1000, "N"),
        (2000, "["),
        (2100, "!"),
        (2400, "!"),
        (3000, "]"),
        (4000, "N"),
        (4020, "+"),
    )
    assert vf_episodes(ann).tolist() == [[2000, 3000]]
    detections = np.array([1000, 2000, 2100, 2500, 3000, 3500, 4000]) / FS
    result = match_annotations(ann, detections, FS)
    assert counts(result) == (2, 1, 0)
    assert result.test_ignored.tolist() == [1, 2, 3, 4]  # both ends of the episode included
    assert result.test_extra.tolist() == [5]


def test_reference_beats_inside_flutter_are_not_references() -> None:
    ann = events((1000, "N"), (2000, "["), (2500, "N"), (3000, "]"), (4000, "N"))
    result = match_annotations(ann, [1000 / FS, 4000 / FS], FS)
    assert counts(result) == (2, 0, 0)


def test_a_beat_just_outside_flutter_still_matches_a_detection_inside() -> None:
    ann = events((1990, "V"), (2000, "["), (3000, "]"))
    result = match_annotations(ann, [2030 / FS], FS)
    assert counts(result) == (1, 0, 0)


def test_an_unclosed_flutter_episode_runs_to_the_end() -> None:
    ann = events((1000, "N"), (2000, "["), (9000, "!"))
    result = match_annotations(ann, [1000 / FS, 50_000 / FS], FS)
    assert counts(result) == (1, 0, 0)
    assert result.test_ignored.tolist() == [1]


def test_a_window_that_begins_in_flutter_starts_the_episode_at_zero() -> None:
    ann = events((500, "]"), (1000, "N"), (1500, "]"))  # the second stray "]" is ignored, as by bxb
    assert vf_episodes(ann).tolist() == [[0, 500]]
    result = match_annotations(ann, [200 / FS, 1000 / FS, 1400 / FS], FS)
    assert (result.tp, result.fp, result.fn) == (1, 1, 0)
    assert result.test_ignored.tolist() == [0]


def test_reference_indices_point_into_the_annotations() -> None:
    ann = events((10, "+"), (1000, "N"), (1200, "~"), (2000, "V"), (3000, "A"))
    result = match_annotations(ann, [1000 / FS, 2010 / FS], FS)
    assert [ann.symbol[i] for i in result.ref_matched] == ["N", "V"]
    assert [ann.symbol[i] for i in result.ref_missed] == ["A"]
    assert result.sensitivity == pytest.approx(2 / 3)
    assert result.positive_predictivity == 1.0


def test_no_reference_and_no_detection_gives_undefined_ratios() -> None:
    result = match_beats([], [], W)
    assert counts(result) == (0, 0, 0)
    assert np.isnan(result.sensitivity) and np.isnan(result.positive_predictivity)


# Where the two matchers part: both need a beat or detection with two candidates within the window.


def test_bxb_rule_leaves_a_pair_that_compare_annotations_matches() -> None:
    # bxb looks one annotation ahead in the other stream only: 1050 is nearer 1095 than 1000 is, so
    # 1000 goes unmatched; then 1115 is nearer 1095 than 1050 is, so 1050 does too.
    ref, test = np.array([1000, 1095]), np.array([1050, 1115])
    assert counts(match_beats(ref, test, W)) == (1, 1, 1)
    theirs = compare_annotations(ref, test, W + 1)
    assert (theirs.tp, theirs.fp, theirs.fn) == (2, 0, 0)


def test_compare_annotations_can_count_one_detection_for_two_beats() -> None:
    ref, test = np.array([101, 143, 177, 201, 389]), np.array([155, 399])
    theirs = compare_annotations(ref, test, W + 1)
    assert theirs.tp == 3  # detection 0 is given to beats 143 and 201
    assert sorted(theirs.matching_sample_nums[theirs.matching_sample_nums >= 0].tolist()) == [0, 0, 1]
    ours = match_beats(ref, test, W)
    assert counts(ours) == (2, 0, 3)
    assert len(set(ours.test_matched.tolist())) == ours.tp


# On MIT-BIH.

needs_mitdb = pytest.mark.skipif(not (MITDB / "101.hea").exists(), reason=f"MIT-BIH not found at {MITDB}")


def _read(name: str) -> Record:
    return read_wfdb(Path(MITDB) / name)


def _agree(ref: np.ndarray, test: np.ndarray) -> None:
    ours = match_beats(ref, test, W)
    theirs = compare_annotations(ref, np.sort(test), W + 1)
    assert (ours.tp, ours.fp, ours.fn) == (theirs.tp, theirs.fp, theirs.fn)


def _perturbed(ref: np.ndarray, rng: np.random.Generator, jitter: int) -> np.ndarray:
    kept = ref[rng.random(len(ref)) > 0.05]
    kept = kept + rng.integers(-jitter, jitter + 1, len(kept))
    inserted = rng.integers(0, int(ref.max()), len(ref) // 20)
    return np.sort(np.concatenate([kept, inserted]))


@needs_mitdb
@pytest.mark.parametrize("name", ["101", "208"])
def test_agrees_with_compare_annotations_on_real_detections(name: str) -> None:
    import neurokit2 as nk
    from wfdb.processing import XQRS

    record = _read(name)
    assert record.annotations is not None
    ref = record.annotations.beats()
    sig, fs = record.signal[:, 0], record.fs
    _, info = nk.ecg_peaks(nk.ecg_clean(sig, sampling_rate=fs), sampling_rate=fs)
    _agree(ref, np.asarray(info["ECG_R_Peaks"]))
    _, info = nk.ecg_peaks(
        nk.ecg_clean(sig, sampling_rate=fs, method="pantompkins1985"),
        sampling_rate=fs,
        method="pantompkins1985",
    )
    _agree(ref, np.asarray(info["ECG_R_Peaks"]))
    short = head(record, 180)
    assert short.annotations is not None
    xqrs = XQRS(short.signal[:, 0], fs)
    xqrs.detect(verbose=False)
    _agree(short.annotations.beats(), np.asarray(xqrs.qrs_inds))


@needs_mitdb
def test_agrees_with_compare_annotations_on_perturbed_references() -> None:
    rng = np.random.default_rng(7)
    for name in NO_FLUTTER:
        ann = _read(name).annotations
        assert ann is not None
        ref = ann.beats()
        for jitter in (5, 20, 40):
            _agree(ref, _perturbed(ref, rng, jitter))


def _clusters(ref: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Label every beat and detection by its group of mutually reachable within-window links."""
    parent = list(range(len(ref) + len(test)))

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for i, r in enumerate(ref.tolist()):
        lo, hi = np.searchsorted(test, r - W), np.searchsorted(test, r + W, side="right")
        for j in range(int(lo), int(hi)):
            parent[root(len(ref) + j)] = root(i)
    labels = np.array([root(k) for k in range(len(parent))])
    return labels[: len(ref)], labels[len(ref) :]


@needs_mitdb
def test_with_heavy_jitter_they_differ_only_where_a_beat_or_detection_has_two_candidates() -> None:
    rng = np.random.default_rng(11)
    differing = 0
    for name in ("203", "205", "223"):
        ann = _read(name).annotations
        assert ann is not None
        ref = ann.beats()
        for jitter in (60, 100):
            test = _perturbed(ref, rng, jitter)
            ours = match_beats(ref, test, W)
            theirs = compare_annotations(ref, test, W + 1)
            ref_label, test_label = _clusters(ref, test)
            size = np.bincount(np.concatenate([ref_label, test_label]))
            ours_tp = np.bincount(ref_label[ours.ref_matched], minlength=len(size))
            theirs_tp = np.bincount(ref_label[theirs.matching_sample_nums >= 0], minlength=len(size))
            where = np.flatnonzero(ours_tp != theirs_tp)
            differing += len(where)
            # A lone beat with a lone detection, or either alone, is scored the same by both.
            assert (size[where] > 2).all()
    assert differing > 0  # the cases above do occur at this jitter
