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

`fill_vt` also measures the window's share of power above about 2 Hz (`hf_pm`, per mille): the
window high-passed at 2 Hz (HF_SOS), its power over the signal's variance, in small integers only
(a long integer per sample would be a heap allocation per sample on the MCU). VT, flutter and
fibrillation put most of their power at 2.5-10 Hz; slow baseline waves after a shock or an electrode's drift, which the
SCNN can take for fibrillation once normalised, put almost none there (the event rules' floor,
firmware/events.py vt_min_hf_pm).

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
# 4th-order Butterworth high-pass at 2 Hz (fs 125 Hz) as two biquads (b0, b1, b2, a1, a2; a0 = 1),
# coefficients x 2^13: scipy.signal.butter(4, 2.0, "highpass", fs=125, output="sos"). Its power
# gain: 0.4 % at 1 Hz, 9 % at 1.5 Hz, 50 % at 2 Hz, 86 % at 2.5 Hz. With inputs of at most
# _HF_PEAK_BITS bits the largest sum of products is below 2^29.
_HF_BITS = const(13)
_HF_HALF = const(1 << 12)
_HF_PEAK_BITS = const(11)
HF_SOS = (
    (7183, -14366, 7183, -14918, 6802),
    (8192, -16384, 8192, -15698, 7586),
)
HF_SETTLE = const(125)  # 1 s: the filter's start from rest
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
        self.hf_pm = 0  # the last VT window's power share above about 2 Hz, per mille

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

    def fill_vt(self, out, q) -> None:
        """fill_normalised, and the window's share of power above about 2 Hz in hf_pm."""
        self.fill_normalised(out, q)
        self.hf_pm = self.high_frequency_pm()

    fill_rhythm = fill_normalised

    def high_frequency_pm(self) -> int:
        """1000 x the variance of the window high-passed at 2 Hz (HF_SOS) over its own, both over
        the samples after the filter's first HF_SETTLE (integers; 0 for a flat window).

        Every product and sum stays a small integer (below 2^30, MicroPython's limit before it
        allocates a long integer): the window, less its oldest sample, is scaled so that its
        largest excursion has _HF_PEAK_BITS bits, which bounds the filter's outputs (its gain on
        any input is below 3) and so its products with the 13-bit coefficients; the power sums
        spill into a long integer only every _CARRY."""
        ring = self.ring
        n = self.samples
        j = self.pos  # the oldest sample
        c = ring[j]
        peak = 0
        for i in range(n):
            d = ring[i] - c
            if d < 0:
                d = -d
            if d > peak:
                peak = d
        if peak == 0:
            return 0
        bits = 0
        while peak >> bits:
            bits += 1
        up = _HF_PEAK_BITS - bits  # shift that gives the largest excursion _HF_PEAK_BITS bits
        b0, b1, b2, a1, a2 = HF_SOS[0]
        d0, d1, d2, e1, e2 = HF_SOS[1]
        x1 = x2 = y1 = y2 = z1 = z2 = 0
        r1 = r2 = s1 = s2 = 0  # the last two rounding remainders of each section
        hf = hf_big = hf_sum = 0
        total = total2 = total_big = 0
        for i in range(n):
            x = ring[j] - c
            x = x << up if up >= 0 else x >> -up
            j += 1
            if j == n:
                j = 0
            # Error feedback (1 - 1/z)^2: each section's rounding error would otherwise come out
            # amplified by its poles near DC, as low-frequency power far above the signal's LSB.
            acc = b0 * x + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2 + 2 * r1 - r2
            y = (acc + _HF_HALF) >> _HF_BITS
            r2 = r1
            r1 = acc - (y << _HF_BITS)
            x2 = x1
            x1 = x
            acc = d0 * y + d1 * y1 + d2 * y2 - e1 * z1 - e2 * z2 + 2 * s1 - s2
            z = (acc + _HF_HALF) >> _HF_BITS
            s2 = s1
            s1 = acc - (z << _HF_BITS)
            y2 = y1
            y1 = y
            z2 = z1
            z1 = z
            if i >= HF_SETTLE:
                hf += z * z
                hf_sum += z
                total += x
                total2 += x * x
                if hf > _CARRY:
                    hf_big += hf
                    hf = 0
                if total2 > _CARRY:
                    total_big += total2
                    total2 = 0
        count = n - HF_SETTLE
        var = count * (total_big + total2) - total * total  # count^2 x variance, in scaled codes^2
        if var <= 0:
            return 0
        # The rounding's small constant offset of the output is no high-frequency power: its mean goes.
        return 1000 * (count * (hf_big + hf) - hf_sum * hf_sum) // var
