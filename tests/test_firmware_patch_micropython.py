"""firmware/patch.py in the real MicroPython VM: the main loop without models (TFLM is not in the
WebAssembly VM) on 45 s of MIT-BIH 112 then a flat line, with a button press, a store on a RAM
flash and a recorder for the alert devices. The VM and CPython must emit the same event records
at the same times, drive the devices identically and store the same records and snippet."""

from __future__ import annotations

import pytest
from test_firmware_patch import LSB, codes_of

from hardware_sim.micropython_vm import run_on_codes_both

SCRIPT = r"""
from array import array
from firmware.patch import Patch
from firmware.store import Store, KIND_SNIPPET


from ram_flash import RamFlash


class Recorder:
    def __init__(self):
        self.patch = None
        self.log = []
        self.presses = [[20000, 1]]

    def now(self):
        return self.patch.n * 4 if self.patch is not None else 0

    def buzzer(self, hz):
        self.log.append([self.now(), "buzzer", hz])

    def led(self, color):
        self.log.append([self.now(), "led", color])

    def vibrate(self, on):
        self.log.append([self.now(), "vibrate", 1 if on else 0])

    def poll_button(self):
        if self.presses and self.presses[0][0] <= self.now():
            return self.presses.pop(0)[1]
        return 0


def run(codes, lsb):
    hw = Recorder()
    store = Store(RamFlash(64, 4096))
    patch = Patch(lsb, None, None, store, hw)
    hw.patch = patch
    records = []

    def on_record(rec, now):
        records.append([now, rec["event_id"], rec["event_type"], rec["onset_ms"], rec["end_ms"], rec["flags"]])

    patch.on_record = on_record
    block = array("i", [0] * 25)
    for start in range(0, len(codes), 25):
        n = min(25, len(codes) - start)
        for i in range(n):
            block[i] = codes[start + i]
        patch.push_block(block if n == 25 else block[:n], False)
    patch.finish()
    stored = [[kind, ident, aux, length] for kind, ident, _, _, aux, length, _ in store.records(0xFF, False)]
    return {"records": records, "log": hw.log, "stored": stored, "beats": patch.path.beat_total}
"""

pytestmark = pytest.mark.usefixtures("micropython_vm")


def test_patch_main_loop_runs_in_micropython_like_in_cpython() -> None:
    codes = codes_of("112", 0.0, 45.0) + [0] * 1250
    vm, cpython, vm_s = run_on_codes_both(SCRIPT, "patch_script", codes, LSB)
    assert vm == cpython
    types = [r[2] for r in vm["records"]]
    assert "SYMPTOM" in types and "PAUSE" in types  # the press; the flat line's asystole
    assert vm["beats"] > 45
    assert any(kind == 3 for kind, *_ in vm["stored"])  # the symptom's snippet (KIND_SNIPPET)
    print(
        f"VM: {len(codes)} samples in {vm_s:.2f} s ({len(codes) / 250 / vm_s:.1f}x real time)"
    )
