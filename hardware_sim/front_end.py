"""The patch's analog front end: AC coupling, anti-aliased sampling at the patch's rate, ADC codes.

Input is the electrode voltage in mV at the record's rate; output is what the firmware reads from
the AFE's FIFO: signed integer codes at the patch's rate, saturated at the rails.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import scipy.signal as sps


@dataclass(frozen=True)
class FrontEndConfig:
    """One AFE setting. Codes depend on `input_range_mv` and `adc_bits` only, as on a real AFE.

    Defaults model a single-lead ECG AFE of the MAX30003 / ADS1292 class:
    - fs 250 Hz: the patch's sampling rate (MAX30003 offers 128/256/512 sps, ADS1292 125 sps and up);
      125 Hz Nyquist keeps the QRS band (5-40 Hz) with margin.
    - ±10 mV input-referred full scale (MAX30003: ±Vref/gain, ±12.5 mV at gain 80 V/V): holds the
      largest QRS (≈5 mV) plus the baseline left after AC coupling, and saturates on large motion
      artefact the way a patch does.
    - 16-bit ADC: LSB = 20 mV / 2**16 ≈ 0.305 µV (12-bit: 4.88 µV), below the amplifier noise.
    - 0.05 Hz first-order high-pass: the diagnostic-ECG low cut-off (AHA, IEC 60601-2-25); it blocks
      electrode offset without distorting ST segments.
    - 1 µV rms amplifier noise: the order of an ECG AFE's input-referred noise in a 150 Hz band
      (ADS1292: about 8 µVpp).
    """

    fs: int = 250  # patch sampling rate, Hz
    adc_bits: int = 16
    input_range_mv: float = 10.0  # ± full scale referred to the electrodes (Vref / amplifier gain)
    # Electrode amplitude relative to the record's lead: a patch's short electrode spacing sees a
    # smaller ECG than a limb lead (≈0.3-1). The firmware cannot know it, as in the field.
    gain: float = 1.0
    highpass_hz: float | None = 0.05  # AC coupling corner; None for DC coupling
    amp_noise_uv_rms: float = 1.0  # white amplifier noise, input-referred, in the 0..fs/2 band

    def __post_init__(self) -> None:
        if self.fs <= 0:
            raise ValueError(f"fs must be positive, got {self.fs}")
        if not 8 <= self.adc_bits <= 24:
            raise ValueError(f"adc_bits must be 8..24 (int32 codes), got {self.adc_bits}")
        if self.input_range_mv <= 0:
            raise ValueError(f"input_range_mv must be positive, got {self.input_range_mv}")
        if self.gain <= 0:
            raise ValueError(f"gain must be positive, got {self.gain}")
        if self.highpass_hz is not None and not 0 < self.highpass_hz < self.fs / 2:
            raise ValueError(f"highpass_hz must be in (0, fs/2), got {self.highpass_hz}")
        if self.amp_noise_uv_rms < 0:
            raise ValueError(f"amp_noise_uv_rms must be >= 0, got {self.amp_noise_uv_rms}")

    @property
    def lsb_mv(self) -> float:
        """Millivolts per code: the full span 2 * input_range_mv over 2**adc_bits codes."""
        return 2.0 * self.input_range_mv / (1 << self.adc_bits)

    @property
    def code_max(self) -> int:
        """Positive rail (two's complement)."""
        return (1 << (self.adc_bits - 1)) - 1

    @property
    def code_min(self) -> int:
        """Negative rail."""
        return -(1 << (self.adc_bits - 1))

    def to_mv(self, codes: np.ndarray) -> np.ndarray:
        """Codes back to input-referred mV, as the firmware scales them."""
        return np.asarray(codes, dtype=np.float64) * self.lsb_mv


def rate_ratio(fs_in: float, fs_out: float) -> tuple[int, int]:
    """(up, down) with fs_out / fs_in = up / down, e.g. 360 -> 250 Hz is (25, 36)."""
    ratio = Fraction(fs_out / fs_in).limit_denominator(1000)
    return ratio.numerator, ratio.denominator


def resample(signal: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Anti-aliased rational resampling. resample_poly's FIR is linear-phase with its delay removed,
    so input time t lands at output index t * fs_out; 'line' padding avoids edge steps."""
    up, down = rate_ratio(fs_in, fs_out)
    x = np.asarray(signal, dtype=np.float64)
    if up == down:
        return x.copy()
    return np.asarray(sps.resample_poly(x, up, down, padtype="line"), dtype=np.float64)


def ac_couple(signal: np.ndarray, fs: float, corner_hz: float) -> np.ndarray:
    """First-order RC high-pass, started in steady state (the patch was on before the replay began)."""
    b, a = sps.butter(1, corner_hz, btype="highpass", fs=fs)
    x = np.asarray(signal, dtype=np.float64)
    if x.size == 0:
        return x.copy()
    zi = sps.lfilter_zi(b, a) * x[0]
    y, _ = sps.lfilter(b, a, x, zi=zi)
    return np.asarray(y, dtype=np.float64)


def quantise(signal_mv: np.ndarray, config: FrontEndConfig) -> np.ndarray:
    """mV to int32 ADC codes: round to the nearest LSB, saturate at the rails."""
    codes = np.rint(np.asarray(signal_mv, dtype=np.float64) / config.lsb_mv)
    np.clip(codes, config.code_min, config.code_max, out=codes)
    return codes.astype(np.int32)


class FrontEnd:
    """Electrode mV at the record's rate -> ADC codes at the patch's rate."""

    def __init__(self, config: FrontEndConfig | None = None) -> None:
        self.config = config or FrontEndConfig()

    def analog(self, electrode_mv: np.ndarray, fs_in: float) -> np.ndarray:
        """The ADC's input in mV at the patch's rate, before amplifier noise and quantisation."""
        cfg = self.config
        # A dropped sample (NaN in WFDB) must not spread through the IIR filter.
        x = np.nan_to_num(np.asarray(electrode_mv, dtype=np.float64) * cfg.gain, nan=0.0)
        if cfg.highpass_hz is not None:
            x = ac_couple(x, fs_in, cfg.highpass_hz)
        return resample(x, fs_in, cfg.fs)

    def convert(self, electrode_mv: np.ndarray, fs_in: float, rng: np.random.Generator) -> np.ndarray:
        """Full chain; amplifier noise is drawn from `rng` at the patch's rate so its rms is as stated."""
        x = self.analog(electrode_mv, fs_in)
        if self.config.amp_noise_uv_rms > 0:
            x = x + rng.normal(0.0, self.config.amp_noise_uv_rms * 1e-3, x.size)
        return quantise(x, self.config)
