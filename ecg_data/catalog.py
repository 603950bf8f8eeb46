"""`ecg data info`: what the data folder holds, from headers and annotations only (no signals)."""

from __future__ import annotations

import json
import statistics
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ecg_data.cinc import LABELS, REFERENCE, read_reference
from ecg_data.errors import RecordError
from ecg_data.headers import check_signal_files, declared_length, read_header, with_ext
from ecg_data.paths import ENV_VAR, data_root
from ecg_data.reader import is_cinc, list_databases, list_records
from ecg_data.record import BEAT_SYMBOLS
from ecg_data.rhythm import rhythm_durations
from ecg_data.wfdb_records import read_annotations

# Databases with more records than this are summarised without a row per record (the JSON has them all).
MAX_RECORD_ROWS = 60


@dataclass
class RecordInfo:
    name: str
    fs: float
    samples: int
    duration_s: float
    leads: list[str]
    label: str | None = None
    annotated: bool = False
    beats: dict[str, int] = field(default_factory=dict)
    rhythms: dict[str, dict[str, float]] = field(default_factory=dict)  # label -> episodes, duration_s


@dataclass
class DatabaseInfo:
    name: str
    path: str
    format: str
    records: list[RecordInfo] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        durations = [r.duration_s for r in self.records]
        beats: Counter[str] = Counter()
        rhythms: dict[str, dict[str, float]] = {}
        for r in self.records:
            beats.update(r.beats)
            for label, figures in r.rhythms.items():
                total = rhythms.setdefault(label, {"episodes": 0, "duration_s": 0.0, "records": 0})
                total["episodes"] += figures["episodes"]
                total["duration_s"] += figures["duration_s"]
                total["records"] += 1
        return {
            "records": len(self.records),
            "fs": sorted({r.fs for r in self.records}),
            "leads": dict(Counter(lead for r in self.records for lead in dict.fromkeys(r.leads))),
            "total_duration_s": round(sum(durations), 3),
            "duration_s": {
                "min": min(durations, default=0.0),
                "median": statistics.median(durations) if durations else 0.0,
                "max": max(durations, default=0.0),
            },
            "annotated_records": sum(r.annotated for r in self.records),
            "labels": self.labels,
            "beats": dict(beats.most_common()),
            "rhythms": dict(sorted(rhythms.items(), key=lambda kv: -kv[1]["duration_s"])),
        }


def scan_database(folder: Path) -> DatabaseInfo:
    """Headers, annotation files and REFERENCE.csv of one database; damaged records become problems."""
    db = DatabaseInfo(name=folder.name, path=str(folder), format="WFDB")
    reference: dict[str, str] = {}
    if (folder / REFERENCE).is_file():
        try:
            reference = read_reference(folder / REFERENCE)
        except RecordError as exc:
            db.problems.append(str(exc))
    try:
        names = list_records(folder)
    except RecordError as exc:
        db.problems.append(str(exc))
        names = []
    for name in names:
        try:
            info, cinc = _scan_record(folder / name, reference)
        except RecordError as exc:
            db.problems.append(str(exc))
            continue
        if cinc:
            db.format = "CinC 2017"
        db.records.append(info)
    if reference:
        counts = Counter(r.label for r in db.records if r.label is not None)
        db.labels = {label: counts[label] for label in LABELS}
        unlabelled = sum(r.label is None for r in db.records)
        if unlabelled:
            db.problems.append(f"{folder / REFERENCE}: {unlabelled} record(s) have no label")
    return db


def _scan_record(stem: Path, reference: dict[str, str]) -> tuple[RecordInfo, bool]:
    header = read_header(stem)
    length = declared_length(header)
    if length is None:
        raise RecordError(with_ext(stem, "hea"), "header declares no signal length")
    check_signal_files(header, stem.parent)
    fs = float(header.fs)
    info = RecordInfo(
        name=stem.name, fs=fs, samples=length, duration_s=length / fs, leads=list(header.sig_name)
    )
    cinc = is_cinc(header)
    if cinc:
        info.label = reference.get(stem.name)
        return info, cinc
    annotations = read_annotations(stem, "atr", length=length)
    if annotations is not None:
        info.annotated = True
        info.beats = dict(Counter(s for s in annotations.symbol if s in BEAT_SYMBOLS).most_common())
        info.rhythms = {
            label: {"episodes": count, "duration_s": samples / fs}
            for label, (count, samples) in rhythm_durations(annotations.rhythms).items()
        }
    return info, cinc


def build_catalog(root: str | Path | None = None) -> dict[str, Any]:
    """The catalogue of every database under `root` (default: the data root) as JSON-ready data."""
    base = data_root() if root is None else Path(root).expanduser().resolve()
    databases = [scan_database(folder) for folder in list_databases(base)]
    return {
        "root": str(base),
        "databases": [
            {
                "name": db.name,
                "path": db.path,
                "format": db.format,
                **db.summary(),
                "problems": db.problems,
                "record_list": [asdict(r) for r in db.records],
            }
            for db in databases
        ],
    }


def print_catalog(data_dir: str | Path | None, json_path: str | Path | None) -> int:
    """Print the catalogue as tables; also write it as JSON to `json_path` when given."""
    try:
        catalog = build_catalog(data_dir)
    except RecordError as exc:
        print(f"ecg: error: {exc} (pass --data or set {ENV_VAR})", file=sys.stderr)
        return 2
    print(format_catalog(catalog))
    if json_path is not None:
        out = Path(json_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(catalog, indent=1) + "\n", encoding="utf-8")
        print(f"\nwrote {out}")
    return 0


def format_catalog(catalog: dict[str, Any]) -> str:
    """The catalogue as plain-text tables."""
    lines = [f"ECG data in {catalog['root']}", ""]
    if not catalog["databases"]:
        return "\n".join([*lines, "no databases found (folders with a RECORDS file or .hea headers)"])
    rows = [["database", "format", "records", "rate", "leads", "total", "per record min / median / max"]]
    for db in catalog["databases"]:
        d = db["duration_s"]
        rows.append(
            [
                db["name"],
                db["format"],
                str(db["records"]),
                ", ".join(f"{fs:g} Hz" for fs in db["fs"]),
                " ".join(db["leads"]),
                _duration(db["total_duration_s"]),
                f"{_duration(d['min'])} / {_duration(d['median'])} / {_duration(d['max'])}",
            ]
        )
    lines += _table(rows, right={2})
    for db in catalog["databases"]:
        lines += ["", f"{db['name']}:"]
        if db["labels"]:
            n = sum(db["labels"].values()) or 1
            counts = ", ".join(f"{k} {v} ({100 * v / n:.1f} %)" for k, v in db["labels"].items())
            lines.append(f"  labels: {counts}")
        if db["beats"]:
            lines.append(
                f"  beats ({sum(db['beats'].values())}): "
                + ", ".join(f"{k} {v}" for k, v in db["beats"].items())
            )
        if db["rhythms"]:
            lines.append(
                "  rhythms (time, episodes): "
                + ", ".join(
                    f"{k} {_duration(v['duration_s'])} ({v['episodes']:g})" for k, v in db["rhythms"].items()
                )
            )
        if db["records"] and not db["annotated_records"] and not db["labels"]:
            lines.append("  no annotations")
        if 0 < db["records"] <= MAX_RECORD_ROWS:
            rows = [["record", "leads", "duration", "beats", "rhythms"]]
            for r in db["record_list"]:
                rhythms = sorted(r["rhythms"].items(), key=lambda kv: -kv[1]["duration_s"])
                rows.append(
                    [
                        r["name"],
                        " ".join(r["leads"]),
                        _duration(r["duration_s"]),
                        str(sum(r["beats"].values())) if r["annotated"] else "-",
                        ", ".join(f"{k} {_duration(v['duration_s'])}" for k, v in rhythms) or "-",
                    ]
                )
            lines += ["  " + line for line in _table(rows, right={3})]
        elif db["records"]:
            names = db["record_list"]
            lines.append(f"  records {names[0]['name']} ... {names[-1]['name']} (one row each in --json)")
        lines += [f"  problem: {p}" for p in db["problems"]]
    return "\n".join(lines)


def _table(rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
