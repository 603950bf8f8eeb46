"""Noise stress, after the MIT-BIH Noise Stress Test: real nstdb noise added to the scored lead at a
chosen SNR (as hardware_sim.snr defines it), at the record's own rate.

The noisy lead is built once per record, before any detector runs, so every detector scored on it
sees the same samples and no detector is billed for building it.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, cast, get_args

import numpy as np

from ecg_data.record import Record
from hardware_sim.noise import NoiseKind, NoiseSource
from hardware_sim.snr import normal_beats
from scoring.records import lead_of

NOISE_KINDS: tuple[str, ...] = get_args(NoiseKind)


@dataclass(frozen=True)
class NoiseSpec:
    kind: NoiseKind
    snr_db: float
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in NOISE_KINDS:
            raise ValueError(f"noise kind must be one of {', '.join(NOISE_KINDS)}, got {self.kind!r}")

    def source(self, record_name: str) -> NoiseSource:
        """The record's noise source. Its seed mixes in the record's name: with one seed for all,
        every equally long record would get the very same noise segment."""
        return NoiseSource(self.kind, self.snr_db, zlib.crc32(f"{self.seed}:{record_name}".encode()))

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "snr_db": self.snr_db, "seed": self.seed}

    def describe(self) -> str:
        return f"nstdb {self.kind} noise at {self.snr_db:g} dB SNR (seed {self.seed})"


def describe(spec: NoiseSpec | None) -> str:
    return "no added noise" if spec is None else spec.describe()


def noise_json(spec: NoiseSpec | None) -> dict[str, Any] | None:
    return None if spec is None else spec.to_json()


def spec_from(kind: str | None, snr_db: float | None, seed: int = 0) -> NoiseSpec | None:
    """The spec from `--noise`, `--snr` and `--seed`; None without `--noise`.

    Raises ValueError when only one of `--noise` and `--snr` is given.
    """
    if kind is None:
        if snr_db is not None:
            raise ValueError("--snr needs --noise (ma, bw or em-like)")
        return None
    if snr_db is None:
        raise ValueError("--noise needs --snr DB")
    return NoiseSpec(cast(NoiseKind, kind), float(snr_db), seed)  # __post_init__ checks the kind


def add_noise(record: Record, lead_index: int, spec: NoiseSpec) -> Record:
    """`record` with noise added to lead `lead_index`; the other leads are left as they are.

    The SNR is set against the lead's own normal beats, as EcgSource does with a noise source.
    """
    clean = np.nan_to_num(record.signal[:, lead_index], nan=0.0)
    segment = spec.source(record.name).scaled(clean, record.fs, normal_beats(record.annotations))
    signal = record.signal.copy()
    signal[:, lead_index] = clean + segment.samples
    return dataclasses.replace(record, signal=signal)


def noisy_records(records: Iterable[Record], lead: str | None, spec: NoiseSpec | None) -> Iterator[Record]:
    """Each record with noise on the lead a run scores (all unchanged when `spec` is None); a record
    without that lead passes unchanged, for the run to skip."""
    for record in records:
        index = lead_of(record, lead)
        yield record if spec is None or index is None else add_noise(record, index, spec)
