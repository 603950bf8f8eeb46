"""Model work per 10 s of monitored signal: records replayed through the whole simulated patch.

hardware_sim/patch_replay.py's replay() (front end, Patch with the PC's TFLM binding, NOR-flash
store, simulated alert devices; no lead-off), with the models' invocation counters read after
every FIFO block of 25 codes (100 ms), so the worst 10 s of a record
(the largest sum over 100 consecutive blocks) comes with the mean. MACs per inference are
model_compression/footprint.py's count from the flatbuffer. The outputs the radio carries are
counted too: event records (one EVENT frame each, ONGOING updates included), summaries, and the
snippets the store took with their payload bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from firmware.patch import Patch
from hardware_sim.front_end import FrontEndConfig
from hardware_sim.patch_replay import FIFO_SAMPLES, MODEL_FILES, patch_models, replay

WINDOW_S = 10.0


@dataclass(frozen=True)
class RecordUse:
    record: str
    duration_s: float
    beats: int
    invocations: dict[str, int]  # per model present
    macs: dict[str, int]  # per model, whole record
    invoke_s: dict[str, float]  # host time inside TFLM's Invoke, per model
    worst_macs: int  # the worst 10 s (the whole record if shorter)
    worst_at_s: float  # its start
    worst_by_model: dict[str, int] = field(default_factory=dict)
    vt_hops: int = 0
    vt_gate_open: int = 0
    event_records: int = 0
    summaries: int = 0
    snippets: int = 0
    snippet_bytes: int = 0
    wall_s: float = 0.0

    @property
    def macs_per_10s(self) -> float:
        return sum(self.macs.values()) * WINDOW_S / self.duration_s if self.duration_s > 0 else 0.0


def model_macs(folder: Path) -> dict[str, int]:
    """MACs per inference of each model the folder holds."""
    from model_compression.footprint import tflite_macs

    return {k: tflite_macs((folder / f).read_bytes()) for k, f in MODEL_FILES.items() if (folder / f).is_file()}


def worst_window(per_block: np.ndarray, blocks: int) -> tuple[int, int]:
    """(largest sum over `blocks` consecutive entries, its first index); the whole sum if shorter."""
    if per_block.size <= blocks:
        return int(per_block.sum()), 0
    c = np.concatenate(([0], np.cumsum(per_block, dtype=np.int64)))
    sums = c[blocks:] - c[:-blocks]
    i = int(np.argmax(sums))
    return int(sums[i]), i


def replay_uses(path: str | Path, models_dir: Path, duration_s: float | None = None) -> RecordUse:
    """Replays one record (lead 0) through the patch; returns its model work and radio outputs."""
    series: list[dict[str, int]] = []  # per FIFO block: invocations per model
    seen: dict[str, int] = {}

    def on_block(patch: Patch) -> None:
        row = {}
        for name, m in patch_models(patch).items():
            n = m.invocations
            row[name] = n - seen.get(name, 0)
            seen[name] = n
        series.append(row)

    result = replay(path, models_dir=models_dir, duration_s=duration_s, on_block=on_block)
    names = list(result.models)
    counts = np.array([[row.get(n, 0) for row in series] for n in names], dtype=np.int64).reshape(len(names), -1)
    for j, n in enumerate(names):  # finish() labels the last beats
        counts[j, -1] += result.models[n].invocations - seen.get(n, 0)
    per_inf = {n: result.models[n].macs_per_invocation for n in names}
    weights = np.array([per_inf[n] for n in names], dtype=np.int64)
    per_block = (counts * weights[:, None]).sum(axis=0) if names else np.zeros(len(series), np.int64)
    fs = FrontEndConfig().fs
    window = round(WINDOW_S * fs / FIFO_SAMPLES)
    worst, at = worst_window(per_block, window)
    return RecordUse(
        record=result.record,
        duration_s=result.duration_s,
        beats=result.beats,
        invocations={n: result.models[n].invocations for n in names},
        macs={n: result.models[n].macs for n in names},
        invoke_s={n: result.models[n].invoke_s for n in names},
        worst_macs=worst,
        worst_at_s=at * FIFO_SAMPLES / fs,
        worst_by_model={n: int(counts[j, at : at + window].sum()) * per_inf[n] for j, n in enumerate(names)},
        vt_hops=result.vt_hops,
        vt_gate_open=result.vt_gate_open,
        event_records=result.event_records,
        summaries=result.summaries,
        snippets=result.snippets,
        snippet_bytes=result.snippet_bytes,
        wall_s=result.wall_s,
    )


def default_records(root: Path, cinc_sample: int = 40) -> list[Path]:
    """MIT-BIH 207, 203, 119, 223, 100, 208; vfdb 422 and 430 (VF 520 and 1041 s), 418 (flutter),
    427, 611, 614 (VT 680-900 s); every k-th CinC 2017 record for `cinc_sample` of them."""
    paths = [root / "mitdb" / r for r in ("207", "203", "119", "223", "100", "208")]
    paths += [root / "vfdb" / r for r in ("422", "430", "418", "427", "611", "614")]
    cinc = sorted(p.with_suffix("") for p in (root / "cinc2017").glob("A*.hea"))
    if cinc and cinc_sample > 0:
        step = max(1, len(cinc) // cinc_sample)
        paths += cinc[::step][:cinc_sample]
    return [p for p in paths if p.with_suffix(".hea").is_file()]


def summarise(uses: list[RecordUse]) -> dict:
    """Mean MACs per 10 s over all the signal, per model and in all; the worst record and 10 s."""
    total_s = sum(u.duration_s for u in uses)
    names = sorted({n for u in uses for n in u.macs})
    per_model = {n: sum(u.macs.get(n, 0) for u in uses) * WINDOW_S / total_s for n in names} if total_s else {}
    worst_rec = max(uses, key=lambda u: u.macs_per_10s) if uses else None
    worst_10 = max(uses, key=lambda u: u.worst_macs) if uses else None
    return {
        "signal_s": total_s,
        "records": len(uses),
        "mean_macs_per_10s": sum(per_model.values()),
        "mean_macs_per_10s_by_model": per_model,
        "worst_record": worst_rec.record if worst_rec else "",
        "worst_record_macs_per_10s": worst_rec.macs_per_10s if worst_rec else 0.0,
        "worst_10s_record": worst_10.record if worst_10 else "",
        "worst_10s_at_s": worst_10.worst_at_s if worst_10 else 0.0,
        "worst_10s_macs": worst_10.worst_macs if worst_10 else 0,
        "worst_10s_by_model": worst_10.worst_by_model if worst_10 else {},
        "beats_per_s": sum(u.beats for u in uses) / total_s if total_s else 0.0,
        "vt_gate_open_per_s": sum(u.vt_gate_open for u in uses) / total_s if total_s else 0.0,
    }


def host_invoke_us(folder: Path, repeats: int = 20) -> dict[str, float]:
    """Median host microseconds of one TFLM Invoke per model (tflite-micro's Python interpreter,
    reference kernels; random int8 inputs)."""
    import time

    from tflite_micro import runtime

    from model_compression.training.tflm import input_count

    rng = np.random.default_rng(0)
    out: dict[str, float] = {}
    for name, file in MODEL_FILES.items():
        path = folder / file
        if not path.is_file():
            continue
        data = path.read_bytes()
        ip = runtime.Interpreter.from_bytes(data, arena_size=512 * 1024)
        for i in range(input_count(data)):
            d = ip.get_input_details(i)
            ip.set_input(rng.integers(-128, 128, size=d["shape"], dtype=np.int8), i)
        ip.invoke()  # the first Invoke prepares kernels
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            ip.invoke()
            times.append(time.perf_counter() - t0)
        out[name] = float(np.median(times)) * 1e6
    return out
