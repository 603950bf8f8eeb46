"""Baseline steps on the raw lead, in integers: an electrode moving, not a heart stopping.

A lead whose baseline jumps by millivolts in a fraction of a second and stays there has lost its
contact for a moment (MIT-BIH 116 at 1355 s: 5 mV, then no QRS on the lead for 6-7 s). The
event rules must not take the silence after it for asystole (firmware/events.py,
on_baseline_step). The rule is the cloud's (cloud/analysis/artefacts.py), streamed: the
baseline is the median of the last 15 bins of 20 ms (300 ms: a QRS fills less than half of
it and leaves the median where it was); a step is where that baseline, having held within half
the threshold for 300 ms, is at least STEP_UV away 300 ms and 600 ms later, the same way. The
step's time is that of the cloud's, so both find the same steps (tests/test_firmware_baseline_step.py).

Fed with bin sums (the caller adds FS * 20 ms raw codes): per bin a 15-element in-place sort
and a few comparisons; 50 bins a second. Allocated once. A step is known 22 bins (440 ms)
after its time.
"""

try:
    from micropython import const
except ImportError:  # CPython
    const = lambda expr: expr  # noqa: E731

BIN_MS = const(20)
WINDOW = const(15)  # bins in a baseline window (300 ms)
STEP_UV = const(2000)  # baseline change that is a step
MERGE_MS = const(1000)  # steps closer than this are counted once
_LEVELS = const(46)  # 3 windows + 1 of baseline levels
_LAG = const(22)  # bins from a step's time to the bin that finds it: 2 windows less the median's centre


class BaselineStep:
    """`push_bin(sum)` for every BIN_MS of raw codes; `last_ms` (ms since the first sample) is
    the latest step's time, `found` counts every step and `count` the steps as the cloud merges
    them."""

    def __init__(self, fs: int, lsb_nv: int, step_uv: int = STEP_UV) -> None:
        self.fs = fs
        self.per_bin = fs * BIN_MS // 1000
        # the threshold in bin-sum units: step_uv microvolts, per_bin codes of lsb_nv nanovolts
        self.thr = step_uv * 1000 * self.per_bin // lsb_nv
        self._bins = [0] * WINDOW
        self._sorted = [0] * WINDOW
        self._levels = [0] * _LEVELS
        self._nb = 0  # bins pushed
        self._jump = False  # the last bin met the rule (a step's first bin is its start)
        self.count = 0  # steps; one within MERGE_MS of the last one counted is the same step
        self.found = 0  # every step, merged or not: the rules hold the silence from the latest
        self.last_ms = -1
        self._counted_ms = -1

    def push_bin(self, s: int) -> None:
        nb = self._nb
        self._bins[nb % WINDOW] = s
        nb += 1
        self._nb = nb
        if nb < WINDOW:
            return
        srt = self._sorted
        srt[:] = self._bins
        srt.sort()
        lv = self._levels
        b = nb - 1
        lv[b % _LEVELS] = srt[WINDOW // 2]
        if nb < WINDOW + 3 * WINDOW:
            return
        thr = self.thr
        now = lv[(b - 2 * WINDOW) % _LEVELS]
        held = lv[(b - 3 * WINDOW) % _LEVELS] - now
        rise = lv[(b - WINDOW) % _LEVELS] - now
        stay = lv[b % _LEVELS] - now
        jump = -thr < 2 * held < thr and ((rise >= thr and stay >= thr) or (rise <= -thr and stay <= -thr))
        if jump and not self._jump:
            t = ((b - _LAG) * self.per_bin + self.per_bin // 2) * 1000 // self.fs
            if self._counted_ms < 0 or t - self._counted_ms >= MERGE_MS:
                self.count += 1
                self._counted_ms = t
            self.found += 1
            self.last_ms = t
        self._jump = jump
