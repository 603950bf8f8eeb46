"""Model work per 10 s of monitored signal: records replayed through the whole simulated patch.

The same set-up as hardware_sim/patch_replay.py's replay() (front end, Patch with the PC's TFLM
binding, NOR-flash store, simulated alert devices; no lead-off), but the models' invocation
counters are read after every FIFO block of 25 codes (100 ms), so the worst 10 s of a record
(the largest sum over 100 consecutive blocks) comes with the mean. MACs per inference are
model_compression/footprint.py's count from the flatbuffer. The outputs the radio carries are
counted too: event records (one EVENT frame each, ONGOING updates included), summaries, and the
snippets the store took with their payload bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ecg_data.reader import read_record
from ecg_data.record import Record
from firmware.model_plan import BEAT_MODEL, RHYTHM_MODEL, VT_MODEL
from firmware.patch import Patch
from firmware.store import KIND_SNIPPET, Store
from hardware_sim.alert_devices import SimAlertDevices
from hardware_sim.ecg_source import EcgSource
from hardware_sim.flash import NorFlash
from hardware_sim.front_end import FrontEndConfig
from hardware_sim.patch_qrs import lsb_nv
from hardware_sim.patch_replay import FIFO_SAMPLES, FLASH_BLOCKS, record_label
from hardware_sim.tflm_binding import TflmBinding

WINDOW_S = 10.0
MODEL_FILES = {"beat": BEAT_MODEL[0], "vt": VT_MODEL[0], "rhythm": RHYTHM_MODEL[0]}


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


def _models(patch: Patch) -> dict[str, object]:
    found = {"beat": patch.classifier.model if patch.classifier is not None else None, "vt": patch.vt, "rhythm": patch.rhythm}
    return {k: m for k, m in found.items() if m is not None}


def worst_window(per_block: np.ndarray, blocks: int) -> tuple[int, int]:
    """(largest sum over `blocks` consecutive entries, its first index); the whole sum if shorter."""
    if per_block.size <= blocks:
        return int(per_block.sum()), 0
    c = np.concatenate(([0], np.cumsum(per_block, dtype=np.int64)))
    sums = c[blocks:] - c[:-blocks]
    i = int(np.argmax(sums))
    return int(sums[i]), i


def replay_uses(path: str | Path, models_dir: Path, duration_s: float | None = None, record: Record | None = None) -> RecordUse:
    """Replays one record (lead 0) through the patch; returns its model work and radio outputs."""
    import time

    rec = record if record is not None else read_record(path)
    config = FrontEndConfig()
    codes = EcgSource(rec, 0, config, duration_s=duration_s).codes().tolist()
    fs = config.fs
    store = Store(NorFlash(block_count=FLASH_BLOCKS, block_size=4096))
    built: list[Patch] = []
    devices = SimAlertDevices(clock=lambda: built[0].n * 1000 // fs if built else 0)
    binding = TflmBinding()
    patch = Patch(lsb_nv(config), binding, str(models_dir), store, devices, fs=fs, rail=config.code_max)
    built.append(patch)
    counts = {"records": 0, "summaries": 0}

    def on_record(_rec: dict, _now: int) -> None:
        counts["records"] += 1

    def on_summary(_rec: dict) -> None:
        counts["summaries"] += 1

    patch.on_record = on_record
    patch.on_summary = on_summary
    models = _models(patch)
    names = list(models)
    n_blocks = (len(codes) + FIFO_SAMPLES - 1) // FIFO_SAMPLES
    series = np.zeros((len(names), n_blocks), dtype=np.int32)
    seen = [0] * len(names)
    t0 = time.perf_counter()
    for b in range(n_blocks):
        patch.push_block(codes[b * FIFO_SAMPLES : (b + 1) * FIFO_SAMPLES], False)
        for j, name in enumerate(names):
            n = models[name].invocations  # type: ignore[attr-defined]
            series[j, b] = n - seen[j]
            seen[j] = n
    patch.finish()
    wall = time.perf_counter() - t0
    for j, name in enumerate(names):  # finish() labels the last beats
        series[j, -1] += models[name].invocations - seen[j]  # type: ignore[attr-defined]
    per_inf = model_macs(models_dir)
    weights = np.array([per_inf[n] for n in names], dtype=np.int64)
    per_block = (series.astype(np.int64) * weights[:, None]).sum(axis=0) if names else np.zeros(n_blocks, np.int64)
    window = round(WINDOW_S * fs / FIFO_SAMPLES)
    worst, at = worst_window(per_block, window)
    by_model = {n: int(series[j, at : at + window].sum()) * per_inf[n] for j, n in enumerate(names)}
    snippets = list(store.records(1 << KIND_SNIPPET, False))
    # The Patch makes its interpreters in MODEL_FILES' order, only for the models present.
    invoke_s = {n: ip.invoke_s for n, ip in zip(names, binding.interpreters, strict=True)}
    return RecordUse(
        record=record_label(rec),
        duration_s=len(codes) / fs,
        beats=patch.path.beat_total,
        invocations={n: int(series[j].sum()) for j, n in enumerate(names)},
        macs={n: int(series[j].sum()) * per_inf[n] for j, n in enumerate(names)},
        invoke_s=invoke_s,
        worst_macs=worst,
        worst_at_s=at * FIFO_SAMPLES / fs,
        worst_by_model=by_model,
        vt_hops=patch.vt_hops,
        vt_gate_open=patch.gate.opened,
        event_records=counts["records"],
        summaries=counts["summaries"],
        snippets=len(snippets),
        snippet_bytes=sum(s[4] for s in snippets),
        wall_s=wall,
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
