"""`ecg eval vt-rules`: the VT figures of `ecg eval vt --trace` files, the event rules run again
on the recorded inputs under other settings (hardware_sim.detector_trace), in seconds instead of
a replay's minutes. With no --set it gives the traced run's own figures, which tests hold it to.
"""

from __future__ import annotations

import argparse
import gzip
import pickle
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scoring.qrs_eval import write_json
from scoring.vt_episodes import ScoredRecord, figures


def parse_settings(items: list[str]) -> dict[str, Any]:
    """NAME=VALUE pairs to EventConfig overrides, each value typed as the setting's default."""
    from firmware.events import EventConfig

    defaults = EventConfig()
    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or name.startswith("_") or not hasattr(defaults, name):
            raise ValueError(f"{item!r}: not NAME=VALUE with NAME an event setting of firmware/events.py")
        default = getattr(defaults, name)
        try:
            if isinstance(default, bool):
                if text.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(text)
                out[name] = text.lower() in ("true", "1")
            else:
                out[name] = type(default)(text)
        except ValueError:
            raise ValueError(f"{item!r}: {name} takes a {type(default).__name__}") from None
    return out


def load_trace(path: str | Path) -> dict[str, Any]:
    from scoring.vt_eval import TRACE_FORMAT

    try:
        with gzip.open(path, "rb") as fh:
            data = pickle.load(fh)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ModuleNotFoundError) as exc:
        raise ValueError(f"{path}: not an `ecg eval vt --trace` file ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != TRACE_FORMAT:
        raise ValueError(f"{path}: not an `ecg eval vt --trace` file of format {TRACE_FORMAT}")
    return data


def trace_events(data: dict[str, Any], overrides: dict[str, Any],
                 per_record: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, list[Any]]:  # fmt: skip
    """Record name -> its events under the rules with `overrides`, and a record's own settings in
    `per_record` on top (the recorded events where a record's inputs were not kept: the rules'
    settings could not change them)."""
    from hardware_sim.detector_trace import rerun

    own = per_record or {}
    return {name: rec["events"] if rec["inputs"] is None
            else rerun(rec["inputs"], {**overrides, **own.get(name, {})}, name)
            for name, rec in data["records"].items()}  # fmt: skip


def score_trace(data: dict[str, Any], events: dict[str, list[Any]]) -> dict[str, Any]:
    """Pooled figures of one trace's records with `events` (trace_events's), as `ecg eval vt` pools them."""
    scored = [
        ScoredRecord(name, rec["reference"], rec["rhythms"], events[name], rec["duration_s"])
        for name, rec in data["records"].items()
    ]
    scores, pooled = figures(scored)
    return {"trace_of": {k: data[k] for k in ("data", "cv_run", "variant", "model")}, **pooled,
            "records": [s.to_json() for s in scores]}  # fmt: skip


def hf_floors(overrides: Mapping[str, Any], traces: list[dict[str, Any]]) -> tuple[dict[str, int], dict[str, str]]:
    """scoring.vt_hf_floor.fold_floors at the SCNN threshold the rules run with."""
    from firmware.events import EventConfig
    from scoring.vt_hf_floor import fold_floors

    if "vt_min_hf_pm" in overrides:
        raise ValueError("--hf-floor-by-fold chooses vt_min_hf_pm: do not --set it too")
    threshold = overrides.get("vt_threshold", EventConfig().vt_threshold)
    return fold_floors(traces, threshold)


def run_cli(args: argparse.Namespace) -> int:
    from ecg_cli.main import UserFacingError
    from scoring.false_alarm_strips import alarm_strips, plot_alarm_strips
    from scoring.vt_eval import format_summary
    from scoring.vt_hf_floor import record_floors

    try:
        overrides = parse_settings(args.set)
        traces = [(path, load_trace(path)) for path in args.traces]
        floors = hf_floors(overrides, [data for _, data in traces]) if args.hf_floor_by_fold else None
    except ValueError as exc:
        raise UserFacingError(str(exc)) from exc
    out = []
    strips = []
    for path, data in traces:
        own = None
        if floors is not None:
            own = {name: {"vt_min_hf_pm": floor} for name, floor in record_floors(data, *floors).items()}
        events = trace_events(data, overrides, own)
        scored = score_trace(data, events)
        if args.false_alarm_strips:
            strips += alarm_strips(data, events)
        shown = {**overrides, **({"vt_min_hf_pm": f"by fold {floors[0]}"} if floors else {})}
        print(f"{path} ({data['data']}, {len(data['records'])} records), settings {shown or 'as recorded'}:")
        print(format_summary(scored))
        settings = {**overrides, **({"vt_min_hf_pm_by_fold": floors[0]} if floors else {})}
        out.append({"trace": str(path), "settings": settings, **scored})
    if args.json:
        write_json(args.json, {"traces": out})
        print(f"wrote {args.json}", file=sys.stderr)
    if args.false_alarm_strips:
        drawn = plot_alarm_strips(strips, args.false_alarm_strips, ", ".join(str(p) for p, _ in traces))
        print(f"wrote {args.false_alarm_strips}: {drawn} of {len(strips)} false VT alarms", file=sys.stderr)
    return 0
