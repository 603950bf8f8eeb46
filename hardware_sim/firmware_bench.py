"""`ecg bench firmware`: cost per sample of the firmware's signal path, CPython beside MicroPython."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ecg_data.paths import data_root
from ecg_data.wfdb_records import read_wfdb
from hardware_sim.ecg_source import EcgSource
from hardware_sim.firmware_runs import PathRun, run_cpython, run_micropython_vm
from hardware_sim.front_end import FrontEndConfig
from hardware_sim.patch_qrs import lsb_nv


def _row(name: str, run: PathRun, fs: int) -> dict[str, float | int | str]:
    return {
        "interpreter": name,
        "samples": run.samples,
        "seconds": run.seconds,
        "samples_per_s": run.samples_per_s,
        "us_per_sample": 1e6 / run.samples_per_s,
        "x_real_time": run.samples_per_s / fs,
    }


def run_cli(args: argparse.Namespace) -> int:
    folder = Path(args.data) if args.data else data_root() / "mitdb"
    config = FrontEndConfig(fs=args.fs)
    lsb = lsb_nv(config)
    codes = []
    for name in args.records.split(","):
        source = EcgSource(read_wfdb(folder / name), 0, config, duration_s=args.seconds)
        codes.append(source.codes())
    signal = np.concatenate(codes)
    print(f"{len(signal)} samples ({len(signal) / args.fs:.0f} s at {args.fs} Hz) of {args.records}", file=sys.stderr)
    cpython = run_cpython(signal, args.fs, lsb)
    print(f"CPython: {cpython.samples_per_s:,.0f} samples/s", file=sys.stderr)
    vm = run_micropython_vm(signal, args.fs, lsb)
    print(f"MicroPython VM: {vm.samples_per_s:,.0f} samples/s", file=sys.stderr)
    if not (np.array_equal(cpython.beats, vm.beats) and np.array_equal(cpython.rr_ms, vm.rr_ms)):
        print("ecg: error: CPython and MicroPython found different beats", file=sys.stderr)
        return 1
    rows = [_row("CPython " + sys.version.split()[0], cpython, args.fs), _row("MicroPython VM (wasm)", vm, args.fs)]
    print(f"{'interpreter':<24} {'samples/s':>12} {'us/sample':>10} {'x real time':>12}")
    for row in rows:
        print(
            f"{row['interpreter']:<24} {row['samples_per_s']:>12,.0f} {row['us_per_sample']:>10.2f} "
            f"{row['x_real_time']:>12,.0f}"
        )
    print(f"beats found: {len(vm.beats)} (identical on both)")
    if args.json:
        report = {"fs": args.fs, "records": args.records.split(","), "beats": len(vm.beats), "runs": rows}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0
