"""`ecg eval rhythm`: the patch's int8 rhythm network (TFLM) on records in the CinC 2017 layout,
with the patch's preprocessing, windowing and aggregation over each whole record."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ecg_data.errors import RecordError
from ecg_data.reader import list_records, read_record
from scoring.qrs_eval import write_json
from scoring.report import say


def run_cli(args: argparse.Namespace) -> int:
    from ecg_cli.main import UserFacingError
    from firmware.model_plan import RHYTHM_MODEL
    from model_compression.datasets.preprocess import model_input
    from model_compression.datasets.rhythm_records import RHYTHM_CLASSES
    from model_compression.rhythm_pipeline import (
        HOP_S,
        challenge_score,
        cut_windows,
        f1_scores,
        normalise,
        record_probabilities,
        softmax,
    )
    from model_compression.training.model_card import FIRMWARE_MODELS
    from model_compression.training.tflm import Int8Model

    file, fs, window_s, _ = RHYTHM_MODEL
    model_path = Path(args.model) if args.model else FIRMWARE_MODELS / file
    if not model_path.is_file():
        raise UserFacingError(f"{model_path}: no such model (train one with `ecg train rhythm --export`)")
    folder = Path(args.data)
    if not (folder / "REFERENCE.csv").is_file():
        raise UserFacingError(f"{folder}: no REFERENCE.csv (the CinC 2017 layout: REFERENCE.csv + .mat/.hea records)")
    model = Int8Model(model_path.read_bytes())
    window, hop = round(window_s * fs), round(HOP_S * fs)
    names = list_records(folder)
    k = len(RHYTHM_CLASSES)
    confusion = np.zeros((k, k), dtype=np.int64)
    rows = []
    for i, name in enumerate(names, 1):
        try:
            record = read_record(folder / name)
        except RecordError as exc:
            say(sys.stderr, f"[{i}/{len(names)}] {name}: skipped, {exc.problem}")
            continue
        if record.label not in RHYTHM_CLASSES:
            say(sys.stderr, f"[{i}/{len(names)}] {name}: skipped, not in REFERENCE.csv")
            continue
        signal = model_input(record.signal[:, :1], record.fs, fs)[:, 0]
        windows = normalise(cut_windows(signal, window, hop))
        probabilities = record_probabilities(softmax(model.predict([windows])))
        verdict = RHYTHM_CLASSES[int(probabilities.argmax())]
        confusion[RHYTHM_CLASSES.index(record.label), RHYTHM_CLASSES.index(verdict)] += 1
        rows.append({"record": name, "label": record.label, "verdict": verdict, "windows": len(windows),
                     "probabilities": [round(float(p), 4) for p in probabilities]})  # fmt: skip
        if i % 250 == 0 or i == len(names):
            say(sys.stderr, f"[{i}/{len(names)}] records")
    if not rows:
        raise UserFacingError(f"{folder}: no labelled record could be read")
    f1 = f1_scores(confusion, RHYTHM_CLASSES)
    score = challenge_score(f1)
    print(f"Rhythm, int8 {model_path.name} (TFLM), {len(rows)} records, {window_s:g}-s windows every {HOP_S:g} s:")
    print("ref\\model " + "".join(f"{c:>7}" for c in RHYTHM_CLASSES))
    for c, row in zip(RHYTHM_CLASSES, confusion, strict=True):
        print(f"{c:<10}" + "".join(f"{int(v):>7}" for v in row))
    print("F1 " + "  ".join(f"{c} {v:.3f}" for c, v in f1.items()) + f"   score (mean F1 N, A, O) {score:.3f}")
    if args.json:
        write_json(args.json, {
            "model": str(model_path), "data": str(folder),
            "f1": f1, "score": score,
            "confusion": {"classes": list(RHYTHM_CLASSES), "counts": confusion.tolist()},
            "records": rows,
        })  # fmt: skip
        from model_compression.training.plots import plot_confusion

        png = Path(args.json).with_suffix(".png")
        plot_confusion(confusion, RHYTHM_CLASSES, RHYTHM_CLASSES, png, f"rhythm, {len(rows)} records")
        print(f"wrote {args.json}, {png}", file=sys.stderr)
    return 0
