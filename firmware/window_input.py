"""The window models' inputs: the last 10 s of the band-passed signal at 125 Hz.

`push` takes each 125 Hz sample (band-passed ADC codes: the signal path's `on_model_sample` with
model_fs = 125, or a Resampler fed at 250 Hz); `fill_normalised` writes the window, oldest sample
first, into a model's int8 input buffer, as both window models take it (`fill_vt` for the SCNN
and `fill_rhythm` for the rhythm network are the same call): minus the window's mean, over its
standard deviation (at least 0.05 mV), clipped to +-8 (model_compression/rhythm_pipeline.py
normalise), quantized. Amplitude is left out on purpose: a patch's QRS size depends on where it
sits, and one int8 scale in mV could not resolve both fine fibrillation and tall complexes.
Mean and variance are exact integers (N * sum x^2 - (sum x)^2, a long integer once per window),
the standard deviation an integer square root with 16 extra bits.

Quantizer (firmware/inference.py) does the exact rounding. The ring is allocated here, once.
"""

from firmware.beat_input import zeros

try:
    from micropython import const
except ImportError:  # CPython
    const = lambda expr: expr  # noqa: E731

FS = const(125)
WINDOW = const(1250)  # 10 s
CLIP = const(8)  # standard deviations
MIN_STD_NV = const(50000)  # 0.05 mV
_SQRT_BITS = const(16)
_CARRY = const(1 << 29)


def isqrt(n: int) -> int:
    """floor(sqrt(n)) of a non-negative integer (Newton's method; MicroPython has no math.isqrt)."""
    if n <= 0:
        return 0
    bits = 0
    m = n
    while m:
        m >>= 1
        bits += 1
    x = 1 << ((bits + 1) >> 1)
    while True:
        y = (x + n // x) >> 1
        if y >= x:
            return x
        x = y


class WindowInput:
    def __init__(self, lsb_nv: int, samples: int = WINDOW) -> None:
        self.lsb_nv = lsb_nv
        self.samples = samples
        self.ring = zeros(samples)
        self.pos = 0
        self.count = 0  # samples pushed

    def push(self, x: int) -> None:
        pos = self.pos
        self.ring[pos] = x
        pos += 1
        self.pos = 0 if pos == self.samples else pos
        self.count += 1

    def fill_normalised(self, out, q) -> None:
        """out[i] = int8 of (x_i - mean) / max(std, 0.05 mV), clipped to +-8 (q: clip CLIP)."""
        ring = self.ring
        n = self.samples
        total = 0
        for i in range(n):
            total += ring[i]
        c = total // n  # sums about a near mean stay small integers
        s = 0
        acc = 0
        big = 0
        for i in range(n):
            d = ring[i] - c
            s += d
            acc += d * d
            if acc > _CARRY:
                big += acc
                acc = 0
        # n^2 var = n * sum d^2 - (sum d)^2, var in codes^2
        w = n * (big + acc) - s * s
        lsb = self.lsb_nv
        floor = n * MIN_STD_NV  # n * 0.05 mV in nV
        if w * lsb * lsb < floor * floor:
            q.set_unit(floor, lsb)  # v = (n x - sum) * lsb / (n * 0.05 mV)
        else:
            q.set_unit(isqrt(w << (2 * _SQRT_BITS)), 1 << _SQRT_BITS)  # v = (n x - sum) / sqrt(w)
        quant = q.q
        total = n * c + s  # the exact sum
        j = self.pos
        for i in range(n):
            out[i] = quant(n * ring[j] - total)
            j += 1
            if j == n:
                j = 0

    fill_vt = fill_normalised
    fill_rhythm = fill_normalised
