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
    qrs.add_argument("--json", help="write the figures here, and plots beside it (<stem>.png, <stem>_strips.png)")
    qrs.add_argument("--fs", type=int, default=250, help="the patch's sampling rate in Hz (default 250)")
    add_noise_options(qrs)
    qrs.set_defaults(run=_qrs)


def add_noise_options(parser: argparse.ArgumentParser) -> None:
    """Noise stress: the same real noise for every detector, built once per record."""
    group = parser.add_argument_group("noise stress (MIT-BIH Noise Stress Test style)")
    group.add_argument(
        "--noise",
        choices=NOISE_KINDS,
        help="add real nstdb noise to the lead: ma (muscle), bw (baseline wander), em-like (bw + ma)",
    )
    group.add_argument("--snr", type=float, metavar="DB", help="signal-to-noise ratio of the added noise, in dB")
    group.add_argument("--seed", type=int, default=0, help="picks the noise segment per record (default 0)")


def _qrs(args: argparse.Namespace) -> int:
    from scoring.qrs_eval import run_cli

    return run_cli(args)
