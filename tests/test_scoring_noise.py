"""Noise stress and the evaluation's pictures, on the first minute of MIT-BIH records."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import numpy as np
import pytest
from scipy.signal import find_peaks

from ecg_cli.eval_commands import NOISE_KINDS as CLI_KINDS
from ecg_data.paths import data_root
from ecg_data.record import Record
from ecg_data.wfdb_records import read_wfdb
from hardware_sim.noise import NoiseKind
from hardware_sim.snr import noise_rms, normal_beats, qrs_peak_to_peak, snr_db
from scoring.noise_stress import NOISE_KINDS, NoiseSpec, add_noise, noisy_records, spec_from
from scoring.plots import ErrorStrips, clock, densest, plot_scores, plot_strips
from scoring.qrs_bench import BenchDetector, bench, ours_detector, record_rate
from scoring.qrs_eval import Detector, evaluate, patch_detector
from scoring.report import Counts, total

MITDB = data_root() / "mitdb"
NSTDB = data_root() / "nstdb"
SECONDS = 60.0

pytestmark = pytest.mark.skipif(
    not (MITDB / "101.hea").exists() or not (NSTDB / "ma.hea").exists(),
    reason=f"MIT-BIH or its noise records not found under {data_root()}",
)


@pytest.fixture(scope="module")
def minutes() -> list[Record]:
    """The first minute of 101 (plain) and 207 (bundle branch blocks, a flutter episode)."""
    return [read_wfdb(MITDB / name, sampto=round(SECONDS * 360)) for name in ("101", "207")]


class Recorder:
    """A stand-in detector that keeps a copy of each lead it is given and returns the reference beats."""

    def __init__(self) -> None:
        self.leads: list[np.ndarray] = []

    def __call__(self, record: Record, lead_index: int) -> np.ndarray:
        assert record.annotations is not None
        self.leads.append(record.signal[:, lead_index].copy())
        return record.annotations.beats() / record.fs


def slope_detector(record: Record, lead_index: int) -> np.ndarray:
    """A deliberately simple detector: peaks of the smoothed squared slope above a fixed fraction."""
    x = record.signal[:, lead_index]
    width = round(0.08 * record.fs)
    energy = np.convolve(np.diff(x, prepend=x[0]) ** 2, np.ones(width) / width, "same")
    peaks, _ = find_peaks(energy, height=0.3 * np.percentile(energy, 99), distance=round(0.25 * record.fs))
    return peaks / record.fs


def test_the_noisy_lead_has_the_asked_snr_and_is_reproducible(minutes: list[Record]) -> None:
    record = minutes[0]
    clean = record.signal.copy()
    noisy = add_noise(record, 0, NoiseSpec("ma", 6.0, seed=0))
    assert np.array_equal(record.signal, clean)  # the record itself is left alone
    assert np.array_equal(noisy.signal[:, 1], clean[:, 1])
    added = noisy.signal[:, 0] - clean[:, 0]
    amplitude = qrs_peak_to_peak(clean[:, 0], record.fs, normal_beats(record.annotations))
    assert snr_db(amplitude, noise_rms(added, record.fs)) == pytest.approx(6.0, abs=1e-6)
    assert np.array_equal(add_noise(record, 0, NoiseSpec("ma", 6.0, seed=0)).signal, noisy.signal)
    assert not np.array_equal(add_noise(record, 0, NoiseSpec("ma", 6.0, seed=1)).signal, noisy.signal)
    # Each record draws its own segment: equally long records do not share their noise.
    other = add_noise(minutes[1], 0, NoiseSpec("ma", 6.0, seed=0))
    assert not np.allclose(other.signal[:, 0] - minutes[1].signal[:, 0], added)


def test_noisy_records_follow_the_lead_and_pass_records_without_it(minutes: list[Record]) -> None:
    spec = NoiseSpec("bw", 0.0)
    on_v1 = list(noisy_records(minutes, "V1", spec))
    assert np.array_equal(on_v1[0].signal[:, 0], minutes[0].signal[:, 0])
    assert not np.array_equal(on_v1[0].signal[:, 1], minutes[0].signal[:, 1])
    assert list(noisy_records(minutes, None, None)) == minutes
    assert list(noisy_records(minutes, "V5", spec)) == minutes  # no V5: left for the run to skip


def test_every_detector_sees_the_same_noisy_lead(minutes: list[Record]) -> None:
    ours, peer = Recorder(), Recorder()
    detectors = [ours_detector(250, ours), BenchDetector("peer", "recorder", peer, record_rate)]
    runs = bench(noisy_records(minutes, None, NoiseSpec("em-like", 0.0, seed=5)), detectors)
    assert len(ours.leads) == len(peer.leads) == 1 + len(minutes)  # the warm-up, then each record
    for a, b in zip(ours.leads, peer.leads, strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(ours.leads[0], ours.leads[1][: ours.leads[0].size])  # warm-up: the same noisy start
    for got, record in zip(ours.leads[1:], minutes, strict=True):
        assert not np.allclose(got, record.signal[:, 0])
    again = Recorder()
    bench(noisy_records(minutes, None, NoiseSpec("em-like", 0.0, seed=5)), [ours_detector(250, again)])
    assert all(np.array_equal(a, b) for a, b in zip(again.leads, ours.leads, strict=True))
    assert all(run.scores[0].counts.fn == 0 for run in runs)


@pytest.mark.parametrize("detector", [slope_detector, patch_detector(250)], ids=["slope", "patch"])
def test_noise_lowers_a_detectors_score_reproducibly(minutes: list[Record], detector: Detector) -> None:
    def score(spec: NoiseSpec | None) -> Counts:
        return total(evaluate(noisy_records(minutes, None, spec), detector))

    clean = score(None)
    assert clean.sensitivity > 0.95 and clean.positive_predictivity > 0.95
    noisy = score(NoiseSpec("ma", 0.0, seed=0))
    assert noisy.fp + noisy.fn > clean.fp + clean.fn + 0.2 * clean.beats
    assert noisy.positive_predictivity < clean.positive_predictivity - 0.1
    assert score(NoiseSpec("ma", 0.0, seed=0)) == noisy


def test_spec_from_the_command_line() -> None:
    assert spec_from(None, None) is None
    assert spec_from("em-like", 6, 2) == NoiseSpec("em-like", 6.0, 2)
    assert NoiseSpec("ma", 6.0, 2).to_json() == {"kind": "ma", "snr_db": 6.0, "seed": 2}
    with pytest.raises(ValueError, match="--snr"):
        spec_from("ma", None)
    with pytest.raises(ValueError, match="--noise"):
        spec_from(None, 6.0)
    with pytest.raises(ValueError, match="noise kind"):
        spec_from("em", 6.0)
    assert CLI_KINDS == NOISE_KINDS == get_args(NoiseKind)


def misses_two(record: Record, lead_index: int) -> np.ndarray:
    """Reference beats without beats 5 and 6, plus one spurious detection between beats 40 and 41."""
    assert record.annotations is not None
    beats = record.annotations.beats() / record.fs
    return np.sort(np.append(np.delete(beats, [5, 6]), (beats[40] + beats[41]) / 2))


def test_error_strips_centre_on_the_densest_errors(minutes: list[Record], tmp_path: Path) -> None:
    strips = ErrorStrips()
    scores = evaluate(minutes, misses_two, observe=strips)
    assert [s.record for s in strips.strips] == ["101", "207"]
    for strip, record in zip(strips.strips, minutes, strict=True):
        assert record.annotations is not None
        beats = record.annotations.beats() / record.fs
        assert (strip.fn, strip.fp) == (2, 1)
        assert strip.signal.size == round(8.0 * record.fs)
        assert strip.beat_s[strip.missed] == pytest.approx(beats[[5, 6]])
        assert not strip.extra.any()  # the spurious detection is far from the missed pair
        assert strip.lead == record.leads[0]
        first = round(strip.start_s * record.fs)
        assert np.array_equal(strip.signal, record.signal[first : first + strip.signal.size, 0])
    assert [s.record for s in strips.worst(1)] == ["101"]  # tied on errors: by name

    scores_png, strips_png = tmp_path / "scores.png", tmp_path / "strips.png"
    plot_scores(scores, scores_png, "stand-in")
    plot_strips(strips.worst(), strips_png, "stand-in")
    for png in (scores_png, strips_png):
        assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 20_000


def test_densest_and_clock() -> None:
    assert densest(np.array([50.0, 1.0, 30.0, 32.0, 31.0]), 7.0) == 31.0
    assert densest(np.array([12.5]), 7.0) == 12.5
    assert clock(754.23) == "12:34.2" and clock(3725.0, 0) == "1:02:05"
