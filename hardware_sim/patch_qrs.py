"""The patch's beat detection on a replayed record: front end, then the firmware's signal path."""

from __future__ import annotations

import numpy as np

from ecg_data.record import Record
from firmware.signal_path import BEAT_RING, SignalPath
from hardware_sim.ecg_source import EcgSource
from hardware_sim.front_end import FrontEndConfig


def lsb_nv(config: FrontEndConfig) -> int:
    """The ADC's step in nanovolts, as the firmware is configured with it."""
    return round(config.lsb_mv * 1e6)


def run_signal_path(codes: np.ndarray, fs: int, lsb: int) -> np.ndarray:
    """Feed ADC codes through the firmware's signal path; return beat sample indices."""
    path = SignalPath(fs, lsb)
    found: list[int] = []
    seen = 0
    push = path.push
    for code in codes.tolist():
        push(code)
        if path.beat_total != seen:
            while seen < path.beat_total:
                found.append(path.beat_index[seen % BEAT_RING])
                seen += 1
    return np.asarray(found, dtype=np.int64)


def detect_beats(record: Record, lead_index: int, fs_patch: int = 250) -> np.ndarray:
    """Beat times in seconds of the record's time base, as the patch finds them."""
    config = FrontEndConfig(fs=fs_patch)
    source = EcgSource(record, lead_index, config)
    beats = run_signal_path(source.codes(), fs_patch, lsb_nv(config))
    return source.start_s + beats / fs_patch
