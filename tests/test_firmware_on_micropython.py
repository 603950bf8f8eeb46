"""The firmware's signal path gives identical beats and RR intervals on the MicroPython VM."""

from __future__ import annotations

import numpy as np
import pytest

from ecg_data.paths import data_root
from ecg_data.wfdb_records import read_wfdb
from hardware_sim.ecg_source import EcgSource
from hardware_sim.firmware_runs import run_cpython, run_micropython_vm
from hardware_sim.front_end import FrontEndConfig
from hardware_sim.noise import NoiseSource
from hardware_sim.patch_qrs import lsb_nv

# Ectopy and noise (203), bundle branch block and pauses (208 has couplets), bigeminy (119).
RECORDS = ["203", "208", "119"]


@pytest.mark.parametrize("name", RECORDS)
def test_same_beats_on_cpython_and_micropython(name: str) -> None:
    path = data_root() / "mitdb" / name
    assert path.with_suffix(".hea").exists(), f"missing test record {path}"
    config = FrontEndConfig(adc_bits=12 if name == "119" else 16)
    source = EcgSource(read_wfdb(path), 0, config, duration_s=600.0, start_s=300.0)
    codes = source.codes()
    on_cpython = run_cpython(codes, config.fs, lsb_nv(config))
    on_vm = run_micropython_vm(codes, config.fs, lsb_nv(config))
    assert len(on_cpython.beats) > 500
    np.testing.assert_array_equal(on_vm.beats, on_cpython.beats)
    np.testing.assert_array_equal(on_vm.rr_ms, on_cpython.rr_ms)


def test_same_beats_under_real_electrode_noise() -> None:
    path = data_root() / "mitdb" / "105"
    if not path.with_suffix(".hea").exists():
        path = data_root() / "mitdb" / "101"
    config = FrontEndConfig()
    noise = NoiseSource("ma", snr_db=6.0, seed=3)
    source = EcgSource(read_wfdb(path), 0, config, noise=noise, duration_s=120.0)
    codes = source.codes()
    on_cpython = run_cpython(codes, config.fs, lsb_nv(config))
    on_vm = run_micropython_vm(codes, config.fs, lsb_nv(config))
    np.testing.assert_array_equal(on_vm.beats, on_cpython.beats)
    np.testing.assert_array_equal(on_vm.rr_ms, on_cpython.rr_ms)
