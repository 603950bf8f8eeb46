"""Cross-validation folds that keep each patient on one side.

A beat or window of one patient in training and another of the same patient in validation
inflates every score (de Chazal et al. 2004), so folds are built from whole groups (records,
mapped to patients where two records share one).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

# de Chazal et al. 2004, inter-patient split of MIT-BIH (paced records 102, 104, 107, 217 excluded).
DS1: tuple[str, ...] = (
    "101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122",
    "124", "201", "203", "205", "207", "208", "209", "215", "220", "223", "230",
)  # fmt: skip
DS2: tuple[str, ...] = (
    "100", "103", "105", "111", "113", "117", "121", "123", "200", "202", "210",
    "212", "213", "214", "219", "221", "222", "228", "231", "232", "233", "234",
)  # fmt: skip
PACED: tuple[str, ...] = ("102", "104", "107", "217")

# MIT-BIH records 201 and 202 come from the same man (the database's directory of records).
_SAME_PATIENT = {("mitdb", "202"): "201"}

Fold = tuple[np.ndarray, np.ndarray]  # (train indices, validation indices)

# The folds are the evaluation protocol: a training seed changes the training, not who is held
# out, so runs with different seeds can be compared and averaged fold by fold.
SPLIT_SEED = 0


def patient_id(database: str, record: str) -> str:
    """A patient key unique across databases: "mitdb/201", "vfdb/418", "cinc2017/A00001"."""
    return f"{database}/{_SAME_PATIENT.get((database, record), record)}"


def group_kfold(groups: ArrayLike, k: int, seed: int = 0, labels: ArrayLike | None = None) -> list[Fold]:
    """k folds over whole groups; with `labels`, each class is spread over the folds as evenly as
    whole groups allow.

    Groups go, in order of how much of some class they hold (ties in seeded random order), to the
    fold where they leave the per-class shares most even: the greedy scheme of scikit-learn's
    StratifiedGroupKFold.
    """
    group_arr = np.asarray(groups)
    names, group_of = np.unique(group_arr, return_inverse=True)
    if not 2 <= k <= len(names):
        raise ValueError(f"k must be in 2..{len(names)} (the number of groups), got {k}")
    label_arr = np.zeros(len(group_arr), dtype=np.int64) if labels is None else np.asarray(labels)
    if label_arr.shape != group_arr.shape:
        raise ValueError(f"labels {label_arr.shape} and groups {group_arr.shape} differ in shape")
    _, class_of = np.unique(label_arr, return_inverse=True)
    counts = np.zeros((len(names), int(class_of.max()) + 1), dtype=np.float64)
    np.add.at(counts, (group_of, class_of), 1.0)
    share = counts / counts.sum(axis=0)

    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(len(names))
    order = shuffled[np.argsort(-share[shuffled].max(axis=1), kind="stable")]
    fold_share = np.zeros((k, counts.shape[1]))
    fold_size = np.zeros(k)
    fold_of_group = np.empty(len(names), dtype=np.int64)
    for g in order:
        spread = ((fold_share + share[g]) ** 2).sum(axis=1)
        # Among equally even choices, the smallest fold, then the seeded order.
        best = min(range(k), key=lambda f: (round(spread[f], 12), fold_size[f], rng.random()))
        fold_of_group[g] = best
        fold_share[best] += share[g]
        fold_size[best] += counts[g].sum()
    return _folds(fold_of_group[group_of], k)


def stratified_kfold(labels: ArrayLike, k: int, seed: int = 0) -> list[Fold]:
    """k folds over items that are their own groups (CinC 2017: one record per patient as far as
    known), each class dealt out round-robin from a seeded shuffle."""
    label_arr = np.asarray(labels)
    if not 2 <= k <= len(label_arr):
        raise ValueError(f"k must be in 2..{len(label_arr)}, got {k}")
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(label_arr), dtype=np.int64)
    offset = 0
    for cls in np.unique(label_arr):
        members = rng.permutation(np.flatnonzero(label_arr == cls))
        # Carry the offset across classes so small classes do not all start in fold 0.
        fold_of[members] = (np.arange(len(members)) + offset) % k
        offset = (offset + len(members)) % k
    return _folds(fold_of, k)


def records_of(groups: Sequence[str] | np.ndarray, indices: np.ndarray) -> set[str]:
    """The distinct groups behind some indices, for checking that folds do not share one."""
    return {str(g) for g in np.asarray(groups)[indices]}


def _folds(fold_of: np.ndarray, k: int) -> list[Fold]:
    return [(np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)) for f in range(k)]
