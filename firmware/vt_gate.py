"""When the VT network (SCNN, 11 M MAC a window) is worth running: a cheap gate on the beats.

model_plan.VT_MODEL runs every 2.5 s on the last 10 s, but only while the signal path sees
something that could be VT, VF or flutter. The gate opens, for HOLD_MS from the last time one
of these held at a hop, on:

- a fast rate: the signal path's heart rate (mean of its last 8 RR) >= FAST_BPM (VT is > 100 bpm);
- a fast ventricular pair: two consecutive detections labelled V, or X (not a beat: what the
  QRS detector finds in flutter and fibrillation), less than PAIR_MS apart (> 100 bpm), within
  the last window. Isolated PVCs and bigeminy, however frequent, do not open it: a VT starts
  with such a pair, and a patient with thousands of PVCs a day would otherwise keep the SCNN
  running all day;
- beats lost in a large signal: no beat detected for LOST_MS while the last 1-s epoch's peak
  (band-passed) is at least half the running QRS amplitude (the mean peak of epochs that held a
  beat). VF and coarse flutter often defeat the QRS detector; a flat line (asystole) or small
  T waves in a pause do not open the gate.

The hold gives the event rules their windows: with HOLD_MS = 10 s the SCNN scores four more
windows after the last trigger, enough for an open VT to close on three negatives. Cost at each
hop: a comparison or two; per beat and per epoch: a few integer operations.
"""

try:
    from micropython import const
except ImportError:  # CPython
    const = lambda expr: expr  # noqa: E731

FAST_BPM = const(100)
PAIR_MS = const(600)
LOST_MS = const(2000)
HOLD_MS = const(10000)
WINDOW_MS = const(10000)


class VtGate:
    def __init__(self) -> None:
        self._last_v = -PAIR_MS  # time of the last label if it was V or X, else far back
        self._pair = -WINDOW_MS - 1  # time of the last fast V/X pair's second beat
        self._last_beat = -1  # time of the last detected beat
        self._amp = 0  # running QRS amplitude (band-passed codes), 0: not known yet
        self._peak = 0  # the last epoch's peak
        self._until = -1  # the gate stays open before this time
        self.opened = 0  # hops at which the gate was open
        self.reason = 0  # what opened it last: 1 fast, 2 a fast V/X pair, 3 lost beats

    def on_beat(self, t: int) -> None:
        """A detection (labelled or not) at t ms."""
        if t > self._last_beat:
            self._last_beat = t

    def on_label(self, t: int, label: str) -> None:
        """Each beat's label, in beat order."""
        if label == "V" or label == "X":
            if t - self._last_v < PAIR_MS:
                self._pair = t
            self._last_v = t
        else:
            self._last_v = t - PAIR_MS  # a pair is two labels in a row

    def on_epoch(self, peak: int, had_beat: bool) -> None:
        """One 1-s epoch's band-passed peak; had_beat: a beat was detected in it."""
        if had_beat:
            # exponential mean over about 8 epochs
            self._amp = peak if self._amp == 0 else self._amp + (peak - self._amp) // 8
        self._peak = peak

    def open(self, t: int, hr_bpm: int) -> bool:
        """At a hop ending at t ms: run the SCNN on this window?"""
        why = 0
        if hr_bpm >= FAST_BPM:
            why = 1
        elif t - self._pair < WINDOW_MS:
            why = 2
        elif self._amp and t - self._last_beat >= LOST_MS and 2 * self._peak >= self._amp:
            why = 3
        if why:
            self.reason = why
            self._until = t + HOLD_MS
        if t < self._until:
            self.opened += 1
            return True
        return False
