"""`ecg eval ...`: score the patch's algorithms the way the field scores them."""

from __future__ import annotations

import argparse
from typing import Any

# hardware_sim.noise.NoiseKind, spelt out so that `ecg --help` imports nothing heavy.
NOISE_KINDS = ("ma", "bw", "em-like")


def register(groups: Any) -> None:
    evaluate = groups.add_parser("eval", help="evaluate the patch's algorithms on annotated records")
    commands = evaluate.add_subparsers(dest="command", required=True, metavar="COMMAND")

    qrs = commands.add_parser("qrs", help="beat detection, scored beat by beat (ANSI/AAMI EC57)")
    qrs.add_argument("--data", required=True, help="folder of WFDB records with beat annotations")
    qrs.add_argument("--records", help="comma-separated record names (default: all with beat annotations)")
    qrs.add_argument("--lead", help="signal name to use (default: the record's first signal)")
    qrs.add_argument(
        "--json", help="write the figures here, and plots beside it (<stem>.png, <stem>_strips.png)"
    )
    qrs.add_argument("--fs", type=int, default=250, help="the patch's sampling rate in Hz (default 250)")
    add_noise_options(qrs)
    qrs.set_defaults(run=_qrs)

    beats = commands.add_parser(
        "beats", help="beat classes (N, S, V, F, Q) of the patch's int8 classifier, EC57"
    )
    beats.add_argument("--data", required=True, help="folder of WFDB records with beat annotations")
    beats.add_argument("--records", help="comma-separated record names (default: all with beat annotations)")
    beats.add_argument("--lead", help="signal name to use (default: the record's first signal)")
    beats.add_argument("--model", help="int8 .tflite (default: the model the firmware ships)")
    beats.add_argument(
        "--json", help="write the figures here, and the confusion matrix beside it (<stem>.png)"
    )
    beats.add_argument("--fs", type=int, default=250, help="the patch's sampling rate in Hz (default 250)")
    beats.set_defaults(run=_beats)

    rhythm = commands.add_parser(
        "rhythm", help="rhythm (Normal, AF, Other, Noisy) of the patch's int8 network"
    )
    rhythm.add_argument(
        "--data", required=True, help="folder in the CinC 2017 layout: REFERENCE.csv + records"
    )
    rhythm.add_argument("--model", help="int8 .tflite (default: the model the firmware ships)")
    rhythm.add_argument(
        "--json", help="write the figures here, and the confusion matrix beside it (<stem>.png)"
    )
    rhythm.set_defaults(run=_rhythm)

    vt = commands.add_parser(
        "vt", help="VT episodes of the simulated patch, scored as EC57 compares episodes"
    )
    vt.add_argument(
        "--data",
        required=True,
        help="folder of WFDB records with rhythm annotations, or CinC 2017 (false alerts)",
    )
    vt.add_argument("--records", help="comma-separated record names (default: all)")
    vt.add_argument("--model", help="VT .tflite to use instead of the shipped vt_scnn.tflite")
    vt.add_argument(
        "--cv-run",
        help="an `ecg train vt` run folder: score each record with the model of the fold that held it out",
    )
    vt.add_argument(
        "--variant",
        choices=("stage1", "stage2", "hard_negatives"),
        help="with --cv-run: which stage's models (default: the run's shipped one)",
    )
    vt.add_argument(
        "--beats-cv-run",
        help="an `ecg train beats` run folder: each record its run has is replayed with the beat "
        "classifier of the fold that held it out",
    )
    vt.add_argument("--jobs", type=int, help="records replayed at once (default: the CPU count)")
    vt.add_argument(
        "--json", help="write the figures here, and a timeline and latency plot beside it (<stem>.png)"
    )
    vt.add_argument("--events", metavar="OUT.jsonl", help="keep the replay's events, one JSON object a line")
    vt.add_argument(
        "--trace", metavar="OUT.pkl.gz", help="keep the event rules' inputs, for `ecg eval vt-rules`"
    )
    vt.set_defaults(run=_vt)

    rules = commands.add_parser(
        "vt-rules", help="VT figures of `ecg eval vt --trace` files again, under other event-rule settings"
    )
    rules.add_argument("traces", nargs="+", metavar="TRACE", help="`ecg eval vt --trace` files")
    rules.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE",
        help="an EventConfig setting (firmware/events.py), e.g. vt_open_count=3; repeatable",
    )  # fmt: skip
    rules.add_argument("--json", help="write the figures here, one object per trace")
    rules.add_argument(
        "--hf-floor-by-fold", action="store_true",
        help="vt_min_hf_pm per record: the lowest power share above 2 Hz of the VT windows of the "
        "other folds' records (traces of one --cv-run; scoring/vt_hf_floor.py)",
    )  # fmt: skip
    rules.add_argument(
        "--false-alarm-strips", metavar="OUT.png",
        help="plot the ECG under each false VT alarm (read from the traces' data folders)",
    )  # fmt: skip
    rules.set_defaults(run=_vt_rules)

    pooled = commands.add_parser(
        "vt-pool", help="the figures of several `ecg eval vt --json` results as one (e.g. folds scored apart)"
    )
    pooled.add_argument("results", nargs="+", metavar="RESULT.json", help="`ecg eval vt --json` files")
    pooled.add_argument("--json", help="write the pooled figures here")
    pooled.set_defaults(run=_vt_pool)

    runs = commands.add_parser(
        "beats-runs",
        help="`ecg train beats` runs of different seeds, fold by fold, alone and averaged",
    )
    runs.add_argument("runs", nargs="+", metavar="RUN", help="run folders of the same folds")
    runs.add_argument("--json", help="write the figures here, and a per-fold plot beside it (<stem>.png)")
    runs.set_defaults(run=_beats_runs)

    footprint = commands.add_parser(
        "footprint", help="flash, tensor arena and MACs of every model the firmware ships"
    )
    footprint.add_argument("--models", help="folder of .tflite models (default firmware/models)")
    footprint.add_argument("--json", help="write the figures here, and a plot beside it (<stem>.png)")
    footprint.set_defaults(run=_footprint)


def add_noise_options(parser: argparse.ArgumentParser) -> None:
    """Noise stress: the same real noise for every detector, built once per record."""
    group = parser.add_argument_group("noise stress (MIT-BIH Noise Stress Test style)")
    group.add_argument(
        "--noise",
        choices=NOISE_KINDS,
        help="add real nstdb noise to the lead: ma (muscle), bw (baseline wander), em-like (bw + ma)",
    )
    group.add_argument(
        "--snr", type=float, metavar="DB", help="signal-to-noise ratio of the added noise, in dB"
    )
    group.add_argument("--seed", type=int, default=0, help="picks the noise segment per record (default 0)")


def _qrs(args: argparse.Namespace) -> int:
    from scoring.qrs_eval import run_cli

    return run_cli(args)


def _beats(args: argparse.Namespace) -> int:
    from scoring.beat_eval import run_cli

    return run_cli(args)


def _vt_rules(args: argparse.Namespace) -> int:
    from scoring.vt_rules import run_cli

    return run_cli(args)


def _vt_pool(args: argparse.Namespace) -> int:
    from scoring.vt_pool import run_cli

    return run_cli(args)


def _beats_runs(args: argparse.Namespace) -> int:
    from model_compression.training.seed_runs import run_cli

    return run_cli(args)


def _footprint(args: argparse.Namespace) -> int:
    from model_compression.footprint import run_cli

    return run_cli(args)


def _rhythm(args: argparse.Namespace) -> int:
    from scoring.rhythm_eval import run_cli

    return run_cli(args)


def _vt(args: argparse.Namespace) -> int:
    from scoring.vt_eval import run_cli

    return run_cli(args)
