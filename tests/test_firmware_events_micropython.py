"""firmware/events.py and firmware/alerts.py in the real MicroPython VM.

One scripted stream (NSVT, VT with its alarm silenced by the button, asystole, lead-off, AF,
a symptom mark, summaries) runs in the VM and under CPython: both must give the same event
and summary records and drive the alert devices identically (the devices are a recorder
written in the script). The VM also measures the heap the detector and alerts take, and
what steady state costs per beat.
"""

from __future__ import annotations

import json

import pytest

from hardware_sim.micropython_vm import (
    firmware_modules,
    run_micropython,
)

SCENARIO = r"""
import gc
from firmware.events import EventDetector, EventConfig
from firmware.alerts import Alerts


class Recorder:
    def __init__(self):
        self.now = 0
        self.log = []
        self.presses = []

    def buzzer(self, hz):
        self.log.append([self.now, "buzzer", hz])

    def led(self, color):
        self.log.append([self.now, "led", color])

    def vibrate(self, on):
        self.log.append([self.now, "vibrate", 1 if on else 0])

    def poll_button(self):
        if self.presses and self.presses[0][0] <= self.now:
            return self.presses.pop(0)[1]
        return 0


def allocated():
    gc.collect()
    return gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0  # 0 under CPython


def stream():
    # (t_ms, kind, value), kinds: b beat label, v SCNN score, r rhythm probs, l lead-off, q quality
    out = []
    t = 0
    while t < 240000:
        if 30000 <= t < 32000:
            out.append((t, "b", "V"))
            t += 400
        elif 60000 <= t < 100000:
            out.append((t, "b", "V"))
            t += 300
        elif 120000 <= t < 125000 or 150000 <= t < 160000:
            t += 100  # asystole; then lead-off
        else:
            out.append((t, "b", "N"))
            t += 800
    for t in range(10000, 240001, 2500):
        overlap = max(0, min(t, 100000) - max(t - 10000, 60000))
        out.append((t, "v", overlap / 10000))
    for t in range(30000, 240001, 30000):
        a = 0.9 if t in (180000, 210000) else 0.05
        out.append((t, "r", (0.9 - a + 0.05, a, 0.03, 0.02)))
    out.append((150000, "l", 1))
    out.append((160000, "l", 0))
    out.append((140000, "q", 1))
    out.sort(key=lambda x: x[0])
    return out


def run():
    hw = Recorder()
    records = []
    summaries = []
    before = allocated()
    det = EventDetector(records.append, summaries.append, EventConfig(summary_period_s=60))
    det.set_battery(90)
    alerts = Alerts(hw, on_symptom=det.on_button)
    ram = {"objects": allocated() - before}
    hw.presses = [[20000, 1], [75000, 1]]  # a symptom mark; then silences the VT alarm
    inputs = stream()
    seen = 0
    i = 0
    t = 0
    beats = 0
    steady = None
    while t <= 240000:
        hw.now = t
        det.tick(t)
        while seen < len(records):
            rec = records[seen]
            seen += 1
            alerts.on_event(rec["t_ms"], rec)
        alerts.tick(t)
        while i < len(inputs) and inputs[i][0] < t + 50:
            ti, kind, value = inputs[i]
            hw.now = ti
            if kind == "b":
                det.on_beat(ti, value, 0)
                beats += 1
            elif kind == "v":
                det.on_vt_score(ti, value)
            elif kind == "r":
                det.on_rhythm(ti, value)
            elif kind == "l":
                det.on_lead_off(ti, value)
            else:
                det.on_signal_quality(ti, value)
            i += 1
        if t == 1000:
            steady = (allocated(), beats)
        if t == 29000:
            ram["per_beat"] = (allocated() - steady[0]) // (beats - steady[1])
        t += 50
    return records, summaries, hw.log, ram


records, summaries, log, ram = run()
"""

VM_MAIN = """
import json
print(json.dumps({"records": records, "summaries": summaries, "log": log, "ram": ram}))
"""


pytestmark = pytest.mark.usefixtures("micropython_vm")


def test_events_and_alerts_run_in_micropython_like_in_cpython() -> None:
    result = run_micropython(SCENARIO + VM_MAIN, firmware_modules(), timeout_s=120)
    vm = json.loads(result.stdout.strip().splitlines()[-1])
    namespace: dict = {}
    exec(compile(SCENARIO, "scenario", "exec"), namespace)
    cpython = json.loads(json.dumps({k: namespace[k] for k in ("records", "summaries", "log")}))
    assert vm["records"] == cpython["records"]
    assert vm["summaries"] == cpython["summaries"]
    assert vm["log"] == cpython["log"]
    finals: dict[int, dict] = {}
    for rec in vm["records"]:
        finals[rec["event_id"]] = rec
    kinds = [(r["event_type"], r["onset_ms"], r["end_ms"], r["beat_count"]) for r in finals.values()]
    assert ("SYMPTOM", 20000, 20000, 0) in kinds
    assert ("NSVT", 30400, 31600, 4) in kinds
    vt = [r for r in finals.values() if r["event_type"] == "VT"]
    assert len(vt) == 1 and vt[0]["onset_ms"] == 60000 and vt[0]["flags"] == 0
    assert [k[:2] for k in kinds if k[0] == "PAUSE"] == [("PAUSE", 119400)]
    assert ("LEAD_OFF", 150000, 160000, 0) in kinds
    assert [k[:2] for k in kinds if k[0] == "AF"] == [("AF", 170000)]
    assert not any(k[0] == "SYMPTOM" and k[1] == 75000 for k in kinds)  # that press silenced
    assert len(vm["summaries"]) == 4 and vm["summaries"][0]["battery_percent"] == 90
    buzz = [e for e in vm["log"] if e[1] == "buzzer" and e[2]]
    assert buzz and 60000 < buzz[0][0] <= 70000  # VT alarm within 10 s of onset
    ram = vm["ram"]
    print("MicroPython VM heap allocated:", ram, "run", round(result.run_s, 2), "s")
    # per_beat: heap per beat in steady sinus with 20 ticks a beat and the SCNN's windows (the
    # only allocation left: its float score, about 32 bytes a window, every 2.5 s).
    assert ram["objects"] < 6000 and ram["per_beat"] <= 32, ram
