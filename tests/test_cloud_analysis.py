"""The analysis engine on synthetic ECG and RR series with known answers: HRV indices, reasons when a
record is too short, pauses, chunking, bounded memory, models plugged in, and bad input."""

from __future__ import annotations

import json
import math
import tracemalloc
from collections.abc import Iterator

import numpy as np
import pytest

from cloud.analysis import (
    NO_MODEL,
    SCHEMA_VERSION,
    AnalysisConfig,
    BeatClassifier,
    RhythmClassifier,
    analyse,
    analyse_stream,
)
from cloud.analysis.blocks import Reblocker
from cloud.analysis.hrv import frequency_domain, nn_intervals, time_domain
from cloud.analysis.protocols import MODEL_FS
from cloud.analysis.synthetic import beat_times, ecg, modulated_rr
from ecg_data.paths import data_root
from ecg_data.wfdb_records import read_wfdb

FS = 250.0
MITDB = data_root() / "mitdb"


@pytest.fixture(scope="module")
def mitdb_slice() -> tuple[np.ndarray, float]:
    """Five minutes of MIT-BIH 203 (multiform PVCs, noise): a hard case for seams."""
    if not (MITDB / "203.hea").exists():
        pytest.skip(f"MIT-BIH not found at {MITDB}")
    record = read_wfdb(MITDB / "203", sampto=300 * 360)
    return record.signal[:, 0], record.fs


def chunked(x: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for start in range(0, len(x), size):
        yield x[start : start + size]


def regular(duration_s: float, rr_s: float = 0.8) -> np.ndarray:
    return np.arange(0.5, duration_s, rr_s)


def detected_s(report: dict) -> np.ndarray:
    return np.asarray(report["beats"]["sample"]) / report["fs"]


# HRV indices on RR series with known values


def test_constant_rr_has_no_variability() -> None:
    td = time_domain(nn_intervals(regular(300.0)))
    assert td["sdnn_ms"] == pytest.approx(0.0, abs=1e-9)
    assert td["rmssd_ms"] == pytest.approx(0.0, abs=1e-9)
    assert td["pnn50_pct"] == 0.0
    assert td["mean_nn_ms"] == pytest.approx(800.0)


def test_alternating_rr_gives_its_rmssd_and_pnn50() -> None:
    beats = beat_times(np.tile([0.8, 0.9], 200))
    td = time_domain(nn_intervals(beats))
    n = 400
    assert td["rmssd_ms"] == pytest.approx(100.0)
    assert td["pnn50_pct"] == pytest.approx(100.0)
    assert td["sdnn_ms"] == pytest.approx(50.0 * math.sqrt(n / (n - 1)))


@pytest.mark.parametrize(("freq_hz", "band"), [(0.1, "lf_ms2"), (0.25, "hf_ms2")])
def test_sinusoidal_rr_puts_its_power_in_the_right_band(freq_hz: float, band: str) -> None:
    amplitude_ms = 50.0
    beats = beat_times(modulated_rr(600.0, 0.8, amplitude_ms / 1000, freq_hz))
    fd = frequency_domain(nn_intervals(beats))
    other = "hf_ms2" if band == "lf_ms2" else "lf_ms2"
    # A sine of amplitude A has power A²/2.
    assert fd[band] == pytest.approx(amplitude_ms**2 / 2, rel=0.05)
    assert fd[other] < 0.01 * fd[band]


def test_beat_labels_keep_only_normal_to_normal_intervals() -> None:
    beats = regular(100.0)
    labels = np.full(len(beats), "N")
    labels[10] = "V"
    nn = nn_intervals(beats, labels)
    assert len(nn.ms) == len(beats) - 1 - 2  # the intervals into and out of the V beat
    assert nn.successive.sum() == len(nn.ms) - 2  # no difference across the gap


def test_median_filter_drops_an_ectopic_beats_intervals() -> None:
    rr = np.full(200, 0.8)
    rr[100], rr[101] = 0.5, 1.1  # premature beat and compensatory pause
    nn = nn_intervals(beat_times(rr), rr_filter="median20")
    assert len(nn.ms) == 198
    assert time_domain(nn)["sdnn_ms"] == pytest.approx(0.0, abs=1e-9)


def test_engine_drops_an_ectopic_beats_intervals_unless_told_not_to() -> None:
    rr = np.full(120, 0.8)
    rr[60], rr[61] = 0.5, 1.1
    beats = beat_times(rr)
    x = ecg(beats, FS, beats[-1] + 1.0)
    default = analyse(x, FS)["hrv"]
    assert "20 %" in default["nn_definition"]
    assert default["time_domain"]["sdnn_ms"] < 1.0
    unfiltered = analyse(x, FS, config=AnalysisConfig(rr_filter="none"))["hrv"]
    assert "no RR filter" in unfiltered["nn_definition"]
    assert unfiltered["time_domain"]["sdnn_ms"] > 20.0


# Short records: absent with a reason, never NaN


@pytest.mark.parametrize(
    ("seconds", "time_ok", "freq_ok"), [(4.0, False, False), (40.0, False, False), (90.0, True, False), (150.0, True, True)]
)
def test_indices_are_present_or_absent_with_a_reason(seconds: float, time_ok: bool, freq_ok: bool) -> None:
    report = analyse(ecg(regular(seconds), FS, seconds), FS)
    json.dumps(report, allow_nan=False)
    td, fd = report["hrv"]["time_domain"], report["hrv"]["frequency_domain"]
    assert ("sdnn_ms" in td) == time_ok and ("reason" in td) == (not time_ok)
    assert ("lf_ms2" in fd) == freq_ok and ("reason" in fd) == (not freq_ok)
    if freq_ok:
        assert "note" in fd  # under the recommended 5 min


def test_a_signal_without_beats_reports_reasons() -> None:
    report = analyse(np.zeros(round(30 * FS)), FS)
    json.dumps(report, allow_nan=False)
    assert report["beats"]["count"] == 0
    for key in ("heart_rate", "rr"):
        assert "reason" in report[key]
    assert report["pauses"]["count"] == 0


def test_report_has_the_promised_schema_without_models() -> None:
    report = analyse(ecg(regular(70.0), FS, 70.0), FS)
    assert report["schema_version"] == SCHEMA_VERSION
    assert report["duration_s"] == pytest.approx(70.0)
    assert report["beats"]["label_reason"] == NO_MODEL
    for key in ("rhythm", "af_burden", "vt_episodes"):
        assert report[key] == {"reason": NO_MODEL}
    hr = report["heart_rate"]
    assert hr["mean_bpm"] == pytest.approx(75.0, abs=0.1)
    assert hr["min_bpm"] == pytest.approx(75.0, abs=0.5) and hr["max_bpm"] == pytest.approx(75.0, abs=0.5)
    assert len(hr["trend"]["mean_bpm"]) == 2


# Detection on synthetic ECG, pauses


def test_beats_are_found_where_they_are_despite_wander_mains_and_noise() -> None:
    beats = beat_times(modulated_rr(300.0, 0.8, 0.05, 0.1))
    beats = beats[beats < 299.5]
    x = ecg(beats, FS, 300.0, wander_mv=0.8, mains_hz=60.0, mains_mv=0.3, noise_mv=0.03)
    found = detected_s(analyse(x, FS))
    assert len(found) == len(beats)
    assert np.abs(found - np.rint(beats * FS) / FS).max() <= 1 / FS


def test_a_gap_in_the_rhythm_is_reported_as_a_pause() -> None:
    beats = np.concatenate([regular(60.0), 60.1 + 3.2 + np.arange(0.0, 40.0, 0.8)])
    x = ecg(beats, FS, 105.0)
    report = analyse(x, FS)
    pauses = report["pauses"]
    assert pauses["count"] == 1 and pauses["in_artefact_count"] == 0
    episode = pauses["episodes"][0]
    assert not episode["artefact"] and pauses["longest_s"] == episode["duration_s"]
    onset = beats[np.argmax(np.diff(beats))]
    assert episode["onset_s"] == pytest.approx(onset, abs=0.01)
    assert episode["duration_s"] == pytest.approx(3.2 + 60.1 - onset, abs=0.01)
    assert analyse(x, FS, config=AnalysisConfig(pause_threshold_s=4.0))["pauses"]["count"] == 0


# Chunking and memory


def test_beats_do_not_depend_on_how_the_stream_is_chunked(mitdb_slice: tuple[np.ndarray, float]) -> None:
    x, fs = mitdb_slice
    whole = analyse(x, fs)["beats"]["sample"]
    assert len(whole) > 300
    for size_s in (7.0, 60.0, 61.3):
        assert analyse_stream(chunked(x, round(size_s * fs)), fs)["beats"]["sample"] == whole
    rng = np.random.default_rng(1)
    cuts = np.sort(rng.integers(0, len(x), 40))
    assert analyse_stream(np.split(x, cuts), fs)["beats"]["sample"] == whole


def test_blocks_cover_the_stream_once_and_hold_a_bounded_amount() -> None:
    core, context = 100, 20
    blocks = Reblocker(core, context)
    x = np.arange(1037, dtype=np.float64)
    seen, biggest = [], 0
    for chunk in chunked(x, 33):
        for block in blocks.push(chunk):
            seen.append(block)
        biggest = max(biggest, blocks._held)
    seen += list(blocks.finish())
    cores = np.concatenate([np.arange(b.core_start, b.core_end) for b in seen])
    assert np.array_equal(cores, np.arange(len(x)))
    for b in seen:
        assert np.array_equal(b.samples, x[b.offset : b.end])
        assert b.offset == max(0, b.core_start - context)
    assert biggest <= core + 2 * context + 33
    assert [b.last for b in seen] == [False] * (len(seen) - 1) + [True]


def _peak_traced_bytes(minutes: float) -> int:
    x = ecg(regular(minutes * 60), FS, minutes * 60)
    tracemalloc.start()
    try:
        analyse_stream(chunked(x, round(10 * FS)), FS)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_record() -> None:
    short, long = _peak_traced_bytes(3.0), _peak_traced_bytes(30.0)
    # The 30-min signal alone is 3.6 MB; holding it would show.
    assert long < 1.25 * short + 1_000_000, (short, long)


# Models plugged in


class EveryFifthIsV:
    """A stand-in beat model: every fifth beat "V", and one false detection."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
        self.seen = 0

    def __call__(self, windows: np.ndarray, rr_features: np.ndarray) -> list[str]:
        self.calls.append((windows.shape, rr_features.shape))
        labels = []
        for _ in range(len(windows)):
            labels.append("FD" if self.seen == 7 else "V" if self.seen % 5 == 4 else "N")
            self.seen += 1
        return labels


class ScriptedRhythm:
    """A stand-in rhythm model: windows 3-5 VT, 6-11 AF, the rest N."""

    classes = ("N", "AF", "VT")

    def __init__(self) -> None:
        self.count = 0
        self.shapes: list[tuple[int, ...]] = []

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        self.shapes.append(windows.shape)
        probs = np.zeros((len(windows), 3))
        for i in range(len(windows)):
            k = self.count + i
            probs[i, 2 if 3 <= k <= 5 else 1 if 6 <= k <= 11 else 0] = 0.9
        self.count += len(windows)
        return probs + 0.05


def test_models_fill_labels_rhythm_af_burden_and_vt_episodes() -> None:
    seconds = 150.0
    beats = regular(seconds)
    beat_model, rhythm_model = EveryFifthIsV(), ScriptedRhythm()
    assert isinstance(beat_model, BeatClassifier) and isinstance(rhythm_model, RhythmClassifier)
    report = analyse(ecg(beats, FS, seconds), FS, beat_classifier=beat_model, rhythm_classifier=rhythm_model)
    json.dumps(report, allow_nan=False)

    assert beat_model.seen == len(beats)
    for windows, rr in beat_model.calls:
        assert windows[1:] == (round(0.25 * MODEL_FS) + round(0.45 * MODEL_FS), 1) and rr[1:] == (3,)
    labels = report["beats"]["label"]
    # Beat 7, called not a beat in a regular rhythm, would leave a two-RR gap: it stays, as Q.
    assert report["beats"]["count"] == len(beats) and report["beats"]["not_beats_dropped"] == 0
    assert report["beats"]["not_beats_kept_for_rhythm"] == 1 and labels[7] == "Q"
    assert labels.count("V") == sum(1 for k in range(len(beats)) if k % 5 == 4 and k != 7)
    assert "labelled N" in report["hrv"]["nn_definition"]

    assert all(shape[1:] == (round(10 * MODEL_FS), 1) for shape in rhythm_model.shapes)
    assert report["rhythm"]["windows"] == 15
    assert report["af_burden"]["percent"] == pytest.approx(100 * 6 / 15)
    assert report["vt_episodes"]["episodes"] == [{"onset_s": 30.0, "duration_s": 30.0, "max_probability": 0.95}]


def test_a_rejected_detection_is_dropped_only_where_no_gap_is_left() -> None:
    from cloud.analysis.protocols import NOT_A_BEAT
    from cloud.analysis.rejections import settle_rejections

    samples = np.arange(0, 20 * 200, 200)  # a beat every 200 samples
    samples = np.sort(np.concatenate([samples, [1_090]]))  # plus a detection between two beats
    labels = np.array(["N"] * len(samples), dtype=object)
    extra = int(np.flatnonzero(samples == 1_090)[0])
    labels[extra] = NOT_A_BEAT  # the false one, rightly rejected
    labels[12] = labels[13] = NOT_A_BEAT  # two real beats in a row, wrongly rejected
    labels[0] = NOT_A_BEAT  # the first beat: dropping it leaves no gap
    kept, kept_labels, overruled = settle_rejections(samples, labels)
    assert 1_090 not in kept and samples[0] not in kept
    assert overruled == 2 and kept_labels.tolist().count("Q") == 2
    assert np.diff(kept).max() == 200
    assert NOT_A_BEAT not in kept_labels.tolist()


def test_nn_can_count_every_beat_as_neurokit_does() -> None:
    beats = regular(150.0)
    report = analyse(ecg(beats, FS, 150.0), FS, beat_classifier=EveryFifthIsV(), config=AnalysisConfig(rr_filter="none"))
    every = analyse(
        ecg(beats, FS, 150.0),
        FS,
        beat_classifier=EveryFifthIsV(),
        config=AnalysisConfig(rr_filter="none", nn_normal_beats_only=False),
    )
    assert "labelled N" in report["hrv"]["nn_definition"]
    assert "every beat" in every["hrv"]["nn_definition"]
    assert every["hrv"]["time_domain"]["nn_count"] == len(beats) - 1
    assert report["hrv"]["time_domain"]["nn_count"] < 0.7 * (len(beats) - 1)


def test_beat_windows_are_centred_on_the_r_peak() -> None:
    captured: list[np.ndarray] = []

    def model(windows: np.ndarray, rr_features: np.ndarray) -> list[str]:
        captured.append(windows)
        return ["N"] * len(windows)

    analyse(ecg(regular(70.0), FS, 70.0), FS, beat_classifier=model)
    windows = np.concatenate(captured)[:, :, 0]
    assert np.all(np.argmax(windows[5:-5], axis=1) == round(0.25 * MODEL_FS))


def test_beats_around_a_long_asystole_are_all_labelled() -> None:
    beats = np.concatenate([regular(30.0), 75.0 + np.arange(0.0, 30.0, 0.8)])
    model = EveryFifthIsV()
    report = analyse(ecg(beats, FS, 110.0), FS, beat_classifier=model)
    assert model.seen == len(beats)
    assert report["pauses"]["episodes"][0]["duration_s"] == pytest.approx(75.0 - beats[beats < 30][-1], abs=0.01)


def test_a_rhythm_model_without_af_or_vt_classes_says_so() -> None:
    class Binary:
        classes = ("normal", "other")

        def __call__(self, windows: np.ndarray) -> np.ndarray:
            return np.tile([0.7, 0.3], (len(windows), 1))

    report = analyse(ecg(regular(30.0), FS, 30.0), FS, rhythm_classifier=Binary())
    assert report["rhythm"]["time_fraction"] == {"normal": 1.0, "other": 0.0}
    assert "no atrial fibrillation class" in report["af_burden"]["reason"]
    assert "no ventricular tachycardia class" in report["vt_episodes"]["reason"]


# Bad input


@pytest.mark.parametrize(
    ("chunks", "fs", "message"),
    [
        ([np.array([0.0, np.nan, 0.0])], FS, "NaN"),
        ([np.zeros(10), np.array([0.0, np.inf])], FS, "sample 11"),
        ([np.zeros((100, 2))], FS, "1-D"),
        ([np.array(["a", "b"])], FS, "real numbers"),
        ([], FS, "no samples"),
        ([np.zeros(0)], FS, "no samples"),
        ([np.zeros(100)], 0.0, "positive"),
        ([np.zeros(100)], -250.0, "positive"),
        ([np.zeros(100)], float("nan"), "positive"),
        ([np.zeros(100)], "fast", "number"),
        ([np.zeros(100)], 10.0, "too low"),
    ],
)
def test_bad_input_is_a_clear_value_error(chunks: list, fs: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        analyse_stream(chunks, fs)  # type: ignore[arg-type]


def test_analyse_rejects_a_two_lead_array() -> None:
    with pytest.raises(ValueError, match="1-D"):
        analyse(np.zeros((1000, 2)), FS)


def test_bad_options_are_value_errors() -> None:
    x = np.zeros(1000)
    with pytest.raises(ValueError, match="rr_filter"):
        analyse(x, FS, config=AnalysisConfig(rr_filter="magic"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pause_threshold_s"):
        analyse(x, FS, config=AnalysisConfig(pause_threshold_s=0.0))
