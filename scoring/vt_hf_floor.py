"""The floor on an SCNN window's power above 2 Hz (EventConfig.vt_min_hf_pm), chosen without the
records it is scored on: for each cross-validation fold, the lowest share of any positive SCNN
window inside reference VT in the other folds' records. The VT rhythms the training folds hold
all stay above it; slow baseline waves that fool the SCNN fall below it. No margin and no
percentile to tune: the floor is a fact of the training records.

Read from `ecg eval vt --trace` files of a cross-validated run (`--cv-run`): each trace records,
for every SCNN window the patch ran, its score and its share (firmware/window_input.py hf_pm).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

EVERY_RECORD = "all"  # fold_floors' key for the floor of every record's VT windows: the shipped rules'


def vt_window_shares(data: Mapping[str, Any], threshold: float) -> dict[str, list[int]]:
    """Record ("vfdb/418") -> the hf_pm of its SCNN windows that scored at least `threshold` and end
    inside a reference VT episode (records traced without inputs, or before hf_pm existed, give none)."""
    from hardware_sim.detector_trace import INPUTS

    score_call = INPUTS.index("on_vt_score")
    database = Path(data["data"]).name
    out: dict[str, list[int]] = {}
    for name, rec in data["records"].items():
        shares: list[int] = []
        for kind, _, args in rec["inputs"] or ():
            if kind != score_call or len(args) < 3 or args[2] < 0 or args[1] < threshold:
                continue
            end_s = args[0] / 1000
            if any(onset <= end_s <= end for onset, end in rec["reference"]):
                shares.append(int(args[2]))
        out[f"{database}/{name}"] = shares
    return out


def fold_floors(traces: Sequence[Mapping[str, Any]], threshold: float) -> tuple[dict[str, int], dict[str, str]]:
    """(fold -> its floor, record -> the fold that held it out) for traces of one `--cv-run`: a fold's
    floor is the lowest share among the other folds' VT windows (`vt_window_shares`); under
    EVERY_RECORD, the lowest of all, for models trained on every record."""
    from scoring.vt_eval import vt_fold_models

    runs = {(t.get("cv_run"), t.get("variant")) for t in traces}
    run, variant = next(iter(runs))
    if len(runs) != 1 or run is None:
        raise ValueError("a floor per fold needs traces of one cross-validated run (`ecg eval vt --cv-run`)")
    fold_of = {record: model.parent.name for record, model in vt_fold_models(run, variant).items()}
    shares: dict[str, list[int]] = {}
    for data in traces:
        shares.update(vt_window_shares(data, threshold))
    floors = {fold: _lowest(shares, fold_of, fold) for fold in sorted(set(fold_of.values()))}
    floors[EVERY_RECORD] = _lowest(shares, fold_of, None)
    return floors, fold_of


def _lowest(shares: Mapping[str, list[int]], fold_of: Mapping[str, str], fold: str | None) -> int:
    training = [s for record, found in shares.items() if fold is None or fold_of.get(record) != fold for s in found]
    if not training:
        raise ValueError(f"{fold or EVERY_RECORD}: no VT window with its power share in the other folds' traces "
                         "(trace the VT records, vfdb and mitdb, with a patch that computes hf_pm)")  # fmt: skip
    return min(training)


def record_floors(data: Mapping[str, Any], floors: Mapping[str, int], fold_of: Mapping[str, str]) -> dict[str, int]:
    """Record name in `data` -> the floor of the fold that held it out."""
    database = Path(data["data"]).name
    return {name: floors[fold_of[f"{database}/{name}"]] for name in data["records"]}
