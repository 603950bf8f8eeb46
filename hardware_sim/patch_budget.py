"""`ecg bench patch`: what the patch spends: CPU by stage, model MACs, RAM, flash, BLE airtime.

1. Firmware loop in the MicroPython VM, by stage (hardware_sim/patch_vm_cost.py), models' TFLM
   time taken out. 2. TFLM invoke: MACs per inference (footprint) and host time of Invoke in
   tflite-micro (measured). 3. MACs per 10 s of monitored signal over replayed records, mean and
   worst record and worst 10 s (hardware_sim/patch_macs.py): budget <= 20 M on average.
4. RAM and flash (hardware_sim/patch_memory.py). 5. Duty cycle on a 64 MHz Cortex-M4F and a
   240 MHz ESP32-S3. 6. BLE airtime per hour (hardware_sim/ble_airtime.py).

Duty cycle = (firmware loop time + inference time) / signal time, per stage:

    loop stage (MCU us/s) = VM us/s of the stage x factor (MCU us per VM us, hardware_sim/mcu_speed.py)
    inference (MCU us/s)  = MACs per second x cycles per MAC / clock

Stage rates: 250 samples/s; beats/s, VT gate-open hops/s from the replays; a rhythm window
every 30 s; "loop rest" is the whole Patch's VM time less the stages (calls between them, the
clip check, the block loop), per second. Cycles per MAC: Cortex-M4F with CMSIS-NN 1 (the
issue's figure, "one int8 MAC per cycle" all overheads included); ESP32-S3 with ESP-NN 4: its
README (https://github.com/espressif/esp-nn, kernel table at 240 MHz) has 1.0-2.0 cycles per
MAC for 1x1 convolutions of 16-64 channels but 5.5-9 for depthwise and 3-input-channel ones,
and our networks' first layers have 1-3 channels (ANSI C kernels: 11 cycles per MAC, the
pessimistic end of the range).
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

from firmware.model_plan import RHYTHM_MODEL
from hardware_sim import ble_airtime, mcu_speed, patch_macs, patch_memory, patch_vm_cost

BUDGET_MACS_PER_10S = 20_000_000
CYCLES_PER_MAC = {"m4": (1.0, 0.5, 2.0), "s3": (4.0, 1.0, 11.0)}  # (used, low, high)
SUMMARY_PERIOD_S = 600  # firmware/events.py's default summary period
CONNECTION_INTERVAL_S = 1.0


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def vm_stages(per: dict[str, float], rates: dict[str, float], vm_beats_per_s: float) -> dict[str, float]:
    """VM us per second of signal, by stage, at the replays' rates (loop rest at the VM run's)."""
    beat = per["beat_input_us_per_beat"] + per["classifier_run_us_per_beat"]
    rhythm = per["rhythm_run_us_per_window"] or per["rhythm_fill_us_per_window"]
    vt = per["vt_run_us_per_window"] or per["vt_fill_us_per_window"]
    stages = {
        "signal path": per["signal_path_us_per_sample"] * 250,
        "sample glue": per["sample_glue_us_per_sample"] * 250,
        "beats": beat * rates["beats_per_s"],
        "windows": rhythm / RHYTHM_MODEL[3] + vt * rates["vt_runs_per_s"],
        "housekeeping": per["housekeeping_us_per_s"],
    }
    at_vm = stages["signal path"] + stages["sample glue"] + beat * vm_beats_per_s + rhythm / RHYTHM_MODEL[3]
    stages["loop rest"] = max(0.0, per["patch_us_per_s"] - at_vm - per["housekeeping_us_per_s"])
    return stages


def duty(stages_vm: dict[str, float], macs_per_s: float, factor: mcu_speed.McuFactor, cycles: tuple[float, float, float]) -> dict:
    """Fractions of the MCU's time per stage, with the range from the factor and cycles per MAC."""
    hz = factor.mhz * 1e6
    loop = {k: v * factor.factor / 1e6 for k, v in stages_vm.items()}
    inference = macs_per_s * cycles[0] / hz
    total_vm = sum(stages_vm.values())
    return {
        "mcu": factor.mcu,
        "stages": {**loop, "inference": inference},
        "total": sum(loop.values()) + inference,
        "low": total_vm * factor.low / 1e6 + macs_per_s * cycles[1] / hz,
        "high": total_vm * factor.high / 1e6 + macs_per_s * cycles[2] / hz,
        "factor": factor.factor,
        "factor_range": [factor.low, factor.high],
        "cycles_per_mac": cycles[0],
    }


def _record_paths(args: argparse.Namespace, root: Path) -> list[Path]:
    if args.records:
        return [root / r.strip() for r in args.records.split(",") if r.strip()]
    return patch_macs.default_records(root, args.cinc)


def _vm_codes(root: Path, name: str, seconds: float):
    from ecg_data.reader import read_record
    from hardware_sim.ecg_source import EcgSource
    from hardware_sim.front_end import FrontEndConfig
    from hardware_sim.patch_qrs import lsb_nv

    config = FrontEndConfig()
    codes = EcgSource(read_record(root / name), 0, config, duration_s=seconds).codes()
    return codes, lsb_nv(config), config.code_max


def run_budget(args: argparse.Namespace) -> dict:
    from ecg_data.paths import data_root

    root = Path(args.data) if args.data else data_root()
    models = Path(args.models) if args.models else patch_memory.FIRMWARE / "models"
    log = sys.stderr
    m4, s3, calib = mcu_speed.calibrate(Path(args.perfbench) if args.perfbench else None)
    print(f"MCU factors ({calib['origin']}): M4F {m4.factor:.1f}, S3 {s3.factor:.1f} MCU us per VM us", file=log)
    codes, lsb, rail = _vm_codes(root, args.vm_record, args.seconds)
    raw = patch_vm_cost.measure(codes, lsb, rail, models, stage_seconds=min(args.seconds, 120.0))
    per = patch_vm_cost.per_stage(raw)
    print(f"VM: Patch {per['patch_us_per_s']:,.0f} us per s of signal", file=log)
    uses = []
    for path in _record_paths(args, root):
        uses.append(patch_macs.replay_uses(path, models, args.replay_seconds))
        u = uses[-1]
        print(f"{u.record}: {u.macs_per_10s / 1e6:.2f} M MAC/10 s, worst 10 s {u.worst_macs / 1e6:.2f} M", file=log)
    summary = patch_macs.summarise(uses)
    rows = patch_memory.model_rows(models, probe_arena=not args.no_arena_probe)
    host = patch_macs.host_invoke_us(models)
    present = {r["model"] for r in rows}
    vt_present = "vt_scnn" in present
    rates = {
        "beats_per_s": summary["beats_per_s"],
        "vt_runs_per_s": summary["vt_gate_open_per_s"] if vt_present else 0.0,
    }
    stages = vm_stages(per, rates, per["patch_beats_per_s"])
    macs_s = summary["mean_macs_per_10s"] / 10
    worst_s = summary["worst_10s_macs"] / 10
    duties = [duty(stages, macs_s, f, CYCLES_PER_MAC[k]) for k, f in (("m4", m4), ("s3", s3))]
    worst_inf = [worst_s * CYCLES_PER_MAC[k][0] / (f.mhz * 1e6) for k, f in (("m4", m4), ("s3", s3))]
    for row in rows:
        name = str(row["model"])
        key = {"beat_classifier": "beat", "rhythm_resnet": "rhythm", "vt_scnn": "vt"}.get(name, name)
        row["host_invoke_us"] = host.get(key, 0.0)
        macs = int(row["macs_per_inference"])  # type: ignore[call-overload]
        row["m4_ms"] = macs * CYCLES_PER_MAC["m4"][0] / 64e3
        row["s3_ms"] = macs * CYCLES_PER_MAC["s3"][0] / 240e3
    mpy = patch_memory.mpy_sizes()
    model_bytes = sum(int(r["flash_bytes"]) for r in rows)  # type: ignore[call-overload]
    total_s = summary["signal_s"]
    per_h = 3600 / total_s if total_s else 0.0
    snippets = sum(u.snippets for u in uses)
    air = ble_airtime.hourly_airtime(
        events_per_h=sum(u.event_records for u in uses) * per_h,
        summaries_per_h=3600 / SUMMARY_PERIOD_S,
        snippet_samples_per_h=sum(u.snippet_bytes for u in uses) / 2 * per_h,
        snippets_per_h=snippets * per_h,
        interval_s=CONNECTION_INTERVAL_S,
    )
    return {
        "host_cpu": _cpu(),
        "vt_model_present": vt_present,
        "mcu_factors": {
            "origin": calib["origin"], "vm_perfbench_us": calib["vm_us"],
            "m4": vars(m4), "s3": vars(s3), "cycles_per_mac": CYCLES_PER_MAC,
        },
        "vm": {"record": args.vm_record, "seconds": len(codes) / 250, "raw": raw, "per_stage": per, "stages_us_per_s": stages},
        "models": rows,
        "replays": {"summary": summary, "records": [vars(u) | {"macs_per_10s": u.macs_per_10s} for u in uses],
                    "budget_macs_per_10s": BUDGET_MACS_PER_10S,
                    "within_budget": summary["mean_macs_per_10s"] <= BUDGET_MACS_PER_10S},
        "duty": duties,
        "worst_10s_inference_duty": {"m4": worst_inf[0], "s3": worst_inf[1]},
        "ram": {
            "patch_heap_no_models": raw["heap_patch_no_models"], "store_heap": raw["heap_store"],
            "patch_heap_with_models": raw["heap_patch_models"], "model_bytes_in_heap": model_bytes,
            "arenas_asked": sum(int(r["arena_asked_bytes"]) for r in rows),  # type: ignore[call-overload]
            "arenas_min": sum(int(r["arena_min_bytes"]) for r in rows),  # type: ignore[call-overload]
        },
        "flash": {"mpy_bytes": {k: sum(v.values()) for k, v in mpy.items()}, "mpy_by_module": mpy, "model_bytes": model_bytes},
        "ble": {
            "mtu": 247, "phy": "LE 1M", "ll_payload": 251, "encrypted": True,
            "connection_interval_s": CONNECTION_INTERVAL_S, "summary_period_s": SUMMARY_PERIOD_S,
            "event_records_per_h": sum(u.event_records for u in uses) * per_h,
            "snippets_per_h": snippets * per_h,
            "bytes_per_h": air.bytes, "packets_per_h": air.packets, "radio_s_per_h": air.radio_us / 1e6,
            "idle_events_per_h": air.idle_events, "idle_radio_s_per_h": air.idle_us / 1e6,
        },
    }  # fmt: skip
