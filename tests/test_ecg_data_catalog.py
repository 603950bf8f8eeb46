"""`ecg data info`: the catalogue of the real data folder and of damaged copies."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from ecg_data.catalog import build_catalog, print_catalog
from ecg_data.paths import ENV_VAR, data_root

ROOT = data_root()
needs_data = pytest.mark.skipif(
    not all((ROOT / db).is_dir() for db in ("cinc2017", "mitdb", "vfdb", "nstdb")),
    reason=f"no PhysioNet data in {ROOT}",
)


@needs_data
def test_catalog_of_the_real_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    began = time.perf_counter()
    assert print_catalog(str(ROOT), str(tmp_path / "out" / "catalog.json")) == 0
    # Headers and annotations only: 7,676 CinC headers must not take the time of reading signals.
    assert time.perf_counter() - began < 15
    text = capsys.readouterr().out
    assert "cinc2017" in text and "N 4545 (59.2 %)" in text and "V5 MLII" in text
    catalog = json.loads((tmp_path / "out" / "catalog.json").read_text())
    dbs = {db["name"]: db for db in catalog["databases"]}
    assert set(dbs) == {"cinc2017", "mitdb", "vfdb", "nstdb"}
    assert all(not db["problems"] for db in dbs.values())

    cinc = dbs["cinc2017"]
    assert (cinc["format"], cinc["records"], cinc["fs"]) == ("CinC 2017", 7676, [300.0])
    assert cinc["labels"] == {"N": 4545, "A": 664, "O": 2211, "~": 256}
    assert 9.0 <= cinc["duration_s"]["min"] < cinc["duration_s"]["max"] <= 61.0
    assert cinc["record_list"][0] == {
        "name": "A00001", "fs": 300.0, "samples": 9000, "duration_s": 30.0, "leads": ["ECG"],
        "label": "N", "annotated": False, "beats": {}, "rhythms": {},
    }  # fmt: skip

    mitdb = dbs["mitdb"]
    assert (mitdb["records"], mitdb["fs"]) == (26, [360.0])
    assert {r["samples"] for r in mitdb["record_list"]} == {650000}
    assert mitdb["total_duration_s"] == pytest.approx(26 * 650000 / 360)
    by_name = {r["name"]: r for r in mitdb["record_list"]}
    assert sum(by_name["101"]["beats"].values()) == 1865
    assert by_name["114"]["leads"] == ["V5", "MLII"]
    assert by_name["207"]["rhythms"]["VFL"]["episodes"] == 6
    assert {"VT", "AFIB", "N"} <= set(mitdb["rhythms"])

    vfdb = dbs["vfdb"]
    assert (vfdb["records"], vfdb["fs"], vfdb["beats"]) == (16, [250.0], {})
    assert vfdb["rhythms"]["VT"]["duration_s"] > 60 * 60  # the main source of real VT
    assert [r["name"] for r in dbs["nstdb"]["record_list"]] == ["bw", "ma", "118e00"]


def test_catalog_follows_ecg_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if not (ROOT / "cinc2017" / "A00001.mat").is_file():
        pytest.skip(f"no PhysioNet data in {ROOT}")
    db = tmp_path / "cinc"
    db.mkdir()
    for name in ("A00001", "A00002", "A00003"):
        for ext in ("hea", "mat"):
            shutil.copyfile(ROOT / "cinc2017" / f"{name}.{ext}", db / f"{name}.{ext}")
    (db / "REFERENCE.csv").write_text("A00001,N\nA00003,A\n")
    with (db / "A00003.mat").open("r+b") as f:
        f.truncate(1000)
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert print_catalog(None, None) == 0
    text = capsys.readouterr().out
    assert str(tmp_path.resolve()) in text
    [info] = build_catalog()["databases"]
    assert (info["name"], info["records"], info["labels"]) == ("cinc", 2, {"N": 1, "A": 0, "O": 0, "~": 0})
    # The truncated record is reported, not counted; A00002 is missing from REFERENCE.csv.
    assert len(info["problems"]) == 2
    assert "A00003.mat: truncated" in info["problems"][0]
    assert info["problems"][1].endswith("REFERENCE.csv: 1 record(s) have no label")
    assert "A00003.mat: truncated" in text


def test_missing_data_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert print_catalog(str(tmp_path / "nowhere"), None) == 2
    assert "no such data folder" in capsys.readouterr().err


def test_empty_data_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert print_catalog(str(tmp_path), str(tmp_path / "c.json")) == 0
    assert "no databases found" in capsys.readouterr().out
    assert json.loads((tmp_path / "c.json").read_text())["databases"] == []
