"""The SCNN's hard-negative variant: which windows come back, how often, and a whole tiny run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from model_compression.training import vt


def test_hard_negatives_join_the_non_vt_draw_and_vt_is_replicated_to_match() -> None:
    label = np.array([1] * 8 + [0] * 40, dtype=np.int8)
    x = np.zeros((len(label), 1250, 1), dtype=np.float32)
    extra = np.repeat(np.array([8, 9]), 3)
    batches = vt.Stage1Batches(x, label, vt.VtTrainConfig(batch_size=16), seed=0, extra_non_vt=extra)
    drawn = batches.order
    assert int((drawn == 8).sum()) == 4 and int((drawn == 9).sum()) == 4 and int((drawn == 10).sum()) == 1
    non_vt, vt_count = int((label[drawn] == 0).sum()), int((label[drawn] == 1).sum())
    assert non_vt == 46 and abs(vt_count - non_vt) <= 0.1 * non_vt
    with pytest.raises(ValueError, match="non-VT"):
        vt.Stage1Batches(x, label, vt.VtTrainConfig(), seed=0, extra_non_vt=np.array([3]))


class _Scores:
    """A stand-in network: the scores it gives, in the order the windows come."""

    def __init__(self, scores: list[float]) -> None:
        self.scores = np.asarray(scores, dtype=np.float32)

    def predict(self, x: np.ndarray, batch_size: int, verbose: int) -> np.ndarray:
        assert len(x) == len(self.scores)
        return self.scores[:, None]


def test_hard_negatives_are_the_non_vt_windows_scored_at_or_above_the_floor() -> None:
    label = np.array([0, 1, 0, 0, 1, 0], dtype=np.int8)
    x = np.random.default_rng(0).normal(size=(6, 1250, 1)).astype(np.float32)
    model = _Scores([0.9, 0.05, 0.1, 0.099])  # rows 0, 2, 3, 5
    assert vt.hard_negatives(model, x, label, vt.VtTrainConfig()).tolist() == [0, 3]
    assert vt.hard_negatives(model, x, label, vt.VtTrainConfig(hard_negative_floor=0.5)).tolist() == [0]


def test_hard_negatives_epochs_are_checked() -> None:
    assert vt.config_from({"hard_negative_epochs": 2}).hard_negative_epochs == 2
    assert vt.variants(vt.config_from({})) == ("stage1", "stage2")
    with pytest.raises(ValueError, match="hard_negative_epochs"):
        vt.config_from({"hard_negative_epochs": -1})


def _windows(rng: np.random.Generator) -> vt.VtWindows:
    """Four patients, two with VT; each patient's non-VT windows include copies of VT-like
    oscillation (the hard negatives a first stage mistakes for VT)."""
    t = np.arange(1250) / 125
    rows, labels, patients = [], [], []
    for p in range(4):
        for i in range(12):
            is_vt = p < 2 and i < 4
            lookalike = not is_vt and i in (4, 5)
            wave = np.sin(2 * np.pi * 3.5 * t) if (is_vt or lookalike) else np.sin(2 * np.pi * 1.0 * t) ** 15
            rows.append(wave + 0.05 * rng.normal(size=t.size))
            labels.append(int(is_vt))
            patients.append(f"db/{p}")
    n = len(rows)
    names = np.array(patients)
    return vt.VtWindows(
        x=np.asarray(rows, dtype=np.float32)[:, :, None], label=np.array(labels, dtype=np.int8), record=names,
        patient=names, database=np.full(n, "db"), start_s=np.zeros(n, dtype=np.float32),
        vt_fraction=np.array(labels, dtype=np.float32), noise=np.zeros(n, dtype=bool),
        rhythm=np.where(np.array(labels) == 1, "VT", "N"), rec_record=np.unique(names),
        rec_minutes=np.ones(4, dtype=np.float32), rec_vt_minutes=np.array([1, 1, 0, 0], dtype=np.float32),
    )  # fmt: skip


def test_a_run_with_hard_negatives_scores_and_keeps_a_third_variant(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    import keras

    from model_compression.training.run_folder import RunFolder
    from scoring.vt_eval import vt_fold_models

    windows = _windows(np.random.default_rng(0))
    config = vt.VtTrainConfig(folds=2, epochs=2, batch_size=16, stage2_epochs=1, noise_probability=0.0,
                              representative=8, hard_negative_epochs=1, hard_negative_floor=0.0)  # fmt: skip
    run = RunFolder(tmp_path / "run")
    cv = vt.summarise(run, windows, vt.cross_validate(run, windows, config, resume=False))
    assert vt.variants_in(cv) == ["stage1", "stage2", "hard_negatives"]
    assert vt.better_variant(cv) in vt.VARIANTS
    for k in range(2):
        fold = tmp_path / "run" / "cv" / f"fold{k}"
        result = json.loads((fold / "result.json").read_text())
        assert len(result["hard_negatives_int8_scores"]) == len(result["val_index"])
        assert len((fold / "history_hard_negatives.csv").read_text().strip().splitlines()) == 2  # header + 1 epoch
        # The pass trained on: its network is not stage 1's.
        before = keras.saving.load_model(fold / "stage1.keras", compile=False).get_weights()
        after = keras.saving.load_model(fold / "hard_negatives.keras", compile=False).get_weights()
        assert any(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    models = vt_fold_models(tmp_path / "run", "hard_negatives")
    assert set(models) == {f"db/{p}" for p in range(4)} and all(path.is_file() for path in models.values())
    assert "hard_negatives" in json.loads((tmp_path / "run" / "cv_metrics.json").read_text())["errors_by_rhythm"]


def test_a_screening_trains_only_the_folds_asked_for(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    from model_compression.training.run_folder import RunFolder

    windows = _windows(np.random.default_rng(0))
    config = vt.VtTrainConfig(folds=2, epochs=1, batch_size=16, stage2_epochs=1, noise_probability=0.0,
                              representative=8)  # fmt: skip
    run = RunFolder(tmp_path / "run")
    with pytest.raises(ValueError, match="no fold 2"):
        vt.cross_validate(run, windows, config, resume=False, only=(2,))
    results = vt.cross_validate(run, windows, config, resume=False, only=(1,))
    assert [r["fold"] for r in results] == [1]
    assert (tmp_path / "run" / "cv" / "fold1" / "result.json").is_file()
    assert not (tmp_path / "run" / "cv" / "fold0").exists()
    assert not (tmp_path / "run" / "cv_metrics.json").exists()


def test_a_screening_is_not_exported(tmp_path: Path) -> None:
    import argparse

    args = argparse.Namespace(run_dir=str(tmp_path / "run"), fold=[0], export=True)
    with pytest.raises(ValueError, match="--export needs them all"):
        vt.run_cli(args)
