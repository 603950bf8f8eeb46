"""firmware/store.py in the real MicroPython VM, on a RAM block device written in MicroPython.

The same scenario (appends, a snippet, acks, wrap-around under pressure, power cuts and
reboots) runs in the VM and under CPython: both must print the same lines and leave the
same flash bytes, so the on-flash format is the same whichever interpreter wrote it. The VM
run also measures the heap a Store takes (gc.mem_alloc).
"""

from __future__ import annotations

import json

import pytest

from hardware_sim.micropython_vm import (
    firmware_modules,
    run_micropython,
)

# Pure MicroPython: the extended block protocol on a bytearray, with NOR rules and a cut.
SCENARIO = r"""
import gc
import json
from firmware import store as st


class PowerCut(Exception):
    pass


class RamFlash:
    def __init__(self, blocks, size):
        self.blocks = blocks
        self.size = size
        self.mem = bytearray(b"\xff" * (blocks * size))
        self.budget = -1  # steps (bytes programmed, erases) left before a cut; -1: none

    def _step(self):
        if self.budget == 0:
            raise PowerCut()
        if self.budget > 0:
            self.budget -= 1

    def ioctl(self, op, arg):
        if op == 4:
            return self.blocks
        if op == 5:
            return self.size
        if op == 6:
            self._step()
            mem = self.mem
            for i in range(arg * self.size, (arg + 1) * self.size):
                mem[i] = 0xFF
        return 0

    def readblocks(self, n, buf, off=0):  # byte by byte: allocates nothing, like the C driver
        start = n * self.size + off
        mem = self.mem
        for i in range(len(buf)):
            buf[i] = mem[start + i]

    def writeblocks(self, n, buf, off=0):
        start = n * self.size + off
        mem = self.mem
        for i in range(len(buf)):
            self._step()
            old = mem[start + i]
            new = buf[i]
            if old & new != new:
                raise ValueError("program over programmed bits at %d" % (start + i))
            mem[start + i] = old & new


def frame(i, n=36):
    return bytes([(i * 7 + k) & 0xFF for k in range(n)])


def idents(s, kinds=st.MESSAGES, unacked=True):
    return [r[1] for r in s.records(kinds, unacked)]


def allocated():
    # The VM port's gc.collect() frees nothing while a script runs: gc.mem_alloc() then
    # counts every byte allocated, an upper bound of what is kept. 0 under CPython.
    return gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0


def run():
    lines = []
    flash = RamFlash(8, 512)
    before = allocated()
    s = st.Store(flash)
    ram = {"store": allocated() - before}
    frames = [frame(i) for i in range(13)]
    before = allocated()
    for i in range(1, 13):
        s.append(st.KIND_EVENT, frames[i], i, i % 4 == 0)
    ram["append"] = (allocated() - before) // 12
    payload = bytes([(k * 13) & 0xFF for k in range(700)])
    s.append_snippet(5, b"snippet-header", payload, True)
    s.ack(st.KIND_EVENT, 6)
    lines.append(["unacked", idents(s)])
    s = st.Store(flash)  # reboot
    before = allocated()
    count = len(idents(s, st.MESSAGES, False))
    ram["scan"] = (allocated() - before) // count
    lines.append(["rebooted", idents(s), s.seq, s.last_ident(st.KIND_EVENT)])
    buf = bytearray(700)
    lines.append(["snippet", s.read_snippet(5, 0, buf), bytes(buf) == payload])
    part = bytearray(236)
    lines.append(["fragment", s.read_snippet(5, 472, part), bytes(part[:228]) == payload[472:]])
    # Wrap around under pressure: raw recording pushes out non-critical data only.
    for i in range(1, 60):
        s.append(st.KIND_RAW, frame(i, 100), i)
    lines.append(["pressure", idents(s), list(s.dropped()), s.moved > 0])
    s = st.Store(flash)
    n = s.read_snippet(5, 0, buf)
    lines.append(["kept", idents(s), n, bytes(buf) == payload, list(s.dropped())])
    # Power cuts at a few steps of one append, each followed by a reboot.
    image = bytes(flash.mem)
    for cut in range(0, 400, 11):
        flash.mem[:] = image
        s = st.Store(flash)
        flash.budget = cut
        try:
            s.append(st.KIND_EVENT, frame(99), 99, True)
            done = True
        except PowerCut:
            done = False
        flash.budget = -1
        s = st.Store(flash)
        lines.append(["cut", cut, done, idents(s)[-3:], s.read_snippet(5, 0, buf) == 700])
        s.append(st.KIND_SUMMARY, frame(cut, 29), cut + 1)
        lines.append(["after", idents(st.Store(flash), 1 << st.KIND_SUMMARY)[-1:]])
    return lines, ram, flash.mem


lines, ram, image = run()
"""

VM_MAIN = """
print(json.dumps({"lines": lines, "ram": ram}))
open("/out/flash.bin", "wb").write(image)
"""


pytestmark = pytest.mark.usefixtures("micropython_vm")


def _normalise(lines: list) -> list:
    return json.loads(json.dumps(lines))  # tuples -> lists, as MicroPython's json gives them


def test_store_runs_in_micropython_like_in_cpython() -> None:
    result = run_micropython(SCENARIO + VM_MAIN, firmware_modules(), timeout_s=120)
    vm = json.loads(result.stdout.strip().splitlines()[-1])
    namespace: dict = {}
    exec(compile(SCENARIO, "scenario", "exec"), namespace)
    assert vm["lines"] == _normalise(namespace["lines"])
    assert result.files["flash.bin"] == bytes(namespace["image"])
    lines = {line[0]: line for line in vm["lines"]}
    assert lines["unacked"][1] == [7, 8, 9, 10, 11, 12, 5]
    assert lines["rebooted"][1:] == [[7, 8, 9, 10, 11, 12, 5], 18, 12]  # 4 chunks and a state record
    assert lines["snippet"][1:] == [700, True] and lines["fragment"][1:] == [228, True]
    pressure = lines["pressure"]
    assert pressure[1] == [8, 12, 5] and pressure[3]  # only critical records left, moved
    assert pressure[2] == [4, 0, 0, 0, 45, 0]  # events 7, 9, 10, 11 and 45 raw chunks dropped
    assert lines["kept"][2:4] == [700, True]
    cuts = [line for line in vm["lines"] if line[0] == "cut"]
    assert all(line[4] for line in cuts)  # the snippet survived every cut
    done = [line[2] for line in cuts]
    assert done.count(False) >= 10 and done[-1]  # cut at many steps, and past the end
    for line in cuts:  # the last three unacked: event 99 is there once its append returned
        assert line[3] == [12, 5, 99] if line[2] else line[3] in ([8, 12, 5], [12, 5, 99])
    # Heap allocated (the VM frees nothing mid-script, so these are upper bounds): a Store
    # with its buffers on a blank flash, then per event appended and per record scanned.
    ram = vm["ram"]
    assert 0 < ram["store"] < 1500 and ram["append"] < 300 and ram["scan"] < 400, ram
    print("MicroPython VM heap allocated:", ram)
