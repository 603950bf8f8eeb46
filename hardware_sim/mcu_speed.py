"""From MicroPython-VM time on this PC to MCU time: published perf_bench timings of real boards.

MicroPython's own benchmark suite (tests/perf_bench in the MicroPython repository; MIT) has
been timed on boards by its maintainers in public pull requests, each program with parameters
picked from (N, M) = (CPU MHz, heap kB). Running the same programs with the same (N, M) in the
WebAssembly VM here gives, per program, (board us) / (VM us): the MCU time of one VM
microsecond of bytecode. Its geometric mean over the programs is the factor; the smallest and
largest program ratios give the range (the firmware's mix of integer arithmetic, array indexing
and calls sits among them). Each program runs `repeats` times in one VM and the fastest run
counts: the VM's WebAssembly code is compiled by V8 in tiers, and a cold first run of a
10-ms program was 3x slower than a warm one (the firmware timings are warm too: long loops,
fastest of several runs).

Cortex-M4F at 64 MHz (nRF52840): the two Cortex-M4F boards below, scaled by clock (board MHz /
64), assuming the same cycles per bytecode (both run from flash through a cache/accelerator, as
the nRF52840 does; their own per-clock figures differ by about 30 %, which the range shows).

ESP32-S3 at 240 MHz: no perf_bench timings of an S3 with these programs were found; scruss.com
timed one MicroPython program on many boards (MicroPython 1.24-1.25): ESP32-S3 at 240 MHz
8.9 s, pyboard v1.1 (STM32F405, 168 MHz) 13.0 s. So S3 time = PYBv1.0 (same STM32F405 at
168 MHz) perf_bench time x 8.9 / 13.0 (PYBv1.0's figures are from 2019, MicroPython 1.11: a
newer MicroPython is faster on the same board, which makes this factor conservative).

The perf_bench programs are not part of this project: `--perfbench DIR` points at a MicroPython
checkout's tests/perf_bench (bm_fannkuch.py, bm_nqueens.py, bm_float.py are used) and the
factors are measured at run time, under the same load as the firmware's VM timing. Without it
the factors measured once on this machine (STORED) are used, and marked as such.
"""

from __future__ import annotations

import math
import platform
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from hardware_sim.micropython_vm import run_micropython

PROGRAMS = ("bm_fannkuch", "bm_nqueens", "bm_float")
S3_OVER_F405 = 8.9 / 13.0  # https://scruss.com/blog/tag/benchmark/ (same program, both boards)


@dataclass(frozen=True)
class BoardTiming:
    board: str
    mhz: float
    n: int
    m: int
    us: dict[str, float]  # program -> microseconds, as published
    source: str


F401 = BoardTiming(
    "NUCLEO-F401RE (STM32F401, Cortex-M4F)", 84, 84, 80,
    {"bm_fannkuch": 131239.62, "bm_nqueens": 375490.00, "bm_float": 37841.00},
    "https://github.com/micropython/micropython/pull/18069 (2025, 'after' column)",
)  # fmt: skip
G474 = BoardTiming(
    "NUCLEO-G474RE (STM32G474, Cortex-M4F)", 170, 170, 128,
    {"bm_fannkuch": 92167.25, "bm_nqueens": 272933.75, "bm_float": 50193.88},
    "https://github.com/micropython/micropython/pull/18073 (2025, 'after' column)",
)  # fmt: skip
PYBV10 = BoardTiming(
    "PYBv1.0 (STM32F405, Cortex-M4F)", 168, 100, 100,
    {"bm_fannkuch": 82412.38, "bm_float": 53790.38},
    "https://github.com/micropython/micropython/pull/4858 (2019)",
)  # fmt: skip

# (N, M) -> program -> VM us, measured here with --perfbench (see STORED_HOST), used without it.
STORED_HOST = "Intel(R) Xeon(R) Processor, 2 cores shared with a training job"
STORED: dict[tuple[int, int], dict[str, float]] = {
    (84, 80): {"bm_fannkuch": 2751.0, "bm_nqueens": 9756.0, "bm_float": 750.0},
    (100, 100): {"bm_fannkuch": 2795.0, "bm_nqueens": 9242.0, "bm_float": 1334.0},
    (170, 128): {"bm_fannkuch": 2867.0, "bm_nqueens": 9192.0, "bm_float": 1238.0},
}


@dataclass(frozen=True)
class McuFactor:
    mcu: str
    mhz: float
    factor: float  # MCU us per VM us (geometric mean)
    low: float
    high: float
    basis: list[str] = field(default_factory=list)


_HARNESS = """
import hostclock
def _pick(N, M):
    cur = (0, 0)
    param = None
    for nm, p in bm_params.items():
        if 10 * nm[0] <= 12 * N and nm[1] <= M and nm > cur:
            cur = nm
            param = p
    return param
_best = None
for _ in range({repeats}):
    _run, _result = bm_setup(_pick({n}, {m}))
    _t0 = hostclock.ticks_us()
    _run()
    _dt = hostclock.ticks_us() - _t0
    _best = _dt if _best is None or _dt < _best else _best
print("US", _best)
"""


def vm_perfbench(folder: Path, n: int, m: int, repeats: int = 25) -> dict[str, float]:
    """Best-of-`repeats` VM microseconds of each program at (N, M), as run-perfbench.py picks params."""
    out: dict[str, float] = {}
    for name in PROGRAMS:
        src = (folder / f"{name}.py").read_text()
        result = run_micropython(src + _HARNESS.format(n=n, m=m, repeats=repeats), timeout_s=300)
        line = [ln for ln in result.stdout.splitlines() if ln.startswith("US ")][-1]
        out[name] = float(line.split()[1])
    return out


def _ratios(board: BoardTiming, vm: dict[str, float], scale: float) -> dict[str, float]:
    return {p: board.us[p] * scale / vm[p] for p in board.us if p in vm}


def _factor(mcu: str, mhz: float, ratios: dict[str, float], basis: list[str]) -> McuFactor:
    values = list(ratios.values())
    geo = math.exp(statistics.fmean(math.log(v) for v in values))
    return McuFactor(mcu, mhz, geo, min(values), max(values), basis)


def factors(vm: dict[tuple[int, int], dict[str, float]]) -> tuple[McuFactor, McuFactor]:
    """(Cortex-M4F at 64 MHz, ESP32-S3 at 240 MHz) from VM timings keyed by (N, M)."""
    m4: dict[str, float] = {}
    basis = []
    for board in (F401, G474):
        for p, r in _ratios(board, vm[(board.n, board.m)], board.mhz / 64).items():
            m4[f"{board.board} {p}"] = r
        basis.append(f"{board.board} at {board.mhz:g} MHz scaled to 64 MHz: {board.source}")
    s3 = {
        f"{PYBV10.board} {p}": r
        for p, r in _ratios(PYBV10, vm[(PYBV10.n, PYBV10.m)], S3_OVER_F405).items()
    }
    s3_basis = [
        f"{PYBV10.board} at 168 MHz: {PYBV10.source}",
        "x 8.9/13.0, ESP32-S3 at 240 MHz against pyboard v1.1 on one program: https://scruss.com/blog/tag/benchmark/",
    ]
    return _factor("Cortex-M4F 64 MHz (nRF52840)", 64, m4, basis), _factor("ESP32-S3 240 MHz", 240, s3, s3_basis)


def calibrate(folder: Path | None, repeats: int = 25) -> tuple[McuFactor, McuFactor, dict]:
    """Factors measured now (folder given) or from STORED; the third item says which and shows the timings."""
    keys = {(b.n, b.m) for b in (F401, G474, PYBV10)}
    if folder is not None:
        vm = {k: vm_perfbench(Path(folder), k[0], k[1], repeats) for k in keys}
        origin = f"measured now on {platform.processor() or platform.machine()}"
    elif all(k in STORED for k in keys):
        vm = {k: STORED[k] for k in keys}
        origin = f"stored, measured on {STORED_HOST} (pass --perfbench to measure on this host)"
    else:
        raise FileNotFoundError("no stored VM perf_bench timings: pass the folder of MicroPython's tests/perf_bench")
    m4, s3 = factors(vm)
    info = {"origin": origin, "vm_us": {f"N={k[0]} M={k[1]}": v for k, v in sorted(vm.items())}}
    return m4, s3, info
