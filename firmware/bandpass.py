"""The patch's 0.5-50 Hz band-pass (the founding patent's band), in integers.

A first-order high-pass at 0.5 Hz removes baseline drift, then a linear-phase FIR low-pass
at 50 Hz; together they delay the signal by (taps - 1) / 2 samples, a whole number, so beat
positions stay exact.
"""

from array import array

from firmware.filter_taps import LOWPASS_50HZ, Q

# The high-pass state carries 8 extra fraction bits so the slow pole keeps its precision.
_FRAC = 8


class Bandpass:
    def __init__(self, fs: int) -> None:
        if fs not in LOWPASS_50HZ:
            raise ValueError("no 50 Hz low-pass designed for this rate")
        taps = LOWPASS_50HZ[fs]
        self.taps = array("i", taps)
        self.n_taps = len(taps)
        self.delay = (len(taps) - 1) // 2
        # Pole at 1 - 1/k: cut-off fs / (2 pi k), 0.5 Hz when k = fs / pi.
        self.k = (fs * 1000 + 1570) // 3142
        self.x1 = 0
        self.acc = 0
        self.line = array("i", [0] * len(taps))
        self.pos = 0

    def push(self, x: int) -> int:
        """Filter one sample; the output lags the input by `delay` samples."""
        acc = self.acc + ((x - self.x1) << _FRAC)
        acc -= acc // self.k
        self.acc = acc
        self.x1 = x
        line = self.line
        pos = self.pos
        line[pos] = acc >> _FRAC
        n = self.n_taps
        taps = self.taps
        total = 0
        i = 0
        j = pos
        while i < n:
            total += taps[i] * line[j]
            i += 1
            j -= 1
            if j < 0:
                j = n - 1
        pos += 1
        self.pos = 0 if pos == n else pos
        return total >> Q
