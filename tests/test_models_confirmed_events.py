"""Doctor-reviewed events read back as training windows: labels from the reviewed span, patients
from the header, nothing half-read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import wfdb

from ecg_data.errors import RecordError
from model_compression.datasets.confirmed_events import confirmed_vt_windows, patient_of
from model_compression.datasets.rhythm_records import RHYTHM_CLASSES as RHYTHM
from model_compression.datasets.vt_windows import VtWindowConfig

FS = 250
CONFIG = VtWindowConfig(fs=125)


def _snippet(folder: Path, name: str, rhythms: list[tuple[float, str]], comments: list[str], seconds: float = 60.0,
             fs: int = FS) -> None:  # fmt: skip
    t = np.arange(round(seconds * fs)) / fs
    signal = 0.8 * np.sin(2 * np.pi * 1.2 * t) + 0.02 * np.random.default_rng(0).normal(size=t.size)
    wfdb.wrsamp(name, fs=fs, units=["mV"], sig_name=["MLII"], p_signal=signal[:, None], fmt=["16"],
                comments=comments, write_dir=str(folder))  # fmt: skip
    if rhythms:
        samples = np.array([round(s * fs) for s, _ in rhythms])
        wfdb.wrann(name, "atr", samples, ["+"] * len(rhythms), aux_note=[f"({r}" for _, r in rhythms],
                   write_dir=str(folder))  # fmt: skip


def test_reviewed_spans_label_the_windows_and_the_header_names_the_patient(tmp_path: Path) -> None:
    folder = tmp_path / "reviewed"
    folder.mkdir()
    _snippet(folder, "e101", [(30.0, "VT")], ["patient: P7", "event: 101 VT confirmed"])  # VT from onset on
    _snippet(folder, "e102", [(0.0, "N")], ["patient: P7"])  # an alarm rejected as sinus rhythm
    _snippet(folder, "e103", [(0.0, "AFIB")], [], fs=360)  # another rate, no patient given
    windows = confirmed_vt_windows(folder, CONFIG)

    vt = windows.record == "reviewed/e101"
    # 10-s windows every 5 s: those at least half in the VT span are VT, those before its onset
    # (unreviewed time) are dropped, not taken as non-VT.
    assert windows.start_s[vt].tolist() == [25.0, 30.0, 35.0, 40.0, 45.0, 50.0]
    assert windows.label[vt].tolist() == [1] * 6
    rejected = windows.record == "reviewed/e102"
    assert rejected.sum() == 11 and not windows.label[rejected].any()
    assert set(windows.rhythm[windows.record == "reviewed/e103"].tolist()) == {"AFIB"}
    assert windows.x.shape[1:] == (1250, 1)
    assert set(windows.patient[vt | rejected].tolist()) == {"confirmed/P7"}
    assert set(windows.patient[windows.record == "reviewed/e103"].tolist()) == {"confirmed/e103"}


def test_a_snippet_without_its_reviewed_span_stops_the_load(tmp_path: Path) -> None:
    folder = tmp_path / "reviewed"
    folder.mkdir()
    _snippet(folder, "e1", [(0.0, "VT")], ["patient: P1"])
    _snippet(folder, "e2", [], ["patient: P1"])
    with pytest.raises(RecordError, match="e2: no rhythm annotations"):
        confirmed_vt_windows(folder, CONFIG)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RecordError, match="no reviewed event records"):
        confirmed_vt_windows(empty, CONFIG)
    with pytest.raises(RecordError, match="no such database folder"):
        confirmed_vt_windows(tmp_path / "missing", CONFIG)


def test_patient_comment() -> None:
    assert patient_of("event: 4\nPatient: 0042-a\n", "e4") == "0042-a"
    assert patient_of("event: 4", "e4") == "e4"


def test_train_vt_adds_the_reviewed_windows_to_the_databases(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    from model_compression.training import vt

    folder = tmp_path / "reviewed"
    folder.mkdir()
    _snippet(folder, "e1", [(0.0, "VT")], ["patient: P1"])
    base = confirmed_vt_windows(folder, CONFIG)
    config = vt.config_from({"confirmed": [str(folder)]})
    assert config.confirmed == (str(folder.resolve()),)
    merged = vt.with_confirmed(base, config.confirmed, CONFIG)
    assert len(merged.label) == 2 * len(base.label) and merged.label.sum() == 2 * base.label.sum()
    assert vt.with_confirmed(base, (), CONFIG) is base


def test_reviewed_spans_become_rhythm_records_of_the_challenge_classes(tmp_path: Path) -> None:
    from model_compression.datasets.confirmed_events import confirmed_rhythm_records

    folder = tmp_path / "reviewed"
    folder.mkdir()
    # Sinus 0-20 s, AF 20-45 s, a 5-s flutter (too short for a rhythm record), noise to the end.
    _snippet(folder, "e1", [(0.0, "N"), (20.0, "AFIB"), (45.0, "AFL"), (50.0, "NOISE")], ["patient: P3"],
             seconds=62.0, fs=360)  # fmt: skip
    _snippet(folder, "e2", [(3.0, "VT")], [])
    records, patient = confirmed_rhythm_records(folder, 125)
    assert records.name.tolist() == ["reviewed/e1@0s", "reviewed/e1@20s", "reviewed/e1@50s", "reviewed/e2@3s"]
    assert [RHYTHM[i] for i in records.label] == ["N", "A", "~", "O"]
    assert records.length.tolist() == [2500, 3125, 1500, 7125]
    assert patient.tolist() == ["confirmed/P3"] * 3 + ["confirmed/e2"]
    assert np.array_equal(records.record(1), records.signal[2500:5625])


def test_rhythm_folds_keep_the_challenge_folds_and_each_patient_whole() -> None:
    from model_compression.datasets.splits import stratified_kfold
    from model_compression.training.rhythm import rhythm_folds

    rng = np.random.default_rng(1)
    cinc = rng.integers(0, 4, size=200)
    alone = rhythm_folds(cinc, np.full(200, ""), 5)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(alone, stratified_kfold(cinc, 5, seed=0), strict=True))

    reviewed = rng.integers(0, 4, size=30)
    patients = np.array([f"confirmed/P{i % 7}" for i in range(30)])
    folds = rhythm_folds(np.concatenate([cinc, reviewed]), np.concatenate([np.full(200, ""), patients]), 5)
    validated = np.concatenate([val for _, val in folds])
    assert sorted(validated.tolist()) == list(range(230))
    for (train, val), (_, cinc_val) in zip(folds, alone, strict=True):
        assert np.array_equal(val[val < 200], cinc_val)  # the challenge's records stay where they were
        held = {patients[i - 200] for i in val if i >= 200}
        assert not held & {patients[i - 200] for i in train if i >= 200}
    one = rhythm_folds(np.concatenate([cinc, reviewed]), np.concatenate([np.full(200, ""), np.full(30, "x")]), 5)
    assert all(i in one[0][1] for i in range(200, 230))


def test_train_rhythm_reads_the_reviewed_folders_with_the_challenge(tmp_path: Path) -> None:
    from model_compression.training import rhythm

    folder = tmp_path / "reviewed"
    folder.mkdir()
    _snippet(folder, "e1", [(0.0, "AFIB")], ["patient: P1"])
    config = rhythm.RhythmTrainConfig(max_records=6, confirmed=(str(folder),))
    records, patient = rhythm.load(config)
    assert len(records.label) == 7 and patient.tolist() == [""] * 6 + ["confirmed/P1"]
    assert RHYTHM[records.label[-1]] == "A" and records.length[-1] == 60 * 125
    assert np.array_equal(records.record(6), rhythm.load(rhythm.RhythmTrainConfig(confirmed=(str(folder),),
                          max_records=1))[0].record(1))  # fmt: skip
