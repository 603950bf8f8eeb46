"""Beat classification scored as ANSI/AAMI EC57 does: a confusion of reference class by model class
over matched beats, with a row for detections that match no beat and a column for missed beats.

- VEB sensitivity: ventricular ectopic beats labelled V, over all reference V beats (missed included).
- VEB positive predictivity: V labels on reference V beats, over all V labels, where V labels on
  fusion beats count neither way (EC57: a fusion beat is partly ventricular) and V labels on
  detections that match no beat count against.
- SVEB: the same with S, fusion beats counted like any other.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from model_compression.datasets.aami import AAMI_CLASSES
from scoring.beat_match import positive_predictivity, sensitivity

NOT_A_BEAT = "O"  # row: a detection with no reference beat
MISSED = "-"  # column: a reference beat with no detection
REFERENCE_ROWS: tuple[str, ...] = (*AAMI_CLASSES, NOT_A_BEAT)
MODEL_COLUMNS: tuple[str, ...] = (*AAMI_CLASSES, MISSED)


def class_confusion(reference: Sequence[str], model: Sequence[str]) -> np.ndarray:
    """(6, 6) counts; `reference` is an AAMI class or NOT_A_BEAT, `model` an AAMI class or MISSED,
    one pair per matched beat, false detection or missed beat."""
    if len(reference) != len(model):
        raise ValueError(f"{len(reference)} reference labels but {len(model)} model labels")
    matrix = np.zeros((len(REFERENCE_ROWS), len(MODEL_COLUMNS)), dtype=np.int64)
    rows = {c: i for i, c in enumerate(REFERENCE_ROWS)}
    cols = {c: i for i, c in enumerate(MODEL_COLUMNS)}
    for r, m in zip(reference, model, strict=True):
        try:
            matrix[rows[str(r)], cols[str(m)]] += 1
        except KeyError as exc:
            raise ValueError(f"unknown label {exc.args[0]!r}") from None
    return matrix


def class_stats(matrix: np.ndarray) -> dict[str, float]:
    """VEB and SVEB sensitivity and positive predictivity (fractions; NaN without cases)."""
    m = np.asarray(matrix)
    r = {c: i for i, c in enumerate(REFERENCE_ROWS)}
    c = {k: i for i, k in enumerate(MODEL_COLUMNS)}
    v, s, f = c["V"], c["S"], r["F"]
    vv = int(m[r["V"], v])
    v_labels = int(m[:, v].sum() - m[f, v])
    ss = int(m[r["S"], s])
    return {
        "veb_sensitivity": sensitivity(vv, int(m[r["V"]].sum()) - vv),
        "veb_ppv": positive_predictivity(vv, v_labels - vv),
        "sveb_sensitivity": sensitivity(ss, int(m[r["S"]].sum()) - ss),
        "sveb_ppv": positive_predictivity(ss, int(m[:, s].sum()) - ss),
    }
