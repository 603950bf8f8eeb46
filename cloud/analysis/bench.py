"""`ecg bench analysis`: the analysis engine beside NeuroKit2 on 1, 6 and 24 hours of real ECG.

Each record (MIT-BIH MLII at 250 Hz, joined; see bench_records) is analysed in full by ours
(`analyse_stream`, read from disk in 60-s chunks) and by NeuroKit2 (`ecg_process`, `hrv_time`,
`hrv_frequency` in ms², the whole signal in memory), each in its own process under a time and an
address-space limit, one thread each. Ours runs with NN as hrv_time takes it (RR between all
detected beats, no filter); each is judged against HRV from the reference annotations by its own
code (so spectral choices cancel out). NeuroKit2's peaks come out of `ecg_process` already corrected
for artefacts, so its detector's peaks without that correction are scored too (the "NK uncorr"
row), which tells a difference of detectors from one of the correction. Then HRV with the engine's
default median20 RR filter, by our code on every side's beats alike, beside the reference's true NN
(normal beats only).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from cloud.analysis.bench_records import BENCH_FS, BuiltRecord, Pieces, build
from cloud.analysis.bench_worker import peak_rss_mib, uncorrected_file
from cloud.analysis.hrv import NN, frequency_domain, nn_intervals, time_domain
from ecg_data.errors import RecordError
from scoring.beat_match import match_beats, window_samples
from scoring.report import say

TOOLS = ("ours", "neurokit")
INDICES = ("mean_hr_bpm", "sdnn_ms", "rmssd_ms", "pnn50_pct", "lf_ms2", "hf_ms2")
# Symbols of AAMI class N, the reference's normal beats (model_compression.datasets.aami).
NORMAL_SYMBOLS = frozenset("NLRejB")
NOTE_EVERY_S = 30.0  # a progress line this often while a side runs
SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass(frozen=True)
class Limits:
    timeout_s: float
    memory_bytes: int


def run_worker(
    tool: str, record: BuiltRecord, out: Path, limits: Limits, progress: TextIO | None = None
) -> dict[str, Any]:
    """Run one side in a child process under the limits; its report, whatever became of it."""
    cmd = [sys.executable, "-m", "cloud.analysis.bench_worker", tool, str(record.path), str(BENCH_FS), str(out)]
    log = out.with_suffix(".log")

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))

    started = time.perf_counter()
    peak = 0.0
    stage_file = out.with_suffix(".stage")
    next_note = started + NOTE_EVERY_S
    with log.open("wb") as err:
        proc = subprocess.Popen(cmd, stdout=err, stderr=err, env={**os.environ, **SINGLE_THREAD}, preexec_fn=limit)
        timed_out = False
        while True:
            pid, status, _ = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, peak_rss_mib(proc.pid) or 0.0)
            if time.perf_counter() > next_note:
                next_note += NOTE_EVERY_S
                stage = stage_file.read_text() if stage_file.is_file() else "start"
                say(progress, f"   {tool}: {stage}, {time.perf_counter() - started:.0f} s, {peak:,.0f} MiB so far")
            if time.perf_counter() - started > limits.timeout_s:
                proc.kill()
                pid, status, _ = os.wait4(proc.pid, 0)
                timed_out = True
                break
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started
    report: dict[str, Any] = json.loads(out.read_text()) if out.is_file() else {"tool": tool, "ok": False}
    # The NeuroKit2 side's extra uncorrected run is no part of what a user of it waits for.
    report["process_wall_s"] = elapsed - (report.get("stage_s") or {}).get("uncorrected_peaks", 0.0)
    # The child's own figure at its end; else the highest seen while it ran, polled every 50 ms.
    report["process_peak_rss_mib"] = max(report.get("peak_rss_mib") or 0.0, peak)
    report["exit_code"] = proc.returncode
    if not report.get("ok"):
        report.setdefault("stage", stage_file.read_text() if stage_file.is_file() else "start")
        if timed_out:
            report["error"] = f"timed out after {limits.timeout_s:g} s"
        elif "error" not in report:
            report["error"] = _death(proc.returncode, limits)
        report["log_tail"] = log.read_text(errors="replace")[-1500:]
    beats, uncorrected = out.with_suffix(".npy"), uncorrected_file(out)
    report["beats_file"] = str(beats) if beats.is_file() else None
    if uncorrected.is_file():
        report["uncorrected_beats_file"] = str(uncorrected)
    return report


def _death(code: int, limits: Limits) -> str:
    if code < 0:
        return f"killed by signal {-code} (memory limit {limits.memory_bytes / 2**30:g} GiB?)"
    return f"exit code {code} without a report"


def reference_figures(record: BuiltRecord) -> dict[str, Any]:
    """HRV of the reference beats: by our code (all beats, and normal beats only) and by NeuroKit2's."""
    beat_s = record.beats / BENCH_FS
    out: dict[str, Any] = {"beats": len(record.beats)}
    normal = np.where(np.isin(record.symbols, list(NORMAL_SYMBOLS)), "N", "O")
    for key, nn in (("ours_method", nn_intervals(beat_s)), ("ours_method_normal_only", nn_intervals(beat_s, normal))):
        out[key] = _ours_figures(beat_s, nn)
    try:
        out["neurokit_method"] = _neurokit_figures(record.beats)
    except (ImportError, MemoryError) as exc:
        out["neurokit_method"] = {"error": f"{type(exc).__name__}: {exc}"}
    return out


def _ours_figures(beat_s: np.ndarray, nn: NN) -> dict[str, Any]:
    td, fd = time_domain(nn), frequency_domain(nn)
    return {
        "mean_hr_bpm": 60.0 / float(np.diff(beat_s).mean()),
        "sdnn_ms": td.get("sdnn_ms"),
        "rmssd_ms": td.get("rmssd_ms"),
        "pnn50_pct": td.get("pnn50_pct"),
        "lf_ms2": fd.get("lf_ms2"),
        "hf_ms2": fd.get("hf_ms2"),
        "nn_definition": nn.definition,
    }


def _neurokit_figures(beats: np.ndarray) -> dict[str, Any]:
    import neurokit2 as nk

    ht = nk.hrv_time(beats, sampling_rate=BENCH_FS)
    hf = nk.hrv_frequency(beats, sampling_rate=BENCH_FS, normalize=False)
    return {
        "mean_hr_bpm": 60000.0 / float(ht["HRV_MeanNN"].iloc[0]),
        "sdnn_ms": float(ht["HRV_SDNN"].iloc[0]),
        "rmssd_ms": float(ht["HRV_RMSSD"].iloc[0]),
        "pnn50_pct": float(ht["HRV_pNN50"].iloc[0]),
        "lf_ms2": float(hf["HRV_LF"].iloc[0]),
        "hf_ms2": float(hf["HRV_HF"].iloc[0]),
    }


def filtered_figures(record: BuiltRecord, sides: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """HRV by our code with the median20 RR filter applied alike to each side's beats and to the
    reference beats, the engine's default NN without a beat classifier."""
    beats = {"reference": record.beats}
    for tool, report in sides.items():
        if report.get("beats_file"):
            beats[tool] = np.load(report["beats_file"])
    out: dict[str, Any] = {}
    for name, samples in beats.items():
        beat_s = samples / BENCH_FS
        out[name] = _ours_figures(beat_s, nn_intervals(beat_s, rr_filter="median20"))
    ref = out["reference"]
    for name in sides:
        if name in out:
            out[name]["vs_reference_pct"] = {k: _pct(out[name][k], ref[k]) for k in INDICES}
    if "ours" in out and "neurokit" in out:
        out["ours_vs_neurokit_pct"] = {k: _pct(out["ours"][k], out["neurokit"][k]) for k in INDICES}
    return out


def detection_scores(record: BuiltRecord, beats_file: str | None) -> dict[str, Any] | None:
    """EC57 matching (150 ms) of a side's beats against the reference beats of the joined record."""
    if not beats_file:
        return None
    match = match_beats(record.beats, np.load(beats_file), window_samples(BENCH_FS))
    return {
        "tp": match.tp,
        "fp": match.fp,
        "fn": match.fn,
        "sensitivity": match.sensitivity,
        "positive_predictivity": match.positive_predictivity,
    }


def compare(ours: dict[str, Any], neurokit: dict[str, Any], reference: dict[str, Any]) -> dict[str, Any]:
    """Per index: both values, ours - NK (absolute and % of NK), each against the reference, and ours
    against NeuroKit2's uncorrected peaks where it has them."""
    a = ours.get("figures") or {}
    b = neurokit.get("figures") or {}
    raw = b.get("uncorrected") or {}
    ref_ours = reference.get("ours_method", {})
    ref_nk = reference.get("neurokit_method", {})
    out = {}
    for index in INDICES:
        va, vb = a.get(index), b.get(index)
        out[index] = {
            "ours": va,
            "neurokit": vb,
            "ours_minus_neurokit": _sub(va, vb),
            "ours_vs_neurokit_pct": _pct(va, vb),
            "reference_ours_method": ref_ours.get(index),
            "ours_vs_reference_pct": _pct(va, ref_ours.get(index)),
            "reference_neurokit_method": ref_nk.get(index),
            "neurokit_vs_reference_pct": _pct(vb, ref_nk.get(index)),
            "neurokit_uncorrected": raw.get(index),
            "ours_vs_neurokit_uncorrected_pct": _pct(va, raw.get(index)),
        }
    return out


def _sub(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _pct(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else 100.0 * (a - b) / b


def bench(
    hours: Sequence[float],
    mitdb: Path,
    work: Path,
    limits: Limits,
    tools: Sequence[str] = TOOLS,
    progress: TextIO | None = None,
) -> list[dict[str, Any]]:
    pieces = Pieces(mitdb, progress=progress)
    results = []
    for h in hours:
        say(progress, f"== {h:g} h: building the record")
        record = build(pieces, h, work / f"record_{h:g}h.npy")
        entry: dict[str, Any] = {
            "hours": h,
            "samples": record.samples,
            "fs": BENCH_FS,
            "sources": record.sources,
        }
        for tool in tools:
            say(progress, f"== {h:g} h: {tool} (limit {limits.timeout_s:g} s, {limits.memory_bytes / 2**30:g} GiB)")
            report = run_worker(tool, record, work / f"{tool}_{h:g}h.json", limits, progress)
            report["detection"] = detection_scores(record, report.get("beats_file"))
            if report.get("uncorrected_beats_file"):
                report["uncorrected_detection"] = detection_scores(record, report["uncorrected_beats_file"])
            entry[tool] = report
            say(progress, f"   {tool}: {_outcome(report)}")
        say(progress, f"== {h:g} h: reference HRV")
        entry["reference"] = reference_figures(record)
        entry["median20"] = filtered_figures(record, {tool: entry[tool] for tool in tools})
        if "ours" in entry and "neurokit" in entry:
            entry["ratio"] = _ratios(entry["ours"], entry["neurokit"])
            entry["comparison"] = compare(entry["ours"], entry["neurokit"], entry["reference"])
        results.append(entry)
        record.path.unlink(missing_ok=True)
    return results


def _ratios(ours: dict[str, Any], neurokit: dict[str, Any]) -> dict[str, Any]:
    if not (ours.get("ok") and neurokit.get("ok")):
        return {"reason": "a side did not complete"}
    return {
        "analysis_time": neurokit["analysis_s"] / ours["analysis_s"],
        "process_time": neurokit["process_wall_s"] / ours["process_wall_s"],
        "peak_rss": neurokit["process_peak_rss_mib"] / ours["process_peak_rss_mib"],
    }


def _outcome(report: dict[str, Any]) -> str:
    rss = report["process_peak_rss_mib"]
    if report.get("ok"):
        return f"{report['analysis_s']:.2f} s analysis, {report['process_wall_s']:.1f} s process, {rss:,.0f} MiB peak"
    return f"FAILED in {report.get('stage')}: {report.get('error')} after {report['process_wall_s']:.1f} s, {rss:,.0f} MiB"


def format_results(results: Sequence[dict[str, Any]]) -> str:
    lines = [
        f"{'hours':>5} {'side':<9}{'analysis s':>11}{'process s':>10}{'peak MiB':>10}{'Se %':>8}{'+P %':>8}"
        f"{'HR bpm':>8}{'SDNN':>8}{'RMSSD':>8}{'pNN50':>7}{'LF ms²':>9}{'HF ms²':>9}"
    ]
    lines.append("-" * len(lines[0]))
    for entry in results:
        rows: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = [
            (tool, entry[tool].get("figures") or {}, entry[tool]) for tool in TOOLS if tool in entry
        ]
        nk = entry.get("neurokit") or {}
        if (nk.get("figures") or {}).get("uncorrected"):
            rows.append(("NK uncorr", nk["figures"]["uncorrected"], {"ok": True, "detection": nk.get("uncorrected_detection")}))
        rows += [
            ("ref/ours", entry["reference"]["ours_method"], None),
            ("ref/NK", entry["reference"].get("neurokit_method", {}), None),
        ]
        for name, fig, report in rows:
            det = (report or {}).get("detection") or {}
            if report is not None and not report.get("ok"):
                lines.append(
                    f"{entry['hours']:>5g} {name:<9}  FAILED in {report.get('stage')}: {report.get('error')} "
                    f"({report['process_wall_s']:.0f} s, {report['process_peak_rss_mib']:,.0f} MiB)"
                )
                continue
            lines.append(
                f"{entry['hours']:>5g} {name:<9}{_num(report, 'analysis_s', 11, 2)}{_num(report, 'process_wall_s', 10, 1)}"
                f"{_num(report, 'process_peak_rss_mib', 10, 0)}{_pc(det.get('sensitivity')):>8}"
                f"{_pc(det.get('positive_predictivity')):>8}{_fmt(fig.get('mean_hr_bpm'), 8, 2)}"
                f"{_fmt(fig.get('sdnn_ms'), 8, 1)}{_fmt(fig.get('rmssd_ms'), 8, 1)}{_fmt(fig.get('pnn50_pct'), 7, 1)}"
                f"{_fmt(fig.get('lf_ms2'), 9, 0)}{_fmt(fig.get('hf_ms2'), 9, 0)}"
            )
        filtered = entry.get("median20", {})
        for name, short in (("ours", "ours m20"), ("neurokit", "NK m20"), ("reference", "ref m20")):
            if name in filtered:
                lines.append(_hrv_row(entry["hours"], short, filtered[name]))
        lines.append(_hrv_row(entry["hours"], "ref N-N", entry["reference"].get("ours_method_normal_only", {})))
        ratio = entry.get("ratio", {})
        if "analysis_time" in ratio:
            comp = entry["comparison"]
            lines.append(
                f"{'':>5} NK/ours: analysis time {ratio['analysis_time']:,.0f}x, process time "
                f"{ratio['process_time']:,.0f}x, peak RSS {ratio['peak_rss']:.1f}x; ours-NK: HR "
                f"{comp['mean_hr_bpm']['ours_minus_neurokit']:+.2f} bpm, SDNN {comp['sdnn_ms']['ours_vs_neurokit_pct']:+.1f} %, "
                f"RMSSD {comp['rmssd_ms']['ours_vs_neurokit_pct']:+.1f} %, pNN50 "
                f"{comp['pnn50_pct']['ours_minus_neurokit']:+.1f} points"
            )
            if comp["rmssd_ms"]["neurokit_uncorrected"] is not None:
                lines.append(
                    f"{'':>5} ours vs NK's uncorrected peaks: SDNN {comp['sdnn_ms']['ours_vs_neurokit_uncorrected_pct']:+.1f} %, "
                    f"RMSSD {comp['rmssd_ms']['ours_vs_neurokit_uncorrected_pct']:+.1f} %"
                )
        lines.append("")
    return "\n".join(lines)


def _hrv_row(hours: float, name: str, fig: dict[str, Any]) -> str:
    """A row of HRV figures only, under the columns of the table above."""
    return (
        f"{hours:>5g} {name:<9}{'':>47}{_fmt(fig.get('mean_hr_bpm'), 8, 2)}{_fmt(fig.get('sdnn_ms'), 8, 1)}"
        f"{_fmt(fig.get('rmssd_ms'), 8, 1)}{_fmt(fig.get('pnn50_pct'), 7, 1)}{_fmt(fig.get('lf_ms2'), 9, 0)}"
        f"{_fmt(fig.get('hf_ms2'), 9, 0)}"
    )


def _num(report: dict[str, Any] | None, key: str, width: int, digits: int) -> str:
    value = None if report is None else report.get(key)
    return _fmt(value, width, digits)


def _fmt(value: float | None, width: int, digits: int) -> str:
    return f"{'-':>{width}}" if value is None or not math.isfinite(value) else f"{value:>{width},.{digits}f}"


def _pc(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{100 * value:.2f}"


def plot(results: Sequence[dict[str, Any]], path: Path, title: str) -> None:
    """Analysis time and peak memory per record length, ours beside NeuroKit2 (log scales)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    x = np.arange(len(results))
    width = 0.38
    panels = (("process_wall_s", "process wall time (s)"), ("process_peak_rss_mib", "peak RSS (MiB)"))
    for ax, (key, label) in zip(axes, panels, strict=True):
        for k, tool in enumerate(TOOLS):
            for i, entry in enumerate(results):
                report = entry.get(tool)
                if report is None:
                    continue
                pos = x[i] + (k - 0.5) * width
                value = report.get(key) or 0.0
                ok = bool(report.get("ok"))
                ax.bar(pos, value, width, color=f"C{k}", hatch="" if ok else "//", alpha=1.0 if ok else 0.4,
                       label=tool if i == 0 else None)
                text = f"{value:,.1f}" if ok else f"failed:\n{report.get('error', '')[:24]}\nin {report.get('stage')}"
                ax.annotate(text, (pos, value), ha="center", va="bottom", fontsize="x-small")
        ax.set_yscale("log")
        ax.set_xticks(x, [f"{e['hours']:g} h" for e in results])
        ax.set_ylabel(label)
        ax.legend(fontsize="small")
    fig.suptitle(title, fontsize="medium")
    fig.savefig(path, dpi=120)


def parse_hours(text: str) -> list[float]:
    try:
        hours = [float(h) for h in text.split(",") if h.strip()]
    except ValueError:
        raise ValueError(f"--hours takes comma-separated numbers, got {text!r}") from None
    if not hours or any(not (0 < h <= 48) for h in hours):
        raise ValueError(f"--hours must be between 0 and 48 each, got {text!r}")
    return hours


def run_cli(args: argparse.Namespace) -> int:
    from ecg_cli.main import UserFacingError
    from ecg_data.paths import data_root

    try:
        hours = parse_hours(args.hours)
    except ValueError as exc:
        raise UserFacingError(str(exc)) from exc
    if args.timeout <= 0 or args.memory_gib <= 0:
        raise UserFacingError("--timeout and --memory-gib must be positive")
    mitdb = Path(args.data) if args.data else data_root() / "mitdb"
    limits = Limits(args.timeout, int(args.memory_gib * 2**30))
    tools = ("ours",) if args.skip_neurokit else TOOLS
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ecg-bench-analysis-") as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        try:
            results = bench(hours, mitdb, work, limits, tools, progress=sys.stderr)
        except (FileNotFoundError, RecordError) as exc:
            raise UserFacingError(str(exc)) from exc
        wall = time.perf_counter() - started
        title = (
            f"Analysis engine vs NeuroKit2, MIT-BIH MLII joined at {BENCH_FS} Hz, limits "
            f"{args.timeout:g} s / {args.memory_gib:g} GiB per side, {wall:.0f} s in all"
        )
        print(title)
        print(format_results(results))
        if args.json:
            out = Path(args.json)
            out.parent.mkdir(parents=True, exist_ok=True)
            info = {
                "title": title,
                "data": str(mitdb),
                "limits": {"timeout_s": args.timeout, "memory_gib": args.memory_gib},
                "threads": SINGLE_THREAD,
                "nn_definition": "all detected beats, no RR filter, for both sides (NeuroKit2's beats as "
                "ecg_process corrects them; its uncorrected peaks under neurokit.figures.uncorrected)",
                "wall_s": wall,
                "records": results,
            }
            out.write_text(json.dumps(_clean(info), indent=2, allow_nan=False) + "\n")
            png = out.with_suffix(".png")
            plot(results, png, title)
            print(f"wrote {out} and {png}", file=sys.stderr)
    return 0


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k not in ("beats_file", "uncorrected_beats_file")}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """The same as `ecg bench analysis ...`."""
    from ecg_cli.main import main as ecg_main

    return ecg_main(["bench", "analysis", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
