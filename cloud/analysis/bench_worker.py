"""One side of `ecg bench analysis`, run in its own process so its time and memory are its own.

    python -m cloud.analysis.bench_worker {ours,neurokit} RECORD.npy FS OUT.json

Writes OUT.json (figures, timing, or the error and the stage it happened in) and OUT.npy (beat
samples). The stage is also kept in OUT.stage, so a process killed from outside still says where.

NeuroKit2's `ecg_process` corrects its peaks for artefacts (Lipponen & Tarvainen 2019, moving beats it
judges ectopic or misplaced) before `hrv_time` sees them. The NeuroKit2 side therefore also runs its
detector once more on the same cleaned signal without that correction (OUT.uncorrected.npy), unbilled,
so that the bench can tell the detector's share of a difference from the correction's.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

CHUNK_S = 60.0
# Not billed as analysis time: setting up, and the NeuroKit2 side's extra uncorrected run.
UNBILLED_STAGES = frozenset({"start", "import", "load", "uncorrected_peaks"})


class Stages:
    """Names the step under way, and times each."""

    def __init__(self, out: Path, tool: str) -> None:
        self.file = out.with_suffix(".stage")
        self.tool = tool
        self.current = "start"
        self.seconds: dict[str, float] = {}
        self._since = time.perf_counter()

    def __call__(self, name: str) -> None:
        self.end()
        self.current = name
        self.file.write_text(name)
        print(f"  {self.tool}: {name}", file=sys.stderr, flush=True)

    def end(self) -> None:
        now = time.perf_counter()
        self.seconds[self.current] = self.seconds.get(self.current, 0.0) + now - self._since
        self._since = now


def run_ours(path: Path, fs: float, stage: Stages, out: Path) -> tuple[dict[str, Any], np.ndarray]:
    stage("import")
    from cloud.analysis import AnalysisConfig
    from cloud.analysis.bench_records import iter_chunks
    from cloud.analysis.patch_models import analyse_with_models

    stage("analyse_stream")
    # The cloud's whole analysis, the patch's beat classifier included (it drops detections it
    # judges not to be beats); NN as NeuroKit2's hrv_time has it: every beat, no RR filter.
    config = AnalysisConfig(rr_filter="none", nn_normal_beats_only=False)
    result = analyse_with_models(iter_chunks(path, round(CHUNK_S * fs)), fs, config=config)
    td = result["hrv"]["time_domain"]
    fd = result["hrv"]["frequency_domain"]
    figures = {
        "mean_hr_bpm": result["heart_rate"].get("mean_bpm"),
        "sdnn_ms": td.get("sdnn_ms"),
        "rmssd_ms": td.get("rmssd_ms"),
        "pnn50_pct": td.get("pnn50_pct"),
        "lf_ms2": fd.get("lf_ms2"),
        "hf_ms2": fd.get("hf_ms2"),
        "lf_hf": fd.get("lf_hf"),
        "beats": result["beats"]["count"],
        "pauses": result["pauses"]["count"],
        "pauses_in_artefact": result["pauses"]["in_artefact_count"],
        "baseline_steps": len(result["artefacts"]["baseline_steps_s"]),
    }
    return figures, np.asarray(result["beats"]["sample"], dtype=np.int64)


def run_neurokit(path: Path, fs: float, stage: Stages, out: Path) -> tuple[dict[str, Any], np.ndarray]:
    stage("import")
    import neurokit2 as nk

    stage("load")
    x = np.load(path)
    stage("ecg_process")
    signals, info = nk.ecg_process(x, sampling_rate=fs)
    peaks = np.asarray(info["ECG_R_Peaks"], dtype=np.int64)
    rate_mean = float(signals["ECG_Rate"].mean())
    clean = signals["ECG_Clean"].to_numpy()
    del signals, info, x
    stage("hrv_time")
    ht = nk.hrv_time(peaks, sampling_rate=fs)
    stage("hrv_frequency")
    hf = nk.hrv_frequency(peaks, sampling_rate=fs, normalize=False)
    stage("uncorrected_peaks")
    raw, _ = nk.ecg_peaks(clean, sampling_rate=fs, correct_artifacts=False)
    raw_peaks = np.flatnonzero(raw["ECG_R_Peaks"].to_numpy())
    del raw, clean
    np.save(uncorrected_file(out), raw_peaks)
    raw_ht = nk.hrv_time(raw_peaks, sampling_rate=fs)
    figures = {
        "mean_hr_bpm": 60000.0 / float(ht["HRV_MeanNN"].iloc[0]),
        "ecg_rate_mean_bpm": rate_mean,
        "sdnn_ms": float(ht["HRV_SDNN"].iloc[0]),
        "rmssd_ms": float(ht["HRV_RMSSD"].iloc[0]),
        "pnn50_pct": float(ht["HRV_pNN50"].iloc[0]),
        "lf_ms2": float(hf["HRV_LF"].iloc[0]),
        "hf_ms2": float(hf["HRV_HF"].iloc[0]),
        "lf_hf": float(hf["HRV_LFHF"].iloc[0]),
        "beats": len(peaks),
        "version": nk.__version__,
        "uncorrected": {
            "mean_hr_bpm": 60000.0 / float(raw_ht["HRV_MeanNN"].iloc[0]),
            "sdnn_ms": float(raw_ht["HRV_SDNN"].iloc[0]),
            "rmssd_ms": float(raw_ht["HRV_RMSSD"].iloc[0]),
            "pnn50_pct": float(raw_ht["HRV_pNN50"].iloc[0]),
            "beats": len(raw_peaks),
        },
    }
    return figures, peaks


def uncorrected_file(out: Path) -> Path:
    """Where the NeuroKit2 side keeps its detector's peaks before artefact correction."""
    return out.with_suffix(".uncorrected.npy")


RUNNERS: dict[str, Callable[[Path, float, Stages, Path], tuple[dict[str, Any], np.ndarray]]] = {
    "ours": run_ours,
    "neurokit": run_neurokit,
}


def peak_rss_mib(pid: int | str = "self") -> float | None:
    """Peak resident memory of a process's current image (VmHWM), in MiB; None where unknown.

    Not getrusage's ru_maxrss: that also counts the parent's pages the child had between fork and
    exec, which would bill a big benchmark parent to every small worker.
    """
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def main(argv: list[str]) -> int:
    tool, path, fs, out = argv[0], Path(argv[1]), float(argv[2]), Path(argv[3])
    stage = Stages(out, tool)
    started = time.perf_counter()
    report: dict[str, Any] = {"tool": tool}
    code = 0
    try:
        figures, beats = RUNNERS[tool](path, fs, stage, out)
        np.save(out.with_suffix(".npy"), beats)
        report.update(ok=True, figures=figures)
    except MemoryError:
        report.update(ok=False, error="MemoryError", stage=stage.current)
        code = 3
    except Exception as exc:
        report.update(ok=False, error=f"{type(exc).__name__}: {exc}", stage=stage.current)
        traceback.print_exc()
        code = 4
    stage.end()
    analysis = sum(s for name, s in stage.seconds.items() if name not in UNBILLED_STAGES)
    report.update(
        wall_s=time.perf_counter() - started,
        analysis_s=analysis,
        stage_s=stage.seconds,
        peak_rss_mib=peak_rss_mib(),
    )
    out.write_text(json.dumps(_finite(report), allow_nan=False))
    return code


def _finite(value: Any) -> Any:
    """NaN and inf (NeuroKit2 returns NaN for an empty band) as null."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
