"""`ecg bench qrs`: the patch's beat detector beside NeuroKit2 and wfdb's XQRS, same records, same lead.

Each detector is scored beat by beat exactly as `ecg eval qrs` scores ours, and timed on the
detector call alone (file reading excluded). Peers run at the record's own rate; ours at the patch
rate, so its throughput counts patch-rate samples. With `--noise`, every detector gets the same noisy
copy of the lead (see scoring.noise_stress). Also runnable as
`python -m scoring.qrs_bench ... --skip-ours` to bench the peers without the patch detector.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from ecg_data.errors import RecordError
from ecg_data.record import Record
from scoring.noise_stress import describe, noise_json, noisy_records
from scoring.qrs_eval import Detector, noise_from, patch_detector, score_record, write_json
from scoring.records import annotated_paths, head, parse_names, read_beat_records, with_lead
from scoring.report import Counts, RecordScore, finite_or_none, percent, say, summary_json, total

DEFAULT_PATCH_FS = 250
WARM_UP_S = 20.0  # untimed first call per detector, so one-off set-up costs are not billed to record 1


@dataclass(frozen=True)
class BenchDetector:
    name: str
    description: str
    detect: Detector
    rate: Callable[[Record], float]  # Hz at which the detector processes the signal


@dataclass
class DetectorRun:
    detector: BenchDetector
    scores: list[RecordScore] = field(default_factory=list)
    detector_s: float = 0.0
    samples: int = 0  # at the detector's own rate
    signal_s: float = 0.0

    @property
    def samples_per_s(self) -> float:
        return self.samples / self.detector_s if self.detector_s > 0 else math.nan

    @property
    def x_real_time(self) -> float:
        return self.signal_s / self.detector_s if self.detector_s > 0 else math.nan

    @property
    def ms_per_signal_s(self) -> float:
        """Detector time per second of ECG."""
        return 1000 * self.detector_s / self.signal_s if self.signal_s > 0 else math.nan

    @property
    def rate_hz(self) -> float | None:
        """Samples per second of ECG the detector processed."""
        return round(self.samples / self.signal_s, 3) if self.signal_s > 0 else None

    def to_json(self) -> dict[str, Any]:
        return {
            "description": self.detector.description,
            "rate_hz": self.rate_hz,
            "detector_s": self.detector_s,
            "samples": self.samples,
            "signal_s": self.signal_s,
            "samples_per_s": finite_or_none(self.samples_per_s),
            "us_per_sample": finite_or_none(1e6 / self.samples_per_s),
            "x_real_time": finite_or_none(self.x_real_time),
            "ms_per_signal_s": finite_or_none(self.ms_per_signal_s),
            **summary_json(self.scores),
        }


def record_rate(record: Record) -> float:
    return record.fs


def neurokit_detector(method: str = "neurokit") -> BenchDetector:
    """NeuroKit2 with the same method for cleaning and peaks ('neurokit' is its default for both)."""
    import neurokit2 as nk

    def detect(record: Record, lead_index: int) -> np.ndarray:
        fs = record.fs
        cleaned = nk.ecg_clean(record.signal[:, lead_index], sampling_rate=fs, method=method)
        _, info = nk.ecg_peaks(cleaned, sampling_rate=fs, method=method)
        return np.asarray(info["ECG_R_Peaks"], dtype=np.float64) / fs

    name = "neurokit" if method == "neurokit" else f"nk-{method}"
    return BenchDetector(
        name, f"NeuroKit2 {nk.__version__} ecg_clean+ecg_peaks method={method!r}", detect, record_rate
    )


def xqrs_detector() -> BenchDetector:
    import wfdb
    from wfdb import processing

    def detect(record: Record, lead_index: int) -> np.ndarray:
        xqrs = processing.XQRS(record.signal[:, lead_index], record.fs)
        xqrs.detect(verbose=False)
        return np.asarray(xqrs.qrs_inds, dtype=np.float64) / record.fs

    return BenchDetector("xqrs", f"wfdb {wfdb.__version__} processing.XQRS", detect, record_rate)


def ours_detector(fs_patch: int, detect: Detector | None = None) -> BenchDetector:
    """The patch detector (or a stand-in for tests), timed against patch-rate samples."""
    return BenchDetector(
        "ours",
        f"patch detector at {fs_patch} Hz",
        detect if detect is not None else patch_detector(fs_patch),
        lambda record: float(fs_patch),
    )


def peer_detectors() -> list[BenchDetector]:
    return [neurokit_detector("neurokit"), neurokit_detector("pantompkins1985"), xqrs_detector()]


def bench(
    records: Iterable[Record],
    detectors: Sequence[BenchDetector],
    lead: str | None = None,
    *,
    progress: TextIO | None = None,
    total_records: int | None = None,
    warm_up: bool = True,
) -> list[DetectorRun]:
    runs = [DetectorRun(d) for d in detectors]
    warmed = not warm_up
    for count, record, index in with_lead(records, lead, progress, total_records):
        if not warmed:
            for d in detectors:
                d.detect(head(record, WARM_UP_S), index)
            warmed = True
        for run in runs:
            start = time.perf_counter()
            detections = np.asarray(run.detector.detect(record, index), dtype=np.float64)
            elapsed = time.perf_counter() - start
            score = score_record(record, detections)
            run.scores.append(score)
            run.detector_s += elapsed
            run.samples += round(record.duration_s * run.detector.rate(record))
            run.signal_s += record.duration_s
            c = score.counts
            say(
                progress,
                f"{count} {record.name} {run.detector.name}: Se {percent(c.sensitivity)}%, "
                f"+P {percent(c.positive_predictivity)}% ({elapsed:.2f} s)",
            )
    return runs


def bench_json(runs: Sequence[DetectorRun], info: dict[str, Any]) -> dict[str, Any]:
    return {**info, "detectors": {run.detector.name: run.to_json() for run in runs}}


def format_bench(runs: Sequence[DetectorRun]) -> str:
    """Per-record Se/+P % side by side, then totals and throughput per detector."""
    if not runs or not runs[0].scores:
        return "no record scored"
    widths = [max(len(r.detector.name), len("100.00/100.00")) + 2 for r in runs]
    names = "".join(f"{r.detector.name:>{w}}" for r, w in zip(runs, widths, strict=True))
    lines = [f"{'record':<8}{'beats':>7}{names}", f"{'':<15}" + "".join(f"{'Se/+P %':>{w}}" for w in widths)]
    lines.append("-" * len(lines[0]))
    for i, first in enumerate(runs[0].scores):
        cells = "".join(f"{_pair(run.scores[i].counts):>{w}}" for run, w in zip(runs, widths, strict=True))
        lines.append(f"{first.name + ('*' if first.paced else ''):<8}{first.counts.beats:>7}{cells}")
    if any(s.paced for s in runs[0].scores):
        lines.append("(* paced)")
    summary = (
        f"{'detector':<20}{'non-paced Se/+P %':>19}{'paced Se/+P %':>16}{'all Se/+P %':>16}"
        f"{'samples/s':>13}{'x real time':>13}{'ms/signal-s':>13}"
    )
    lines += ["", summary, "-" * len(summary)]
    for run in runs:
        paced = total(s for s in run.scores if s.paced)
        lines.append(
            f"{run.detector.name:<20}{_pair(total(s for s in run.scores if not s.paced)):>19}"
            f"{_pair(paced) if paced.beats else '-':>16}{_pair(total(run.scores)):>16}"
            f"{run.samples_per_s:>13,.0f}{run.x_real_time:>13,.0f}{run.ms_per_signal_s:>13.2f}"
        )
    lines += [f"  {run.detector.name}: {run.detector.description}" for run in runs]
    return "\n".join(lines)


def plot_bench(runs: Sequence[DetectorRun], path: str | Path, title: str = "") -> None:
    """Totals per detector (bars) and every non-paced record (Se against +P), as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    bars, scatter = fig.subplots(1, 2)
    x = np.arange(len(runs))
    width = 0.2
    series = [
        ("Se non-paced", lambda r: total(s for s in r.scores if not s.paced).sensitivity),
        ("+P non-paced", lambda r: total(s for s in r.scores if not s.paced).positive_predictivity),
        ("Se paced", lambda r: total(s for s in r.scores if s.paced).sensitivity),
        ("+P paced", lambda r: total(s for s in r.scores if s.paced).positive_predictivity),
    ]
    lowest = 100.0
    for k, (label, value) in enumerate(series):
        heights = np.array([100 * value(r) for r in runs])
        bars.bar(x + (k - 1.5) * width, heights, width, label=label)
        if np.isfinite(heights).any():
            lowest = min(lowest, float(np.nanmin(heights)))
    bars.set_xticks(x, [r.detector.name for r in runs])
    bars.set_ylim(max(0.0, lowest - 2), 100.5)
    bars.set_ylabel("%")
    bars.set_title("Totals")
    bars.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=4, fontsize="small")
    for run in runs:
        own = [s.counts for s in run.scores if not s.paced]
        scatter.scatter(
            [100 * c.sensitivity for c in own],
            [100 * c.positive_predictivity for c in own],
            label=run.detector.name,
            s=18,
            alpha=0.7,
        )
    scatter.set_xlabel("Se %")
    scatter.set_ylabel("+P %")
    scatter.set_title("Non-paced records")
    scatter.legend(fontsize="small")
    if title:
        fig.suptitle(title, fontsize="medium")
    fig.savefig(path, dpi=120)


def run_cli(args: argparse.Namespace) -> int:
    from ecg_cli.main import UserFacingError

    fs_patch = int(getattr(args, "fs", None) or DEFAULT_PATCH_FS)
    started = time.perf_counter()
    try:
        noise = noise_from(args)
        paths = annotated_paths(args.data, parse_names(args.records))
        ours = [] if getattr(args, "skip_ours", False) else [ours_detector(fs_patch)]
    except (ValueError, FileNotFoundError) as exc:
        raise UserFacingError(str(exc)) from exc
    except ModuleNotFoundError as exc:
        raise UserFacingError(
            f"{exc}; `python -m scoring.qrs_bench --skip-ours ...` benches the peers alone"
        ) from exc
    try:
        # One noisy copy per record, handed to every detector alike.
        runs = bench(
            noisy_records(read_beat_records(paths), args.lead, noise),
            [*ours, *peer_detectors()],
            args.lead,
            progress=sys.stderr,
            total_records=len(paths),
        )
    except RecordError as exc:
        raise UserFacingError(str(exc)) from exc
    if not runs[0].scores:
        raise UserFacingError(
            f"{args.data}: no record with beat annotations on lead {args.lead or '(first)'}"
        )
    wall_s = time.perf_counter() - started
    header = (
        f"QRS detection benchmark, lead {args.lead or '(first)'}, {len(runs[0].scores)} records, "
        f"{describe(noise)}, {wall_s:.0f} s in all"
    )
    print(header)
    print(format_bench(runs))
    if args.json:
        info = {
            "data": str(args.data),
            "lead": args.lead,
            "fs_patch": fs_patch,
            "noise": noise_json(noise),
            "wall_s": wall_s,
        }
        write_json(args.json, bench_json(runs, info))
        plot = Path(args.json).with_suffix(".png")
        plot_bench(runs, plot, header)
        print(f"wrote {args.json} and {plot}", file=sys.stderr)
    return 0


def _pair(c: Counts) -> str:
    return f"{percent(c.sensitivity)}/{percent(c.positive_predictivity)}"


def main(argv: Sequence[str] | None = None) -> int:
    from ecg_cli.eval_commands import add_noise_options
    from ecg_cli.main import UserFacingError

    parser = argparse.ArgumentParser(prog="python -m scoring.qrs_bench", description=__doc__)
    parser.add_argument("--data", required=True, help="folder of WFDB records with beat annotations")
    parser.add_argument("--records", help="comma-separated record names (default: all with beat annotations)")
    parser.add_argument("--lead", help="signal name to use (default: the record's first signal)")
    parser.add_argument("--json", help="write the comparison here (and the plot beside it)")
    parser.add_argument("--fs", type=int, default=DEFAULT_PATCH_FS, help="the patch's sampling rate in Hz")
    parser.add_argument("--skip-ours", action="store_true", help="bench the reference detectors only")
    add_noise_options(parser)
    args = parser.parse_args(argv)
    try:
        return run_cli(args)
    except UserFacingError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
