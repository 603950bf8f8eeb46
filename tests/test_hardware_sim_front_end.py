"""The patch's ECG source: front end, nstdb noise at an SNR, lead-off, timing and the clock."""

from __future__ import annotations

import dataclasses
import time
from typing import get_args

import numpy as np
import pytest

from ecg_data.paths import data_root
from ecg_data.record import Annotations, Record
from ecg_data.wfdb_records import read_wfdb
from hardware_sim.clock import (
    TICKS_MAX,
    TICKS_PERIOD,
    RealTimeClock,
    VirtualClock,
    drive,
    ticks_add,
    ticks_diff,
)
from hardware_sim.ecg_source import Block, EcgSource
from hardware_sim.front_end import FrontEndConfig, quantise, rate_ratio
from hardware_sim.lead_off import LeadOff
from hardware_sim.noise import NoiseKind, NoiseSource
from hardware_sim.snr import noise_rms, normal_beats, qrs_peak_to_peak, robust_qrs_peak_to_peak, snr_db

MITDB_101 = data_root() / "mitdb" / "101"
needs_mitdb = pytest.mark.skipif(not MITDB_101.with_suffix(".hea").exists(), reason="mitdb/101 not present")
needs_nstdb = pytest.mark.skipif(
    not (data_root() / "nstdb" / "ma.hea").exists(), reason="nstdb noise records not present"
)
QUIET = FrontEndConfig(highpass_hz=None, amp_noise_uv_rms=0.0)


@pytest.fixture(scope="module")
def rec101() -> Record:
    return read_wfdb(MITDB_101)


def synthetic(fs: float, signal: np.ndarray, beats: np.ndarray | None = None) -> Record:
    annotations = None
    if beats is not None:
        annotations = Annotations(np.asarray(beats, np.int64), ("N",) * len(beats), ("",) * len(beats))
    return Record("synthetic", "test", fs, signal[:, None], ("ECG",), ("mV",), annotations=annotations)


def measured_snr(clean_mv: np.ndarray, noisy_mv: np.ndarray, fs: float, beats: np.ndarray) -> float:
    return snr_db(qrs_peak_to_peak(clean_mv, fs, beats), noise_rms(noisy_mv - clean_mv, fs))


# --- ADC ---------------------------------------------------------------------------------------------


def test_default_config_and_lsb() -> None:
    cfg = FrontEndConfig()
    assert (cfg.fs, cfg.adc_bits, cfg.input_range_mv) == (250, 16, 10.0)
    assert cfg.lsb_mv == pytest.approx(20.0 / 65536)  # 0.305 µV
    assert (cfg.code_min, cfg.code_max) == (-32768, 32767)
    cfg12 = FrontEndConfig(adc_bits=12)
    assert cfg12.lsb_mv == pytest.approx(20.0 / 4096)  # 4.88 µV
    assert (cfg12.code_min, cfg12.code_max) == (-2048, 2047)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.fs = 500  # type: ignore[misc]


@pytest.mark.parametrize(
    "kwargs", [{"adc_bits": 7}, {"adc_bits": 25}, {"fs": 0}, {"input_range_mv": 0}, {"highpass_hz": 200.0}]
)
def test_config_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        FrontEndConfig(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("bits", [12, 16])
def test_quantise_rounds_and_saturates(bits: int) -> None:
    cfg = FrontEndConfig(adc_bits=bits)
    q = cfg.lsb_mv
    mv = np.array([0.0, 0.49 * q, 0.51 * q, -3.2 * q, 1000 * q, 10.0 - q, 10.0, -10.0, 25.0, -25.0])
    codes = quantise(mv, cfg)
    assert codes.dtype == np.int32
    top, bottom = cfg.code_max, cfg.code_min
    assert codes.tolist() == [0, 0, 1, -3, 1000, top, top, bottom, top, bottom]
    inside = np.linspace(-9.9, 9.9, 1001)
    assert np.max(np.abs(cfg.to_mv(quantise(inside, cfg)) - inside)) <= q / 2 + 1e-12


def test_rate_ratios() -> None:
    assert rate_ratio(360.0, 250) == (25, 36)
    assert rate_ratio(300.0, 250) == (5, 6)
    assert rate_ratio(250.0, 250) == (1, 1)
    assert rate_ratio(128.0, 250) == (125, 64)


def test_large_input_saturates_at_the_rails() -> None:
    fs = 360.0
    square = np.where(np.arange(3600) % 720 < 360, 15.0, -15.0)
    codes = EcgSource(synthetic(fs, square), config=QUIET).codes()
    assert set(np.unique(codes[50:-50]).tolist()) >= {QUIET.code_min, QUIET.code_max}
    assert codes.min() >= QUIET.code_min and codes.max() <= QUIET.code_max


# --- timing ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fs_in", [360.0, 300.0, 500.0, 250.0, 128.0])
def test_impulse_lands_at_round_t_times_fs(fs_in: float) -> None:
    n = int(20 * fs_in)
    positions = np.array([int(fs_in) + 97 * k + k % 7 for k in range(int((n - 2 * fs_in) // 97))])
    x = np.zeros(n)
    x[positions] = 1.0
    src = EcgSource(synthetic(fs_in, x), config=QUIET)
    y = src.codes()
    assert y.size == len(src)
    expected = np.rint(positions / fs_in * src.fs).astype(int)
    found = np.array([e - 3 + int(np.argmax(y[e - 3 : e + 4])) for e in expected])
    assert np.max(np.abs(found - expected)) <= 1
    assert np.allclose(src.times()[expected], positions / fs_in, atol=0.5 / src.fs)


@needs_mitdb
def test_real_beats_keep_their_timing(rec101: Record) -> None:
    src = EcgSource(rec101, 0, duration_s=60.0)
    assert len(src) == 60 * 250
    x, y, fs_in = rec101.signal[: 60 * 360, 0], src.millivolts(), rec101.fs
    beats = normal_beats(rec101.annotations)
    beats = beats[(beats > 20) & (beats < x.size - 20)]

    def r_peak(sig: np.ndarray, centre: int, half: int) -> int:
        w = sig[centre - half : centre + half + 1]
        return centre - half + int(np.argmax(np.abs(w - np.median(w))))

    peaks_in = np.array([r_peak(x, b, 18) for b in beats])  # ±50 ms at 360 Hz
    expected = np.rint(peaks_in / fs_in * src.fs).astype(int)
    found = np.array([r_peak(y, e, 12) for e in expected])  # ±50 ms at 250 Hz
    assert beats.size > 60
    assert np.max(np.abs(found - expected)) <= 1
    ann, original = src.annotations(), rec101.annotations
    assert ann is not None and original is not None
    in_replay = original.sample[original.sample < 60 * 360]
    assert ann.sample.tolist() == np.rint(in_replay / fs_in * 250).astype(int).tolist()


def test_slice_times_are_record_times() -> None:
    src = EcgSource(
        synthetic(360.0, np.zeros(36_000), beats=np.array([3960, 4320, 9000])), start_s=10.0, duration_s=5.0
    )
    assert len(src) == 1250
    assert src.times()[0] == pytest.approx(10.0)
    assert src.times()[-1] == pytest.approx(15.0 - 1 / 250)
    ann = src.annotations()
    assert ann is not None and ann.sample.tolist() == [250, 500]  # 11 s and 12 s; 25 s is outside


# --- noise and SNR -----------------------------------------------------------------------------------


@needs_mitdb
def test_robust_qrs_amplitude_agrees_with_annotations(rec101: Record) -> None:
    x = rec101.signal[:, 0]
    annotated = qrs_peak_to_peak(x, rec101.fs, normal_beats(rec101.annotations))
    assert robust_qrs_peak_to_peak(x, rec101.fs) == pytest.approx(annotated, rel=0.05)


@needs_mitdb
@needs_nstdb
@pytest.mark.parametrize("kind", get_args(NoiseKind))
def test_noise_is_scaled_to_the_snr_at_the_electrodes(rec101: Record, kind: NoiseKind) -> None:
    clean = rec101.signal[: 60 * 360, 0]
    beats = normal_beats(rec101.annotations)
    beats = beats[beats < clean.size]
    noise = NoiseSource(kind, snr_db=6.0, seed=1).scaled(clean, rec101.fs, beats)
    assert measured_snr(clean, clean + noise.samples, rec101.fs, beats) == pytest.approx(6.0, abs=0.01)
    assert [p.record for p in noise.picks] == (["bw", "ma"] if kind == "em-like" else [kind])


@needs_nstdb
@pytest.mark.parametrize("with_beats", [True, False])
def test_noise_at_another_rate_with_or_without_annotations(with_beats: bool) -> None:
    fs = 300.0  # CinC 2017's rate; nstdb is 360 Hz
    t = np.arange(int(30 * fs)) / fs
    beats = np.arange(int(0.4 * fs), t.size - int(0.4 * fs), int(0.8 * fs))
    clean = np.zeros(t.size)
    for b in beats:  # 1.2 mV R wave, 80 ms wide
        clean += 1.2 * np.exp(-0.5 * ((t - t[b]) / 0.012) ** 2)
    noise = NoiseSource("ma", snr_db=10.0, seed=3).scaled(clean, fs, beats if with_beats else None)
    assert noise.samples.shape == clean.shape
    assert qrs_peak_to_peak(clean, fs, None) == pytest.approx(qrs_peak_to_peak(clean, fs, beats), rel=0.01)
    assert measured_snr(clean, clean + noise.samples, fs, beats) == pytest.approx(10.0, abs=0.05)


@needs_mitdb
@needs_nstdb
@pytest.mark.parametrize("target", [0.0, 6.0, 18.0])
def test_ma_snr_holds_at_the_adc(rec101: Record, target: float) -> None:
    cfg = FrontEndConfig()
    clean = EcgSource(rec101, 0, cfg, duration_s=60.0, seed=7)
    noisy = EcgSource(rec101, 0, cfg, noise=NoiseSource("ma", target, seed=2), duration_s=60.0, seed=7)
    ann = noisy.annotations()
    assert ann is not None
    beats = ann.sample[np.asarray(ann.symbol) == "N"]
    assert measured_snr(clean.millivolts(), noisy.millivolts(), cfg.fs, beats) == pytest.approx(
        target, abs=0.5
    )


@needs_mitdb
@needs_nstdb
def test_ac_coupling_only_removes_baseline_wander(rec101: Record) -> None:
    # SNR is set at the electrodes, as nst does; the 0.05 Hz AC coupling then strips part of `bw`.
    cfg = FrontEndConfig()
    clean = EcgSource(rec101, 0, cfg, duration_s=60.0)
    noisy = EcgSource(rec101, 0, cfg, noise=NoiseSource("bw", 6.0, seed=1), duration_s=60.0)
    ann = noisy.annotations()
    assert ann is not None
    beats = ann.sample[np.asarray(ann.symbol) == "N"]
    assert 5.9 <= measured_snr(clean.millivolts(), noisy.millivolts(), cfg.fs, beats) <= 7.0


@needs_mitdb
@needs_nstdb
def test_seeds_reproduce_everything(rec101: Record) -> None:
    def build(noise_seed: int, seed: int) -> EcgSource:
        return EcgSource(
            rec101, 0, noise=NoiseSource("em-like", 3.0, seed=noise_seed), duration_s=20.0, seed=seed
        )

    a, b = build(4, 9), build(4, 9)
    assert np.array_equal(a.codes(), b.codes()) and a.noise_picks == b.noise_picks
    other_noise, other_amp = build(5, 9), build(4, 10)
    assert other_noise.noise_picks != a.noise_picks
    assert not np.array_equal(other_noise.codes(), a.codes())
    assert not np.array_equal(other_amp.codes(), a.codes())


@needs_mitdb
@needs_nstdb
def test_a_whole_record_builds_fast(rec101: Record) -> None:
    t0 = time.perf_counter()
    src = EcgSource(rec101, 0, noise=NoiseSource("ma", 6.0, seed=0))
    codes = src.codes()
    elapsed = time.perf_counter() - t0
    assert codes.size == round(rec101.signal.shape[0] * 250 / 360)
    assert elapsed < 2.0, f"30 min at 360 Hz took {elapsed:.2f} s"


# --- lead-off and blocks -----------------------------------------------------------------------------


def test_lead_off_flat_and_rails_with_flag() -> None:
    x = np.sin(2 * np.pi * 1.3 * np.arange(10 * 360) / 360)
    episodes = [LeadOff(2.0, 3.0, "flat"), LeadOff(5.0, 6.0, "rail"), LeadOff(7.0, 7.5, "rail", polarity=-1)]
    on = EcgSource(synthetic(360.0, x), config=QUIET)
    off = EcgSource(synthetic(360.0, x), config=QUIET, lead_off=episodes)
    codes, flags = off.codes(), off.lead_off_flags()
    assert np.all(codes[500:750] == 0)
    assert np.all(codes[1250:1500] == QUIET.code_max)
    assert np.all(codes[1750:1875] == QUIET.code_min)
    expected_flags = np.zeros(2500, bool)
    expected_flags[500:750] = expected_flags[1250:1500] = expected_flags[1750:1875] = True
    assert np.array_equal(flags, expected_flags)
    assert np.array_equal(codes[~flags], on.codes()[~flags])
    block_flags = [b.lead_off for b in off.blocks(25)]
    assert block_flags == [bool(expected_flags[i : i + 25].any()) for i in range(0, 2500, 25)]
    with pytest.raises(ValueError):
        LeadOff(3.0, 2.0)


def test_blocks_cover_the_stream_read_only() -> None:
    src = EcgSource(synthetic(360.0, np.sin(np.arange(3600) / 50)))
    blocks = list(src.blocks(64))
    assert [b.start for b in blocks] == list(range(0, 2500, 64))
    assert len(blocks[-1].codes) == 2500 % 64
    assert all(b.codes.dtype == np.int32 for b in blocks)
    assert np.array_equal(np.concatenate([b.codes for b in blocks]), src.codes())
    with pytest.raises(ValueError):
        src.codes()[0] = 1


# --- clock and driver --------------------------------------------------------------------------------


def test_ticks_wrap_like_micropython() -> None:
    assert ticks_add(TICKS_MAX, 5) == 4
    assert ticks_diff(ticks_add(TICKS_MAX, 5), TICKS_MAX) == 5
    assert ticks_diff(3, TICKS_PERIOD - 2) == 5
    assert ticks_diff(10, 20) == -10
    clock = VirtualClock(tick_offset_us=(TICKS_PERIOD - 1) * 1000)
    before = clock.ticks_ms()
    clock.sleep_ms(3)
    assert clock.ticks_ms() == 2 and ticks_diff(clock.ticks_ms(), before) == 3
    clock.sleep_until_us(0)  # never goes back
    assert clock.now_us() == 3000


def test_fast_mode_runs_on_virtual_time() -> None:
    src = EcgSource(synthetic(360.0, np.sin(np.arange(60 * 360) / 40)))
    clock = VirtualClock()
    seen: list[tuple[int, int]] = []

    def firmware(block: Block) -> None:
        seen.append((block.start + len(block.codes), clock.ticks_ms()))

    stats = drive(src, firmware, block_size=25, clock=clock)
    assert stats.samples == 15_000 and stats.blocks == 600 and stats.signal_s == pytest.approx(60.0)
    assert all(ms == end * 4 for end, ms in seen)  # each block arrives when its last sample is taken
    assert clock.ticks_ms() == 60_000
    assert stats.speed > 100


def test_realtime_mode_paces_to_the_wall_clock() -> None:
    src = EcgSource(synthetic(360.0, np.zeros(180)))  # 0.5 s
    received: list[int] = []
    stats = drive(src, lambda b: received.append(len(b.codes)), realtime=True, block_size=25)
    assert sum(received) == 125
    assert 0.45 <= stats.wall_s < 1.5
    assert stats.speed == pytest.approx(1.0, abs=0.2)
    with pytest.raises(ValueError):
        drive(src, lambda b: None, realtime=True, clock=VirtualClock())
    with pytest.raises(ValueError):
        drive(src, lambda b: None, realtime=False, clock=RealTimeClock())
