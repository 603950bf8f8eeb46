"""The whole simulated patch on a recorded ECG, as fast as it runs.

A record (WFDB at any rate, any number of leads, or CinC 2017) goes through the front end
(hardware_sim/front_end.py: AC coupling, resampling to 250 Hz, 16-bit ADC codes; lead-off
episodes if given, with the AFE's status bit per FIFO read of 25 codes), then into
firmware/patch.py's Patch with the PC's TFLM binding (tflite-micro), a simulated NOR flash for
its store and the simulated buzzer, LED, motor and button. Every event record the patch emits
is collected; an episode (one event_id: its first record, ONGOING updates, its last record)
becomes one ReplayEvent carrying its final record and the time it was first emitted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ecg_data.errors import RecordError
from ecg_data.reader import read_record
from ecg_data.record import Record
from firmware.events import FLAG_ONGOING
from firmware.inference import Model
from firmware.model_plan import BEAT_MODEL, RHYTHM_MODEL, VT_MODEL
from firmware.patch import LABELS, Patch
from firmware.store import KIND_SNIPPET, Store
from hardware_sim.alert_devices import SimAlertDevices
from hardware_sim.ecg_source import EcgSource
from hardware_sim.flash import NorFlash
from hardware_sim.front_end import FrontEndConfig
from hardware_sim.lead_off import LeadOff
from hardware_sim.patch_qrs import lsb_nv
from hardware_sim.tflm_binding import TflmBinding

FIRMWARE_MODELS = Path(__file__).resolve().parents[1] / "firmware" / "models"
FIFO_SAMPLES = 25  # one AFE FIFO read: 100 ms at 250 Hz
FLASH_BLOCKS = 1024  # 4 MiB of 4-KiB blocks for the store: a day of events and snippets
PROGRESS_S = 60.0  # signal seconds between progress calls
MODEL_FILES = {"beat": BEAT_MODEL[0], "vt": VT_MODEL[0], "rhythm": RHYTHM_MODEL[0]}


@dataclass(frozen=True)
class ReplayEvent:
    record: str  # "mitdb/207" (database/name), or the record's name
    type: str  # the wire's event type: VT, NSVT, AF, OTHER, BRADY, TACHY, PAUSE, NOISE, LEAD_OFF, SYMPTOM
    onset_s: float  # record time, s
    end_s: float
    confidence: float  # 0..1
    emitted_s: float  # record time at which the patch first emitted this episode (alarm time for VT)
    heart_rate: int
    beat_count: int
    event_id: int = 0
    severity: str = ""
    ongoing: bool = False  # still open when the record ended (end_s: so far)


@dataclass(frozen=True)
class ModelUse:
    invocations: int
    macs_per_invocation: int
    invoke_s: float  # wall time inside TFLM's Invoke, summed

    @property
    def macs(self) -> int:
        return self.invocations * self.macs_per_invocation


@dataclass(frozen=True)
class ReplayResult:
    record: str
    duration_s: float
    events: list[ReplayEvent]  # one per episode, in order of first emission
    wall_s: float
    beats: int = 0  # detections
    labels: dict[str, int] = field(default_factory=dict)  # beats per class (Q: not classified)
    models: dict[str, ModelUse] = field(default_factory=dict)  # "beat", "vt", "rhythm": those present
    vt_hops: int = 0  # 2.5-s hops with a full window
    vt_gate_open: int = 0  # hops at which the gate asked for the SCNN (run if it is present)
    forced_labels: int = 0  # beats labelled without their successor (pauses)
    late_inputs: int = 0  # inputs the decision clock had passed (clamped)
    snippets: int = 0  # snippets written to the store
    snippet_bytes: int = 0  # their payload
    stored: int = 0  # event and summary records the store took
    event_records: int = 0  # event records emitted, ONGOING updates included (one EVENT frame each)
    summaries: int = 0
    alarm_s: float = 0.0  # buzzer on, s

    @property
    def speed(self) -> float:
        """Record seconds per wall second (× real time)."""
        return self.duration_s / self.wall_s if self.wall_s > 0 else float("inf")


def record_label(record: Record) -> str:
    return f"{record.database}/{record.name}" if record.database else record.name


def episode_events(
    first: dict[int, int], last: dict[int, dict], record: str, t0_s: float = 0.0
) -> list[ReplayEvent]:
    """One ReplayEvent per episode, in the order first emitted: `first` maps event_id to the patch
    time (ms) it was first emitted, `last` to its last record; times from t0_s."""
    return [
        ReplayEvent(
            record=record,
            type=rec["event_type"],
            onset_s=t0_s + rec["onset_ms"] / 1000,
            end_s=t0_s + rec["end_ms"] / 1000,
            confidence=rec["confidence"] / 255,
            emitted_s=t0_s + first[eid] / 1000,
            heart_rate=rec["heart_rate"],
            beat_count=rec["beat_count"],
            event_id=eid,
            severity=rec["severity"],
            ongoing=bool(rec["flags"] & FLAG_ONGOING),
        )
        for eid, rec in sorted(last.items(), key=lambda item: (first[item[0]], item[0]))
    ]


def _models_folder(models_dir: str | Path | None) -> Path:
    folder = FIRMWARE_MODELS if models_dir is None else Path(models_dir)
    if not folder.is_dir():
        raise NotADirectoryError(f"models folder {folder} does not exist")
    return folder


def _read(path: str | Path, lead: int) -> Record:
    record = read_record(path)
    leads = record.signal.shape[1]
    if not 0 <= lead < leads:
        names = ", ".join(f"{i} {name}" for i, name in enumerate(record.leads))
        raise RecordError(path, f"no lead {lead}: the record has {leads} ({names})")
    return record


def patch_models(patch: Patch) -> dict[str, Model]:
    """The models the Patch runs, by name ("beat", "vt", "rhythm"), in the order it made their
    interpreters (only those shipped)."""
    found: dict[str, Model | None] = {
        "beat": patch.classifier.model if patch.classifier is not None else None,
        "vt": patch.vt,
        "rhythm": patch.rhythm,
    }
    return {name: m for name, m in found.items() if m is not None}


def _model_uses(patch: Patch, binding: TflmBinding, folder: Path) -> dict[str, ModelUse]:
    from model_compression.footprint import tflite_macs

    return {
        name: ModelUse(m.invocations, tflite_macs((folder / MODEL_FILES[name]).read_bytes()), ip.invoke_s)
        for (name, m), ip in zip(patch_models(patch).items(), binding.interpreters, strict=True)
    }


def replay(
    path: str | Path,
    *,
    lead: int = 0,
    models_dir: str | Path | None = None,
    start_s: float = 0.0,
    duration_s: float | None = None,
    lead_off: Sequence[LeadOff] = (),
    progress: Callable[[float], None] | None = None,
    flash_blocks: int = FLASH_BLOCKS,
    on_block: Callable[[Patch], None] | None = None,
    trace: list | None = None,
) -> ReplayResult:
    """Replays one record through the simulated patch. RecordError for a missing or damaged
    record or a lead it does not have; NotADirectoryError for a missing models folder.
    `on_block(patch)` runs after every FIFO block, to watch the patch as it goes; `trace`, a list,
    receives every input of the event rules (hardware_sim.detector_trace)."""
    folder = _models_folder(models_dir)
    record = _read(path, lead)
    config = FrontEndConfig()
    source = EcgSource(record, lead, config, lead_off=lead_off, start_s=start_s, duration_s=duration_s)
    codes = source.codes()
    flags = source.lead_off_flags()
    starts = np.arange(0, codes.size, FIFO_SAMPLES)
    block_off = np.logical_or.reduceat(flags, starts).tolist() if codes.size else []
    values = codes.tolist()

    fs = config.fs
    binding = TflmBinding()
    store = Store(NorFlash(block_count=flash_blocks, block_size=4096))
    built: list[Patch] = []  # the devices read the patch's sample clock (0 while it is built)
    devices = SimAlertDevices(clock=lambda: built[0].n * 1000 // fs if built else 0)
    patch = Patch(lsb_nv(config), binding, str(folder), store, devices, fs=fs, rail=config.code_max)
    built.append(patch)
    if trace is not None:
        from hardware_sim.detector_trace import record_inputs

        record_inputs(patch, trace)
    first: dict[int, int] = {}  # event_id -> ms first emitted
    last: dict[int, dict] = {}
    summaries = [0]
    records = [0]

    def on_record(rec: dict, now_ms: int) -> None:
        first.setdefault(rec["event_id"], now_ms)
        last[rec["event_id"]] = rec
        records[0] += 1

    def on_summary(_rec: dict) -> None:
        summaries[0] += 1

    patch.on_record = on_record
    patch.on_summary = on_summary
    every = max(1, round(PROGRESS_S * fs / FIFO_SAMPLES))
    t0 = time.perf_counter()
    for b, start in enumerate(starts.tolist()):
        patch.push_block(values[start : start + FIFO_SAMPLES], block_off[b])
        if on_block is not None:
            on_block(patch)
        if progress is not None and b % every == every - 1:
            progress((start + FIFO_SAMPLES) / codes.size)
    patch.finish()
    wall = time.perf_counter() - t0
    if progress is not None:
        progress(1.0)

    label = record_label(record)
    events = episode_events(first, last, label, source.start_s)
    duration = codes.size / fs
    snippets = list(store.records(1 << KIND_SNIPPET, False))
    return ReplayResult(
        record=label,
        duration_s=duration,
        events=events,
        wall_s=wall,
        beats=patch.path.beat_total,
        labels={name: count for name, count in zip(LABELS, patch.labels, strict=True) if count},
        models=_model_uses(patch, binding, folder),
        vt_hops=patch.vt_hops,
        vt_gate_open=patch.gate.opened,
        forced_labels=patch.forced_labels,
        late_inputs=patch.late_inputs,
        snippets=patch.snippets.written if patch.snippets is not None else 0,
        snippet_bytes=sum(r[4] for r in snippets),
        stored=patch.stored,
        event_records=records[0],
        summaries=summaries[0],
        alarm_s=devices.on_ms("buzzer", 0, patch.n * 1000 // fs + 1) / 1000,
    )
