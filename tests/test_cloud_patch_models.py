"""The cloud labels beats and rhythm with the patch's own int8 models, without TensorFlow (LiteRT runs them)."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from ecg_data.paths import data_root
from ecg_data.reader import read_record

pytest.importorskip("tflite_micro")

from cloud.analysis.patch_models import PatchBeatClassifier, PatchRhythmClassifier, analyse_with_models


@pytest.fixture(scope="module")
def record_119() -> tuple[np.ndarray, float]:
    record = read_record(data_root() / "mitdb" / "119", sampto=360 * 300)
    return record.signal[:, 0], record.fs


def test_beats_are_labelled_and_chunking_does_not_change_labels(record_119: tuple[np.ndarray, float]) -> None:
    signal, fs = record_119
    whole = analyse_with_models([signal], fs)
    pieces = analyse_with_models([signal[i : i + 7_777] for i in range(0, len(signal), 7_777)], fs)
    labels = whole["beats"]["label"]
    assert len(labels) == whole["beats"]["count"] > 300
    assert labels == pieces["beats"]["label"]
    counts = Counter(labels)
    # 119 is ventricular bigeminy in stretches: both classes are there in numbers.
    assert counts["N"] > 100 and counts["V"] > 50


def test_beat_classifier_history_spans_calls() -> None:
    rng = np.random.default_rng(0)
    windows = rng.normal(0, 0.05, (40, 174, 1)).astype(np.float32)
    windows[:, 62, 0] += 1.0  # an R wave at the detection
    rr = np.full((40, 3), 0.8, dtype=np.float32)
    one = PatchBeatClassifier()(windows, rr)
    split = PatchBeatClassifier()
    assert split(windows[:25], rr[:25]) + split(windows[25:], rr[25:]) == one


def test_no_tensorflow_in_the_cloud_analysis() -> None:
    code = (
        "import sys, numpy as np\n"
        "from cloud.analysis.patch_models import analyse_with_models\n"
        "from ecg_data.reader import read_record\nfrom ecg_data.paths import data_root\n"
        "r = read_record(data_root() / 'mitdb' / '119', sampto=360 * 60)\n"
        "analyse_with_models([r.signal[:, 0]], r.fs)\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow was imported'\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]


def test_rhythm_classifier_adds_vt_from_the_scnn(tmp_path: Path) -> None:
    keras = pytest.importorskip("keras")
    from model_compression.models.resnet import STUDENT, build_resnet
    from model_compression.models.scnn import build_scnn
    from model_compression.training.int8_export import representative_rows, to_int8

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (8, 1250, 1)).astype(np.float32)
    (tmp_path / "r.tflite").write_bytes(to_int8(build_resnet(1250, 4, STUDENT, batch_size=1), representative_rows([x], 8)))
    (tmp_path / "v.tflite").write_bytes(to_int8(build_scnn(1250, 1, batch_size=1), representative_rows([x], 8)))
    classifier = PatchRhythmClassifier(tmp_path / "r.tflite", tmp_path / "v.tflite")
    windows = rng.normal(0, 0.3, (3, 2500, 1)).astype(np.float32)
    probs = classifier(windows)
    assert probs.shape == (3, len(classifier.classes)) and classifier.classes[-1] == "VT"
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=0.02)
    assert (probs >= 0).all()


def test_both_window_models_take_the_window_as_the_patch_feeds_them() -> None:
    """The cloud's VT and rhythm probabilities are those of the two networks on the window the
    patch fills for both: at 125 Hz, minus its mean, over its standard deviation, clipped. On
    mitdb 207's ventricular flutter, so that the VT output has something to say."""
    from model_compression.datasets.preprocess import resample
    from model_compression.rhythm_pipeline import normalise, softmax
    from model_compression.training.tflm import Int8Model

    record = read_record(data_root() / "mitdb" / "207", sampfrom=360 * 40, sampto=360 * 70)
    signal, fs = record.signal[:, 0], record.fs
    n = round(10 * fs)
    windows = np.stack([resample(signal[i * n : (i + 1) * n], fs, 250) for i in range(3)])[:, :, None]
    got = PatchRhythmClassifier(runtime="patch")(windows)
    x = normalise(resample(windows[:, :, 0].T, 250, 125).T)
    folder = Path(__file__).resolve().parents[1] / "firmware" / "models"
    p_vt = Int8Model((folder / "vt_scnn.tflite").read_bytes()).predict([x]).reshape(-1)
    rhythm = softmax(Int8Model((folder / "rhythm_resnet.tflite").read_bytes()).predict([x]))
    assert p_vt.max() >= 0.5
    np.testing.assert_allclose(got[:, 4], p_vt)
    np.testing.assert_allclose(got[:, :4], rhythm * (1.0 - p_vt[:, None]))


def test_the_server_runtime_stays_within_one_int8_step_of_the_patchs(record_119: tuple[np.ndarray, float]) -> None:
    """LiteRT's optimized kernels on the shipped bytes: every output at most one quantization step
    from TFLM's, on real windows and beats, and the labels the same."""
    from model_compression.datasets.preprocess import resample
    from model_compression.training.tflm import Int8Model, ServerInt8Model

    signal, fs = record_119
    folder = Path(__file__).resolve().parents[1] / "firmware" / "models"
    n = round(10 * fs)
    windows = np.stack([resample(signal[i * n : (i + 1) * n], fs, 250) for i in range(12)])[:, :, None]
    for name in ("rhythm_resnet", "vt_scnn"):
        model = (folder / f"{name}.tflite").read_bytes()
        micro, server = Int8Model(model), ServerInt8Model(model)
        x = np.random.default_rng(1).integers(-128, 128, (8, *micro.inputs[0].shape[1:]), dtype=np.int8)
        a = np.stack([micro.invoke_int8([row]) for row in x]).astype(int)
        b = np.stack([server.invoke_int8([row]) for row in x]).astype(int)
        assert np.abs(a - b).max() <= 1, name
    on_patch = PatchRhythmClassifier(runtime="patch")(windows)
    on_server = PatchRhythmClassifier(runtime="server")(windows)
    assert (on_patch.argmax(axis=1) == on_server.argmax(axis=1)).all()
    np.testing.assert_allclose(on_patch, on_server, atol=0.02)
    whole = analyse_with_models([signal], fs, runtime="patch")
    fast = analyse_with_models([signal], fs, runtime="server")
    assert whole["beats"]["sample"] == fast["beats"]["sample"]
    agree = np.mean(np.array(whole["beats"]["label"]) == np.array(fast["beats"]["label"]))
    assert agree >= 0.995


def test_an_unknown_runtime_is_refused() -> None:
    with pytest.raises(ValueError, match="runtime"):
        PatchBeatClassifier(runtime="gpu")  # type: ignore[arg-type]
