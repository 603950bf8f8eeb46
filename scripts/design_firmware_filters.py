"""Writes firmware/filter_taps.py: the patch's integer FIR taps, designed with SciPy.

The firmware cannot design filters itself (single-precision floats on the MCU would round
differently from a PC), so the taps are fixed integers in Q14, checked by a test against
this design.
"""

from __future__ import annotations

import sys
from math import gcd
from pathlib import Path

import numpy as np
from scipy.signal import firwin

Q = 14
LOWPASS_RATES = (125, 200, 250, 256, 360, 500)
RESAMPLE_PAIRS = ((250, 125), (250, 500), (500, 250))
TARGET = Path(__file__).resolve().parent.parent / "firmware" / "filter_taps.py"


def quantize(h: np.ndarray, gain: int) -> list[int]:
    """Round to Q14 with the DC gain exact, the rounding error put on the centre tap."""
    q = np.round(h * (1 << Q) * gain).astype(int)
    q[len(q) // 2] += gain * (1 << Q) - int(q.sum())
    return [int(v) for v in q]


def lowpass_50hz(fs: int) -> list[int]:
    """Linear-phase low-pass, 50 Hz at -6 dB (0.4 fs when fs is low), 120 ms long: flat
    within 1 % to 35 Hz, where the QRS still has energy, and 60 Hz mains down by 28 dB."""
    taps = 2 * round(0.06 * fs) + 1
    return quantize(firwin(taps, min(50.0, 0.4 * fs), fs=fs), 1)


def resampler(fs_in: int, fs_out: int) -> tuple[int, int, list[int]]:
    """Polyphase anti-alias/anti-image filter for fs_in -> fs_out (up L, down M)."""
    g = gcd(fs_in, fs_out)
    up, down = fs_out // g, fs_in // g
    per_phase = 10 if max(up, down) <= 4 else 6
    taps = 2 * per_phase * max(up, down) + 1
    cutoff = 0.45 * min(fs_in, fs_out)
    h = firwin(taps, cutoff, fs=fs_in * up)
    return up, down, quantize(h, up)


def render() -> str:
    lines = [
        '"""Integer FIR taps of the patch (Q14), written by scripts/design_firmware_filters.py."""',
        "",
        f"Q = {Q}",
        "",
        "# Low-pass at 50 Hz by sampling rate, the upper edge of the 0.5-50 Hz band.",
        "LOWPASS_50HZ = {",
    ]
    lines += [f"    {fs}: {tuple(lowpass_50hz(fs))}," for fs in LOWPASS_RATES]
    lines += ["}", "", "# (rate in, rate out): (up, down, taps) of a polyphase resampler.", "RESAMPLERS = {"]
    for pair in RESAMPLE_PAIRS:
        up, down, taps = resampler(*pair)
        lines.append(f"    {pair}: ({up}, {down}, {tuple(taps)}),")
    lines += ["}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    TARGET.write_text(render())
    print(f"wrote {TARGET}", file=sys.stderr)
