"""What the patch does to the ECG before its models see it, vectorised for whole recordings: sample
at the patch's rate, the firmware's 0.5-50 Hz band-pass there (firmware/bandpass.py), then the
firmware's own resampler (firmware/resample.py) to a model's lower rate."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import scipy.signal as sps

from firmware.filter_taps import LOWPASS_50HZ, RESAMPLERS, Q

_FRAC = 8  # the firmware high-pass's extra fraction bits
PATCH_FS = 250  # the rate the patch samples and band-passes at (hardware_sim/front_end.py)


def resample(signal: np.ndarray, fs_in: float, fs_out: int) -> np.ndarray:
    """Resample along axis 0 with a polyphase FIR (the AFE's anti-aliased sampling)."""
    ratio = Fraction(fs_out) / Fraction(fs_in).limit_denominator(1000)
    if ratio == 1:
        return np.asarray(signal, dtype=np.float64)
    return sps.resample_poly(signal, ratio.numerator, ratio.denominator, axis=0)


def highpass_pole(fs: int) -> int:
    """k of the firmware's pole at 1 - 1/k (0.5 Hz when k = fs / pi), in its integer rounding."""
    return (fs * 1000 + 1570) // 3142


def lowpass_taps(fs: int) -> np.ndarray:
    if fs not in LOWPASS_50HZ:
        raise ValueError(f"the firmware has no 50 Hz low-pass for {fs} Hz (it has {sorted(LOWPASS_50HZ)})")
    return np.asarray(LOWPASS_50HZ[fs], dtype=np.int64)


def bandpass_delay(fs: int) -> int:
    """Samples by which the firmware's band-pass output lags its input."""
    return (len(lowpass_taps(fs)) - 1) // 2


def bandpass(signal: np.ndarray, fs: int, *, aligned: bool = True, steady_start: bool = True) -> np.ndarray:
    """The firmware's band-pass along axis 0, in floating point (its integer rounding left out).

    `aligned` removes the FIR's delay so sample i still belongs to input time i (the firmware does
    the same for beat times); the tail is filtered from the last value held. `steady_start` starts
    the high-pass as if the first value had always been there, as on a patch that has been running,
    instead of from 0 as a freshly booted firmware does.
    """
    x = np.asarray(signal, dtype=np.float64)
    if steady_start and len(x):
        x = x - x[:1]
    delay = bandpass_delay(fs)
    if aligned and len(x):
        x = np.concatenate([x, np.repeat(x[-1:], delay, axis=0)])
    # acc_n = (acc_{n-1} + x_n - x_{n-1}) * (1 - 1/k): a first-order high-pass with zero at DC.
    a = 1.0 - 1.0 / highpass_pole(fs)
    high = sps.lfilter([a, -a], [1.0, -a], x, axis=0)
    low = sps.lfilter(lowpass_taps(fs) / float(1 << Q), [1.0], high, axis=0)
    return low[delay:] if aligned else low


def bandpass_codes(codes: np.ndarray, fs: int) -> np.ndarray:
    """The firmware's band-pass on integer codes, bit-exact (1-D): its reference for `bandpass`.

    The high-pass rounds down at every step, which no linear filter reproduces, so it runs as a
    loop; the FIR is exact in int64.
    """
    k = highpass_pole(fs)
    acc = 0
    x1 = 0
    high = np.empty(len(codes), dtype=np.int64)
    for n, x in enumerate(np.asarray(codes, dtype=np.int64).tolist()):
        acc += (x - x1) << _FRAC
        acc -= acc // k
        x1 = x
        high[n] = acc >> _FRAC
    return np.convolve(high, lowpass_taps(fs))[: len(codes)] >> Q


def firmware_resample(signal: np.ndarray, fs_in: int, fs_out: int) -> np.ndarray:
    """The firmware's polyphase resampler along axis 0, in floating point, its delay removed."""
    up, down, taps = RESAMPLERS[(fs_in, fs_out)]
    delay_up = (len(taps) - 1) // 2
    if delay_up % down:
        raise ValueError(f"the {fs_in}->{fs_out} Hz resampler's delay is not a whole output sample")
    x = np.asarray(signal, dtype=np.float64)
    pad = -(-delay_up // up)
    if len(x):
        x = np.concatenate([x, np.repeat(x[-1:], pad, axis=0)])
    y = sps.upfirdn(np.asarray(taps, dtype=np.float64) / float(1 << Q), x, up, down, axis=0)
    count = -(-len(signal) * up // down)
    return y[delay_up // down : delay_up // down + count]


def model_input(signal: np.ndarray, fs_in: float, fs: int) -> np.ndarray:
    """A recording (samples, leads) in mV as the patch's models receive it, band-passed, at `fs`.

    Where the firmware band-passes at the patch's rate and resamples for the model, so does this:
    the two orders differ in the band edge (the resampler's anti-alias filter) and in ripple.
    """
    if fs != PATCH_FS and (PATCH_FS, fs) in RESAMPLERS:
        return firmware_resample(bandpass(resample(signal, fs_in, PATCH_FS), PATCH_FS), PATCH_FS, fs)
    return bandpass(resample(signal, fs_in, fs), fs)
