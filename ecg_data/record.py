"""What a record is once read: signal in millivolts plus everything known about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

# ANSI/AAMI EC57: every annotation symbol that marks a beat.
BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")


class Episode(NamedTuple):
    """A stretch of one rhythm: samples start <= i < end."""

    start: int
    end: int
    label: str  # the aux note without "(": "N", "VT", "AFIB", "VFL", ...


@dataclass(frozen=True)
class Annotations:
    """Annotations of one record at the record's sampling rate."""

    sample: np.ndarray  # int64 sample indices
    symbol: tuple[str, ...]
    aux: tuple[str, ...]
    # Rhythm episodes from the "(VT", "(N", ... aux notes, each lasting until the next one or the record's end.
    rhythms: tuple[Episode, ...] = ()
    # Ventricular flutter/fibrillation between "[" and "]" symbols (MIT-BIH marks these apart from rhythms).
    flutter: tuple[Episode, ...] = ()

    def beats(self) -> np.ndarray:
        """Sample indices of the beat annotations."""
        mask = np.fromiter((s in BEAT_SYMBOLS for s in self.symbol), bool, len(self.symbol))
        return self.sample[mask]

    def beat_symbols(self) -> tuple[str, ...]:
        """Symbols of the beat annotations, aligned with `beats()`."""
        return tuple(s for s in self.symbol if s in BEAT_SYMBOLS)

    def rhythm_at(self, sample: int) -> str | None:
        """The rhythm label in effect at `sample`; None before the first rhythm annotation."""
        for episode in self.rhythms:
            if episode.start <= sample < episode.end:
                return episode.label
        return None


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
    start: int = 0  # index of signal[0] in the full recording, for windows read with sampfrom

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
