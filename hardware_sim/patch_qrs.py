"""The patch's beat detection on a replayed record: front end, then the firmware's signal path."""

from __future__ import annotations

import numpy as np

from ecg_data.record import Record
from hardware_sim.ecg_source import EcgSource
from hardware_sim.firmware_runs import run_cpython
from hardware_sim.front_end import FrontEndConfig


def lsb_nv(config: FrontEndConfig) -> int:
    """The ADC's step in nanovolts, as the firmware is configured with it."""
    return round(config.lsb_mv * 1e6)


def detect_beats(record: Record, lead_index: int, fs_patch: int = 250) -> np.ndarray:
    """Beat times in seconds of the record's time base, as the patch finds them."""
    config = FrontEndConfig(fs=fs_patch)
    source = EcgSource(record, lead_index, config)
    beats = run_cpython(source.codes(), fs_patch, lsb_nv(config)).beats
    return source.start_s + beats / fs_patch
