"""What a record is once read: signal in millivolts plus everything known about it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# ANSI/AAMI EC57: every annotation symbol that marks a beat.
BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")


@dataclass(frozen=True)
class Annotations:
    """Annotations of one record at the record's sampling rate."""

    sample: np.ndarray  # int64 sample indices
    symbol: tuple[str, ...]
    aux: tuple[str, ...]

    def beats(self) -> np.ndarray:
        """Sample indices of the beat annotations."""
        mask = np.fromiter((s in BEAT_SYMBOLS for s in self.symbol), bool, len(self.symbol))
        return self.sample[mask]


@dataclass(frozen=True)
class Record:
    name: str
    database: str
    fs: float
    signal: np.ndarray  # (samples, leads) float64, millivolts
    leads: tuple[str, ...]
    units: tuple[str, ...]
    label: str | None = None  # CinC 2017 rhythm label (N, A, O, ~)
    annotations: Annotations | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return self.signal.shape[0] / self.fs

    def lead_index(self, lead: str | None) -> int:
        """Index of the named lead; the first signal when `lead` is None."""
        if lead is None:
            return 0
        if lead not in self.leads:
            raise KeyError(f"record {self.name} has no lead {lead!r} (it has {', '.join(self.leads)})")
        return self.leads.index(lead)
