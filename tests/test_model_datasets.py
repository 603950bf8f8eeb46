"""Model training data without PhysioNet files: AAMI classes, folds, the firmware band-pass, cache."""

from __future__ import annotations

import numpy as np
import pytest

from ecg_data.record import BEAT_SYMBOLS
from firmware.bandpass import Bandpass
from model_compression.datasets.aami import AAMI_CLASSES, AAMI_OF_SYMBOL, aami_class, aami_index
from model_compression.datasets.beat_windows import rr_features
from model_compression.datasets.cache import cached
from model_compression.datasets.preprocess import bandpass, bandpass_codes, bandpass_delay
from model_compression.datasets.splits import DS1, DS2, group_kfold, patient_id, stratified_kfold


def test_aami_classes_of_the_de_chazal_table() -> None:
    expected = {"N": "NLRej", "S": "AaJS", "V": "VE", "F": "F", "Q": "/fQ"}
    for cls, symbols in expected.items():
        assert {aami_class(s) for s in symbols} == {cls}
    assert aami_index("V") == AAMI_CLASSES.index("V") == 2


def test_every_beat_symbol_has_a_class_and_nothing_else_does() -> None:
    assert set(AAMI_OF_SYMBOL) == set(BEAT_SYMBOLS)
    for symbol in '+~|[]!x"':
        with pytest.raises(KeyError):
            aami_class(symbol)


def test_ds1_and_ds2_are_disjoint_halves_of_mitdb() -> None:
    assert len(DS1) == len(DS2) == 22
    assert not set(DS1) & set(DS2)
    assert patient_id("mitdb", "202") == patient_id("mitdb", "201") != patient_id("vfdb", "201")


def _items(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Uneven groups with a rare class held by few groups, like V beats over DS1 records."""
    rng = np.random.default_rng(seed)
    groups, labels = [], []
    for g in range(22):
        n = int(rng.integers(50, 500))
        rare = int(rng.integers(0, 40)) if g % 4 == 0 else 0
        groups += [f"r{g}"] * (n + rare)
        labels += [0] * n + [1] * rare
    return np.array(groups), np.array(labels)


@pytest.mark.parametrize("k", [2, 5, 11])
def test_group_kfold_never_splits_a_group(k: int) -> None:
    groups, labels = _items(1)
    folds = group_kfold(groups, k, seed=3, labels=labels)
    assert len(folds) == k
    seen = np.concatenate([val for _, val in folds])
    assert np.array_equal(np.sort(seen), np.arange(len(groups)))
    for train, val in folds:
        assert not set(groups[train]) & set(groups[val])
        assert len(train) + len(val) == len(groups)


def test_group_kfold_spreads_a_rare_class_and_is_deterministic() -> None:
    groups, labels = _items(2)
    folds = group_kfold(groups, 5, seed=7, labels=labels)
    rare_per_fold = [int(labels[val].sum()) for _, val in folds]
    assert min(rare_per_fold) > 0
    again = group_kfold(groups, 5, seed=7, labels=labels)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again, strict=True))
    other = group_kfold(groups, 5, seed=8, labels=labels)
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(folds, other, strict=True))


def test_group_kfold_needs_k_groups() -> None:
    with pytest.raises(ValueError):
        group_kfold(["a", "a", "b"], 3)


def test_stratified_kfold_balances_each_class() -> None:
    labels = np.array(["N"] * 455 + ["A"] * 66 + ["O"] * 221 + ["~"] * 25)
    folds = stratified_kfold(labels, 10, seed=0)
    for cls in "NAO~":
        sizes = [int((labels[val] == cls).sum()) for _, val in folds]
        assert max(sizes) - min(sizes) <= 1
    assert np.array_equal(np.sort(np.concatenate([v for _, v in folds])), np.arange(len(labels)))


def test_bandpass_codes_equals_the_firmware_sample_for_sample() -> None:
    rng = np.random.default_rng(0)
    # Drift plus wide-band noise over the ADC's 16-bit range.
    codes = np.cumsum(rng.integers(-300, 300, 3000)) + rng.integers(-20000, 20000, 3000)
    firmware = Bandpass(250)
    expected = np.array([firmware.push(int(c)) for c in codes])
    assert np.array_equal(bandpass_codes(codes, 250), expected)


@pytest.mark.parametrize("fs", [250, 360])
def test_vectorised_bandpass_matches_the_firmware_but_for_its_rounding(fs: int) -> None:
    rng = np.random.default_rng(fs)
    codes = np.cumsum(rng.integers(-300, 300, 3000)) + rng.integers(-20000, 20000, 3000)
    firmware = Bandpass(fs)
    expected = np.array([firmware.push(int(c)) for c in codes])
    got = bandpass(codes.astype(float), fs, aligned=False, steady_start=False)
    # The firmware rounds down in its high-pass and after its FIR: under 2 codes (0.6 µV) apart.
    assert np.abs(got - expected).max() < 2.0
    delay = bandpass_delay(fs)
    aligned = bandpass(codes.astype(float), fs, steady_start=False)
    assert np.allclose(aligned[: len(codes) - delay], got[delay:])


def test_bandpass_passes_the_qrs_band_and_blocks_drift() -> None:
    t = np.arange(0, 20, 1 / 250)
    drift = 2.0 + np.sin(2 * np.pi * 0.05 * t)
    tone = np.sin(2 * np.pi * 10 * t)
    out = bandpass(np.stack([drift, tone], axis=1), 250)
    assert out.shape == (len(t), 2)
    assert np.abs(out[500:, 0]).max() < 0.15
    assert np.abs(out[500:, 1]).max() == pytest.approx(1.0, abs=0.05)


def test_rr_features_from_detections() -> None:
    times = np.array([0.0, 1.0, 1.5, 2.5, 3.0])
    rr = rr_features(times, rr_beats=2)
    assert np.isnan(rr[0, 0]) and np.isnan(rr[-1, 1]) and np.isnan(rr[0, 2])
    assert rr[2].tolist() == [0.5, 1.0, 0.75]
    assert rr[4].tolist()[0] == 0.5 and rr[4, 2] == pytest.approx(0.75)


def test_cache_builds_once_and_returns_identical_arrays(tmp_path) -> None:
    calls = []

    def build() -> dict[str, np.ndarray]:
        calls.append(1)
        return {"x": np.arange(6, dtype=np.float32).reshape(2, 3), "name": np.array(["a", "bc"])}

    first = cached("demo", {"k": 1}, build, tmp_path)
    second = cached("demo", {"k": 1}, build, tmp_path)
    assert len(calls) == 1
    assert all(np.array_equal(first[key], second[key]) for key in first)
    assert second["name"].dtype.kind == "U"
    cached("demo", {"k": 2}, build, tmp_path)
    assert len(calls) == 2
