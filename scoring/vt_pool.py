"""`ecg eval vt-pool`: the figures of several `ecg eval vt` results taken together, as if one run
had replayed all their records (counts summed per record, then pooled as EC57's gross statistics).

A cross-validation run that grows fold by fold is scored the same way: each part replayed once
(`ecg eval vt --records ...`), then pooled; a record in two parts is an error, not counted twice.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from scoring.qrs_eval import write_json
from scoring.vt_episodes import RecordVtScore, add_counts, pool


class PoolError(ValueError):
    """A result file that cannot be pooled: unreadable, not `ecg eval vt`'s, or overlapping."""


def read_scores(path: str | Path) -> tuple[dict[str, Any], list[RecordVtScore]]:
    """One `ecg eval vt --json` file: its header fields and its per-record counts."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise PoolError(f"{path}: not readable as JSON ({exc})") from exc
    rows = data.get("records") if isinstance(data, dict) else None
    if not isinstance(rows, list) or "data" not in data:
        raise PoolError(f"{path}: not an `ecg eval vt --json` result (no data and records)")
    try:
        return data, [RecordVtScore.from_json(row) for row in rows]
    except ValueError as exc:
        raise PoolError(f"{path}: {exc}") from exc


def pool_files(paths: list[str | Path]) -> tuple[dict[str, Any], list[RecordVtScore]]:
    """Pooled figures of `paths` (the false alerts by reference rhythm summed, the sources, the
    records) and the records' scores."""
    seen: dict[tuple[str, str], str] = {}
    scores: list[RecordVtScore] = []
    rhythms: list[dict[str, int]] = []
    sources = []
    for path in paths:
        data, part = read_scores(path)
        database = Path(str(data["data"])).name
        for s in part:
            key = (database, s.record)
            if key in seen:
                raise PoolError(f"{database}/{s.record} is in both {seen[key]} and {path}")
            seen[key] = str(path)
        scores.extend(part)
        rhythms.append(data.get("false_alerts_by_rhythm") or {})
        sources.append({"file": str(path), "data": data["data"], "cv_run": data.get("cv_run"),
                        "model": data.get("model"), "records": len(part)})  # fmt: skip
    if not scores:
        raise PoolError("no records in " + ", ".join(str(p) for p in paths))
    figures = pool(scores)
    figures["false_alerts_by_rhythm"] = add_counts(rhythms)
    return {**figures, "sources": sources, "records": [s.to_json() for s in scores]}, scores


def run_cli(args: argparse.Namespace) -> int:
    from ecg_cli.main import UserFacingError
    from scoring.vt_eval import format_summary, format_table

    try:
        figures, scores = pool_files(args.results)
    except PoolError as exc:
        raise UserFacingError(str(exc)) from exc
    names = ", ".join(f"{s['data']} ({s['records']})" for s in figures["sources"])
    print(f"VT episodes pooled over {len(scores)} records: {names}")
    print(format_table(scores))
    print(format_summary(figures))
    if args.json:
        write_json(args.json, figures)
        print(f"wrote {args.json}", file=sys.stderr)
    return 0
