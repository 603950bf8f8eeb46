"""firmware/device.py in the real MicroPython VM: the whole patch without models (TFLM is not in
the WebAssembly VM) on 45 s of MIT-BIH 112 then a flat line, a button press, a store on a RAM
flash, and the fake `bluetooth` (hardware_sim/vm_bluetooth.py) whose IRQs the script plays as a gateway would: connect, MTU,
TIME_SYNC and CONFIG, frames, ACKs, a snippet fetched, the link dropped in the middle of it,
a reconnection and a RESUME. The VM and CPython must send the same bytes and end with the same
store."""

from __future__ import annotations

import pytest
from test_firmware_patch import LSB, codes_of

from hardware_sim.micropython_vm import run_on_codes_both

SCRIPT = r"""
from array import array
from firmware import wire
from firmware.ble_service import BleService
from firmware.device import Device
from firmware.patch import Patch
from firmware.store import Store


from fake_bluetooth import FakeBluetooth
from ram_flash import RamFlash


class Button:
    def __init__(self):
        self.patch = None
        self.presses = [20000]

    def buzzer(self, hz):
        pass

    def led(self, color):
        pass

    def vibrate(self, on):
        pass

    def poll_button(self):
        if self.presses and self.presses[0] <= self.patch.n * 4:
            self.presses.pop(0)
            return 1
        return 0


def pairs(msg):
    out = []
    for k in sorted(msg):
        v = msg[k]
        out.append([k, v.hex() if isinstance(v, (bytes, bytearray)) else v])
    return out


def run(codes, lsb):
    button = Button()
    store = Store(RamFlash(64, 4096))
    patch = Patch(lsb, None, None, store, button)
    button.patch = patch
    bt = FakeBluetooth()
    ble = bt.ble
    svc = BleService(bt, name="ECG-VM", serial="7")
    dev = Device(patch, svc)
    cp = svc._h_cp
    fed = [0]
    block = array("i", [0] * 25)

    def poll():
        for _ in range(2000):
            busy = dev.poll()
            if svc._indicating >= 0:
                ble.handler(20, (ble.conn, cp, 0))  # the gateway confirms the indication
            if not busy and svc.idle:
                return

    def feed(until_ms):
        while fed[0] < len(codes) and fed[0] * 4 < until_ms:
            for i in range(25):
                block[i] = codes[fed[0] + i]
            dev.push_block(block, False)
            fed[0] += 25
            poll()

    def command(frame):
        ble.values[cp] = ble.values.get(cp, b"") + frame
        ble.handler(3, (ble.conn, cp))
        poll()

    def connect(conn, gateway_ms):
        ble.conn = conn
        ble.mtu = 247
        ble.session += 1
        ble.handler(1, (conn, 0, b"\x00" * 6))
        ble.handler(21, (conn, 247))
        command(wire.encode_time_sync(ble.session, gateway_ms))

    def received(session):
        return [wire.decode(v) for s, v in ble.sent if s == session]

    def max_event(session):
        ids = [m["event_id"] for m in received(session) if m["kind"] == "event"]
        return max(ids) if ids else 0

    feed(30000)  # the press at 20 s: a symptom, its snippet written at about 50 s
    connect(1, 1700000000000)
    command(wire.encode_config(2, "SUMMARY_PERIOD_S", 10))
    feed(55000)
    command(wire.encode_ack(3, "event", max_event(1)))
    symptom = [m for m in received(1) if m["kind"] == "event"][0]
    # the snippet: one burst of notifications, then the link drops
    ble.values[cp] = wire.encode_resume(4, symptom["snippet_id"], 0)
    ble.handler(3, (ble.conn, cp))
    dev.poll()
    ble.handler(2, (1, 0, b"\x00" * 6))
    ble.conn = -1
    feed(len(codes) * 4)  # away: the flat line's asystole
    dev.finish()
    connect(2, 1700000070000)
    reassembler = wire.SnippetReassembler()
    for session in (1, 2):
        for msg in received(session):
            if msg["kind"] == "snippet_header":
                reassembler.start(msg)
            elif msg["kind"] == "snippet_fragment":
                reassembler.add(msg)
    missing = reassembler.resume_ranges()
    for first, count in missing:
        command(wire.encode_resume(5, symptom["snippet_id"], first, count))
    for msg in received(2):
        if msg["kind"] == "snippet_fragment" and msg["snippet_tag"] == symptom["snippet_id"]:
            reassembler.add(msg)
    # the asystole's snippet (written short at the end of the recording), whole
    pause = [m for m in received(1) if m["kind"] == "event" and m["event_type"] == "PAUSE"][0]
    command(wire.encode_resume(6, pause["snippet_id"], 0))
    second = wire.SnippetReassembler()
    for msg in received(2):
        if msg["kind"] == "snippet_header" and msg["snippet_id"] == pause["snippet_id"]:
            second.start(msg)
        elif msg["kind"] == "snippet_fragment" and msg["snippet_tag"] == pause["snippet_id"]:
            second.add(msg)
    command(wire.encode_ack(7, "event", max_event(2)))
    command(wire.encode_ack(8, "snippet", pause["snippet_id"]))
    left = [[kind, ident] for kind, ident, _, _, _, _, _ in store.unacknowledged()]
    return {
        "frames": [[s, pairs(wire.decode(v))] for s, v in ble.sent if wire.decode(v)["kind"] != "snippet_fragment"],
        "fragments": [len(received(1)), len(received(2))],
        "missing": missing,
        "snippet": reassembler.payload().hex() if reassembler.complete else None,
        "pause_snippet": len(second.payload()) if second.complete else None,
        "responses": [pairs(wire.decode(r)) for r in ble.indications],
        "hr_with_rr": sum(1 for h, v in ble.updates if h == svc._h_hr and int(v[0:2], 16) & 0x10),
        "left": left,
        "offset_ms": dev.offset_ms,
    }
"""

pytestmark = pytest.mark.usefixtures("micropython_vm")


def test_device_runs_in_micropython_like_in_cpython() -> None:
    codes = codes_of("112", 0.0, 45.0) + [0] * 5000
    vm, cpython, _ = run_on_codes_both(SCRIPT, "device_script", codes, LSB)
    assert vm == cpython
    events = [dict(f) for s, f in vm["frames"] if dict(f)["kind"] == "event"]
    assert {e["event_type"] for e in events} >= {"SYMPTOM", "PAUSE"}
    assert all(not e["flags"] & 0x02 and e["onset_ms"] > 1_699_999_900_000 for e in events)  # synced
    assert vm["missing"] and vm["snippet"] is not None  # cut, then resumed to the end
    assert vm["pause_snippet"]
    assert [dict(r)["status"] for r in vm["responses"]] == ["OK"] * len(vm["responses"])
    assert vm["hr_with_rr"] >= 10  # heart rate with RR intervals went out while connected
    assert vm["left"] == []  # everything acknowledged
