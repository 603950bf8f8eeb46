"""`ecg bench patch`: the airtime formula by hand, the MAC accounting against replay(), the
VM's per-stage figures and the report's keys on a short slice."""

from __future__ import annotations

import argparse
import io
import json

import numpy as np
import pytest

from ecg_data.paths import data_root
from hardware_sim import ble_airtime
from hardware_sim.patch_macs import model_macs, replay_uses, summarise, worst_window
from hardware_sim.patch_replay import FIRMWARE_MODELS, replay


def _record(name: str):
    path = data_root() / name
    if not path.with_suffix(".hea").is_file():
        pytest.skip(f"{name} not in the data folder")
    return path


def test_packet_times_by_hand() -> None:
    # 8 us a byte: preamble 1, access address 4, header 2, payload, MIC 4, CRC 3
    assert ble_airtime.packet_us(27) == 8 * (1 + 4 + 2 + 27 + 4 + 3) == 328
    assert ble_airtime.packet_us(0) == 80  # empty PDUs carry no MIC
    assert ble_airtime.packet_us(27, encrypted=False) == 296
    assert ble_airtime.exchange_us(27) == 328 + 150 + 80 + 150
    assert ble_airtime.att_packets(36, 27) == [27, 16]  # 36 + 3 ATT + 4 L2CAP = 43 bytes
    assert ble_airtime.att_packets(244) == [251]


def test_an_hour_with_one_event_by_hand() -> None:
    air = ble_airtime.hourly_airtime(1, 0, 0, 0, interval_s=2.0)
    event = 8 * (14 + 43) + 380  # EVENT, 36 B: 43 B of LL payload
    ack = 8 * (14 + 17) + 380  # ACK write, 10 B
    response = 8 * (14 + 14) + 380  # RESPONSE indication, 7 B
    confirm = 8 * (14 + 5) + 380  # confirmation: L2CAP header + 1 B
    assert air.radio_us == event + ack + response + confirm
    assert air.packets == 4
    assert air.bytes == 36 + 10 + 7
    assert air.idle_events == 1800
    assert air.idle_us == 1800 * (80 + 150 + 80)


def test_snippet_fragments() -> None:
    values = ble_airtime.snippet_values(15000)  # 60 s at 250 Hz, int16: 30,000 B
    assert values[0] == 44 and values[-1] == 30000 - 127 * 236 + 8
    assert len(values) == 1 + 127 + 1 and values[1] == 244


def test_worst_window() -> None:
    per_block = np.array([1, 0, 5, 5, 0, 1], dtype=np.int64)
    assert worst_window(per_block, 2) == (10, 2)
    assert worst_window(per_block, 10) == (12, 0)  # shorter than a window: the whole


def test_mac_accounting_matches_replay() -> None:
    path = _record("mitdb/119")
    use = replay_uses(path, FIRMWARE_MODELS, 40.0)
    ref = replay(path, duration_s=40.0)
    assert use.beats == ref.beats
    assert use.invocations == {k: m.invocations for k, m in ref.models.items()}
    per = model_macs(FIRMWARE_MODELS)
    total = sum(n * per[k] for k, n in use.invocations.items())
    assert use.macs_per_10s == pytest.approx(total / 4)
    assert 0 < use.worst_macs <= total
    assert use.invocations.get("beat", 0) == use.beats  # one run per beat
    s = summarise([use, use])
    assert s["mean_macs_per_10s"] == pytest.approx(use.macs_per_10s)
    assert s["beats_per_s"] == pytest.approx(use.beats / 40)


@pytest.mark.usefixtures("micropython_vm")
def test_report_on_a_short_slice(tmp_path) -> None:
    _record("mitdb/119")
    from hardware_sim.patch_budget import run_budget
    from hardware_sim.patch_budget_report import plot, print_table

    args = argparse.Namespace(
        data=None, models=None, perfbench=None, vm_record="mitdb/119", seconds=15.0,
        records="mitdb/119", replay_seconds=20.0, cinc=0, no_arena_probe=True,
    )  # fmt: skip
    report = run_budget(args)
    per = report["vm"]["per_stage"]
    for key in ("signal_path_us_per_sample", "sample_glue_us_per_sample", "beat_input_us_per_beat",
                "classifier_run_us_per_beat", "rhythm_fill_us_per_window", "housekeeping_us_per_s"):  # fmt: skip
        assert per[key] > 0, key
    # the whole loop costs more than its signal path alone
    assert per["patch_us_per_s"] > 250 * per["signal_path_us_per_sample"]
    assert report["ram"]["patch_heap_no_models"] > 50_000  # the raw ring alone is 50 kB
    assert report["ram"]["patch_heap_with_models"] > report["ram"]["patch_heap_no_models"]
    for d in report["duty"]:
        assert d["low"] <= d["total"] <= d["high"] and set(d["stages"]) >= {"signal path", "inference"}
    keys = {"host_cpu", "vt_model_present", "mcu_factors", "vm", "models", "replays", "duty", "ram", "flash", "ble"}
    assert keys <= set(json.loads(json.dumps(report, default=str)))
    out = io.StringIO()
    print_table(report, out)
    assert "Duty cycle" in out.getvalue() and "BLE airtime" in out.getvalue()
    plot(report, tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 10_000
