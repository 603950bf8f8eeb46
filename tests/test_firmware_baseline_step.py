"""firmware/baseline_step.py: the cloud's baseline-step rule, streamed in integers on the patch.

The same record through both gives the same steps (the cloud's cloud/analysis/artefacts.py on mV,
the patch's on ADC codes), the rule's negatives hold on synthetic ECG, and the MicroPython VM
gives the same steps as CPython.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from cloud.analysis.artefacts import StepLog
from cloud.analysis.blocks import Reblocker
from cloud.analysis.synthetic import beat_times, ecg, modulated_rr
from ecg_data.paths import data_root
from ecg_data.wfdb_records import read_wfdb
from firmware.baseline_step import BaselineStep
from hardware_sim.micropython_vm import firmware_modules, run_micropython

FS = 250
LSB_NV = 1000  # 1 uV a code
MITDB = data_root() / "mitdb"


def patch_steps(codes: np.ndarray, fs: int = FS, lsb_nv: int = LSB_NV) -> tuple[list[int], int]:
    """Times (ms) of every step the patch's detector finds, and its merged count."""
    det = BaselineStep(fs, lsb_nv)
    found: list[int] = []
    n = len(codes) // det.per_bin * det.per_bin
    for s in codes[:n].reshape(-1, det.per_bin).sum(axis=1).tolist():
        det.push_bin(int(s))
        if det.found > len(found):
            found.append(det.last_ms)
    return found, det.count


def cloud_steps(x_mv: np.ndarray, fs: float) -> np.ndarray:
    log = StepLog(fs)
    blocks = Reblocker(round(60 * fs), round(5 * fs))
    for block in [*blocks.push(x_mv), *blocks.finish()]:
        log.add(block)
    return log.seconds()


def to_codes(x_mv: np.ndarray) -> np.ndarray:
    return np.round(x_mv * 1e6 / LSB_NV).astype(np.int64)


def sinus(seconds: float, **kw) -> np.ndarray:
    return ecg(np.arange(0.5, seconds, 0.8), FS, seconds, **kw)


def test_a_step_is_found_where_it_is_and_once() -> None:
    x = sinus(60.0, noise_mv=0.02)
    x[30 * FS :] += 3.0
    found, count = patch_steps(to_codes(x))
    assert count == 1 and len(found) == 1 and abs(found[0] - 30000) <= 40
    down, _ = patch_steps(to_codes(-x))
    assert len(down) == 1 and abs(down[0] - 30000) <= 40


def test_wander_tall_t_waves_swings_and_small_steps_are_no_steps() -> None:
    beats = beat_times(modulated_rr(300.0, 0.7, 0.05, 0.1))
    # R 3 mV, T 0.9 mV, 3 mV of respiratory wander peak to peak
    x = ecg(beats, FS, 300.0, wander_mv=0.5, noise_mv=0.05) * 3.0
    assert patch_steps(to_codes(x))[0] == []
    # a broad 2.5-mV deflection of 400 ms, as after a wide paced complex: it comes back
    swing = sinus(60.0)
    t = np.arange(len(swing)) / FS
    swing -= 2.5 * np.exp(-0.5 * ((t - 30.2) / 0.12) ** 2)
    assert patch_steps(to_codes(swing))[0] == []
    small = sinus(60.0, noise_mv=0.02)
    small[30 * FS :] += 1.8
    assert patch_steps(to_codes(small))[0] == []


@pytest.mark.skipif(not (MITDB / "116.hea").exists(), reason=f"MIT-BIH not found at {MITDB}")
def test_mitdb_116_the_patch_finds_the_clouds_steps() -> None:
    record = read_wfdb(MITDB / "116", sampfrom=1300 * 360, sampto=1450 * 360)
    fs = int(record.fs)
    x = np.asarray(record.signal)[:, 0]
    codes = np.round(x * 200).astype(np.int64)  # MIT-BIH's own 5-uV codes
    cloud = cloud_steps(x, record.fs)
    found, count = patch_steps(codes, fs, 5000)
    merged = [t for i, t in enumerate(found) if i == 0 or t - found[i - 1] >= 1000]
    assert len(cloud) >= 2 and count == len(cloud)
    assert np.allclose(np.asarray(merged[: len(cloud)]) / 1000, cloud, atol=0.03), (merged, cloud)


VM_SCRIPT = """
import json
from firmware.baseline_step import BaselineStep
det = BaselineStep(250, 1000)
found = []
for s in BINS:
    det.push_bin(s)
    if det.found > len(found):
        found.append(det.last_ms)
print(json.dumps({"found": found, "count": det.count}))
"""


@pytest.mark.usefixtures("micropython_vm")
def test_micropython_finds_the_same_steps() -> None:
    x = sinus(40.0, noise_mv=0.05, wander_mv=0.5)
    x[12 * FS :] += 2.5
    x[25 * FS :] -= 4.0
    codes = to_codes(x)
    bins = codes[: len(codes) // 5 * 5].reshape(-1, 5).sum(axis=1).tolist()
    result = run_micropython(
        "BINS = " + json.dumps(bins) + "\n" + VM_SCRIPT, firmware_modules(), timeout_s=60
    )
    vm = json.loads(result.stdout.strip().splitlines()[-1])
    found, count = patch_steps(codes)
    assert vm == {"found": found, "count": count}
    assert count == 2
