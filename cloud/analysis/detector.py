"""QRS detection, block by block: vectorised per sample, sequential only per candidate peak.

After Hamilton and Tompkins (1986), the scheme the patch's firmware also follows: a QRS band-pass
(8-20 Hz), the absolute derivative, an 80 ms moving mean (the energy envelope), its local maxima
at least 200 ms apart as candidates, then adaptive thresholds from the means of the last eight
QRS and noise peaks, and search-back for a missed beat after 1.5 mean RR. Of two peaks within
360 ms, one under half the other is a T or P wave (after Pan and Tompkins, 1985). Everything per
sample is NumPy/SciPy on a whole block; the decisions, a few per second, run in a loop whose state
carries over from block to block, so a record is detected as if in one piece.

Each beat is placed on the R peak of the clean (0.5-40 Hz) signal near its envelope maximum, with
the block's dominant QRS polarity, so RR intervals run between like points of the QRS.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import scipy.signal as sps

from cloud.analysis.blocks import Block
from cloud.analysis.filters import QRS_BAND_HZ, clean, moving_mean, qrs_band


@dataclass(frozen=True)
class DetectorConfig:
    band_hz: tuple[float, float] = QRS_BAND_HZ
    derivative_s: float = 0.01
    window_s: float = 0.08  # envelope: moving mean of |derivative| over about a QRS width
    refractory_s: float = 0.2  # of two candidates closer than this, only the larger is one
    place_s: float = 0.06  # R-peak search half-width around the envelope maximum
    learn_s: float = 8.0  # first thresholds from the largest candidate of each of these seconds
    threshold: float = 0.3125  # fraction of the way from the noise mean to the QRS mean
    history: int = 8  # peaks and RR intervals the means run over
    searchback_rr: float = 1.5  # search back once this many mean RR pass without a beat
    searchback_min_s: float = 0.36  # nor this close after a beat: T waves
    wave_ratio: float = 0.5  # of two peaks closer than searchback_min_s, one below this share of the other is a wave
    reset_s: float = 8.0  # thresholds relearnt after this long without a beat
    min_peak: float = 2.0  # envelope units (mV/s): about a 0.1 mV QRS; below, nothing is a beat


@dataclass(frozen=True)
class Candidates:
    """Envelope maxima in a block's core: absolute envelope index, height and placed R-peak index."""

    index: np.ndarray
    height: np.ndarray
    placed: np.ndarray


def candidates(block: Block, fs: float, config: DetectorConfig) -> Candidates:
    """All candidate peaks of the block's core, found and placed in one vectorised pass."""
    x = block.samples
    if len(x) < 16:
        empty = np.zeros(0, dtype=np.int64)
        return Candidates(empty, np.zeros(0), empty)
    band = qrs_band(x, fs, config.band_hz)
    half = max(1, round(config.derivative_s * fs / 2))
    slope = np.zeros_like(band)
    slope[half:-half] = np.abs(band[2 * half :] - band[: -2 * half]) * (fs / (2 * half))
    envelope = moving_mean(slope, round(config.window_s * fs))
    peaks, props = sps.find_peaks(
        envelope, height=config.min_peak, distance=max(1, round(config.refractory_s * fs))
    )
    absolute = peaks + block.offset
    core = (absolute >= block.core_start) & (absolute < block.core_end)
    peaks = peaks[core]
    placed = _place(clean(x, fs), peaks, round(config.place_s * fs))
    return Candidates(absolute[core], props["peak_heights"][core], placed + block.offset)


def _place(signal: np.ndarray, peaks: np.ndarray, half: int) -> np.ndarray:
    """Index of the R peak near each envelope maximum, on the polarity that dominates the block."""
    if len(peaks) == 0:
        return peaks.astype(np.int64)
    offsets = np.arange(-half, half + 1)
    index = np.clip(peaks[:, None] + offsets, 0, len(signal) - 1)
    windows = signal[index]
    highs, lows = windows.max(axis=1), -windows.min(axis=1)
    # Judge polarity on the stronger half of the candidates (QRS rather than T waves or noise).
    strong = highs + lows >= np.median(highs + lows)
    sign = 1.0 if np.median(highs[strong] - lows[strong]) >= 0 else -1.0
    return index[np.arange(len(peaks)), np.argmax(sign * windows, axis=1)].astype(np.int64)


class QrsDetector:
    """Feed blocks in order with `block`; each returns the beats (absolute sample indices) it settled.

    A beat can be settled one block late (search-back), and the first ones wait for `learn_s` of
    signal; `finish` returns the last ones. Beats come out in time order, never twice.
    """

    def __init__(self, fs: float, config: DetectorConfig | None = None) -> None:
        self.fs = fs
        self.config = c = config or DetectorConfig()
        self._learn_end = round(c.learn_s * fs)
        self._sb_min = round(c.searchback_min_s * fs)
        self._reset = round(c.reset_s * fs)
        self._min_gap = round(c.refractory_s * fs)
        self._qrs: deque[float] = deque(maxlen=c.history)
        self._noise: deque[float] = deque(maxlen=c.history)
        self._rr: deque[int] = deque(maxlen=c.history)
        self._recent: deque[tuple[int, float]] = deque()  # candidates of the last reset_s, for relearning
        self._learning: list[tuple[int, float, int]] | None = []
        self._threshold = 0.0
        self._last: int | None = None  # envelope index of the last beat
        self._since = 0  # envelope index of the last beat or relearning
        self._last_placed = -(1 << 62)
        self._best: tuple[int, float, int] | None = None  # search-back candidate since the last beat
        self._beat: tuple[int, float, int] | None = None  # the last beat, until no later peak can retract it
        self._before: int | None = None  # envelope index of the beat before it
        self._out: list[int] = []

    def block(self, block: Block) -> np.ndarray:
        found = candidates(block, self.fs, self.config)
        for item in zip(found.index.tolist(), found.height.tolist(), found.placed.tolist(), strict=True):
            self._candidate(item)
        if self._learning is not None and block.core_end >= self._learn_end:
            self._learn(block.core_end)
        # What the next candidate would decide anyway, decided now, so beats are not held over a
        # long gap: any later candidate is too late to retract the pending beat.
        self._search_back(block.core_end)
        if self._beat is not None and block.core_end - self._beat[0] >= self._sb_min:
            self._settle()
        return self._take()

    def finish(self, end: int) -> np.ndarray:
        """Settle what is left once the stream has ended at absolute sample `end`."""
        if self._learning is not None:
            self._learn(end)
        self._search_back(end)
        self._settle()
        return self._take()

    def _take(self) -> np.ndarray:
        out = np.asarray(self._out, dtype=np.int64)
        self._out = []
        return out

    def _candidate(self, item: tuple[int, float, int]) -> None:
        if self._learning is not None:
            if item[0] < self._learn_end:
                self._learning.append(item)
                return
            self._learn(item[0])
        t, height, _ = item
        self._search_back(t)
        self._remember(t, height)
        if t - self._since > self._reset:
            self._relearn(t)
        beat = self._beat
        if beat is not None and t - beat[0] < self._sb_min:
            # Two peaks within 360 ms: one much smaller than the other is a T (or P) wave, not a beat.
            if height < self.config.wave_ratio * beat[1]:
                self._add_noise(height)
                return
            if beat[1] < self.config.wave_ratio * height:
                self._retract()
                self._accept(item)
                return
        elif beat is not None:
            self._settle()
        if height > self._threshold:
            self._accept(item)
            return
        self._add_noise(height)
        if (self._last is None or t - self._last >= self._sb_min) and (
            self._best is None or height > self._best[1]
        ):
            self._best = item

    def _search_back(self, now: int) -> None:
        """Take the best sub-threshold candidate as a beat once 1.5 mean RR have passed without one."""
        if self._last is None or self._best is None:
            return
        mean_rr = sum(self._rr) / len(self._rr) if self._rr else self.fs
        if now - self._last > self.config.searchback_rr * mean_rr and self._best[1] > self._threshold / 2:
            self._accept(self._best)

    def _accept(self, item: tuple[int, float, int]) -> None:
        self._settle()
        t, height, _ = item
        self._qrs.append(height)
        self._before = self._last
        if self._last is not None:
            self._rr.append(t - self._last)
        self._last = self._since = t
        self._beat = item
        self._best = None
        self._update_threshold()

    def _retract(self) -> None:
        """Undo the pending beat: it was the P wave of the larger QRS that followed it."""
        assert self._beat is not None
        self._qrs.pop()
        if self._before is not None:
            self._rr.pop()
        self._noise.append(self._beat[1])
        self._last = self._before
        self._beat = None

    def _settle(self) -> None:
        """Emit the pending beat: nothing later can retract it any more."""
        if self._beat is None:
            return
        placed = self._beat[2]
        if placed - self._last_placed >= self._min_gap:
            self._out.append(placed)
            self._last_placed = placed
        self._beat = None

    def _add_noise(self, height: float) -> None:
        self._noise.append(height)
        self._update_threshold()

    def _update_threshold(self) -> None:
        qrs = sum(self._qrs) / len(self._qrs) if self._qrs else 0.0
        noise = sum(self._noise) / len(self._noise) if self._noise else 0.0
        self._threshold = noise + self.config.threshold * (qrs - noise)

    def _remember(self, t: int, height: float) -> None:
        self._recent.append((t, height))
        while self._recent and self._recent[0][0] < t - self._reset:
            self._recent.popleft()

    def _thresholds_from(self, items: list[tuple[int, float]], start: int, stop: int) -> None:
        """QRS mean from the largest candidate of each second in [start, stop); noise forgotten."""
        second = max(1, round(self.fs))
        seconds = max(1, -(-(stop - start) // second))
        maxima = [0.0] * seconds
        for t, height in items:
            k = min(seconds - 1, max(0, (t - start) // second))
            maxima[k] = max(maxima[k], height)
        self._qrs.clear()
        self._qrs.extend(maxima[-self.config.history :])
        self._noise.clear()
        self._rr.clear()
        self._update_threshold()

    def _learn(self, now: int) -> None:
        learning, self._learning = self._learning or [], None
        self._since = self._learn_end
        self._thresholds_from([(t, h) for t, h, _ in learning], 0, min(now, self._learn_end))
        for item in learning:
            self._candidate(item)

    def _relearn(self, now: int) -> None:
        self._thresholds_from(list(self._recent), now - self._reset, now)
        self._settle()
        self._last = None
        self._best = None
        self._since = now
