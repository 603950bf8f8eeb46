"""`ecg bench ...`: speed and accuracy side by side with the references a user would otherwise pick."""

from __future__ import annotations

import argparse
from typing import Any

from ecg_cli.eval_commands import add_noise_options


def register(groups: Any) -> None:
    bench = groups.add_parser("bench", help="benchmarks against reference implementations")
    commands = bench.add_subparsers(dest="command", required=True, metavar="COMMAND")

    qrs = commands.add_parser("qrs", help="our QRS detector beside NeuroKit2 and wfdb's XQRS")
    qrs.add_argument("--data", required=True, help="folder of WFDB records with beat annotations")
    qrs.add_argument("--records", help="comma-separated record names (default: all with beat annotations)")
    qrs.add_argument("--lead", help="signal name to use (default: the record's first signal)")
    qrs.add_argument("--json", help="write the comparison here (and a plot beside it)")
    qrs.add_argument("--fs", type=int, default=250, help="the patch's sampling rate in Hz, for ours (default 250)")
    add_noise_options(qrs)
    qrs.set_defaults(run=_qrs)

    firmware = commands.add_parser("firmware", help="the firmware signal path's speed, CPython and MicroPython VM")
    firmware.add_argument("--data", help="folder of MIT-BIH records (default: the data root's mitdb)")
    firmware.add_argument("--records", default="203,208,119", help="records to replay (default 203,208,119)")
    firmware.add_argument("--seconds", type=float, default=300.0, help="seconds of each record (default 300)")
    firmware.add_argument("--fs", type=int, default=250, help="the patch's sampling rate in Hz (default 250)")
    firmware.add_argument("--json", help="write the figures here")
    firmware.set_defaults(run=_firmware)


def _qrs(args: argparse.Namespace) -> int:
    from scoring.qrs_bench import run_cli

    return run_cli(args)


def _firmware(args: argparse.Namespace) -> int:
    from hardware_sim.firmware_bench import run_cli

    return run_cli(args)
