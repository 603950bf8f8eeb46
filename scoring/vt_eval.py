"""`ecg eval vt`: every record of a folder replayed through the simulated patch
(`hardware_sim.patch_replay`), its VT and NSVT events scored against the reference's VT, flutter and
fibrillation episodes as EC57 compares episodes (the rules are in `scoring.vt_episodes`).

A folder in the CinC 2017 layout (REFERENCE.csv, no rhythm annotations, no VT among its labels)
counts for false alerts only: every VT event there is one, and every hour counts. In a WFDB folder
only records with rhythm annotations are scored: without them there is no saying an alarm is false.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecg_data.errors import RecordError
from ecg_data.headers import declared_length, read_header
from ecg_data.reader import list_records
from ecg_data.wfdb_records import read_annotations
from scoring.qrs_eval import write_json
from scoring.records import annotated_paths, parse_names
from scoring.report import say
from scoring.vt_episodes import (
    ALARM_TYPE,
    LONG_EPISODE_S,
    REFERENCE_RHYTHMS,
    RUN_TYPES,
    Interval,
    Labelled,
    RecordVtScore,
    ScoredRecord,
    reference_episodes,
    score_record,
)
from scoring.vt_episodes import figures as vt_figures

CINC_REFERENCE = "REFERENCE.csv"
REPLAY_MODULE = "hardware_sim.patch_replay"
MAX_TIMELINE_ROWS = 40


@dataclass(frozen=True)
class Task:
    path: str
    cinc: bool  # CinC 2017 layout: no rhythm annotations, none of its records is VT
    models_dir: str | None
    trace: bool = False  # keep the event rules' inputs (hardware_sim.detector_trace)


@dataclass(frozen=True)
class Replayed:
    """A worker's answer: the record's reference episodes and the patch's events, or why it was skipped."""

    name: str
    reference: list[Interval] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)  # hardware_sim.patch_replay.ReplayEvent
    duration_s: float = 0.0
    wall_s: float = 0.0
    skipped: str | None = None
    macs: dict[str, int] = field(default_factory=dict)  # multiply-accumulates spent per model
    rhythms: list[Labelled] = field(default_factory=list)  # every reference rhythm episode
    inputs: list[Any] | None = None  # with Task.trace: the event rules' inputs, where they matter


def record_reference(path: str | Path, cinc: bool = False) -> tuple[list[Interval], list[Labelled]] | None:
    """A record's reference VT episodes and every reference rhythm episode (a CinC 2017 record: no
    VT, one episode of its class), in s, from one read of its annotations; None for a WFDB record
    without rhythm annotations (nothing to score)."""
    if cinc:
        from ecg_data.cinc import reference_label

        return [], [(0.0, float("inf"), f"CinC {reference_label(path)}")]
    header = read_header(path)
    annotations = read_annotations(path, "atr", length=declared_length(header))
    if annotations is None or not annotations.rhythms:
        return None
    fs = float(header.fs)
    rhythms = [(e.start / fs, e.end / fs, e.label) for e in annotations.rhythms]
    return reference_episodes(annotations, fs), rhythms


def replay_record(task: Task) -> Replayed:
    """Runs in a worker process: the reference first (cheap), then the replay (the long part)."""
    from hardware_sim.patch_replay import replay

    name = Path(task.path).name
    try:
        known = record_reference(task.path, task.cinc)
        if known is None:
            return Replayed(name, skipped="no rhythm annotations")
        reference, rhythms = known
        calls: list[Any] | None = [] if task.trace else None
        result = replay(task.path, models_dir=task.models_dir, trace=calls)
    except RecordError as exc:
        # A damaged file costs its own record, not the run.
        return Replayed(name, skipped=exc.problem)
    macs = {model: use.macs for model, use in result.models.items()}
    events = list(result.events)
    if calls is not None and not _vt_rules_matter(calls, events):
        calls = None
    return Replayed(name, reference, events, result.duration_s, result.wall_s, macs=macs, rhythms=rhythms, inputs=calls)


TRACE_MIN_SCORE = 0.25


def _vt_rules_matter(calls: Sequence[Any], events: Sequence[Any]) -> bool:
    """Whether a record's inputs are worth keeping for trying VT rules: it gave a VT or NSVT, or
    the SCNN came near its threshold. Elsewhere (most of CinC's 30-s records) no VT setting
    changes anything, and the recorded events stand."""
    from hardware_sim.detector_trace import INPUTS

    score = INPUTS.index("on_vt_score")
    return any(e.type in RUN_TYPES for e in events) or any(
        k == score and args[1] >= TRACE_MIN_SCORE for k, _, args in calls
    )


def replay_all(tasks: Sequence[Task], jobs: int) -> Iterator[tuple[int, Replayed]]:
    """(index into tasks, answer) as records finish; in this process when jobs == 1."""
    if jobs <= 1:
        for i, task in enumerate(tasks):
            yield i, replay_record(task)
        return
    # spawn: workers start clean instead of forking a parent that may hold threads or interpreters.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as executor:
        futures: dict[Future[Replayed], int] = {
            executor.submit(replay_record, t): i for i, t in enumerate(tasks)
        }
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        except BaseException:
            executor.shutdown(wait=False, cancel_futures=True)
            raise


def link_models(folder: Path, replaced: Mapping[str, Path]) -> None:
    """Links in `folder` to the shipped models, those named in `replaced` (file name -> model)
    replaced."""
    from model_compression.training.model_card import FIRMWARE_MODELS

    for shipped in FIRMWARE_MODELS.iterdir():
        if shipped.is_file() and shipped.name not in replaced:
            (folder / shipped.name).symlink_to(shipped.resolve())
    for name, model in replaced.items():
        (folder / name).symlink_to(model.resolve())


@contextmanager
def model_sets(plan: Mapping[str, Mapping[str, Path]]) -> Iterator[dict[str, str]]:
    """Record -> a temporary models folder: the shipped models with that record's replacements
    (file name -> model); records with the same replacements share a folder."""
    with tempfile.TemporaryDirectory(prefix="ecg-cv-models-") as tmp:
        folders: dict[tuple[tuple[str, str], ...], str] = {}
        owner: dict[str, str] = {}
        for record, replaced in plan.items():
            key = tuple(sorted((name, str(model)) for name, model in replaced.items()))
            if key not in folders:
                target = Path(tmp) / f"set{len(folders)}"
                target.mkdir()
                link_models(target, replaced)
                folders[key] = str(target)
            owner[record] = folders[key]
        yield owner


def fold_models(run: str | Path, file_name: str) -> dict[str, Path]:
    """Record ("vfdb/418") -> `file_name` in the folder of the cross-validation fold that held that
    record out (training keeps each fold's int8 models and its validation records)."""
    results = sorted((Path(run) / "cv").glob("fold*/result.json"))
    if not results:
        raise FileNotFoundError(f"{run}: no cross-validation folds (cv/fold*/result.json)")
    owner: dict[str, Path] = {}
    for result in results:
        model = result.parent / file_name
        if not model.is_file():
            raise FileNotFoundError(f"{model}: missing (a run from before folds kept their models?)")
        records = json.loads(result.read_text()).get("val_records")
        if not records:
            raise FileNotFoundError(f"{result}: no val_records (a run from before folds listed them?)")
        owner.update({r: model for r in records})
    return owner


def vt_fold_models(run: str | Path, variant: str | None) -> dict[str, Path]:
    """fold_models of an `ecg train vt` run; the variant defaults to the one the run shipped."""
    from model_compression.training.vt import EXPORT_NAME

    if variant is None:
        chosen = Path(run) / "final" / "variant.json"
        variant = json.loads(chosen.read_text()) if chosen.is_file() else "stage1"
    return fold_models(run, f"{EXPORT_NAME}_{variant}.tflite")


def record_tasks(folder: Path, names: list[str] | None) -> tuple[list[Task], bool]:
    """The records to replay and whether the folder is in the CinC 2017 layout."""
    cinc = (folder / CINC_REFERENCE).is_file()
    if cinc:
        listed = list_records(folder)
        chosen = listed if names is None else names
        missing = [n for n in chosen if not (folder / f"{n}.hea").is_file()]
        if missing:
            raise FileNotFoundError(f"{folder}: no record {', '.join(missing)}")
        paths = [folder / n for n in chosen]
    else:
        paths = annotated_paths(folder, names)
    return [Task(str(p), cinc, None) for p in paths], cinc


def run_cli(args: argparse.Namespace) -> int:
    from ecg_cli.main import UserFacingError

    try:
        importlib.import_module(REPLAY_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name not in ("hardware_sim", REPLAY_MODULE):
            raise
        raise UserFacingError(f"the patch replay {REPLAY_MODULE} is not available yet") from exc
    if args.model and not Path(args.model).is_file():
        raise UserFacingError(f"{args.model}: no such model")
    if args.model and getattr(args, "cv_run", None):
        raise UserFacingError("--model and --cv-run exclude each other")
    if args.jobs is not None and args.jobs < 1:
        raise UserFacingError("--jobs must be at least 1")
    folder = Path(args.data)
    jobs = args.jobs or os.cpu_count() or 1
    try:
        tasks, cinc = record_tasks(folder, parse_names(args.records))
        plan, tasks, unseen = replacement_plan(
            tasks, folder.name, args.model, getattr(args, "cv_run", None), getattr(args, "variant", None),
            getattr(args, "beats_cv_run", None),
        )  # fmt: skip
    except (FileNotFoundError, RecordError) as exc:
        raise UserFacingError(str(exc)) from exc
    if unseen:
        say(sys.stderr, f"{len(unseen)} records in no fold of {args.cv_run}, left out: {', '.join(unseen[:10])}")
    if not tasks:
        if unseen:
            raise UserFacingError(f"{folder}: none of its records is in a finished fold of {args.cv_run}")
        raise UserFacingError(f"{folder}: no record with annotations and no {CINC_REFERENCE}")
    with model_sets(plan) as owner:
        trace = bool(getattr(args, "trace", None))
        tasks = [dataclasses.replace(t, models_dir=owner.get(_key(folder.name, t)), trace=trace) for t in tasks]
        _note_model(args.model)
        say(sys.stderr, f"replaying {len(tasks)} records of {folder} in {min(jobs, len(tasks))} processes")
        answers = _collect(tasks, min(jobs, len(tasks)), cinc)
    done = [a for a in answers if a.skipped is None]
    if not done:
        raise UserFacingError(f"{folder}: no record could be scored")
    scores, figures = vt_figures([ScoredRecord(a.name, a.reference, a.rhythms, a.events, a.duration_s) for a in done])
    print(f"VT episodes, patch replay of {len(done)} records of {folder}" + (" (CinC 2017: false alerts only)" if cinc else "") + ":")  # fmt: skip
    print(format_table(scores))
    print(format_summary(figures))
    budget = inference_budget(done)
    print(format_budget(budget))
    if getattr(args, "trace", None):
        write_trace(args.trace, folder, cinc, done, getattr(args, "cv_run", None), getattr(args, "variant", None), args.model)
        print(f"wrote {args.trace}", file=sys.stderr)
    if args.events:
        _write_events(args.events, done)
        print(f"wrote {args.events}", file=sys.stderr)
    if args.json:
        write_json(args.json, {
            "data": str(folder), "model": args.model, "cv_run": getattr(args, "cv_run", None), "layout": "cinc2017" if cinc else "wfdb",
            "rules": rules_json(),
            **figures,
            "inference": budget,
            "records": [s.to_json() for s in scores],
            "skipped": [{"record": a.name, "reason": a.skipped} for a in answers if a.skipped is not None],
        })  # fmt: skip
        png = Path(args.json).with_suffix(".png")
        plot_vt(done, scores, png, f"VT episodes, {folder.name}")
        print(f"wrote {args.json}, {png}", file=sys.stderr)
    return 0


def replacement_plan(
    tasks: list[Task], database: str, vt_model: str | None, vt_run: str | None, variant: str | None,
    beats_run: str | None,
) -> tuple[dict[str, dict[str, Path]], list[Task], list[str]]:  # fmt: skip
    """Which shipped models each record is replayed without: `vt_model` for every record; with
    `vt_run`, the VT model of the fold that held the record out (records in no fold are left out);
    with `beats_run` (an `ecg train beats` run), the beat classifier of the fold that held the record
    out, for the records it has (the others keep the shipped one, which never saw them either).
    Returns the plan (record -> file name -> model), the tasks kept and the records left out."""
    from firmware.model_plan import BEAT_MODEL, VT_MODEL

    vt_folds = vt_fold_models(vt_run, variant) if vt_run else None
    beat_folds = fold_models(beats_run, BEAT_MODEL[0]) if beats_run else {}
    plan: dict[str, dict[str, Path]] = {}
    kept, unseen = [], []
    for task in tasks:
        key = _key(database, task)
        if vt_folds is not None and key not in vt_folds:
            unseen.append(key)
            continue
        kept.append(task)
        replaced: dict[str, Path] = {}
        if vt_model is not None:
            replaced[VT_MODEL[0]] = Path(vt_model)
        if vt_folds is not None:
            replaced[VT_MODEL[0]] = vt_folds[key]
        if key in beat_folds:
            replaced[BEAT_MODEL[0]] = beat_folds[key]
        if replaced:
            plan[key] = replaced
    return plan, kept, unseen


def _key(database: str, task: Task) -> str:
    return f"{database}/{Path(task.path).name}"


def _collect(tasks: Sequence[Task], jobs: int, cinc: bool) -> list[Replayed]:
    answers: list[Replayed | None] = [None] * len(tasks)
    start = time.perf_counter()
    for k, (i, answer) in enumerate(replay_all(tasks, jobs), 1):
        answers[i] = answer
        tag = f"[{k}/{len(tasks)}] {answer.name}:"
        if answer.skipped is not None:
            say(sys.stderr, f"{tag} skipped, {answer.skipped}")
            continue
        score = score_record(answer.reference, answer.events, answer.duration_s, answer.name)
        # CinC folders have thousands of short records: say only those with events, and a pulse.
        if not cinc or score.run_events or k % 250 == 0 or k == len(tasks):
            say(sys.stderr, f"{tag} {_progress(score)} (replay {answer.wall_s:.1f} s, {time.perf_counter() - start:.0f} s in all)")  # fmt: skip
    return [a for a in answers if a is not None]


def inference_budget(answers: Sequence[Replayed]) -> dict[str, Any]:
    """Multiply-accumulates per 10 s of signal over all the records replayed, by model, and the
    record that spent most: the patch's inference budget measured on what was scored."""
    seconds = sum(a.duration_s for a in answers)
    by_model: dict[str, int] = {}
    for a in answers:
        for model, macs in a.macs.items():
            by_model[model] = by_model.get(model, 0) + macs
    worst = max(answers, key=lambda a: sum(a.macs.values()) / max(a.duration_s, 1e-9))
    per_10s = 10.0 / seconds if seconds > 0 else 0.0
    return {
        "signal_s": seconds,
        "macs_per_10s": sum(by_model.values()) * per_10s,
        "macs_per_10s_by_model": {m: v * per_10s for m, v in sorted(by_model.items())},
        "worst_record": worst.name,
        "worst_record_macs_per_10s": sum(worst.macs.values()) * 10.0 / max(worst.duration_s, 1e-9),
    }


def format_budget(budget: dict[str, Any]) -> str:
    models = ", ".join(f"{m} {v / 1e6:.1f}" for m, v in budget["macs_per_10s_by_model"].items())
    return (
        f"inference: {budget['macs_per_10s'] / 1e6:.1f} M MAC per 10 s of signal ({models}); "
        f"most: {budget['worst_record']} {budget['worst_record_macs_per_10s'] / 1e6:.1f} M"
    )


def _progress(s: RecordVtScore) -> str:
    return (f"{s.reference_episodes} reference episodes, {s.detected} detected, {s.false_alerts} false alerts, "
            f"{s.run_events - s.alarms} NSVT, {s.hours:.2f} h")  # fmt: skip


def _note_model(model: str | None) -> None:
    if model is not None:
        return
    from firmware.model_plan import VT_MODEL
    from model_compression.training.model_card import FIRMWARE_MODELS

    if not (FIRMWARE_MODELS / VT_MODEL[0]).is_file():
        say(sys.stderr, f"note: {FIRMWARE_MODELS / VT_MODEL[0]} is not shipped yet; --model FILE scores one")


def _write_events(path: str | Path, answers: Sequence[Replayed]) -> None:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as f:
        for answer in answers:
            for event in answer.events:
                f.write(json.dumps(dataclasses.asdict(event)) + "\n")


TRACE_FORMAT = "ecg-vt-trace/1"


def write_trace(
    path: str | Path, folder: Path, cinc: bool, answers: Sequence[Replayed], cv_run: str | None,
    variant: str | None, model: str | None,
) -> None:  # fmt: skip
    """The replayed records' references, events and event-rule inputs, for `ecg eval vt-rules`
    (a gzipped pickle: a file this project wrote, not one to take from elsewhere)."""
    import gzip
    import pickle

    records = {
        a.name: {"reference": a.reference, "rhythms": a.rhythms, "duration_s": a.duration_s,
                 "events": a.events, "inputs": a.inputs}
        for a in answers
    }  # fmt: skip
    head = {"format": TRACE_FORMAT, "data": str(folder), "layout": "cinc2017" if cinc else "wfdb",
            "cv_run": cv_run, "variant": variant, "model": model}  # fmt: skip
    with gzip.open(path, "wb", compresslevel=3) as fh:
        pickle.dump({**head, "records": records}, fh, protocol=pickle.HIGHEST_PROTOCOL)


def rules_json() -> dict[str, Any]:
    """The matching rules in the JSON, so that a figure can be read without the code."""
    return {
        "reference_rhythms": sorted(REFERENCE_RHYTHMS),
        "reference_flutter_marks": "[ ... ]",
        "merge": "overlapping or touching reference intervals are one episode",
        "match": "overlap of half-open [onset, end) intervals, no tolerance",
        "alarm_type": ALARM_TYPE,
        "run_types": sorted(RUN_TYPES),
        "long_episode_s": LONG_EPISODE_S,
        "latency": "earliest emitted_s of the VT events overlapping a detected episode minus its onset",
        "undefined": "null: nothing there to count (no reference episode, no event, no latency)",
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _sec(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def format_table(scores: Sequence[RecordVtScore]) -> str:
    """Rows for the records with reference episodes or VT/NSVT events; the quiet ones in one line."""
    header = (f"{'record':<10}{'hours':>7}{'ref':>5}{'det':>5}{'>=10s':>7}{'det':>5}{'VT':>5}{'false':>7}"
              f"{'VT+NSVT':>9}{'run det':>9}{'latency s':>11}")  # fmt: skip
    lines = [header, "-" * len(header)]
    quiet = [s for s in scores if not s.reference_episodes and not s.run_events]
    for s in scores:
        if s.reference_episodes or s.run_events:
            latency = ", ".join(f"{v:.1f}" for v in s.latencies_s[:3]) + (
                " ..." if len(s.latencies_s) > 3 else ""
            )
            lines.append(
                f"{s.record:<10}{s.hours:>7.2f}{s.reference_episodes:>5}{s.detected:>5}{s.reference_long:>7}"
                f"{s.detected_long:>5}{s.alarms:>5}{s.false_alerts:>7}{s.run_events:>9}{s.run_detected:>9}"
                f"  {latency}"
            )
    if quiet:
        lines.append(
            f"{len(quiet)} records with no reference episode and no event ({sum(s.hours for s in quiet):.1f} h)"
        )
    return "\n".join(lines)


def format_summary(figures: dict[str, Any]) -> str:
    t = figures["totals"]
    f = figures
    return "\n".join([
        f"episodes: Se {_pct(f['episode_sensitivity'])}% ({t['detected']}/{t['reference_episodes']}), "
        f"+P {_pct(f['episode_ppv'])}% ({t['true_alarms']}/{t['alarms']}), "
        f"Se >= {LONG_EPISODE_S:g} s {_pct(f['episode_sensitivity_10s'])}% ({t['detected_long']}/{t['reference_long']})",
        f"duration: Se {_pct(f['duration_sensitivity'])}%, +P {_pct(f['duration_ppv'])}% "
        f"({t['overlap_s']:.0f} s shared, {t['reference_s']:.0f} s reference, {t['alarm_s']:.0f} s detected)",
        f"runs (VT + NSVT events): Se {_pct(f['run_sensitivity'])}% ({t['run_detected']}/{t['reference_episodes']}), "
        f"+P {_pct(f['run_ppv'])}% ({t['true_run_events']}/{t['run_events']})",
        f"false alerts: {t['false_alerts']} in {t['hours']:.2f} h = "
        + ("-" if f["false_alerts_per_24h"] is None else f"{f['false_alerts_per_24h']:.2f}") + " per 24 h"
        + _by_rhythm(f.get("false_alerts_by_rhythm")),
        f"alarm latency from onset: median {_sec(f['latency_median_s'])} s, "
        f"95th percentile {_sec(f['latency_p95_s'])} s ({t['latencies']} episodes); over episodes >= "
        f"{LONG_EPISODE_S:g} s: median {_sec(f['latency_median_s_10s'])} s, 95th percentile "
        f"{_sec(f['latency_p95_s_10s'])} s ({t['latencies_10s']} episodes)",
    ])  # fmt: skip


def _by_rhythm(counts: dict[str, int] | None) -> str:
    if not counts:
        return ""
    return " (reference rhythm: " + ", ".join(f"{label} {n}" for label, n in counts.items()) + ")"


def plot_vt(answers: Sequence[Replayed], scores: Sequence[RecordVtScore], path: Path, title: str) -> None:
    """Left: a timeline per record (reference episodes above, VT and NSVT events below, alarm
    instants as ticks); right: the latencies. The busiest MAX_TIMELINE_ROWS records are drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    busy = sorted(
        (i for i, s in enumerate(scores) if s.reference_episodes or s.run_events),
        key=lambda i: -(scores[i].reference_episodes + scores[i].run_events),
    )[:MAX_TIMELINE_ROWS]
    rows = sorted(busy)
    fig, (timeline, histogram) = plt.subplots(
        1, 2, figsize=(13, 1.5 + 0.32 * max(len(rows), 4)), gridspec_kw={"width_ratios": [3, 1]}
    )
    for y, i in enumerate(rows):
        answer = answers[i]
        # Edges drawn in the face colour keep runs of a second visible on a half-hour axis.
        spans = [(a / 60, (b - a) / 60) for a, b in answer.reference]
        timeline.broken_barh(spans, (y - 0.45, 0.4), color="0.45", edgecolor="0.45", lw=0.8)
        for kind, colour in ((ALARM_TYPE, "#d62728"), ("NSVT", "#ff7f0e")):
            events = [e for e in answer.events if e.type == kind]
            spans = [(e.onset_s / 60, max(e.end_s - e.onset_s, 0.0) / 60) for e in events]
            timeline.broken_barh(spans, (y + 0.05, 0.4), color=colour, edgecolor=colour, lw=0.8)
            if kind == ALARM_TYPE and events:
                timeline.plot([e.emitted_s / 60 for e in events], [y + 0.25] * len(events), "k|", ms=7)
    timeline.set_yticks(range(len(rows)), [scores[i].record for i in rows])
    timeline.set_ylim(-0.7, max(len(rows), 1) - 0.3)
    timeline.invert_yaxis()  # first record on top; within a row the reference is above the events
    timeline.set_xlabel("record time, min")
    shown = f"{len(rows)} of {len(scores)}" if len(rows) < len(scores) else f"{len(scores)}"
    shown += " record" if len(scores) == 1 else " records"
    timeline.set_title(f"{shown}: reference VT/VFL/VF (grey), VT (red, | alarm), NSVT (orange)", fontsize=9)
    latencies = [v for s in scores for v in s.latencies_s]
    if latencies:
        histogram.hist(latencies, bins=min(30, max(5, len(latencies) // 2)), color="#d62728")
        histogram.set_xlabel("alarm latency from reference onset, s")
        histogram.set_ylabel("episodes")
        histogram.yaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        histogram.text(
            0.5, 0.5, "no episode detected", ha="center", va="center", transform=histogram.transAxes
        )
        histogram.set_axis_off()
    histogram.set_title("latency", fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
