"""VT windows and beat windows cut from real PhysioNet records."""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
import pytest

from ecg_data.paths import data_root
from ecg_data.reader import read_record
from model_compression.datasets import beat_windows as beats_module
from model_compression.datasets import vt_windows as vt_module
from model_compression.datasets.aami import aami_class
from model_compression.datasets.beat_windows import FALSE_DETECTION, BeatWindowConfig, record_beats
from model_compression.datasets.vt_windows import VtWindowConfig, load_vt_windows, record_windows

ROOT = data_root()
pytestmark = pytest.mark.skipif(
    not all((ROOT / db).is_dir() for db in ("vfdb", "mitdb", "cinc2017")),
    reason=f"no PhysioNet data in {ROOT}",
)
FS = 250
# vfdb 612: sinus rhythm until VT starts at 1707.384 s and lasts to the end of the record.
VT_ONSET_S = 1707.384


def test_vt_windows_around_a_known_onset() -> None:
    start = 1680
    record = read_record(ROOT / "vfdb" / "612", sampfrom=start * FS, sampto=(start + 60) * FS)
    windows = record_windows(record, VtWindowConfig(window_s=10, hop_s=5, min_vt_overlap=0.5))
    # Window 1700-1710 s is 26 % VT: ambiguous, dropped. 1705-1715 s is 76 % VT.
    assert windows.start_s.tolist() == [1680, 1685, 1690, 1695, 1705, 1710, 1715, 1720, 1725, 1730]
    assert windows.label.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    assert windows.vt_fraction[4] == pytest.approx((1715 - VT_ONSET_S) / 10, abs=1e-3)
    assert windows.rhythm.tolist() == ["N"] * 4 + ["VT"] * 6
    assert windows.x.shape == (10, 2500, 1) and windows.x.dtype == np.float32
    assert set(windows.record.tolist()) == {"vfdb/612"} and not windows.noise.any()
    assert 0.3 < float(np.abs(windows.x).max()) < 10


def test_stricter_overlap_drops_the_onset_window() -> None:
    record = read_record(ROOT / "vfdb" / "612", sampfrom=1680 * FS, sampto=1740 * FS)
    windows = record_windows(record, VtWindowConfig(min_vt_overlap=0.9))
    assert 1705 not in windows.start_s.tolist()


def test_noise_stretches_are_flagged_and_kept() -> None:
    record = read_record(ROOT / "vfdb" / "605", sampto=120 * FS)  # annotated noise from 0.26 s
    windows = record_windows(record, VtWindowConfig())
    assert len(windows.label) and windows.noise.all() and not windows.label.any()


def test_cinc_records_give_non_vt_windows() -> None:
    record = read_record(ROOT / "cinc2017" / "A00001")
    windows = record_windows(record, VtWindowConfig(fs=250))
    assert len(windows.label) == int(record.duration_s // 10)
    assert not windows.label.any() and set(windows.rhythm.tolist()) == {record.label}
    assert windows.x.shape[1:] == (2500, 1)


def test_beat_windows_on_two_minutes_of_mitdb() -> None:
    record = read_record(ROOT / "mitdb" / "208", sampto=120 * 360)
    config = BeatWindowConfig()
    beats = record_beats(record, config)
    reference = (
        Counter(aami_class(s) for s in record.annotations.beat_symbols()) if record.annotations else {}
    )
    got = Counter(beats.label.tolist())
    for cls, n in reference.items():
        assert abs(got[cls] - n) <= 3, (cls, got, reference)
    assert got[FALSE_DETECTION] <= 3
    samples = round(0.25 * FS) + round(0.45 * FS)
    assert beats.x.shape == (len(beats.label), samples, 1)
    # The window is centred on the R peak: the largest deflection lies near `before`.
    peak = np.abs(beats.x[:, :, 0]).argmax(axis=1)
    assert np.median(np.abs(peak - round(0.25 * FS))) <= 5
    assert np.all(beats.rr[:, :2] > 0.2) and np.all(beats.rr < 3)


def test_beat_windows_use_mlii_where_it_is_the_second_signal() -> None:
    record = read_record(ROOT / "mitdb" / "114", sampfrom=600 * 360, sampto=660 * 360)
    assert record.leads[1] == "MLII"
    beats = record_beats(record, BeatWindowConfig())
    assert not beats.false_detection.any()
    assert beats.time_s.min() >= 600 and beats.time_s.max() < 660


def test_vt_windows_cache_returns_identical_arrays(tmp_path, monkeypatch) -> None:
    config = VtWindowConfig(databases=("vfdb",), max_records=1, hop_s=10)
    first = load_vt_windows(config, cache_dir=tmp_path)
    assert len(first.label) > 100 and first.label.any()

    def no_rebuild(*_: object) -> None:
        raise AssertionError("rebuilt despite the cache")

    monkeypatch.setattr(vt_module, "build", no_rebuild)
    began = time.perf_counter()
    second = load_vt_windows(config, cache_dir=tmp_path)
    assert time.perf_counter() - began < 1.0
    for name, value in first.to_arrays().items():
        assert np.array_equal(value, getattr(second, name)), name


def test_beat_windows_cache_returns_identical_arrays(tmp_path, monkeypatch) -> None:
    config = BeatWindowConfig(records=("215",))
    monkeypatch.setattr(beats_module, "read_record", lambda path: read_record(path, sampto=60 * 360))
    first = beats_module.load_beat_windows(config, cache_dir=tmp_path)
    monkeypatch.setattr(beats_module, "build", lambda *_: (_ for _ in ()).throw(AssertionError("rebuilt")))
    second = beats_module.load_beat_windows(config, cache_dir=tmp_path)
    assert len(first.label) > 50
    for name, value in first.to_arrays().items():
        assert np.array_equal(value, getattr(second, name)), name
