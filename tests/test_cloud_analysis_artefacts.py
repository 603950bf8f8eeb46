"""Baseline steps and the pauses around them: a lead that jumps by millivolts and stays there may
have lost its QRS for a while, and the gap that leaves between beats is flagged, not counted as a
pause of the heart; wander, wide swings and T waves are not steps."""

from __future__ import annotations

import numpy as np
import pytest

from cloud.analysis import analyse
from cloud.analysis.artefacts import STEP_MV, StepLog, baseline_steps
from cloud.analysis.blocks import Reblocker
from cloud.analysis.summary import pauses
from cloud.analysis.synthetic import beat_times, ecg, modulated_rr
from ecg_data.paths import data_root
from ecg_data.wfdb_records import read_wfdb

FS = 250.0
MITDB = data_root() / "mitdb"


def steps_of(x: np.ndarray, fs: float = FS) -> np.ndarray:
    log = StepLog(fs)
    blocks = Reblocker(round(60 * fs), round(5 * fs))
    for block in [*blocks.push(x), *blocks.finish()]:
        log.add(block)
    return log.seconds()


def regular(until_s: float, start_s: float = 0.5, rr_s: float = 0.8) -> np.ndarray:
    return np.arange(start_s, until_s, rr_s)


def test_a_sustained_step_is_found_where_it_is_and_once() -> None:
    x = ecg(regular(120.0), FS, 120.0, noise_mv=0.02)
    at = round(70.3 * FS)
    x[at:] -= 3.0 * np.exp(-np.arange(len(x) - at) / (2.0 * FS))  # a step, then the AC coupling's decay
    (step,) = steps_of(x)
    assert step == pytest.approx(70.3, abs=0.15)


@pytest.mark.parametrize("blocks_s", [10.0, 60.0])
def test_a_step_on_a_block_seam_is_found_once(blocks_s: float) -> None:
    x = ecg(regular(130.0), FS, 130.0)
    at = round(60.0 * FS)
    x[at:] += 2.5
    log = StepLog(FS)
    blocks = Reblocker(round(blocks_s * FS), round(5 * FS))
    for block in [*blocks.push(x), *blocks.finish()]:
        log.add(block)
    assert log.seconds() == pytest.approx([60.0], abs=0.15)


def test_ecg_with_wander_tall_t_waves_and_noise_has_no_step() -> None:
    beats = beat_times(modulated_rr(300.0, 0.7, 0.05, 0.1))
    # R 3 mV, T 0.9 mV, 3 mV of respiratory wander peak to peak.
    x = ecg(beats, FS, 300.0, wander_mv=0.5, noise_mv=0.05) * 3.0
    assert len(steps_of(x)) == 0


def test_a_swing_that_comes_back_is_no_step() -> None:
    # A broad 2.5-mV deflection of 400 ms, as after a wide paced complex: it returns to baseline.
    x = ecg(regular(60.0), FS, 60.0)
    t = np.arange(len(x)) / FS
    x -= 2.5 * np.exp(-0.5 * ((t - 30.2) / 0.12) ** 2)
    assert len(steps_of(x)) == 0


def test_a_step_below_the_threshold_is_no_step() -> None:
    x = ecg(regular(60.0), FS, 60.0)
    x[round(30 * FS) :] += 0.8 * STEP_MV
    assert len(steps_of(x)) == 0


def test_pauses_take_only_steps_strictly_inside_the_gap() -> None:
    beat_s = np.array([1.0, 2.0, 5.0, 6.0, 9.5, 10.0])
    out = pauses(beat_s, 2.0, np.array([2.0, 7.0, 9.6]))
    assert [e["artefact"] for e in out["episodes"]] == [False, True]
    assert out["count"] == 1 and out["longest_s"] == 3.0 and out["in_artefact_count"] == 1
    assert pauses(beat_s, 2.0)["count"] == 2


def test_baseline_steps_of_a_short_block_are_none() -> None:
    blocks = Reblocker(round(60 * FS), 0)
    assert not list(blocks.push(np.zeros(round(0.5 * FS))))
    (block,) = blocks.finish()
    assert len(baseline_steps(block, FS)) == 0


@pytest.mark.skipif(not (MITDB / "116.hea").exists(), reason=f"MIT-BIH not found at {MITDB}")
def test_mitdb_116_lead_loss_is_flagged_not_reported_as_pauses() -> None:
    """At 1355 s and 1391 s MLII steps by 3-5 mV and holds no QRS for seconds (the reference beats
    there can only come from the other lead), and at 1404-1405 s it steps to the rail and back.
    Both gaps are flagged; no pause of the heart is reported."""
    record = read_wfdb(MITDB / "116", sampfrom=1300 * 360, sampto=1450 * 360)
    report = analyse(record.signal[:, record.lead_index("MLII")], record.fs)
    found = report["pauses"]
    assert found["count"] == 0
    assert found["in_artefact_count"] == 2
    onsets = sorted(1300 + e["onset_s"] for e in found["episodes"])
    assert onsets == pytest.approx([1354.4, 1390.6], abs=0.3)
    assert [1300 + t for t in report["artefacts"]["baseline_steps_s"]] == pytest.approx(
        [1354.7, 1390.8, 1404.1, 1405.3], abs=0.3
    )
