"""Electrode lead-off: what the ADC shows while an electrode is off, and the AFE's status bit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from hardware_sim.front_end import FrontEndConfig

LeadOffMode = Literal["flat", "rail"]


@dataclass(frozen=True)
class LeadOff:
    """One episode, in seconds from the start of the patch stream, end exclusive.

    'flat': the bias drive holds the input at mid-scale, codes 0.
    'rail': the floating input drifts to a supply, codes at the positive (polarity +1) or negative
    (polarity -1) rail.
    """

    start_s: float
    end_s: float
    mode: LeadOffMode = "flat"
    polarity: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.start_s < self.end_s:
            raise ValueError(f"lead-off needs 0 <= start_s < end_s, got {self.start_s}, {self.end_s}")
        if self.mode not in ("flat", "rail"):
            raise ValueError(f"lead-off mode must be 'flat' or 'rail', got {self.mode!r}")
        if self.polarity not in (1, -1):
            raise ValueError(f"polarity must be +1 or -1, got {self.polarity}")


def apply_lead_off(
    codes: np.ndarray, episodes: Sequence[LeadOff], config: FrontEndConfig
) -> tuple[np.ndarray, np.ndarray]:
    """(codes with the episodes applied, per-sample lead-off flag) at the patch's rate."""
    out = np.array(codes, dtype=np.int32)
    flag = np.zeros(out.size, dtype=bool)
    for ep in episodes:
        start = min(out.size, round(ep.start_s * config.fs))
        end = min(out.size, round(ep.end_s * config.fs))
        if ep.mode == "flat":
            out[start:end] = 0
        else:
            out[start:end] = config.code_max if ep.polarity > 0 else config.code_min
        flag[start:end] = True
    return out, flag
