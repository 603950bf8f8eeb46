"""When the VT network (SCNN, 11 M MAC a window) is worth running: a cheap gate on the beats.

model_plan.VT_MODEL runs every 2.5 s on the last 10 s, but only while the signal path sees
something that could be VT, VF or flutter. The gate opens, for HOLD_MS from the last time one
of these held at a hop, on:

- a fast rate: the signal path's heart rate (mean of its last 8 RR) >= VERY_FAST_BPM, or
  >= FAST_BPM (VT is > 100 bpm) with a V or X label in the last window. Sinus tachycardia and
  AF with a fast ventricular response, narrow-complex and labelled N, keep it shut below 150 bpm
  (a patch without a beat classifier opens on the rate alone);
- a fast ventricular run: RUN_BEATS consecutive detections labelled V, or X (not a beat: what
  the QRS detector finds in flutter and fibrillation), each less than RUN_RR_MS after the last
  (> 100 bpm), within the last window: the start of any VT. Isolated PVCs, bigeminy and
  couplets, however frequent, do not open it: a patient with thousands a day would otherwise
  keep the SCNN running all day;
- beats lost in a large signal: no beat detected for LOST_MS while the last 1-s epoch's peak
  (band-passed) is at least half the running QRS amplitude (the mean peak of epochs that held a
  beat). VF and coarse flutter often defeat the QRS detector; a flat line (asystole) or small
  T waves in a pause do not open the gate.

The hold gives the event rules their windows: with HOLD_MS = 10 s the SCNN scores four more
windows after the last trigger, and while a VT is open the patch runs the SCNN whatever the gate
says, so that the VT ends on three negative windows, not on silence. Cost at each
hop: a comparison or two; per beat and per epoch: a few integer operations.
"""

try:
    from micropython import const
except ImportError:  # CPython
    const = lambda expr: expr  # noqa: E731

FAST_BPM = const(100)
VERY_FAST_BPM = const(150)
RUN_BEATS = const(3)
RUN_RR_MS = const(600)
LOST_MS = const(2000)
HOLD_MS = const(10000)
WINDOW_MS = const(10000)


class VtGate:
    def __init__(self) -> None:
        self._last_v = -WINDOW_MS - 1  # time of the last V or X label
        self._run = 0  # V/X labels in a row (another label ends the run), each within RUN_RR_MS of the last
        self._fast_run = -WINDOW_MS - 1  # time of the last beat of a fast V/X run
        self._last_beat = -1  # time of the last detected beat
        self.labelled = False  # a beat classifier labels the beats; without one, a fast rate suffices
        self._amp = 0  # running QRS amplitude (band-passed codes), 0: not known yet
        self._peak = 0  # the last epoch's peak
        self._until = -1  # the gate stays open before this time
        self.opened = 0  # hops at which the gate was open
        self.reason = 0  # what opened it last: 1 fast, 2 a fast V/X run, 3 lost beats

    def on_beat(self, t: int) -> None:
        """A detection (labelled or not) at t ms."""
        if t > self._last_beat:
            self._last_beat = t

    def on_label(self, t: int, label: str) -> None:
        """Each beat's label, in beat order."""
        if label == "V" or label == "X":
            self._run = self._run + 1 if t - self._last_v < RUN_RR_MS else 1
            if self._run >= RUN_BEATS:
                self._fast_run = t
            self._last_v = t
        else:
            self._run = 0

    def on_epoch(self, peak: int, had_beat: bool) -> None:
        """One 1-s epoch's band-passed peak; had_beat: a beat was detected in it."""
        if had_beat:
            # exponential mean over about 8 epochs
            self._amp = peak if self._amp == 0 else self._amp + (peak - self._amp) // 8
        self._peak = peak

    def large_signal(self) -> bool:
        """The last epoch's peak is at least half the running QRS amplitude."""
        return self._amp > 0 and 2 * self._peak >= self._amp

    def open(self, t: int, hr_bpm: int) -> bool:
        """At a hop ending at t ms: run the SCNN on this window?"""
        why = 0
        if hr_bpm >= VERY_FAST_BPM or (
            hr_bpm >= FAST_BPM and (not self.labelled or t - self._last_v < WINDOW_MS)
        ):
            why = 1
        elif t - self._fast_run < WINDOW_MS:
            why = 2
        elif t - self._last_beat >= LOST_MS and self.large_signal():
            why = 3
        if why:
            self.reason = why
            self._until = t + HOLD_MS
        if t < self._until:
            self.opened += 1
            return True
        return False
