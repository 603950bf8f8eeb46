"""Rational resampling (up L, down M) with a polyphase integer FIR.

The patch samples at one rate and its models may want another; only the output samples
that are kept are computed, one phase of the filter each.
"""

from array import array

from firmware.filter_taps import RESAMPLERS, Q


class Resampler:
    def __init__(self, fs_in: int, fs_out: int) -> None:
        if (fs_in, fs_out) not in RESAMPLERS:
            raise ValueError("no resampler designed for this pair of rates")
        up, down, taps = RESAMPLERS[(fs_in, fs_out)]
        self.up = up
        self.down = down
        self.taps = array("i", taps)
        # Input samples that one output sample spans.
        self.span = (len(taps) + up - 1) // up
        self.line = array("i", [0] * self.span)
        self.pos = 0
        # Position of the next output on the upsampled grid, relative to the newest input.
        self.phase = 0
        # Group delay on the upsampled grid (fs_in * up).
        self.delay_up = (len(taps) - 1) // 2

    def push(self, x: int, out: array) -> int:
        """Take one input sample; write the outputs it completes into `out`, return their count."""
        line = self.line
        pos = self.pos
        line[pos] = x
        span = self.span
        up = self.up
        taps = self.taps
        n_taps = len(taps)
        count = 0
        phase = self.phase
        while phase < up:
            total = 0
            k = phase
            j = pos
            while k < n_taps:
                total += taps[k] * line[j]
                k += up
                j -= 1
                if j < 0:
                    j = span - 1
            out[count] = total >> Q
            count += 1
            phase += self.down
        self.phase = phase - up
        pos += 1
        self.pos = 0 if pos == span else pos
        return count
