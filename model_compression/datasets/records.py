"""Shared helpers for cutting model inputs out of records."""

from __future__ import annotations

import numpy as np

from ecg_data.record import Record

PREFERRED_LEAD = "MLII"


def lead_order(record: Record) -> list[int]:
    """Signal indices with MLII first where present (MIT-BIH 114 stores it second), then the rest."""
    order = list(range(len(record.leads)))
    if PREFERRED_LEAD in record.leads:
        first = record.leads.index(PREFERRED_LEAD)
        order.remove(first)
        order.insert(0, first)
    return order


def take_windows(signal: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """Windows signal[s:s + length] for each start, stacked as (n, length, leads) float32."""
    if len(starts) == 0:
        return np.zeros((0, length, signal.shape[1]), dtype=np.float32)
    index = np.asarray(starts, dtype=np.int64)[:, None] + np.arange(length)
    return signal[index].astype(np.float32)
