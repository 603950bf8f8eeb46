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

    patch = commands.add_parser("patch", help="what the patch spends: CPU by stage, model MACs, RAM, flash, BLE airtime")
    patch.add_argument("--records", help="records under the data root, comma-separated, e.g. mitdb/207,vfdb/422 (default: a mix of mitdb, vfdb and CinC 2017)")
    patch.add_argument("--data", help="data root holding mitdb/, vfdb/, cinc2017/ (default: the data root)")
    patch.add_argument("--seconds", type=float, default=300.0, help="seconds of signal the MicroPython VM runs the Patch on (default 300)")
    patch.add_argument("--vm-record", default="mitdb/203", help="record for the VM measurement (default mitdb/203)")
    patch.add_argument("--replay-seconds", type=float, help="seconds of each replayed record (default: all)")
    patch.add_argument("--cinc", type=int, default=40, help="CinC 2017 records in the default mix (default 40)")
    patch.add_argument("--models", help="folder of the .tflite models (default firmware/models)")
    patch.add_argument("--perfbench", help="MicroPython's tests/perf_bench folder: measure the VM-to-MCU factor now")
    patch.add_argument("--no-arena-probe", action="store_true", help="skip probing the smallest tensor arenas")
    patch.add_argument("--json", help="write the figures here (and a plot beside it, .png)")
    patch.set_defaults(run=_patch)

    ingest = commands.add_parser("ingest", help="events/s a real cloud server accepts, each with its 60-s snippet")
    ingest.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both", help="database (default both)")
    ingest.add_argument(
        "--workers", type=int, help="uvicorn worker processes (default 1 on SQLite, which has one writer; 2 on PostgreSQL)"
    )
    ingest.add_argument("--clients", type=int, default=4, help="concurrent client connections (default 4)")
    ingest.add_argument("--events", type=int, default=3000, help="events to post (default 3000)")
    ingest.add_argument("--batch", type=int, default=50, help="events per batch (default 50)")
    ingest.add_argument("--json", help="write the figures here")
    ingest.set_defaults(run=_ingest)

    analysis = commands.add_parser("analysis", help="the cloud analysis engine beside NeuroKit2 on 1-24 h records")
    analysis.add_argument("--hours", default="1,6,24", help="record lengths in hours, comma-separated (default 1,6,24)")
    analysis.add_argument("--data", help="MIT-BIH folder (default: the data root's mitdb)")
    analysis.add_argument("--json", help="write the results here (and a bar chart beside it, .png)")
    analysis.add_argument("--timeout", type=float, default=900.0, help="seconds per side and record (default 900)")
    analysis.add_argument("--memory-gib", type=float, default=12.0, help="address-space limit per side (default 12)")
    analysis.add_argument("--skip-neurokit", action="store_true", help="run ours only")
    analysis.add_argument("--work", help="folder for built records and outputs (default: a temporary one)")
    analysis.set_defaults(run=_analysis)


def _qrs(args: argparse.Namespace) -> int:
    from scoring.qrs_bench import run_cli

    return run_cli(args)


def _firmware(args: argparse.Namespace) -> int:
    from hardware_sim.firmware_bench import run_cli

    return run_cli(args)


def _patch(args: argparse.Namespace) -> int:
    from hardware_sim.patch_budget_report import run_cli

    return run_cli(args)


def _ingest(args: argparse.Namespace) -> int:
    from cloud.ingest_bench import run_cli

    return run_cli(args)


def _analysis(args: argparse.Namespace) -> int:
    from cloud.analysis.bench import run_cli

    return run_cli(args)
