"""`ecg patch replay`: records through the simulated patch, events as JSON lines, speed per record."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, TextIO

from ecg_data.errors import RecordError
from hardware_sim.patch_replay import ReplayEvent, ReplayResult, replay


def event_json(event: ReplayEvent) -> dict[str, Any]:
    row = dataclasses.asdict(event)
    for key in ("onset_s", "end_s", "emitted_s"):
        row[key] = round(row[key], 3)
    row["confidence"] = round(row["confidence"], 4)
    return row


def summary_line(result: ReplayResult) -> str:
    models = ", ".join(
        f"{name} {use.invocations} runs {use.macs / 1e9:.2f} GMAC" for name, use in result.models.items()
    )
    return (
        f"{result.record}: {result.duration_s:.0f} s in {result.wall_s:.1f} s, {result.speed:.0f}x real time; "
        f"{len(result.events)} events, {result.beats} beats; VT gate open {result.vt_gate_open}/{result.vt_hops} hops; "
        f"{models or 'no models'}"
    )


def _progress(label: str, stream: TextIO) -> Any:
    def show(fraction: float) -> None:
        stream.write(f"\r{label}: {100 * fraction:3.0f} %")
        stream.flush()

    return show


def _one(path: str, lead: int, models: str | None) -> ReplayResult:
    return replay(path, lead=lead, models_dir=models)


def run_cli(args: argparse.Namespace) -> int:
    from ecg_cli.main import UserFacingError

    if args.jobs < 1:
        raise UserFacingError("--jobs must be at least 1")
    if args.models is not None and not Path(args.models).is_dir():
        raise UserFacingError(f"--models {args.models}: no such folder")
    out = Path(args.events)
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = list(args.paths)
    try:
        with out.open("w", encoding="utf-8") as f:
            if args.jobs == 1 or len(paths) == 1:
                for i, path in enumerate(paths):
                    show = _progress(f"[{i + 1}/{len(paths)}] {path}", sys.stderr)
                    result = replay(path, lead=args.lead, models_dir=args.models, progress=show)
                    sys.stderr.write("\r")
                    _report(result, f, i, len(paths))
            else:
                _parallel(paths, args, f)
    except RecordError as exc:
        raise UserFacingError(str(exc)) from exc
    return 0


def _report(result: ReplayResult, f: TextIO, i: int, total: int) -> None:
    for event in result.events:
        f.write(json.dumps(event_json(event)) + "\n")
    f.flush()
    print(f"[{i + 1}/{total}] {summary_line(result)}", file=sys.stderr)


def _parallel(paths: list[str], args: argparse.Namespace, f: TextIO) -> None:
    """One process per record at a time; events written in the order the records were given."""
    done: dict[int, ReplayResult] = {}
    written = 0
    with ProcessPoolExecutor(max_workers=min(args.jobs, len(paths))) as pool:
        futures: dict[Future[ReplayResult], int] = {
            pool.submit(_one, path, args.lead, args.models): i for i, path in enumerate(paths)
        }
        for finished, future in enumerate(as_completed(futures), 1):
            i = futures[future]
            done[i] = future.result()
            print(f"{finished}/{len(paths)} done: {done[i].record}", file=sys.stderr)
            while written in done:
                _report(done.pop(written), f, written, len(paths))
                written += 1
