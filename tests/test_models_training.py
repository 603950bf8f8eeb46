"""The training commands run end to end on small data and leave what they promise: a run folder,
an int8 model that runs in TFLM, a model card; and the patent's balancing holds."""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from ecg_cli.main import main
from model_compression.beat_features import DETECTION
from model_compression.training.af_context import af_rr_bank
from model_compression.training.beats import (
    BeatBatches,
    BeatData,
    BeatTrainConfig,
    allowed_classes_loss,
    stretch_together,
)
from model_compression.training.tflm import Int8Model
from model_compression.training.vt import Stage1Batches, VtTrainConfig, window_stats


def test_stage_one_replicates_vt_to_the_non_vt_count() -> None:
    label = np.array([1] * 7 + [0] * 500, dtype=np.int8)
    x = np.zeros((len(label), 1250, 1), dtype=np.float32)
    batches = Stage1Batches(x, label, VtTrainConfig(batch_size=50), seed=0)
    drawn = label[batches.order]
    vt, non_vt = int((drawn == 1).sum()), int((drawn == 0).sum())
    assert non_vt == 500
    assert abs(vt - non_vt) <= 0.1 * non_vt  # the patent: within 10 %
    assert set(batches.order[drawn == 1]) == set(range(7))  # every VT window, replicated
    x_batch, y_batch = batches.batch(0)
    assert x_batch.shape == (50, 1250, 1) and y_batch.shape == (50,)


def test_vt_window_overlap_reaches_the_window_labels() -> None:
    from model_compression.datasets.vt_windows import label_windows
    from model_compression.training.vt import config_from

    assert config_from({"min_vt_overlap": 0.3}).min_vt_overlap == 0.3
    assert config_from({}).min_vt_overlap == 0.5
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match="min_vt_overlap"):
            config_from({"min_vt_overlap": bad})
    # mitdb 207's first 100 s (VT and flutter from 38 s), 10-s windows every second: a lower share
    # turns windows at an episode's edges from left out (-1) into VT.
    from ecg_data.paths import data_root
    from ecg_data.reader import read_record

    record = read_record(data_root() / "mitdb" / "207", sampto=360 * 100)
    assert record.annotations is not None
    starts = np.arange(0.0, 90.0, 1.0)
    half, _, _, _ = label_windows(record.annotations, record.fs, len(record.signal), starts, 10.0, 0.5)
    third, fraction, _, _ = label_windows(record.annotations, record.fs, len(record.signal), starts, 10.0, 0.3)
    assert (third == 1).sum() > (half == 1).sum() > 0
    assert set(np.flatnonzero(third != half)) == set(np.flatnonzero((fraction >= 0.3) & (fraction < 0.5)))


def test_window_statistics_use_the_patents_threshold() -> None:
    stats = window_stats(np.array([1, 1, 0, 0, 0]), np.array([0.5, 0.49, 0.51, 0.2, 0.0]))
    assert stats["sensitivity"] == 0.5  # 0.5 is VT ((X + Y) / 2), 0.49 is not
    assert stats["specificity"] == pytest.approx(2 / 3)


def test_stretch_widens_beat_and_template_alike_about_the_detection() -> None:
    n = 87
    spike = np.maximum(0.0, 1.0 - np.abs(np.arange(n) - DETECTION) / 3.0)[None, :].repeat(4, axis=0)
    rng = np.random.default_rng(0)
    beat, template = stretch_together(spike, spike * 2, rng, (2.0, 2.0), 1.0)
    assert np.allclose(template, 2 * beat)  # the same resampling for both
    assert np.argmax(beat[0]) == DETECTION and beat[0, DETECTION] == pytest.approx(1.0)
    assert np.count_nonzero(beat[0] > 0.01) == 2 * np.count_nonzero(spike[0] > 0.01) + 1
    same, _ = stretch_together(spike, spike, rng, (2.0, 2.0), 0.0)
    assert np.array_equal(same, spike)


def test_af_context_is_irregular_and_as_real_beats_have_it() -> None:
    from model_compression.beat_features import RR_FEATURES

    bank = af_rr_bank(4000, seed=0)
    assert bank.shape == (4000, len(RR_FEATURES)) and np.isfinite(bank).all()
    col = {name: i for i, name in enumerate(RR_FEATURES)}
    # Sinus rhythm's irregularity input is about 0.1; AF's several times that.
    assert 0.5 < np.median(bank[:, col["irregularity"]]) < 2.0
    # Intervals scatter about the local mean, premature and late alike.
    prev = bank[:, col["prev/local"]]
    assert (prev < 0.8).mean() > 0.1 and (prev > 1.2).mean() > 0.1
    assert np.allclose(bank[:, col["prev_s"]] / bank[:, col["local_s"]], prev, atol=1e-3)
    assert np.array_equal(af_rr_bank(50, seed=3), af_rr_bank(50, seed=3))
    # A narrower, higher variation leaves out the near-regular stretches.
    calm = af_rr_bank(4000, seed=0, variation=(0.2, 0.4))[:, col["irregularity"]]
    assert np.quantile(calm, 0.05) > np.quantile(bank[:, col["irregularity"]], 0.05)
    from ecg_cli.train_commands import _pair

    assert _pair("0.2,0.4") == (0.2, 0.4)
    for bad in ("0.4", "0.5,0.2", "a,b"):
        with pytest.raises(argparse.ArgumentTypeError):
            _pair(bad)


def test_af_context_goes_to_normal_beats_only() -> None:
    n = 600
    rng = np.random.default_rng(1)
    target = np.tile(np.arange(5), n // 5)
    data = BeatData(
        windows=rng.normal(0, 0.1, (n, 87)).astype(np.float32),
        template=np.ones((n, 87), np.float32),
        rr=np.full((n, 10), 1.0, np.float32),
        target=target,
        ec57=np.array(["N"] * n),
        record=np.array(["r"] * n),
        patient=np.array(["p"] * n),
    )
    config = BeatTrainConfig(batch_size=n, af_context_probability=1.0, noise_probability=0.0)
    (_, rr), allowed, _ = BeatBatches(data, config, fs=125, seed=0).batch(0)
    changed = ~np.all(rr == 1.0, axis=1)
    normal = allowed[:, 0] == 1.0
    assert changed.any() and np.array_equal(changed, normal)
    # Such a beat may be called N or S; every other beat has its one class.
    assert np.all(allowed[changed, 1] == 1.0) and np.all(allowed[changed].sum(axis=1) == 2)
    assert np.all(allowed[~changed].sum(axis=1) == 1)
    (_, rr_off), allowed_off, _ = BeatBatches(
        data, BeatTrainConfig(batch_size=n, noise_probability=0.0), fs=125, seed=0
    ).batch(0)
    assert np.all(rr_off == 1.0) and np.all(allowed_off.sum(axis=1) == 1)


def test_allowed_classes_loss_is_cross_entropy_of_the_allowed_set() -> None:
    logits = np.array([[2.0, 1.0, 0.5, -1.0, 0.0], [0.0, 3.0, -2.0, 1.0, 0.5]], np.float32)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    one_hot = np.array([[1, 0, 0, 0, 0], [0, 0, 0, 1, 0]], np.float32)
    loss = np.asarray(allowed_classes_loss(one_hot, logits))
    assert np.allclose(loss, [-np.log(p[0, 0]), -np.log(p[1, 3])], atol=1e-5)
    either = np.array([[1, 1, 0, 0, 0], [1, 1, 0, 0, 0]], np.float32)
    assert np.allclose(
        np.asarray(allowed_classes_loss(either, logits)), -np.log(p[:, 0] + p[:, 1]), atol=1e-5
    )


def test_train_beats_end_to_end(tmp_path: Path) -> None:
    run, export = tmp_path / "run", tmp_path / "models"
    code = main(["train", "beats", "--max-beats", "3000", "--epochs", "1", "--folds", "2",
                 "--run-dir", str(run), "--export", "--export-dir", str(export)])  # fmt: skip
    assert code == 0
    cv = json.loads((run / "cv_metrics.json").read_text())
    assert cv["folds"] == 2
    assert 0.0 <= cv["int8"]["pooled"]["veb_sensitivity"] <= 1.0
    assert (run / "cv_confusion_int8.png").stat().st_size > 1000
    model = Int8Model((export / "beat_classifier.tflite").read_bytes())
    assert [i.shape for i in model.inputs] and model.output.shape[-1] == 5
    card = (export / "beat_classifier.md").read_text()
    assert "Leave-patients-out" in card and "Footprint" in card
    # A resumed run keeps the folds it has and does not train them again.
    before = (run / "cv" / "fold0" / "result.json").stat().st_mtime_ns
    assert main(["train", "beats", "--max-beats", "3000", "--epochs", "1", "--folds", "2",
                 "--run-dir", str(run), "--resume"]) == 0  # fmt: skip
    assert (run / "cv" / "fold0" / "result.json").stat().st_mtime_ns == before
    # The fold models, run again, reproduce the run's own figures; an ensemble of two copies of
    # the same models scores as each alone.
    from model_compression.training.seed_runs import compare_runs, write

    shutil.copytree(run, tmp_path / "copy")
    compared = compare_runs([run, tmp_path / "copy"])
    for name in (str(run), str(tmp_path / "copy"), "ensemble"):
        assert compared[name]["pooled"]["confusion"] == cv["int8"]["pooled"]["confusion"]
    write(compared, tmp_path / "runs.json")
    assert json.loads((tmp_path / "runs.json").read_text())["fold_patients"] == compared["fold_patients"]
    assert (tmp_path / "runs.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="twice"):
        compare_runs([run, run])


def test_resume_refuses_a_different_config(tmp_path: Path) -> None:
    from model_compression.training.run_folder import RunFolder

    run = RunFolder(tmp_path)
    run.save_config({"epochs": 1}, resume=False)
    with pytest.raises(ValueError, match="different config"):
        run.save_config({"epochs": 2}, resume=True)
    # A field the config gained after the run began is the run's own at its default, not beyond.
    started = {k: v for k, v in json.loads(json.dumps(asdict(VtTrainConfig()))).items() if k != "confirmed"}
    run.write_json("config.json", started)
    run.save_config(VtTrainConfig(), resume=True)
    assert run.read_json("config.json")["confirmed"] == []
    run.write_json("config.json", started)
    with pytest.raises(ValueError, match=r"different config \(confirmed\)"):
        run.save_config(VtTrainConfig(confirmed=("/data/reviewed",)), resume=True)


def test_train_rhythm_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run, export = tmp_path / "run", tmp_path / "models"
    code = main(["train", "rhythm", "--max-records", "30", "--folds", "2", "--teacher-epochs", "1",
                 "--student-epochs", "1", "--run-dir", str(run), "--export", "--export-dir", str(export)])  # fmt: skip
    assert code == 0
    cv = json.loads((run / "cv_metrics.json").read_text())
    assert {"teacher_float", "student_float", "student_int8"} <= set(cv)
    model_bytes = (export / "rhythm_resnet.tflite").read_bytes()
    model = Int8Model(model_bytes)
    assert model.inputs[0].shape == (1, 1250, 1) and model.output.shape[-1] == 4
    # The evaluation command on records in the CinC layout, with the model just made.
    out = tmp_path / "rhythm.json"
    data = tmp_path / "cinc"
    data.mkdir()
    from ecg_data.paths import data_root

    source = data_root() / "cinc2017"
    lines = (source / "REFERENCE.csv").read_text().splitlines()[:12]
    for line in lines:
        name = line.split(",")[0]
        for ext in (".mat", ".hea"):
            (data / f"{name}{ext}").write_bytes((source / f"{name}{ext}").read_bytes())
    (data / "REFERENCE.csv").write_text("\n".join(lines) + "\n")
    assert main(["eval", "rhythm", "--data", str(data), "--model", str(export / "rhythm_resnet.tflite"),
                 "--json", str(out)]) == 0  # fmt: skip
    result = json.loads(out.read_text())
    assert set(result["f1"]) == {"N", "A", "O", "~"} and len(result["records"]) == 12
    assert sum(map(sum, result["confusion"]["counts"])) == 12


class _Interrupted(Exception):
    pass


def _vt_stage_one(tmp_path: Path) -> tuple[Callable[..., Any], str, str]:
    from model_compression.training import vt

    rng = np.random.default_rng(0)
    label = np.array([1] * 8 + [0] * 24, dtype=np.int8)
    x = rng.normal(size=(len(label), 1250, 1)).astype(np.float32)
    config = VtTrainConfig(epochs=3, batch_size=16, noise_probability=0.0)
    return (lambda **kw: vt.train_stage1(x, label, config, tmp_path, seed=0, **kw)), "stage1.keras", "backup_stage1"


def _rhythm_student(tmp_path: Path) -> tuple[Callable[..., Any], str, str]:
    from model_compression.datasets.rhythm_records import RhythmRecords
    from model_compression.training import rhythm

    rng = np.random.default_rng(0)
    n, length = 8, 1400
    records = RhythmRecords(
        signal=rng.normal(size=n * length).astype(np.float32), start=np.arange(n, dtype=np.int64) * length,
        length=np.full(n, length, dtype=np.int64), label=np.arange(n) % 4, name=np.array([f"A{i}" for i in range(n)]),
    )  # fmt: skip
    config = rhythm.RhythmTrainConfig(student_epochs=3, batch_size=4, crops_per_record=1, noise_probability=0.0)
    every = np.arange(n)
    return (lambda **kw: rhythm.train("student", records, every, config, tmp_path, seed=0, **kw)), "model.keras", "backup"


@pytest.mark.parametrize("fit", [_vt_stage_one, _rhythm_student], ids=["vt stage 1", "rhythm student"])
def test_a_long_fit_resumes_from_its_last_finished_epoch(fit: Callable[[Path], tuple[Callable[..., Any], str, str]],
                                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from model_compression.training.progress import ProgressLog
    from model_compression.training.run_folder import read_history

    train, finished, backup = fit(tmp_path)
    ended: list[int] = []

    def end_then_cut(self: ProgressLog, epoch: int, logs: dict | None = None) -> None:
        ended.append(epoch)
        if epoch == 0 and len(ended) == 1:
            raise _Interrupted  # the session stops after epoch 1 of 3 was saved
    monkeypatch.setattr(ProgressLog, "on_epoch_end", end_then_cut)

    with pytest.raises(_Interrupted):
        train()
    assert not (tmp_path / finished).exists() and (tmp_path / backup).exists()
    train(resume=True)
    assert ended == [0, 1, 2]  # epochs 2 and 3 only, not the first again
    assert [row["epoch"] for row in read_history(tmp_path / "history.csv")] == [0, 1, 2]
    assert (tmp_path / finished).exists() and not (tmp_path / backup).exists()
    # Resumed once more, the finished network is loaded, not trained; without --resume it starts over.
    train(resume=True)
    assert ended == [0, 1, 2]
    train()
    assert ended == [0, 1, 2, 0, 1, 2]
    assert len(read_history(tmp_path / "history.csv")) == 3
    # A fresh start clears a stale backup too: an interrupted try is not continued by the next one.
    ended.clear()
    with pytest.raises(_Interrupted):
        train()
    train()
    assert ended == [0, 0, 1, 2]


def test_a_kept_rhythm_network_loads_in_a_fresh_process(tmp_path: Path) -> None:
    """A resumed run loads a finished ResNet before anything has built one: its custom layers must
    be registered by then."""
    import subprocess
    import sys

    from model_compression.models.resnet import STUDENT, build_resnet

    build_resnet(1250, 4, STUDENT).save(tmp_path / "model.keras")
    code = ("import numpy as np\n"
            "from pathlib import Path\n"
            "from model_compression.datasets.rhythm_records import RhythmRecords\n"
            "from model_compression.training import rhythm\n"
            "records = RhythmRecords(signal=np.zeros(1400, np.float32), start=np.zeros(1, np.int64),\n"
            "    length=np.full(1, 1400, np.int64), label=np.zeros(1, np.int64), name=np.array(['A0']))\n"
            f"model = rhythm.train('student', records, np.arange(1), rhythm.RhythmTrainConfig(), Path({str(tmp_path)!r}),\n"
            "    seed=0, resume=True)\n"
            "print(model.output_shape)\n")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "trained before, kept" in done.stderr and "(None, 4)" in done.stdout


def test_slow_down_stretches_a_share_of_windows_into_a_slower_rhythm() -> None:
    from model_compression.training.vt import config_from, slow_down

    fs, samples = 125, 1250
    t = np.arange(samples) / fs
    x = np.stack([np.sin(2 * np.pi * 2.0 * t)] * 400)[:, :, None].astype(np.float32)  # 120 cycles a minute
    rng = np.random.default_rng(0)
    out = slow_down(x, rng, (1.25, 1.25), 0.5)
    changed = ~np.all(out == x, axis=(1, 2))
    assert 150 < changed.sum() < 250 and out.shape == x.shape and out.dtype == x.dtype
    # A changed window is the same sine at 2 / 1.25 Hz: its strongest frequency falls accordingly.
    spectrum = np.abs(np.fft.rfft(out[changed][:, :, 0], axis=1)).mean(axis=0)
    assert np.fft.rfftfreq(samples, 1 / fs)[spectrum.argmax()] == pytest.approx(1.6, abs=0.1)
    assert np.all(out[~changed] == x[~changed])
    assert slow_down(x, rng, (1.0, 1.6), 0.0) is x
    with pytest.raises(ValueError, match="at least 1"):
        slow_down(x, rng, (0.8, 1.2), 0.5)
    assert config_from({"slow_probability": 0.5}).slow_probability == 0.5
    with pytest.raises(ValueError, match="slow_probability"):
        config_from({"slow_probability": 1.5})
