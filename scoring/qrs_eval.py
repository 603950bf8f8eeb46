"""`ecg eval qrs`: the patch's beat detector on annotated records, scored beat by beat (EC57)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from ecg_data.errors import RecordError
from ecg_data.record import Record
from scoring.beat_match import MATCH_WINDOW_S, BeatMatch, match_annotations
from scoring.noise_stress import NoiseSpec, describe, noise_json, noisy_records, spec_from
from scoring.plots import ErrorStrips, plot_scores, plot_strips
from scoring.records import annotated_paths, is_paced, parse_names, read_beat_records, with_lead
from scoring.report import Counts, RecordScore, format_table, percent, say, summary_json

# (record, lead index) -> detection times in seconds, in the record's time base.
Detector = Callable[[Record, int], np.ndarray]
# Sees each scored record (as the detector got it), the lead index, the detections and their match.
Observer = Callable[[Record, int, np.ndarray, BeatMatch], None]


def match_record(record: Record, detections_s: np.ndarray) -> BeatMatch:
    if record.annotations is None:
        raise ValueError(f"record {record.name} has no reference annotations")
    return match_annotations(record.annotations, detections_s, record.fs, unit="s")


def score_record(record: Record, detections_s: np.ndarray) -> RecordScore:
    return RecordScore(record.name, is_paced(record), Counts.of(match_record(record, detections_s)))


def evaluate(
    records: Iterable[Record],
    detector: Detector,
    lead: str | None = None,
    *,
    progress: TextIO | None = None,
    total: int | None = None,
    observe: Observer | None = None,
) -> list[RecordScore]:
    """Run `detector` on each record's lead and score it, with a line per record to `progress` if given."""
    scores: list[RecordScore] = []
    for count, record, index in with_lead(records, lead, progress, total):
        start = time.perf_counter()
        detections = np.asarray(detector(record, index), dtype=np.float64)
        elapsed = time.perf_counter() - start
        match = match_record(record, detections)
        score = RecordScore(record.name, is_paced(record), Counts.of(match))
        scores.append(score)
        if observe is not None:
            observe(record, index, detections, match)
        c = score.counts
        say(
            progress,
            f"{count} {record.name}: {c.beats} beats, Se {percent(c.sensitivity)}%, "
            f"+P {percent(c.positive_predictivity)}% ({elapsed:.1f} s)",
        )
    return scores


def patch_detector(fs_patch: int) -> Detector:
    """The patch's detector at `fs_patch` Hz; imported only when a run needs it."""
    try:
        from hardware_sim.patch_qrs import detect_beats
    except ModuleNotFoundError as exc:
        if exc.name not in ("hardware_sim", "hardware_sim.patch_qrs"):
            raise
        raise ModuleNotFoundError("the patch detector hardware_sim.patch_qrs is not available yet") from exc

    def detect(record: Record, lead_index: int) -> np.ndarray:
        return np.asarray(detect_beats(record, lead_index, fs_patch), dtype=np.float64)

    return detect


def run_cli(args: argparse.Namespace) -> int:
    from ecg_cli.main import UserFacingError

    try:
        noise = noise_from(args)
        paths = annotated_paths(args.data, parse_names(args.records))
        detector = patch_detector(args.fs)
    except (ValueError, FileNotFoundError, ModuleNotFoundError) as exc:
        raise UserFacingError(str(exc)) from exc
    strips = ErrorStrips()  # a few seconds of signal per record with errors: cheap to keep
    try:
        scores = evaluate(
            noisy_records(read_beat_records(paths), args.lead, noise),
            detector,
            args.lead,
            progress=sys.stderr,
            total=len(paths),
            observe=strips,
        )
    except RecordError as exc:
        raise UserFacingError(str(exc)) from exc
    if not scores:
        raise UserFacingError(
            f"{args.data}: no record with beat annotations on lead {args.lead or '(first)'}"
        )
    header = (
        f"QRS detection, patch detector at {args.fs} Hz, lead {args.lead or '(first)'}, "
        f"match window {1000 * MATCH_WINDOW_S:.0f} ms, {describe(noise)}"
    )
    print(header)
    print(format_table(scores))
    if args.json:
        write_json(
            args.json,
            {"detector": "patch", "fs_patch": args.fs, **_run_info(args, noise), **summary_json(scores)},
        )
        written = write_plots(args.json, scores, strips, header)
        print(f"wrote {args.json}, {', '.join(map(str, written))}", file=sys.stderr)
    return 0


def write_plots(
    json_path: str | Path, scores: list[RecordScore], strips: ErrorStrips, title: str
) -> list[Path]:
    """Per-record figures as `<stem>.png` and the worst records' error strips as `<stem>_strips.png`."""
    json_path = Path(json_path)
    scores_png = json_path.with_suffix(".png")
    strips_png = json_path.with_name(f"{json_path.stem}_strips.png")
    plot_scores(scores, scores_png, title)
    plot_strips(strips.worst(), strips_png, title)
    return [scores_png, strips_png]


def noise_from(args: argparse.Namespace) -> NoiseSpec | None:
    """`--noise`, `--snr` and `--seed` (absent from callers that predate them) as a spec."""
    return spec_from(getattr(args, "noise", None), getattr(args, "snr", None), getattr(args, "seed", 0))


def write_json(path: str | Path, content: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2) + "\n")


def _run_info(args: argparse.Namespace, noise: NoiseSpec | None) -> dict[str, Any]:
    return {
        "data": str(args.data),
        "lead": args.lead,
        "match_window_s": MATCH_WINDOW_S,
        "noise": noise_json(noise),
    }

