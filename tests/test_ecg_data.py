"""Reading real PhysioNet records: values checked against what the databases document."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import wfdb

from ecg_data.cinc import read_cinc, read_reference
from ecg_data.headers import read_header
from ecg_data.paths import ENV_VAR, PROJECT_ROOT, data_root
from ecg_data.reader import database_dir, iter_records, list_databases, list_records, read_record
from ecg_data.record import Episode
from ecg_data.rhythm import clip_episodes, flutter_episodes, rhythm_episodes
from ecg_data.wfdb_records import read_annotations, read_wfdb

ROOT = data_root()
MITDB, VFDB, NSTDB, CINC = (ROOT / name for name in ("mitdb", "vfdb", "nstdb", "cinc2017"))
needs_data = pytest.mark.skipif(not (MITDB.is_dir() and CINC.is_dir()), reason=f"no PhysioNet data in {ROOT}")


@needs_data
def test_mitdb_101_header_facts() -> None:
    header = read_header(MITDB / "101")
    assert (header.fs, header.n_sig, header.sig_len) == (360, 2, 650000)
    record = read_record(MITDB / "101", sampto=3600)
    assert record.fs == 360.0
    assert record.leads == ("MLII", "V1")
    assert record.units == ("mV", "mV")
    assert record.signal.shape == (3600, 2) and record.signal.dtype == np.float64
    # 101.hea: initial value 955 at baseline 1024 and 200 adu/mV.
    assert record.signal[0, 0] == pytest.approx((955 - 1024) / 200)
    assert record.lead_index("MLII") == 0
    assert "Diapres" in record.extra["comments"]


@needs_data
def test_whole_record_has_every_sample_and_the_documented_beats() -> None:
    record = read_wfdb(MITDB / "101")
    assert record.signal.shape == (650000, 2)
    assert record.duration_s == pytest.approx(650000 / 360)
    assert record.annotations is not None
    # MIT-BIH directory: record 101 has 1860 normal beats, 3 APCs and 2 unclassifiable.
    assert len(record.annotations.beats()) == 1865
    assert record.annotations.beat_symbols().count("A") == 3
    assert record.annotations.rhythms[0].label == "N"
    assert record.annotations.rhythms[-1].end == 650000


@needs_data
def test_record_114_has_v5_first() -> None:
    record = read_record(MITDB / "114.hea", sampto=360)
    assert record.leads == ("V5", "MLII")
    assert record.lead_index("MLII") == 1
    with pytest.raises(KeyError, match="V1"):
        record.lead_index("V1")


@needs_data
def test_window_matches_whole_record_and_shifts_annotations() -> None:
    whole = read_record(MITDB / "101")
    part = read_record(MITDB / "101", sampfrom=36000, sampto=72000)
    assert part.start == 36000
    np.testing.assert_array_equal(part.signal, whole.signal[36000:72000])
    assert whole.annotations is not None and part.annotations is not None
    beats = whole.annotations.beats()
    expected = beats[(beats >= 36000) & (beats < 72000)] - 36000
    np.testing.assert_array_equal(part.annotations.beats(), expected)
    # The rhythm in effect at the window's start is kept even though its annotation lies before it.
    assert part.annotations.rhythms[0] == Episode(0, 36000, "N")


@needs_data
@pytest.mark.parametrize("bad", [(-1, 10), (10, 10), (0, 650001)])
def test_window_outside_the_record_is_refused(bad: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="window"):
        read_record(MITDB / "101", sampfrom=bad[0], sampto=bad[1])


@needs_data
def test_record_207_flutter_between_brackets() -> None:
    ann = read_annotations(MITDB / "207", length=650000)
    assert ann is not None
    assert len(ann.flutter) == 6
    assert ann.flutter[0] == Episode(14665, 18350, "VFL")
    assert ann.rhythm_at(15000) == "VFL"
    assert ann.rhythm_at(0) is None  # before the first rhythm annotation at sample 9
    assert {"VT", "VFL", "N", "B", "IVR", "SVTA"} <= {e.label for e in ann.rhythms}


@needs_data
def test_vfdb_has_rhythms_but_no_beats() -> None:
    record = read_record(VFDB / "418", sampto=2500)
    assert record.fs == 250.0
    assert record.leads == ("ECG", "ECG")
    ann = read_annotations(VFDB / "418", length=525000)
    assert ann is not None and len(ann.beats()) == 0
    assert "VFL" in {e.label for e in ann.rhythms}
    assert ann.rhythms[-1].end == 525000


@needs_data
def test_nstdb_noise_record_has_no_annotations() -> None:
    record = read_record(NSTDB / "bw", sampto=360)
    assert record.leads == ("noise1", "noise2")
    assert record.annotations is None
    assert list_records(NSTDB) == ["bw", "ma", "118e00"]


@needs_data
def test_cinc_a00001_is_normal_at_300_hz() -> None:
    record = read_record(CINC / "A00001")
    assert (record.label, record.fs, record.leads) == ("N", 300.0, ("ECG",))
    assert record.signal.shape == (9000, 1)
    assert record.signal[0, 0] == pytest.approx(-0.127)  # val[0] = -127 at 1000 adu/mV


@needs_data
@pytest.mark.parametrize("name", ["A00001", "A00002", "A00004", "A00005", "A00008"])
def test_cinc_matches_wfdb_and_reference(name: str) -> None:
    record = read_cinc(CINC / f"{name}.mat")
    # The header describes the .mat as format 16 after a 24-byte MAT header, so wfdb reads it too.
    np.testing.assert_allclose(record.signal, wfdb.rdrecord(str(CINC / name)).p_signal)
    np.testing.assert_array_equal(record.signal, read_wfdb(CINC / name).signal)
    assert record.label == read_reference(CINC / "REFERENCE.csv")[name]
    assert read_cinc(CINC / name, label="~").label == "~"


@needs_data
def test_reference_counts_match_the_readme() -> None:
    labels = read_reference(CINC / "REFERENCE.csv")
    assert len(labels) == 7676
    counts = {k: list(labels.values()).count(k) for k in "NAO~"}
    assert counts == {"N": 4545, "A": 664, "O": 2211, "~": 256}
    assert list_records(CINC)[:2] == ["A00001", "A00002"]


@needs_data
def test_listing_and_iterating(tmp_path: Path) -> None:
    names = list_records(MITDB)
    assert len(names) == 26 and names[:2] == ["101", "102"]
    assert {p.name for p in list_databases(ROOT)} >= {"mitdb", "vfdb", "nstdb", "cinc2017"}
    for name in ("A00003", "A00001", "A00002"):
        for ext in ("hea", "mat"):
            shutil.copy(CINC / f"{name}.{ext}", tmp_path / f"{name}.{ext}")
    # Without a RECORDS file: every header, sorted; with one: its order.
    assert [r.name for r in iter_records(tmp_path)] == ["A00001", "A00002", "A00003"]
    (tmp_path / "RECORDS").write_text("A00003\nA00001\n")
    records = list(iter_records(tmp_path, sampto=300))
    assert [r.name for r in records] == ["A00003", "A00001"]
    assert all(r.signal.shape == (300, 1) and r.label is None for r in records)


def test_data_root_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert data_root() == tmp_path.resolve()
    assert database_dir("mitdb") == tmp_path.resolve() / "mitdb"
    (tmp_path / "mydb").mkdir()
    (tmp_path / "mydb" / "RECORDS").write_text("x\n")
    (tmp_path / "empty").mkdir()
    assert list_databases() == [tmp_path.resolve() / "mydb"]
    monkeypatch.delenv(ENV_VAR)
    assert data_root() == (PROJECT_ROOT.parent / "shared" / "data").resolve()


def test_rhythm_episodes_merge_repeats_and_end_at_the_record_end() -> None:
    sample = np.array([10, 50, 80, 120, 150])
    symbol = ("+", "N", "+", "+", '"')
    aux = ("(N\x00", "", "(N", "(VT", "TS")
    assert rhythm_episodes(sample, symbol, aux, 200) == (Episode(10, 120, "N"), Episode(120, 200, "VT"))


def test_flutter_brackets_open_at_either_end() -> None:
    sample = np.array([5, 20, 40])
    assert flutter_episodes(sample, ("]", "N", "["), 100) == (Episode(0, 5, "VFL"), Episode(40, 100, "VFL"))
    assert clip_episodes([Episode(0, 5, "VFL"), Episode(40, 100, "VFL")], 50, 70) == (Episode(0, 20, "VFL"),)


def test_unsigned_checksum_written_by_wfdb_is_accepted(tmp_path: Path) -> None:
    # wfdb writes the 16-bit checksum unsigned; MIT-BIH headers store it signed.
    signal = np.full((1000, 1), 0.95)
    wfdb.wrsamp(
        "t",
        fs=250,
        units=["mV"],
        sig_name=["I"],
        p_signal=signal,
        fmt=["16"],
        adc_gain=[200.0],
        baseline=[0],
        write_dir=str(tmp_path),
    )
    assert int((tmp_path / "t.hea").read_text().split()[-3]) >= 32768
    record = read_wfdb(tmp_path / "t")
    np.testing.assert_allclose(record.signal, signal)


def test_cinc_record_with_a_stale_header_initial_value_reads() -> None:
    record = read_cinc(data_root() / "cinc2017" / "A00013")
    assert record.signal.shape == (9000, 1)
    assert record.signal[0, 0] == pytest.approx(-0.020)
