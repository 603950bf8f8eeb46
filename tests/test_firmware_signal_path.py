"""The firmware's signal path under CPython: filters, resampling, QRS detection, RR and heart rate."""

from __future__ import annotations

import importlib.util
from array import array
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ecg_data.paths import data_root
from ecg_data.record import Record
from ecg_data.wfdb_records import read_wfdb
from firmware import filter_taps
from firmware.bandpass import Bandpass
from firmware.resample import Resampler
from firmware.signal_path import SignalPath
from hardware_sim.ecg_source import EcgSource
from hardware_sim.firmware_runs import run_cpython
from hardware_sim.front_end import FrontEndConfig
from hardware_sim.patch_qrs import lsb_nv

ROOT = Path(__file__).resolve().parent.parent


def _design_module() -> Any:
    spec = importlib.util.spec_from_file_location("design", ROOT / "scripts" / "design_firmware_filters.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_taps_are_the_scipy_design() -> None:
    design = _design_module()
    for fs, taps in filter_taps.LOWPASS_50HZ.items():
        assert list(taps) == design.lowpass_50hz(fs)
        assert sum(taps) == 1 << filter_taps.Q
    for (fs_in, fs_out), (up, down, taps) in filter_taps.RESAMPLERS.items():
        assert (up, down, list(taps)) == design.resampler(fs_in, fs_out)


def _gain(fs: int, freq: float, amplitude: int = 8000) -> float:
    bp = Bandpass(fs)
    n = fs * 20
    t = np.arange(n) / fs
    x = np.round(amplitude * np.sin(2 * np.pi * freq * t)).astype(int)
    y = np.array([bp.push(int(v)) for v in x])
    tail = y[n // 2 :]
    return float(np.sqrt(2) * tail.std() / amplitude)


@pytest.mark.parametrize("fs", [250, 500])
def test_bandpass_passes_0_5_to_50_hz(fs: int) -> None:
    assert _gain(fs, 0.1) < 0.25
    assert 0.6 < _gain(fs, 0.5) < 0.8  # first-order high-pass: -3 dB at 0.5 Hz
    assert abs(_gain(fs, 2.0) - 2.0 / np.hypot(2.0, 0.5)) < 0.01
    for f in (5.0, 10.0, 25.0, 35.0):
        assert 0.97 < _gain(fs, f) < 1.03
    assert 0.4 < _gain(fs, 50.0) < 0.6  # -6 dB edge of the FIR
    assert _gain(fs, 60.0) < 0.06
    assert _gain(fs, 100.0) < 0.01


def test_bandpass_delay_is_whole_samples() -> None:
    bp = Bandpass(250)
    impulse = [0] * 40
    impulse[5] = 10000
    out = [bp.push(v) for v in impulse]
    assert int(np.argmax(out)) == 5 + bp.delay


@pytest.mark.parametrize(("fs_in", "fs_out"), [(250, 125), (250, 500), (500, 250)])
def test_resampler_keeps_a_sine(fs_in: int, fs_out: int) -> None:
    rs = Resampler(fs_in, fs_out)
    t_in = np.arange(fs_in * 4) / fs_in
    x = np.round(10000 * np.sin(2 * np.pi * 7.0 * t_in)).astype(int)
    out = array("i", [0] * 4)
    y: list[int] = []
    for v in x:
        for i in range(rs.push(int(v), out)):
            y.append(out[i])
    assert abs(len(y) - len(x) * fs_out / fs_in) <= 2
    delay_out = rs.delay_up / rs.down
    t_out = (np.arange(len(y)) - delay_out) / fs_out
    expected = 10000 * np.sin(2 * np.pi * 7.0 * t_out)
    settled = slice(fs_out, len(y) - fs_out)
    assert np.max(np.abs(np.array(y)[settled] - expected[settled])) < 150


def test_heart_rate_and_rr_from_a_synthetic_rhythm() -> None:
    fs = 250
    rr = 200  # samples: 0.8 s, 75 bpm
    n = fs * 30
    x = np.zeros(n)
    beat = np.concatenate([np.linspace(0, 1, 6), np.linspace(1, -0.3, 6), np.linspace(-0.3, 0, 6)])
    for start in range(100, n - 20, rr):
        x[start : start + beat.size] += beat
    codes = np.round(x * 1.2e6 / 305).astype(int)  # 1.2 mV R waves at 305 nV per code
    path = SignalPath(fs, 305)
    for c in codes.tolist():
        path.push(c)
    assert path.beat_total >= (n - 200) // rr - 1
    assert path.heart_rate_bpm() == 75
    last = (path.beat_total - 1) % 32
    assert path.rr_ms[last] == 800


def _record(name: str) -> Record:
    path = data_root() / "mitdb" / name
    if not path.with_suffix(".hea").exists():
        pytest.fail(f"missing test record {path}")
    return read_wfdb(path)


@pytest.mark.parametrize("name", ["101", "112"])
def test_detector_finds_every_beat_of_two_clean_minutes(name: str) -> None:
    record = _record(name)
    config = FrontEndConfig()
    source = EcgSource(record, 0, config, duration_s=120.0)
    beats = run_cpython(source.codes(), config.fs, lsb_nv(config)).beats / config.fs
    assert record.annotations is not None
    ref = record.annotations.beats() / record.fs
    # Beats of the last second are still in the detector's hands when the replay stops.
    ref = ref[ref < 119.0]
    beats = beats[beats < 119.0]
    distance = np.abs(ref[:, None] - beats[None, :]).min(axis=1)
    assert np.all(distance <= 0.15)
    assert np.median(distance) < 0.01  # beats land on the R wave, not merely near it
    assert len(beats) == len(ref)


def test_both_streams_reach_their_consumers() -> None:
    # 250 Hz band-passed samples for the beat classifier, 125 Hz resampled ones for the window models.
    path = SignalPath(250, 305, model_fs=125)
    at_fs: list[int] = []
    at_model: list[int] = []
    path.on_filtered_sample = at_fs.append  # type: ignore[assignment]  # the hooks start as None
    path.on_model_sample = at_model.append  # type: ignore[assignment]
    t = np.arange(2500) / 250
    codes = np.rint(3000 * np.sin(2 * np.pi * 10 * t)).astype(int).tolist()
    path.push_block(codes)
    reference = Bandpass(250)
    assert at_fs == [reference.push(c) for c in codes]
    assert abs(len(at_model) - len(codes) // 2) <= 2
    assert max(at_model[200:]) > 2000  # 10 Hz passes the band and the resampler
