"""`ecg train ...`: one command per model, each leaving a run folder that `--resume` continues."""

from __future__ import annotations

import argparse
from typing import Any


def register(groups: Any) -> None:
    train = groups.add_parser("train", help="train, cross-validate, quantize and export the patch's models")
    commands = train.add_subparsers(dest="command", required=True, metavar="MODEL")

    beats = commands.add_parser("beats", help="beat classifier on MIT-BIH DS1, leave-patients-out")
    _common(beats, folds=11)
    beats.add_argument("--max-beats", type=int, help="train on a random subset of this many beats (quick runs)")
    beats.add_argument(
        "--stretch", type=float, dest="stretch_probability", help="share of beats stretched with their template (default 0)"
    )
    beats.add_argument(
        "--af-context", type=float, dest="af_context_probability",
        help="share of normal beats given a synthetic AF RR context (default 0)",
    )  # fmt: skip
    beats.add_argument(
        "--af-variation", type=_pair, metavar="LO,HI",
        help="SD over mean of the synthetic AF intervals, drawn per segment (default 0.1,0.4)",
    )  # fmt: skip
    beats.set_defaults(run=_beats)

    vt = commands.add_parser("vt", help="the patent's SCNN for VT, two stages, leave-patients-out")
    _common(vt, folds=5)
    vt.add_argument("--fs", type=int, help="the model's sampling rate in Hz (default 125)")
    vt.add_argument("--max-non-vt", type=int, help="train on at most this many non-VT windows (quick runs)")
    vt.add_argument(
        "--min-vt-overlap", type=float, help="share of a window VT must fill for it to be a VT window (default 0.5)"
    )
    vt.add_argument("--slow", type=float, dest="slow_probability",
                    help="share of training windows slowed down 1-1.6x (slower rates, wider QRS; default 0)")  # fmt: skip
    vt.add_argument("--hard-negatives", type=int, dest="hard_negative_epochs", metavar="EPOCHS",
                    help="after stage 1, this many epochs with the non-VT windows it scores >= 0.1 drawn 4x "
                         "(a third variant; default 0: off)")  # fmt: skip
    vt.add_argument("--confirmed", action="append", metavar="DIR",
                    help="a folder of doctor-reviewed events exported by the cloud, added to the data (repeatable)")  # fmt: skip
    vt.add_argument("--fold", type=int, action="append", metavar="K",
                    help="train only fold K of the cross-validation, a screening (repeatable; no final model)")  # fmt: skip
    vt.set_defaults(run=_vt)

    rhythm = commands.add_parser("rhythm", help="ResNet teacher and distilled patch student on CinC 2017, 5-fold")
    _common(rhythm, folds=5)
    rhythm.add_argument("--teacher-epochs", type=int, help="epochs of each teacher (default 8)")
    rhythm.add_argument("--student-epochs", type=int, help="epochs of each student (default 30)")
    rhythm.add_argument("--no-teacher", action="store_true", help="train the student from the labels alone")
    rhythm.add_argument("--max-records", type=int, help="use only the first N records (quick runs)")
    rhythm.add_argument("--confirmed", action="append", metavar="DIR",
                        help="a folder of doctor-reviewed events exported by the cloud, added to the data (repeatable)")  # fmt: skip
    rhythm.set_defaults(run=_rhythm)


def _common(parser: argparse.ArgumentParser, *, folds: int) -> None:
    parser.add_argument("--run-dir", help="run folder (default runs/<model>)")
    parser.add_argument("--resume", action="store_true", help="keep what the run folder already holds")
    parser.add_argument("--folds", type=int, help=f"cross-validation folds (default {folds})")
    parser.add_argument("--epochs", type=int, help="epochs per training")
    parser.add_argument("--seed", type=int, help="random seed (default 0)")
    parser.add_argument("--export", action="store_true", help="write the int8 model and its card to firmware/models")
    parser.add_argument("--export-dir", help="export here instead of firmware/models")


def _beats(args: argparse.Namespace) -> int:
    from model_compression.training.beats import run_cli

    return run_cli(args)


def _vt(args: argparse.Namespace) -> int:
    from model_compression.training.vt import run_cli

    return run_cli(args)


def _rhythm(args: argparse.Namespace) -> int:
    from model_compression.training.rhythm import run_cli

    return run_cli(args)


def _pair(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two numbers LO,HI, got {text!r}") from None
    if not 0.0 <= lo <= hi:
        raise argparse.ArgumentTypeError(f"expected 0 <= LO <= HI, got {text!r}")
    return lo, hi
