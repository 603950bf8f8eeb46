"""The rhythm teacher kept as logits on a grid of windows: what the student distils from, and what
lets a fold's student train in a later sitting than its teacher, with no teacher weights kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from model_compression.rhythm_pipeline import window_starts
from model_compression.training.teacher_logits import TeacherLogits, crop_at, grid_logits


def _records(lengths: list[int]) -> Any:
    from model_compression.datasets.rhythm_records import RhythmRecords

    rng = np.random.default_rng(0)
    n = len(lengths)
    start = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return RhythmRecords(
        signal=rng.normal(size=int(sum(lengths))).astype(np.float32), start=start,
        length=np.asarray(lengths, dtype=np.int64), label=np.arange(n) % 4, name=np.array([f"A{i}" for i in range(n)]),
    )  # fmt: skip


def _first_and_last(windows: np.ndarray) -> np.ndarray:
    """A stand-in teacher whose logits name the window it saw."""
    return np.stack([windows[:, 0], windows[:, -1], windows.mean(axis=1), np.zeros(len(windows))], axis=1)


def test_grid_logits_cover_every_window_of_the_patch_grid(tmp_path: Path) -> None:
    records = _records([1400, 900, 3000])  # the second is shorter than a window: zero-padded
    soft = grid_logits(records.record, np.array([2, 0, 1]), 1250, 125, _first_and_last, batch=7)
    for i in range(3):
        rows = soft.windows_of(i)
        n = len(records.record(i))
        assert list(soft.start[rows]) == list(window_starts(n, 1250, 125))
        for row in rows:
            window = crop_at(records.record(i), int(soft.start[row]), 1250)
            assert np.allclose(soft.logits[row], _first_and_last(window[None])[0])
    assert soft.logits[soft.windows_of(1)][0, 1] == 0.0  # padding, not another record's samples
    assert len(soft.windows_of(5)) == 0
    path = tmp_path / "fold0" / "teacher_logits.npz"
    soft.save(path)
    back = TeacherLogits.load(path)
    assert np.array_equal(back.record, soft.record) and np.array_equal(back.start, soft.start)
    assert np.allclose(back.logits, soft.logits, rtol=1e-3, atol=1e-3)  # kept in float16
    assert not list(path.parent.glob("*.tmp"))


def test_a_student_crop_carries_the_teachers_logits_for_that_crop() -> None:
    from model_compression.training import rhythm

    records = _records([1400, 2600, 1250, 1800])
    config = rhythm.RhythmTrainConfig(batch_size=4, noise_probability=0.0)
    every = np.arange(4)
    soft = grid_logits(records.record, every, 1250, 125, _first_and_last)
    batches = rhythm.CropBatches(records, every, config, seed=3, soft=soft)
    starts = set()
    for k in range(60):
        i = k % 4
        crop, logits = batches.crop(i)
        assert logits is not None and np.allclose(logits, _first_and_last(crop[None])[0], atol=1e-6)
        starts.add((i, round(float(logits[0]), 4)))
    assert len(starts) > 12  # crops move along the grid (22 windows), not one window per record
    x, y, w = batches.batch(0)
    assert x.shape == (4, 1250, 1) and y.shape == (4, 8) and w.shape == (4,)
    with pytest.raises(ValueError, match="lack 1 training records"):
        rhythm.CropBatches(records, every, config, seed=0, soft=grid_logits(records.record, every[:3], 1250, 125,
                                                                            _first_and_last))  # fmt: skip


def test_a_fold_whose_teacher_is_kept_as_logits_trains_its_student_without_a_teacher(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from model_compression.training import rhythm
    from model_compression.training.run_folder import RunFolder

    # The paper-sized teacher is too slow for a test: the student's network stands in for it.
    build = rhythm.build
    monkeypatch.setattr(
        rhythm, "build", lambda role, config, batch_size=None: build("student", config, batch_size)
    )
    trained: list[str] = []
    train = rhythm.train

    def counting_train(role: str, *args: Any, **kwargs: Any) -> Any:
        trained.append(role)
        return train(role, *args, **kwargs)

    monkeypatch.setattr(rhythm, "train", counting_train)
    records = _records([1400, 2600, 1250, 1800, 1500, 2000, 1300, 1700])
    config = rhythm.RhythmTrainConfig(folds=2, teacher_epochs=1, student_epochs=1, batch_size=4, noise_probability=0.0,
                                      representative=4)  # fmt: skip
    patient = np.full(8, "")
    run = RunFolder(tmp_path / "run")
    first = rhythm.cross_validate(run, records, patient, config, resume=False)
    assert trained == ["teacher", "student", "teacher", "student"]
    assert "teacher_float" in first and "student_int8" in first
    fold1 = tmp_path / "run" / "cv" / "fold1"
    kept = rhythm.json.loads((fold1 / "teacher_result.json").read_text())
    train_idx = rhythm.rhythm_folds(records.label, patient, 2)[1][0]
    assert sorted(set(TeacherLogits.load(fold1 / "teacher_logits.npz").record.tolist())) == sorted(
        train_idx.tolist()
    )
    # A fresh checkout: fold 1 unfinished, no weights of any kind, only what the repository keeps.
    (fold1 / "result.json").unlink()
    for weights in (tmp_path / "run").rglob("*.keras"):
        weights.unlink()
    trained.clear()
    again = rhythm.cross_validate(run, records, patient, config, resume=True)
    assert trained == ["student"]
    assert rhythm.json.loads((fold1 / "result.json").read_text())["teacher_float"] == kept
    assert again["teacher_float"] == first["teacher_float"]
