"""firmware/ble_service.py is real MicroPython: it imports, builds its GATT table and runs its
protocol in the MicroPython VM, against the fake `bluetooth` of hardware_sim/vm_bluetooth.py
(the VM has no radio), and sends the same notifications byte for byte as under CPython.

The script plays the stack's IRQs (connect, MTU exchange, writes to the control point,
indication done), has the fake refuse every fifth notification with OSError(ENOMEM) as NimBLE
does when its buffers are full, and reassembles what was notified with wire.FrameJoiner and
wire.SnippetReassembler inside the VM.
"""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from hardware_sim.micropython_vm import exec_vm_script, run_micropython, vm_modules

SCRIPT = r"""
import json
from firmware import wire
from firmware.crc import crc32
from firmware.ble_service import BleService, Snippet
from fake_bluetooth import FakeBluetooth

def pairs(msg):
    return sorted([[k, msg[k]] for k in msg])

out = []
for mtu in (247, 23):
    bt = FakeBluetooth()
    ble = bt.ble
    svc = BleService(bt, name="ECG-VM", serial="7")
    svc.on_time_sync = lambda gateway_ms: 4242
    acks = []
    svc.on_ack = lambda target, up_to: acks.append([target, up_to])
    cp = svc._h_cp
    irq = ble.handler
    irq(1, (0, 0, b"\x00" * 6))
    ble.conn = 0
    ble.mtu = mtu
    irq(21, (0, mtu))

    def command(data):
        ble.values[cp] = ble.values.get(cp, b"") + data
        irq(3, (0, cp))

    def run():
        for _ in range(5000):
            svc.poll()
            if svc._indicating >= 0:
                irq(20, (0, cp, 0))  # the client confirmed the indication
            if svc.idle:
                return
        raise RuntimeError("the service never went idle")

    command(wire.encode_time_sync(1, 1700000000000))
    run()
    # two commands in one read (the buffer appends), then garbage claiming to be a RESUME
    command(wire.encode_ack(2, "event", 5) + wire.encode_config(3, "TACHY_BPM"))
    command(b"\x31\x09\x07")
    run()
    ble.busy_every = 5
    event = wire.encode_event(event_id=9, event_type="AF", onset_ms=1000, end_ms=61000, confidence=99)
    ok = svc.send_frame(event)
    payload = bytes((i * 7) & 0xFF for i in range(5000))
    ok = ok and svc.send_snippet(Snippet(5, 9, 1000, 250, 305, 1, payload))
    run()
    # live data, streamed on request: 2 s of a ramp at 250 Hz, 1 lead; auto-stop after 1 s
    svc.live_format(250, 305, 1)
    command(wire.encode_live(4, True, 1))
    run()
    for i in range(500):
        svc.live_push(i * 3 - 700)
        svc.poll()  # the main loop polls between samples
    run()

    joiner = wire.FrameJoiner()
    frames = []
    for _, value in ble.sent:
        frame = joiner.feed(value)
        if frame is not None:
            frames.append(wire.decode(frame))
    reassembler = wire.SnippetReassembler()
    live = b""
    live_next = 0
    for msg in frames:
        if msg["kind"] == "live_data":
            live_next = live_next if msg["sample_index"] != live_next else live_next + len(msg["samples"]) // 2
            live += msg["samples"]
        if msg["kind"] == "snippet_header":
            reassembler.start(msg)
        elif msg["kind"] == "snippet_fragment":
            reassembler.add(msg)
    whole = b""
    for _, value in ble.sent:
        whole += value
    out.append({
        "mtu": mtu,
        "table": ble.table if mtu == 247 else None,
        "adverts": ble.adverts,
        "accepted": ok,
        "responses": [pairs(wire.decode(r)) for r in ble.indications],
        "acks": acks,
        "event": pairs(frames[0]),
        "notifications": len(ble.sent),
        "refused": svc.tx_busy,
        "snippet_ok": reassembler.payload() == payload,
        "sent_crc": crc32(whole),
        "rx_errors": svc.rx_errors,
        "live_samples": live_next,
        "live_dropped": svc.live_dropped,
        "live_ok": live == b"".join(((i * 3 - 700) & 0xFFFF).to_bytes(2, "little") for i in range(250)),
        "device_info": [ble.values[row[3]].decode() for row in ble.table if row[0] == 0x180A],
    })
print(json.dumps(out))
"""


pytestmark = pytest.mark.usefixtures("micropython_vm")


def _cpython() -> list:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec_vm_script(SCRIPT, "ble_scenario")
    return json.loads(buffer.getvalue())


def test_ble_service_runs_the_same_on_micropython() -> None:
    result = run_micropython(SCRIPT, vm_modules(), timeout_s=120)
    on_vm = json.loads(result.stdout.strip().splitlines()[-1])
    assert on_vm == _cpython()

    at_247, at_23 = on_vm
    flags = {uuid: props for _service, uuid, props, _handle in at_247["table"]}
    assert at_247["table"][0][0] == "e0c90001-b2f4-4c3a-8d6e-5a1f0e7c3b29"
    assert flags["e0c90002-b2f4-4c3a-8d6e-5a1f0e7c3b29"] == 0x10  # data: notify
    assert flags["e0c90003-b2f4-4c3a-8d6e-5a1f0e7c3b29"] == 0x08 | 0x04 | 0x20  # control point
    assert flags[0x2A37] == 0x10 and flags[0x2A38] == 0x02 and flags[0x2A19] == 0x12
    assert [row[0] for row in at_247["table"]].count(0x180A) == 4
    for run in (at_247, at_23):
        assert run["accepted"] and run["snippet_ok"]
        assert run["refused"] > 0  # ENOMEM met, and the frames went again later
        assert run["acks"] == [["event", 5]]
        assert run["device_info"] == ["ECG patch project", "ECG-1", "7", "0.1.0"]
        statuses = [dict(map(tuple, r))["status"] for r in run["responses"]]
        assert statuses == ["OK", "OK", "UNSUPPORTED", "ERROR", "OK"]  # time_sync, ack, config, garbage, live
        assert run["live_samples"] == 250 and run["live_ok"] and run["live_dropped"] == 0
        assert dict(map(tuple, run["responses"][0]))["patch_ms"] == 4242
        assert dict(map(tuple, run["event"]))["event_type"] == "AF"
    assert at_247["notifications"] == 1 + 1 + 22 + 3  # event, header, fragments, live (118 a frame)
    assert at_23["notifications"] == 2 + 3 + 417 + 42  # live: 6 samples a frame
