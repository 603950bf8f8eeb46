"""Damaged copies of real records: every problem is one RecordError naming the file and the problem."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from ecg_data.cinc import read_cinc, read_reference
from ecg_data.errors import RecordError
from ecg_data.paths import data_root
from ecg_data.reader import iter_records, read_record

ROOT = data_root()
pytestmark = pytest.mark.skipif(
    not (ROOT / "mitdb" / "101.dat").is_file() or not (ROOT / "cinc2017" / "A00001.mat").is_file(),
    reason=f"no PhysioNet data in {ROOT}",
)


def copy_record(db: str, name: str, folder: Path, exts: tuple[str, ...]) -> Path:
    for ext in exts:
        target = folder / f"{name}.{ext}"
        shutil.copyfile(ROOT / db / f"{name}.{ext}", target)
    return folder / name


@pytest.fixture
def cinc(tmp_path: Path) -> Path:
    stem = copy_record("cinc2017", "A00001", tmp_path, ("hea", "mat"))
    (tmp_path / "REFERENCE.csv").write_text("A00001,N\n")
    return stem


@pytest.fixture
def mit(tmp_path: Path) -> Path:
    return copy_record("mitdb", "101", tmp_path, ("hea", "dat", "atr"))


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def raises(stem: Path, file: str, *words: str) -> RecordError:
    with pytest.raises(RecordError) as info:
        read_record(stem)
    err = info.value
    assert err.path.name == file, str(err)
    assert str(err).startswith(str(err.path))
    for word in words:
        assert word in err.problem, str(err)
    return err


def test_undamaged_copies_read(cinc: Path, mit: Path) -> None:
    assert read_record(cinc).label == "N"
    assert read_record(mit, sampto=10).signal.shape == (10, 2)


def test_cinc_header_longer_than_the_mat(cinc: Path) -> None:
    edit(cinc.with_suffix(".hea"), " 9000 ", " 9100 ")
    raises(cinc, "A00001.mat", "9000 samples", "declares 9100")


def test_cinc_header_shorter_than_the_mat(cinc: Path) -> None:
    edit(cinc.with_suffix(".hea"), " 9000 ", " 8999 ")
    raises(cinc, "A00001.mat", "9000 samples", "declares 8999")


def test_cinc_header_with_more_signals_than_the_mat(cinc: Path) -> None:
    hea = cinc.with_suffix(".hea")
    lines = hea.read_text().splitlines()
    hea.write_text("\n".join([lines[0].replace(" 1 300 ", " 2 300 "), lines[1], lines[1]]) + "\n")
    raises(cinc, "A00001.mat", "shape (1, 9000)", "2 signal")


def test_cinc_mat_with_the_wrong_variable(cinc: Path) -> None:
    val = scipy.io.loadmat(str(cinc.with_suffix(".mat")))["val"]
    scipy.io.savemat(str(cinc.with_suffix(".mat")), {"ecg": val}, format="4")
    raises(cinc, "A00001.mat", "no variable 'val'", "ecg")


def test_cinc_mat_with_text_in_val(cinc: Path) -> None:
    scipy.io.savemat(str(cinc.with_suffix(".mat")), {"val": "not a signal"})
    raises(cinc, "A00001.mat", "not numeric")


def test_cinc_mat_with_nan(cinc: Path) -> None:
    val = scipy.io.loadmat(str(cinc.with_suffix(".mat")))["val"].astype(float)
    val[0, 5] = np.nan
    scipy.io.savemat(str(cinc.with_suffix(".mat")), {"val": val})
    raises(cinc, "A00001.mat", "NaN")


def test_cinc_stale_initial_value_is_accepted(cinc: Path) -> None:
    # As in the release itself (A00013's header says 3, its signal starts at -20).
    val = scipy.io.loadmat(str(cinc.with_suffix(".mat")))["val"]
    scipy.io.savemat(str(cinc.with_suffix(".mat")), {"val": val + 1}, format="4")
    record = read_cinc(cinc)
    assert record.signal.shape == (val.shape[1], 1)


def test_cinc_mat_that_is_not_a_mat_file(cinc: Path) -> None:
    cinc.with_suffix(".mat").write_bytes(b"\x00garbage" * 50)
    raises(cinc, "A00001.mat", "unreadable MAT file")


def test_cinc_missing_mat(cinc: Path) -> None:
    cinc.with_suffix(".mat").unlink()
    raises(cinc, "A00001.mat", "missing")


def test_missing_header(cinc: Path) -> None:
    cinc.with_suffix(".hea").unlink()
    raises(cinc, "A00001.hea", "missing header")


def test_malformed_header(cinc: Path) -> None:
    cinc.with_suffix(".hea").write_text("A00001 one 300 9000\n")
    raises(cinc, "A00001.hea", "malformed header")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("A00001,N\nA00002,X\n", ("line 2", "unknown label 'X'")),
        ("A00001,1\n", ("line 1", "unknown label '1'")),
        ("A00001,N,extra\n", ("line 1", "expected 'record,label'")),
        ("A00001,N\nA00001,A\n", ("line 2", "listed twice")),
        ("\n", ("no labels",)),
    ],
)
def test_bad_reference(cinc: Path, text: str, words: tuple[str, ...]) -> None:
    reference = cinc.parent / "REFERENCE.csv"
    reference.write_text(text)
    for call in (lambda: read_reference(reference), lambda: read_cinc(cinc)):
        with pytest.raises(RecordError) as info:
            call()
        assert info.value.path == reference
        assert all(w in info.value.problem for w in words), str(info.value)


def test_missing_reference(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="missing reference file"):
        read_reference(tmp_path / "REFERENCE.csv")


def test_unknown_label_argument(cinc: Path) -> None:
    with pytest.raises(ValueError, match="'Q'"):
        read_cinc(cinc, label="Q")


@pytest.mark.parametrize("size", [100_000, 99_999, 24])
def test_truncated_dat(mit: Path, size: int) -> None:
    # wfdb alone fails with a numpy broadcast error here, or reads a window inside the surviving part.
    with mit.with_suffix(".dat").open("r+b") as f:
        f.truncate(size)
    raises(mit, "101.dat", "truncated", f"{size} bytes", "declares 650000")
    with pytest.raises(RecordError, match="truncated"):
        read_record(mit, sampto=100)


def test_header_longer_than_the_dat(mit: Path) -> None:
    edit(mit.with_suffix(".hea"), " 650000", " 700000")
    raises(mit, "101.dat", "650000 samples per signal", "declares 700000")


def test_missing_dat(mit: Path) -> None:
    mit.with_suffix(".dat").unlink()
    raises(mit, "101.dat", "missing signal file")


def test_flipped_bits_in_dat(mit: Path) -> None:
    with mit.with_suffix(".dat").open("r+b") as f:
        f.seek(500_000)
        byte = f.read(1)[0]
        f.seek(500_000)
        f.write(bytes([byte ^ 0x40]))
    raises(mit, "101.dat", "corrupt", "checksum")
    # A window cannot be checked against the whole-signal checksum, so it still reads.
    assert read_record(mit, sampfrom=1000, sampto=2000).signal.shape == (1000, 2)


def test_first_sample_against_header(mit: Path) -> None:
    edit(mit.with_suffix(".hea"), " 955 ", " 956 ")
    raises(mit, "101.dat", "starts at 955", "says 956")
    with pytest.raises(RecordError, match="starts at 955"):
        read_record(mit, sampto=100)


def test_header_in_unknown_units(mit: Path) -> None:
    edit(mit.with_suffix(".hea"), "200 11 1024 955", "200/mmHg 11 1024 955")
    raises(mit, "101.hea", "'mmHg'", "not a voltage")


@pytest.mark.parametrize("size", [1000, 1001])
def test_truncated_annotations(mit: Path, size: int) -> None:
    # Cut at an even byte, wfdb silently returns the first 490 annotations.
    with mit.with_suffix(".atr").open("r+b") as f:
        f.truncate(size)
    raises(mit, "101.atr", "truncated", "end-of-file marker")


def test_garbage_annotations(mit: Path) -> None:
    mit.with_suffix(".atr").write_bytes(b"\xff" * 100 + b"\x00\x00")
    raises(mit, "101.atr", "corrupt")


def test_iter_records_stops_at_the_damaged_record(cinc: Path) -> None:
    copy_record("cinc2017", "A00002", cinc.parent, ("hea",))
    (cinc.parent / "RECORDS").write_text("A00001\nA00002\n")
    records = iter_records(cinc.parent)
    assert next(records).name == "A00001"
    with pytest.raises(RecordError, match=r"A00002\.mat: missing"):
        next(records)
