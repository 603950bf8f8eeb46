"""`ecg eval ...`: score the patch's algorithms the way the field scores them."""

from __future__ import annotations

import argparse
from typing import Any


def register(groups: Any) -> None:
    evaluate = groups.add_parser("eval", help="evaluate the patch's algorithms on annotated records")
    commands = evaluate.add_subparsers(dest="command", required=True, metavar="COMMAND")

    qrs = commands.add_parser("qrs", help="beat detection, scored beat by beat (ANSI/AAMI EC57)")
    qrs.add_argument("--data", required=True, help="folder of WFDB records with beat annotations")
    qrs.add_argument("--records", help="comma-separated record names (default: all with beat annotations)")
    qrs.add_argument("--lead", help="signal name to use (default: the record's first signal)")
    qrs.add_argument("--json", help="write the per-record and total figures here")
    qrs.add_argument("--fs", type=int, default=250, help="the patch's sampling rate in Hz (default 250)")
    qrs.set_defaults(run=_qrs)


def _qrs(args: argparse.Namespace) -> int:
    from scoring.qrs_eval import run_cli

    return run_cli(args)
