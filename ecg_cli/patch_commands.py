"""`ecg patch ...`: the simulated patch (firmware on the hardware simulation) on recorded ECG."""

from __future__ import annotations

import argparse
from typing import Any


def register(groups: Any) -> None:
    patch = groups.add_parser("patch", help="the simulated patch on recorded ECG")
    commands = patch.add_subparsers(dest="command", required=True, metavar="COMMAND")
    replay = commands.add_parser(
        "replay",
        help="replay records through the whole simulated patch, as fast as it runs; events as JSON lines",
    )
    replay.add_argument(
        "paths", nargs="+", metavar="PATH", help="WFDB or CinC 2017 record (extension optional)"
    )
    replay.add_argument(
        "--events", required=True, metavar="OUT.jsonl", help="write one JSON line per event here"
    )
    replay.add_argument("--lead", type=int, default=0, help="lead index of the records (default 0)")
    replay.add_argument(
        "--models", metavar="DIR", help="folder of the .tflite models (default firmware/models)"
    )
    replay.add_argument(
        "--jobs", type=int, default=1, help="records replayed at once, one process each (default 1)"
    )
    replay.set_defaults(run=_replay)


def _replay(args: argparse.Namespace) -> int:
    from hardware_sim.replay_cli import run_cli

    return run_cli(args)
