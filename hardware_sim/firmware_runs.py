"""The firmware's signal path run the same way under CPython and on the MicroPython VM.

Both runs take the same ADC codes and give back each beat's sample index and RR interval,
so the two interpreters can be compared value for value, and each one's cost per sample.
"""

from __future__ import annotations

import time
from array import array
from dataclasses import dataclass

import numpy as np

from firmware.signal_path import BEAT_RING, SignalPath
from hardware_sim.micropython_vm import firmware_modules, run_micropython

# Runs inside MicroPython: codes stream from a file in blocks, beats go to /out.
_VM_SCRIPT = """
from array import array
import hostclock
from firmware.signal_path import SignalPath, BEAT_RING

FS = {fs}
LSB = {lsb}
path = SignalPath(FS, LSB)
block = array("i", [0] * 1024)
beats = array("i")
rrs = array("i")
seen = 0
elapsed = 0
with open("/data/codes.bin", "rb") as f:
    while True:
        n = f.readinto(block) // 4
        if n == 0:
            break
        push = path.push
        t0 = hostclock.ticks_us()
        for i in range(n):
            push(block[i])
        elapsed += hostclock.ticks_us() - t0
        while seen < path.beat_total:
            beats.append(path.beat_index[seen % BEAT_RING])
            rrs.append(path.rr_ms[seen % BEAT_RING])
            seen += 1
with open("/out/beats.bin", "wb") as f:
    f.write(beats)
with open("/out/rr.bin", "wb") as f:
    f.write(rrs)
print(elapsed)
"""


@dataclass(frozen=True)
class PathRun:
    beats: np.ndarray  # sample indices
    rr_ms: np.ndarray
    samples: int
    seconds: float  # time spent in the signal path alone

    @property
    def samples_per_s(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else float("inf")


def run_cpython(codes: np.ndarray, fs: int, lsb_nv: int) -> PathRun:
    path = SignalPath(fs, lsb_nv)
    beats: list[int] = []
    rrs: list[int] = []
    seen = 0
    push = path.push
    values = codes.tolist()
    t0 = time.perf_counter()
    for code in values:
        push(code)
        if path.beat_total != seen:
            while seen < path.beat_total:
                beats.append(path.beat_index[seen % BEAT_RING])
                rrs.append(path.rr_ms[seen % BEAT_RING])
                seen += 1
    seconds = time.perf_counter() - t0
    return PathRun(np.asarray(beats, np.int64), np.asarray(rrs, np.int64), len(values), seconds)


def run_micropython_vm(codes: np.ndarray, fs: int, lsb_nv: int, timeout_s: float = 600.0) -> PathRun:
    data = array("i", np.asarray(codes, dtype=np.int32).tolist()).tobytes()
    result = run_micropython(
        _VM_SCRIPT.format(fs=fs, lsb=lsb_nv),
        modules=firmware_modules(),
        files={"/data/codes.bin": data},
        timeout_s=timeout_s,
    )
    elapsed_us = int(result.stdout.strip().splitlines()[-1])
    beats = np.frombuffer(result.files["beats.bin"], dtype=np.int32).astype(np.int64)
    rrs = np.frombuffer(result.files["rr.bin"], dtype=np.int32).astype(np.int64)
    return PathRun(beats, rrs, len(codes), elapsed_us / 1e6)
