"""`ecg eval beats-runs`: cross-validation runs of the beat classifier with different seeds, side
by side and averaged, fold by fold.

Single-seed fold figures move by several points from run to run, so a change of recipe is only
believed against the spread between seeds. Each run's kept fold models (int8, TFLM) are run again
on their held-out patients: one run alone reproduces its own CV figures, and the mean of the runs'
class probabilities scores the ensemble the patch would run if it carried every seed's model.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from model_compression.training.beats import (
    EXPORT_NAME,
    BeatData,
    beat_folds,
    inputs,
    prepare,
    score,
    stats_line,
)
from model_compression.training.folds import nan_mean, nan_std
from model_compression.training.run_folder import RunFolder
from scoring.beat_classes import class_stats

STATS = ("veb_sensitivity", "veb_ppv", "sveb_sensitivity", "sveb_ppv")


def fold_logits(model_bytes: bytes, data: BeatData) -> np.ndarray:
    """The int8 model's dequantized logits, (n, classes)."""
    from model_compression.training.tflm import Int8Model

    return Int8Model(model_bytes).predict(inputs(data)).astype(np.float64)


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def compare_runs(run_dirs: list[Path], data: BeatData | None = None) -> dict[str, Any]:
    names = [str(d) for d in run_dirs]
    if len(set(names)) != len(names):
        raise ValueError(f"a run is given twice: {' '.join(names)}")
    runs = [RunFolder(d) for d in run_dirs]
    folds_n = {int(r.read_json("config.json")["folds"]) for r in runs}
    if len(folds_n) != 1:
        raise ValueError(f"the runs have different fold counts: {sorted(folds_n)}")
    data = prepare() if data is None else data
    folds = beat_folds(data, folds_n.pop())
    per_fold: dict[str, list[dict[str, Any]]] = {n: [] for n in [*names, "ensemble"]}
    fold_patients: list[list[str]] = []
    for k, (_, val) in enumerate(folds):
        val_data = data.subset(val)
        patients = sorted(set(val_data.patient.tolist()))
        fold_patients.append(patients)
        logits = []
        for name, run in zip(names, runs, strict=True):
            result = run.read_json(f"cv/fold{k}/result.json")
            if result["patients"] != patients:
                raise ValueError(f"{name} fold {k} held out {result['patients']}, not {patients}")
            z = fold_logits(run.file(f"cv/fold{k}/{EXPORT_NAME}.tflite").read_bytes(), val_data)
            logits.append(z)
            per_fold[name].append(score(val_data, z.argmax(axis=1)))
        per_fold["ensemble"].append(score(val_data, np.mean([softmax(z) for z in logits], axis=0).argmax(axis=1)))
        print(f"beats-runs: fold {k + 1}/{len(folds)} ({', '.join(patients)}) scored", file=sys.stderr, flush=True)
    out: dict[str, Any] = {"runs": names, "folds": len(folds), "fold_patients": fold_patients}
    for name, scores in per_fold.items():
        pooled = np.sum([np.asarray(s["confusion"]) for s in scores], axis=0)
        out[name] = {
            "pooled": {"confusion": pooled.tolist(), **class_stats(pooled)},
            "mean": {k: nan_mean([s[k] for s in scores]) for k in STATS},
            "std": {k: nan_std([s[k] for s in scores]) for k in STATS},
            "per_fold": [{k: s[k] for k in STATS} for s in scores],
        }
    return out


def summary_lines(result: dict[str, Any]) -> list[str]:
    return [f"{name}: pooled {stats_line(result[name]['pooled'])}" for name in [*result["runs"], "ensemble"]]


def write(result: dict[str, Any], out: Path) -> None:
    """The figures as JSON at `out` and the per-fold plot beside it (<stem>.png)."""
    import json

    from model_compression.training.plots import plot_fold_figures

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    names = [*result["runs"], "ensemble"]
    folds = [" ".join(p.split("/")[-1] for p in patients) for patients in result["fold_patients"]]
    plot_fold_figures({n: result[n]["per_fold"] for n in names}, STATS, folds, out.with_suffix(".png"),
                      "beat classifier, int8, per held-out fold")  # fmt: skip


def run_cli(args: Any) -> int:
    result = compare_runs([Path(r) for r in args.runs])
    if args.json:
        write(result, Path(args.json))
    print("\n".join(summary_lines(result)))
    return 0
