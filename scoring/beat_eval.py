"""`ecg eval beats`: the patch's QRS detector and int8 beat classifier (TFLM) on annotated records,
matched as `ecg eval qrs` matches and scored by class as EC57 does."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ecg_data.errors import RecordError
from model_compression.datasets.aami import AAMI_OF_SYMBOL
from scoring.beat_classes import (
    MISSED,
    MODEL_COLUMNS,
    NOT_A_BEAT,
    REFERENCE_ROWS,
    class_confusion,
    class_stats,
)
from scoring.qrs_eval import match_record, patch_detector, write_json
from scoring.records import annotated_paths, parse_names, read_beat_records, with_lead
from scoring.report import say


def record_pairs(reference_symbols: list[str], labels: np.ndarray, match: Any) -> tuple[list[str], list[str]]:
    """(reference class, model class) for every matched beat, false detection and missed beat."""
    m = match
    ref: list[str] = []
    got: list[str] = []
    for r, t in zip(m.ref_matched, m.test_matched, strict=True):
        ref.append(AAMI_OF_SYMBOL[reference_symbols[r]])
        got.append(str(labels[t]))
    for t in m.test_extra:
        ref.append(NOT_A_BEAT)
        got.append(str(labels[t]))
    for r in m.ref_missed:
        ref.append(AAMI_OF_SYMBOL[reference_symbols[r]])
        got.append(MISSED)
    return ref, got


def run_cli(args: argparse.Namespace) -> int:
    from ecg_cli.main import UserFacingError
    from model_compression.beat_pipeline import SHIPPED_MODEL, beat_model_inputs, classify
    from model_compression.training.tflm import Int8Model

    model_path = Path(args.model) if args.model else SHIPPED_MODEL
    if not model_path.is_file():
        raise UserFacingError(f"{model_path}: no such model (train one with `ecg train beats --export`)")
    try:
        model = Int8Model(model_path.read_bytes())
        paths = annotated_paths(args.data, parse_names(args.records))
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        raise UserFacingError(str(exc)) from exc
    detector = patch_detector(args.fs)
    per_record = []
    total = np.zeros((len(REFERENCE_ROWS), len(MODEL_COLUMNS)), dtype=np.int64)
    try:
        for tag, record, lead in with_lead(read_beat_records(paths), args.lead, sys.stderr, len(paths)):
            times = detector(record, lead)
            labels = classify(model, beat_model_inputs(record.signal[:, lead], record.fs, times))
            assert record.annotations is not None
            ref, got = record_pairs(list(record.annotations.symbol), labels, match_record(record, times))
            matrix = class_confusion(ref, got)
            total += matrix
            stats = class_stats(matrix)
            per_record.append({"record": record.name, "confusion": matrix.tolist(), **stats})
            say(sys.stderr, f"{tag} {record.name}: {_line(stats)}")
    except RecordError as exc:
        raise UserFacingError(str(exc)) from exc
    if not per_record:
        raise UserFacingError(f"{args.data}: no record with beat annotations")
    stats = class_stats(total)
    print(f"Beat classes, patch detector at {args.fs} Hz + int8 classifier {model_path.name} (TFLM), EC57 gross:")
    print(_table(total))
    print(_line(stats))
    if args.json:
        write_json(args.json, {
            "model": str(model_path), "data": str(args.data), "fs_patch": args.fs,
            **{k: _num(v) for k, v in stats.items()},
            "confusion": {"rows": list(REFERENCE_ROWS), "columns": list(MODEL_COLUMNS), "counts": total.tolist()},
            "records": [{k: _num(v) if isinstance(v, float) else v for k, v in r.items()} for r in per_record],
        })  # fmt: skip
        from model_compression.training.plots import plot_confusion

        png = Path(args.json).with_suffix(".png")
        plot_confusion(total, REFERENCE_ROWS, MODEL_COLUMNS, png, f"beat classes, {len(per_record)} records")
        print(f"wrote {args.json}, {png}", file=sys.stderr)
    return 0


def _num(value: float) -> float | None:
    return None if value != value else round(float(value), 6)


def _line(stats: dict[str, float]) -> str:
    def pct(v: float) -> str:
        return "  n/a" if v != v else f"{100 * v:5.1f}"

    return (f"VEB Se {pct(stats['veb_sensitivity'])} +P {pct(stats['veb_ppv'])}   "
            f"SVEB Se {pct(stats['sveb_sensitivity'])} +P {pct(stats['sveb_ppv'])}")  # fmt: skip


def _table(matrix: np.ndarray) -> str:
    lines = ["ref\\model " + "".join(f"{c:>8}" for c in MODEL_COLUMNS)]
    for name, row in zip(REFERENCE_ROWS, matrix, strict=True):
        lines.append(f"{name:<10}" + "".join(f"{int(v):>8}" for v in row))
    return "\n".join(lines)
