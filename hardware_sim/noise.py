"""Real electrode noise from the MIT-BIH Noise Stress Test Database, scaled to a chosen SNR."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args

import numpy as np

from ecg_data.paths import data_root
from ecg_data.wfdb_records import read_wfdb
from hardware_sim.front_end import resample
from hardware_sim.snr import noise_gain, noise_rms, qrs_peak_to_peak

NoiseKind = Literal["ma", "bw", "em-like"]
# nstdb's electrode-motion record `em` is not in the data set; electrode motion is baseline wander
# plus muscle noise, so 'em-like' adds a `bw` and an `ma` segment of equal noise amplitude.
_PARTS: dict[str, tuple[str, ...]] = {"ma": ("ma",), "bw": ("bw",), "em-like": ("bw", "ma")}


@dataclass(frozen=True)
class NoisePick:
    """Where a noise segment came from, to report or reproduce it."""

    record: str
    channel: int
    offset_s: float


@dataclass(frozen=True)
class NoiseSegment:
    samples: np.ndarray  # mV at the requested rate, zero mean, unscaled
    picks: tuple[NoisePick, ...]


@lru_cache(maxsize=4)
def _noise_record(folder: str, name: str) -> tuple[np.ndarray, float]:
    rec = read_wfdb(Path(folder) / name, annotator=None)
    signal = rec.signal.copy()
    signal.setflags(write=False)
    return signal, rec.fs


class NoiseSource:
    """Picks a real noise segment (channel and offset from a seeded RNG) and scales it to `snr_db`
    against a clean signal, with the nst definition of SNR (see hardware_sim.snr)."""

    def __init__(
        self,
        kind: NoiseKind = "ma",
        snr_db: float = 12.0,
        seed: int = 0,
        folder: str | Path | None = None,
    ) -> None:
        if kind not in get_args(NoiseKind):
            raise ValueError(f"noise kind must be one of {get_args(NoiseKind)}, got {kind!r}")
        self.kind: NoiseKind = kind
        self.snr_db = float(snr_db)
        self.seed = seed
        self.folder = Path(folder) if folder is not None else data_root() / "nstdb"

    def segment(self, n: int, fs: float) -> NoiseSegment:
        """`n` samples of unscaled noise at rate `fs`; the same seed gives the same segment."""
        rng = np.random.default_rng(self.seed)
        parts = [self._pick(name, n, fs, rng) for name in _PARTS[self.kind]]
        if len(parts) == 1:
            samples = parts[0][0]
        else:
            # Equal noise amplitude per part, so neither dominates an 'em-like' mix.
            samples = sum((p / max(noise_rms(p, fs), 1e-12) for p, _ in parts), np.zeros(n))
        return NoiseSegment(samples, tuple(pick for _, pick in parts))

    def _pick(self, name: str, n: int, fs: float, rng: np.random.Generator) -> tuple[np.ndarray, NoisePick]:
        signal, noise_fs = _noise_record(str(self.folder), name)
        channel = int(rng.integers(signal.shape[1]))
        # A few extra source samples so resampling has no short tail.
        need = int(np.ceil(n * noise_fs / fs)) + 2
        length = signal.shape[0]
        offset = int(rng.integers(0, max(1, length - need)))
        idx = (offset + np.arange(need)) % length  # longer than the record: rewind, as nst does
        part = resample(signal[idx, channel], noise_fs, fs)[:n]
        return part - part.mean(), NoisePick(name, channel, offset / noise_fs)

    def scaled(self, clean: np.ndarray, fs: float, beats: np.ndarray | None = None) -> NoiseSegment:
        """Noise to add to `clean` (mV at `fs`) for the target SNR; `beats` are sample indices in it."""
        seg = self.segment(len(clean), fs)
        a = noise_gain(qrs_peak_to_peak(clean, fs, beats), noise_rms(seg.samples, fs), self.snr_db)
        return NoiseSegment(seg.samples * a, seg.picks)
