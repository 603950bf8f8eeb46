"""The firmware's model inputs against model_compression's NumPy reference, and its TFLM wrapper.

On MIT-BIH records through the front end and the firmware signal path (as hardware_sim does), the
int8 bytes firmware/beat_input.py writes into the beat classifier's input tensors must equal the
reference (model_compression.beat_pipeline.beat_model_inputs, quantized with the model's scale and
zero point) for the same detections and the same band-passed signal, and the labels TFLM gives
must agree. Against the reference's own float band-pass (its training path) the bytes may differ
by 1 LSB where the integer filter's rounding crosses a quantization step: bounded here.
"""

from __future__ import annotations

import math
import subprocess
import sys
from array import array
from fractions import Fraction
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

from ecg_data.paths import data_root
from ecg_data.wfdb_records import read_wfdb
from firmware.beat_input import HISTORY, RR_FEATURES, BeatInput
from firmware.inference import BeatClassifier, Model, Quantizer, read_model
from firmware.resample import Resampler
from firmware.signal_path import SignalPath
from firmware.window_input import CLIP, HF_SETTLE, HF_SOS, WindowInput, isqrt
from hardware_sim.ecg_source import EcgSource
from hardware_sim.front_end import FrontEndConfig
from hardware_sim.patch_qrs import lsb_nv
from hardware_sim.tflm_binding import TflmBinding
from model_compression import beat_pipeline
from model_compression.rhythm_pipeline import normalise
from model_compression.training.tflm import Int8Model, TensorInfo, quantize

MITDB = data_root() / "mitdb"
FIRMWARE_MODELS = Path(__file__).resolve().parents[1] / "firmware" / "models"
RECORDS = ["119", "208", "203"]  # bigeminy; PVC couplets and fusion; multiform PVCs, VT, noise
BEAT_ARENA = 16 * 1024

_BUILD_WINDOW_MODELS = """
import sys
import numpy as np
import keras
from model_compression.models.resnet import STUDENT, build_resnet
from model_compression.models.scnn import build_scnn
from model_compression.training.int8_export import to_int8
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = np.clip(rng.normal(0, 1, (8, 1250, 1)), -5, 5).astype(np.float32)
open(sys.argv[1], "wb").write(to_int8(build_scnn(1250, 1, batch_size=1), [[r[None]] for r in x]))
x = np.clip(rng.normal(0, 1, (8, 1250, 1)), -8, 8).astype(np.float32)
open(sys.argv[2], "wb").write(to_int8(build_resnet(1250, 4, STUDENT, batch_size=1), [[r[None]] for r in x]))
"""


@pytest.fixture(scope="session")
def window_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The shipped VT and rhythm models, or untrained ones of the same architecture (int8)."""
    vt, rhythm = FIRMWARE_MODELS / "vt_scnn.tflite", FIRMWARE_MODELS / "rhythm_resnet.tflite"
    if not (vt.is_file() and rhythm.is_file()):
        folder = tmp_path_factory.mktemp("window_models")
        vt, rhythm = folder / "vt_scnn.tflite", folder / "rhythm_resnet.tflite"
        subprocess.run([sys.executable, "-c", _BUILD_WINDOW_MODELS, str(vt), str(rhythm)],
                       check=True, capture_output=True, timeout=300)  # fmt: skip
    return {"vt": vt.read_bytes(), "rhythm": rhythm.read_bytes()}


def record_codes(name: str, seconds: float) -> tuple[np.ndarray, FrontEndConfig]:
    if not (MITDB / f"{name}.hea").is_file():
        pytest.skip(f"mitdb/{name} not in {MITDB}")
    config = FrontEndConfig()
    return EcgSource(read_wfdb(MITDB / name), 0, config, duration_s=seconds).codes(), config


# --- the flatbuffer reader and the quantizer ---------------------------------------------------


def test_read_model_gives_the_interpreters_shapes_scales_and_zero_points(window_models: dict[str, bytes]) -> None:
    for model in [beat_pipeline.SHIPPED_MODEL.read_bytes(), *window_models.values()]:
        ref = Int8Model(model)
        inputs, outputs = read_model(model)
        got = [TensorInfo(tuple(s), m / 2**e, zp) for s, m, e, zp in inputs]
        assert got == ref.inputs
        s, m, e, zp = outputs[0]
        assert TensorInfo(tuple(s), m / 2**e, zp) == ref.output


def test_quantizer_is_exact_rounding_of_the_ratio() -> None:
    rng = np.random.default_rng(1)
    for scale, zp, clip in [(0.02737513743340969, 18, 4), (0.01552690751850605, -128, 4), (0.0392, 0, 5), (0.0627, -3, 8)]:
        scale = float(np.float32(scale))
        m, e = Fraction(scale).numerator, Fraction(scale).denominator.bit_length() - 1
        assert Fraction(m, 2**e) == Fraction(scale)
        q = Quantizer(m, e, zp, clip)
        for _ in range(40):
            un, ud = int(rng.integers(1, 40000)), int(rng.integers(1, 400))
            q.set_unit(un, ud)
            for num in rng.integers(-6 * un // ud - 5, 6 * un // ud + 5, 200).tolist():
                v = Fraction(num * ud, un)
                v = max(Fraction(-clip), min(Fraction(clip), v)) / Fraction(scale)
                expected = max(-128, min(127, math.floor(v + Fraction(1, 2)) + zp))
                assert q.q(num) == expected, (num, un, ud)


def test_isqrt() -> None:
    for n in [0, 1, 2, 3, 4, 15, 16, 17, 10**12 + 7, 2**80 - 1, 3 * 10**25]:
        r = isqrt(n)
        assert r * r <= n < (r + 1) * (r + 1)


# --- beats: the acceptance test -------------------------------------------------------------------


def run_beats(codes: np.ndarray, lsb: int) -> dict:
    """The firmware path at 250 Hz with the beat classifier on it; what it fed and answered."""
    model = beat_pipeline.SHIPPED_MODEL.read_bytes()
    path = SignalPath(250, lsb)
    binding = TflmBinding()
    clf = BeatClassifier(path, lsb, binding, model, BEAT_ARENA)
    m = clf.model
    b, r = m.find_input((1, 87, 3)), m.find_input((1, RR_FEATURES))
    fed: dict[str, list] = {"beat": [], "rr": [], "label": [], "index": []}

    def on_label(k: int, label: int) -> None:
        assert k == len(fed["label"])
        fed["beat"].append(bytes(m.inputs[b]))
        fed["rr"].append(bytes(m.inputs[r]))
        fed["label"].append(label)
        fed["index"].append(path.beat_index[k % len(path.beat_index)])
        # the bytes TFLM was given are the buffers' bytes
        assert binding.interpreters[0].last_inputs[b] == fed["beat"][-1]

    clf.on_label = on_label
    filtered: list[int] = []

    def consume(x: int) -> None:
        filtered.append(x)
        clf.push(x)

    path.on_model_sample = consume  # type: ignore[assignment]  # SignalPath's hook starts as None
    beats: list[int] = []
    for code in codes.tolist():
        path.push(code)
        while len(beats) < path.beat_total:
            beats.append(path.beat_index[len(beats) % len(path.beat_index)])
    before_flush = len(fed["label"])
    clf.input.flush()
    return {**fed, "beats": np.asarray(beats), "filtered": np.asarray(filtered, dtype=np.int64),
            "delay": path.bandpass.delay, "before_flush": before_flush, "path": path}  # fmt: skip


def reference_int8(model: Int8Model, lead_mv: np.ndarray, beats: np.ndarray, aligned_mv: np.ndarray | None) -> list:
    """beat_model_inputs quantized, in the model's input order; with `aligned_mv`, on that band-passed
    signal instead of the reference's own float band-pass."""
    if aligned_mv is None:
        inputs = beat_pipeline.beat_model_inputs(lead_mv, 250, beats / 250)
    else:
        with mock.patch.object(beat_pipeline, "model_input", lambda *_: aligned_mv.reshape(-1, 1)):
            inputs = beat_pipeline.beat_model_inputs(aligned_mv, 250, beats / 250)
    order = model.input_order([a.shape[1:] for a in inputs])
    return [model.quantize(inputs[src], dst) for dst, src in enumerate(order)]


@pytest.mark.parametrize("name", RECORDS)
def test_beat_classifier_inputs_are_the_references_bytes(name: str) -> None:
    codes, config = record_codes(name, 300.0)
    lsb = lsb_nv(config)
    run = run_beats(codes, lsb)
    n = len(run["label"])
    # every detection went through the classifier, the last one at the flush (no next beat)
    assert n == len(run["beats"]) == run["before_flush"] + 1 > 250
    np.testing.assert_array_equal(run["index"], run["beats"])

    model = Int8Model(beat_pipeline.SHIPPED_MODEL.read_bytes())
    b, r = model.input_order([(87, 3), (RR_FEATURES,)])
    fed_beat = np.frombuffer(b"".join(run["beat"]), np.int8).reshape(n, 87, 3)
    fed_rr = np.frombuffer(b"".join(run["rr"]), np.int8).reshape(n, RR_FEATURES)
    labels = np.asarray(run["label"])

    # The same band-passed signal (the firmware's integers, in mV, in input time): identical bytes.
    y, d = run["filtered"], run["delay"]
    aligned = np.concatenate([y[d:], np.zeros(d, dtype=np.int64)]) * (lsb / 1e6)
    same = reference_int8(model, aligned, run["beats"], aligned)
    m = n - 1  # the last window runs past the end of the stream, where the two pad differently
    np.testing.assert_array_equal(fed_beat[:m], same[b].reshape(n, 87, 3)[:m])
    np.testing.assert_array_equal(fed_rr, same[r].reshape(n, RR_FEATURES))
    ref_labels = np.array([model.invoke_int8([same[0][i], same[1][i]]).argmax() for i in range(n)])
    assert (ref_labels[:m] == labels[:m]).all()

    # The reference's float band-pass on the ADC codes (its training path): 1 LSB at most, rarely.
    own = reference_int8(model, codes * config.lsb_mv, run["beats"], None)
    diff = np.abs(fed_beat[:m].astype(int) - own[b].reshape(n, 87, 3)[:m])
    assert diff.max() <= 1 and diff.mean() < 0.01, diff.mean()
    np.testing.assert_array_equal(fed_rr, own[r].reshape(n, RR_FEATURES))
    own_labels = np.array([model.invoke_int8([own[0][i], own[1][i]]).argmax() for i in range(n)])
    assert (own_labels[:m] == labels[:m]).mean() >= 0.995


def test_templates_use_sorted_columns_exactly() -> None:
    """Random windows: the sorted columns' median equals numpy's over the last 32 windows."""

    class Path:
        fs = 250
        beat_index = [0] * 32
        beat_total = 0

        class bandpass:
            delay = 0

    rng = np.random.default_rng(5)
    dummy = Quantizer(1, 5, 0, 4)
    bi = BeatInput(Path(), 305, bytearray(261), dummy, bytearray(RR_FEATURES), dummy)
    windows = rng.integers(-3000, 3000, (80, 87))
    windows[::7] = windows[3]  # ties
    for k, w in enumerate(windows):
        count = min(k, 32)
        if count:
            lo, hi = (count - 1) // 2, count // 2
            col = np.sort(windows[k - count : k], axis=0)
            np.testing.assert_array_equal(np.frombuffer(bi.sorted, np.int32).reshape(87, 32)[:, :count], col.T)
            assert (col[lo] + col[hi] == 2 * np.median(windows[k - count : k], axis=0)).all()
        bi.window[:] = array("i", w.tolist())
        bi._remember(k)
    assert HISTORY >= 8 * 250 + 48  # the detector's first beats come 8 s late


# --- windows: SCNN and rhythm ----------------------------------------------------------------------


def test_window_inputs_are_the_references_bytes(window_models: dict[str, bytes]) -> None:
    codes, config = record_codes("203", 75.0)
    lsb = lsb_nv(config)
    binding = TflmBinding()
    vt = Model(binding, window_models["vt"], 160 * 1024)
    rhythm = Model(binding, window_models["rhythm"], 160 * 1024)
    vt_q = vt.quantizer(0, CLIP)
    rhythm_q = rhythm.quantizer(0, CLIP)
    windows = WindowInput(lsb)
    resampler = Resampler(250, 125)
    out = array("i", [0] * 4)
    at_125: list[int] = []
    fed: list[tuple[int, bytes, bytes]] = []
    shares: list[tuple[int, int]] = []

    def consume(x: int) -> None:
        for i in range(resampler.push(x, out)):
            at_125.append(out[i])
            windows.push(out[i])
            if windows.count >= 1250 and windows.count % 1250 == 0:
                windows.fill_vt(vt.inputs[0], vt_q)
                windows.fill_rhythm(rhythm.inputs[0], rhythm_q)
                vt.invoke()
                rhythm.invoke()
                assert binding.interpreters[0].last_inputs[0] == bytes(vt.inputs[0])
                fed.append((windows.count, bytes(vt.inputs[0]), bytes(rhythm.inputs[0])))
                shares.append((windows.count, windows.hf_pm))

    path = SignalPath(250, lsb)
    path.on_model_sample = consume  # type: ignore[assignment]  # SignalPath's hook starts as None
    path.push_block(codes.tolist())
    assert len(fed) >= 6
    signal_mv = np.asarray(at_125, dtype=np.float64) * (lsb / 1e6)
    ref_vt, ref_rhythm = Int8Model(window_models["vt"]), Int8Model(window_models["rhythm"])
    diffs = []
    for count, vt_bytes, rhythm_bytes in fed:
        w = signal_mv[count - 1250 : count][None].astype(np.float32)
        for got, ref in ((vt_bytes, ref_vt), (rhythm_bytes, ref_rhythm)):
            expected = quantize(normalise(w), ref.inputs[0]).reshape(-1)
            diffs.append(np.abs(np.frombuffer(got, np.int8).astype(int) - expected))
    # the reference's float32 mean and std against exact integers: a rare 1 LSB
    d = np.concatenate(diffs)
    assert d.max() <= 1 and d.mean() < 1e-3
    # The VT window's power share above about 2 Hz: scipy's sosfilt with the firmware's 13-bit
    # coefficients on the same window, in floats.
    codes_125 = np.asarray(at_125, dtype=np.float64)
    for count, hf_pm in shares:
        share = _float_share(codes_125[count - 1250 : count])
        assert abs(hf_pm - share) <= 1.5, (hf_pm, share)  # the floor of a ratio, and rounding
    assert all(hf_pm > 500 for _, hf_pm in shares)  # record 203: QRS complexes and noise, most power above 2 Hz


def _float_share(x: np.ndarray, sos: np.ndarray | None = None) -> float:
    import scipy.signal

    if sos is None:
        rows = np.array(HF_SOS, dtype=np.float64) / 2**13
        sos = np.c_[rows[:, :3], np.ones(2), rows[:, 3:]]
    z = scipy.signal.sosfilt(sos, x - x[0])
    return float(1000 * z[HF_SETTLE:].var() / x[HF_SETTLE:].var())


@pytest.mark.parametrize("scale", [1, 40, 3000, 200_000])
def test_power_share_holds_for_slow_waves_and_any_amplitude(scale: int) -> None:
    """Slow waves with a little power above 2 Hz, from a few codes to far beyond the ADC's range:
    the integer share follows the float filter (error feedback keeps the rounding of the
    recursive sections from coming out as low-frequency power), and the 13-bit filter stays
    within 3 per mille of the exact Butterworth."""
    import scipy.signal

    t = np.arange(1250) / 125
    rng = np.random.default_rng(scale)
    for wave in (np.sin(2 * np.pi * 0.7 * t) + 0.05 * np.sin(2 * np.pi * 5 * t),
                 np.sin(2 * np.pi * 1.2 * t + 1) + 0.3 * np.sin(2 * np.pi * 3 * t) + 0.02 * rng.normal(size=1250)):  # fmt: skip
        x = np.round(scale * wave)
        w = WindowInput(1000)
        for v in x.astype(int).tolist():
            w.push(v)
        got = w.high_frequency_pm()
        tolerance = 1.5 if scale >= 40 else 6  # a wave of one code's amplitude is all rounding
        assert abs(got - _float_share(x)) <= tolerance, (scale, got, _float_share(x))
        exact = scipy.signal.butter(4, 2.0, "highpass", fs=125, output="sos")
        assert abs(_float_share(x) - _float_share(x, exact)) <= 3


def test_high_pass_coefficients_are_scipys_butterworth_at_2_hz() -> None:
    import scipy.signal

    sos = scipy.signal.butter(4, 2.0, "highpass", fs=125, output="sos")
    expected = np.round(np.c_[sos[:, :3], sos[:, 4:]] * 2**13).astype(int)
    np.testing.assert_array_equal(np.array(HF_SOS), expected)
