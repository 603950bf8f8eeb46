"""Baseline steps: where a lead jumps by millivolts in a fraction of a second and stays there.

No heart does that. An electrode moving or coming loose, or the amplifier saturating and then
recovering, does, and for seconds after it the lead may hold no QRS at all (MIT-BIH 116 at 1355 s:
a 5-mV step, then a smooth decay with the QRS gone from the lead). A gap between beats around such
a step is lost signal, not a pause of the heart, and a reviewer must be told which is which.

The baseline is the median over 300 ms of the signal averaged in 20-ms bins: a QRS (under 150 ms)
fills less than half of that window and leaves the median where it was, a T wave moves it by well
under a millivolt and back, a step moves it by the step and it stays there. Only these few step times are kept, so the record
is still read in one pass with bounded memory.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import median_filter

from cloud.analysis.blocks import Block

BIN_S = 0.02
BASELINE_S = 0.3
STEP_MV = 2.0  # baseline change between two baseline windows side by side
MERGE_S = 1.0  # steps closer than this are one


def baseline_steps(block: Block, fs: float, step_mv: float = STEP_MV) -> np.ndarray:
    """Times (absolute sample indices, in the block's core) where the baseline 300 ms later and 600 ms
    later both differ by at least `step_mv` from the baseline now, which was within half of that of
    the baseline 300 ms before: the first such bin of each step."""
    per_bin = max(1, round(BIN_S * fs))
    bins = len(block.samples) // per_bin
    window = max(1, round(BASELINE_S / BIN_S))
    if bins <= 4 * window:
        return np.zeros(0, dtype=np.int64)
    binned = block.samples[: bins * per_bin].reshape(bins, per_bin).mean(axis=1)
    level = median_filter(binned, size=window, mode="nearest")
    # From a level that held for a window before to one that still holds a window later, the same
    # way. A wide complex and its T wave swing the baseline and come back: neither the swing nor
    # its return starts from a level that held, or stays.
    before, now = level[: -3 * window], level[window : -2 * window]
    next_, after = level[2 * window : -window], level[3 * window :]
    held = np.abs(now - before) < step_mv / 2
    rise, stay = next_ - now, after - now
    jump = held & (np.abs(rise) >= step_mv) & (np.abs(stay) >= step_mv) & (rise * stay > 0)
    # A step flips the later window's median once that window's centre passes it: the step is about
    # there, at the first bin over the threshold plus one window.
    first = np.flatnonzero(jump & ~np.concatenate([[False], jump[:-1]])) + window
    at = block.offset + (first + window) * per_bin + per_bin // 2
    return at[(at >= block.core_start) & (at < block.core_end)].astype(np.int64)


class StepLog:
    """Baseline steps of a stream, block after block; near ones merged."""

    def __init__(self, fs: float) -> None:
        self.fs = fs
        self._merge = round(MERGE_S * fs)
        self._steps: list[int] = []

    def add(self, block: Block) -> None:
        for t in baseline_steps(block, self.fs).tolist():
            if not self._steps or t - self._steps[-1] >= self._merge:
                self._steps.append(t)

    def seconds(self) -> np.ndarray:
        return np.asarray(self._steps, dtype=np.float64) / self.fs
