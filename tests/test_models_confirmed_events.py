"""Doctor-reviewed events read back as training windows: labels from the reviewed span, patients
from the header, nothing half-read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import wfdb

from ecg_data.errors import RecordError
from model_compression.datasets.confirmed_events import confirmed_vt_windows, patient_of
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
