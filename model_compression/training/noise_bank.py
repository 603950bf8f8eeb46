"""Real electrode noise from nstdb for augmentation, band-passed as the patch's models see it.

Muscle artefact (`ma`) and baseline wander (`bw`), both channels, scaled to unit rms; a training
batch takes random stretches of it at a random signal-to-noise ratio.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from ecg_data.paths import data_root
from ecg_data.wfdb_records import read_wfdb
from model_compression.datasets.preprocess import model_input

NOISE_RECORDS = ("ma", "bw")


@lru_cache(maxsize=8)
def noise_bank(fs: int, root: str | None = None) -> tuple[np.ndarray, ...]:
    """One unit-rms array per record and channel, at `fs`, through the models' band-pass."""
    folder = Path(root) if root else data_root() / "nstdb"
    out = []
    for name in NOISE_RECORDS:
        record = read_wfdb(folder / name, annotator=None)
        signal = model_input(record.signal, record.fs, fs)
        for channel in range(signal.shape[1]):
            s = signal[:, channel] - signal[:, channel].mean()
            out.append((s / max(float(s.std()), 1e-9)).astype(np.float32))
    return tuple(out)


def add_noise(
    x: np.ndarray,
    rng: np.random.Generator,
    bank: tuple[np.ndarray, ...],
    *,
    signal_rms: np.ndarray,
    snr_db: tuple[float, float] = (0.0, 24.0),
    probability: float = 0.5,
) -> np.ndarray:
    """x (n, samples, leads) plus, for a `probability` share of rows, a random noise stretch with
    rms = signal_rms / 10**(snr/20); `signal_rms` (n,) is each row's reference level."""
    n, samples = x.shape[0], x.shape[1]
    out = x.copy()
    chosen = np.flatnonzero(rng.random(n) < probability)
    if not len(chosen):
        return out
    snr = rng.uniform(*snr_db, size=len(chosen))
    gain = np.asarray(signal_rms)[chosen] / 10 ** (snr / 20)
    for row, g in zip(chosen, gain, strict=True):
        for lead in range(x.shape[2]):
            source = bank[int(rng.integers(len(bank)))]
            start = int(rng.integers(len(source) - samples))
            out[row, :, lead] += g * source[start : start + samples]
    return out
