"""The models the firmware ships fit the patch and the evaluation commands run on them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tflite_micro")

from ecg_cli.main import main
from firmware.model_plan import MODELS
from model_compression.training.model_card import FIRMWARE_MODELS
from model_compression.training.tflm import Int8Model

SHIPPED = [FIRMWARE_MODELS / file for file, *_ in MODELS if (FIRMWARE_MODELS / file).is_file()]


def test_the_beat_classifier_is_shipped_with_its_card() -> None:
    path = FIRMWARE_MODELS / "beat_classifier.tflite"
    assert path in SHIPPED
    assert path.with_suffix(".md").read_text().startswith("# Beat classifier")


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_model_is_int8_and_runs_in_tflm(path: Path) -> None:
    model = Int8Model(path.read_bytes(), arena_size=64 * 1024)  # the patch's arena budget
    assert all(i.scale > 0 for i in model.inputs)
    out = model.invoke_int8([np.zeros(i.shape, dtype=np.int8) for i in model.inputs])
    assert out.dtype == np.int8
    assert path.with_suffix(".md").is_file()


def test_footprint_within_the_patch_budget(tmp_path: Path) -> None:
    out = tmp_path / "footprint.json"
    assert main(["eval", "footprint", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    rows = {r["model"]: r for r in report["models"]}
    assert set(rows) == {p.stem for p in SHIPPED}
    assert report["flash_bytes_total"] <= 256 * 1024
    for r in rows.values():
        assert {"flash_bytes", "arena_bytes", "macs_per_inference", "window_s", "hop_s"} <= set(r)
        assert 0 < r["arena_bytes"] <= 64 * 1024
    assert rows["beat_classifier"]["macs_per_inference"] > 50_000
    assert out.with_suffix(".png").stat().st_size > 1000


def test_eval_beats_scores_classes_as_ec57(tmp_path: Path) -> None:
    from ecg_data.paths import data_root

    out = tmp_path / "beats.json"
    assert main(["eval", "beats", "--data", str(data_root() / "mitdb"), "--records", "119", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    counts = np.array(result["confusion"]["counts"])
    rows, columns = result["confusion"]["rows"], result["confusion"]["columns"]
    assert rows[-1] == "O" and columns[-1] == "-"
    # 119 holds 1,543 normal and 444 ventricular beats (bigeminy): all of them are in the matrix.
    assert counts[rows.index("V")].sum() == 444
    assert counts[rows.index("N")].sum() == 1543
    assert 0 <= result["veb_sensitivity"] <= 1 and 0 <= result["veb_ppv"] <= 1
    assert result["records"][0]["record"] == "119"


def test_eval_beats_says_when_the_model_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["eval", "beats", "--data", str(tmp_path), "--model", str(tmp_path / "none.tflite")])
    assert code == 2
    assert "no such model" in capsys.readouterr().err
