"""What the cross-validations share: results kept per fold for `--resume`, and their spread."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from model_compression.training.run_folder import RunFolder


def kept_result(run: RunFolder, k: int, folds: int, *, resume: bool, label: str) -> dict[str, Any] | None:
    """Fold k's result from an earlier run of the same config, when resuming and it is there."""
    name = f"cv/fold{k}/result.json"
    if not (resume and run.has(name)):
        return None
    print(f"{label}: fold {k + 1}/{folds}: done before, kept", file=sys.stderr, flush=True)
    result: dict[str, Any] = run.read_json(name)
    return result


def nan_mean(values: Sequence[float | None]) -> float:
    v = _finite(values)
    return float(v.mean()) if len(v) else math.nan


def nan_std(values: Sequence[float | None]) -> float:
    v = _finite(values)
    return float(v.std()) if len(v) else math.nan


def _finite(values: Sequence[float | None]) -> np.ndarray:
    return np.array([x for x in values if x is not None and not math.isnan(x)], dtype=np.float64)
