"""An ECG source for the firmware: a real record replayed through the patch's front end."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np

from ecg_data.record import Annotations, Record
from hardware_sim.front_end import FrontEnd, FrontEndConfig, rate_ratio
from hardware_sim.lead_off import LeadOff, apply_lead_off
from hardware_sim.noise import NoisePick, NoiseSource
from hardware_sim.snr import normal_beats


class Block(NamedTuple):
    """What the AFE hands over per FIFO read: codes from patch sample `start`, lead-off status bit."""

    start: int
    codes: np.ndarray  # int32, read-only
    lead_off: bool


def _read_only(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


class EcgSource:
    """One lead of `record` (from `start_s`, for `duration_s`) as the patch's ADC would deliver it.

    Codes are built once, vectorised, on first use. `seed` drives the amplifier noise; the noise
    source carries its own seed, so each can be varied alone.
    """

    def __init__(
        self,
        record: Record,
        lead: int | str = 0,
        config: FrontEndConfig | None = None,
        noise: NoiseSource | None = None,
        lead_off: Sequence[LeadOff] = (),
        start_s: float = 0.0,
        duration_s: float | None = None,
        seed: int = 0,
    ) -> None:
        self.record = record
        self.lead = lead if isinstance(lead, int) else record.lead_index(lead)
        self.config = config or FrontEndConfig()
        self.noise = noise
        self.lead_off_episodes = tuple(lead_off)
        self.seed = seed
        n_rec = record.signal.shape[0]
        self._first = min(n_rec, max(0, round(start_s * record.fs)))
        stop = n_rec if duration_s is None else self._first + round(duration_s * record.fs)
        self._stop = min(n_rec, stop)
        if self._stop <= self._first:
            raise ValueError(f"empty replay: start_s={start_s}, duration_s={duration_s}")
        self.noise_picks: tuple[NoisePick, ...] = ()
        self._output: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def fs(self) -> int:
        return self.config.fs

    @property
    def start_s(self) -> float:
        """Record time of patch sample 0 (start_s snapped to a record sample)."""
        return self._first / self.record.fs

    def __len__(self) -> int:
        """Patch samples in the replay (resample_poly's output length), known before building."""
        up, down = rate_ratio(self.record.fs, self.fs)
        return -(-(self._stop - self._first) * up // down)

    @property
    def duration_s(self) -> float:
        return len(self) / self.fs

    def clean_mv(self) -> np.ndarray:
        """The replayed lead at the record's rate, before noise and front end."""
        return np.nan_to_num(self.record.signal[self._first : self._stop, self.lead], nan=0.0)

    def _beats_in_record_slice(self) -> np.ndarray:
        beats = normal_beats(self.record.annotations)
        beats = beats[(beats >= self._first) & (beats < self._stop)]
        return beats - self._first

    def _build(self) -> tuple[np.ndarray, np.ndarray]:
        if self._output is not None:
            return self._output
        fs_in = self.record.fs
        electrode = self.clean_mv()
        if self.noise is not None:
            seg = self.noise.scaled(electrode, fs_in, self._beats_in_record_slice())
            electrode = electrode + seg.samples
            self.noise_picks = seg.picks
        codes = FrontEnd(self.config).convert(electrode, fs_in, np.random.default_rng(self.seed))
        codes, flags = apply_lead_off(codes, self.lead_off_episodes, self.config)
        self._output = (_read_only(codes), _read_only(flags))
        return self._output

    def codes(self) -> np.ndarray:
        """All int32 codes at the patch's rate (read-only), for fast evaluation."""
        return self._build()[0]

    def lead_off_flags(self) -> np.ndarray:
        """Per-sample lead-off status bit."""
        return self._build()[1]

    def millivolts(self) -> np.ndarray:
        """Codes scaled back to input-referred mV, as the firmware sees them."""
        return self.config.to_mv(self.codes())

    def times(self) -> np.ndarray:
        """Record time in seconds of each patch sample, to match detections to annotations."""
        return self.start_s + np.arange(len(self)) / self.fs

    def annotations(self) -> Annotations | None:
        """The record's annotations inside the replay, at patch sample indices round(t * fs)."""
        ann = self.record.annotations
        if ann is None:
            return None
        keep = np.flatnonzero((ann.sample >= self._first) & (ann.sample < self._stop))
        t = (ann.sample[keep] - self._first) / self.record.fs
        sample = np.minimum(np.rint(t * self.fs).astype(np.int64), len(self) - 1)
        return Annotations(
            sample=sample,
            symbol=tuple(ann.symbol[i] for i in keep),
            aux=tuple(ann.aux[i] for i in keep),
        )

    def blocks(self, size: int = 25) -> Iterator[Block]:
        """Successive blocks of `size` samples (the last may be shorter); a block's lead-off bit is
        set when any of its samples is lead-off, as a latched AFE status bit reads."""
        if size <= 0:
            raise ValueError(f"block size must be positive, got {size}")
        codes, flags = self.codes(), self.lead_off_flags()
        for start in range(0, codes.size, size):
            yield Block(start, codes[start : start + size], bool(flags[start : start + size].any()))


# The other name for the same thing.
RecordSource = EcgSource
