"""The MicroPython VM harness runs real MicroPython and reports what it did."""

from __future__ import annotations

import struct

import pytest

from hardware_sim.micropython_vm import (
    MicroPythonError,
    MicroPythonTimeout,
    firmware_modules,
    run_micropython,
)

pytestmark = pytest.mark.usefixtures("micropython_vm")


PKG = {
    "pkg/__init__.py": "VERSION = 3\n",
    "pkg/mathx.py": "def fold(values):\n    acc = 0\n    for v in values:\n        acc = acc * 31 + v\n    return acc\n",
}

# Integer work whose result must be identical in CPython and MicroPython.
FIR_SOURCE = """
def fir(samples, taps):
    n = len(taps)
    hist = [0] * n
    out = []
    pos = 0
    for x in samples:
        hist[pos] = x
        acc = 0
        k = pos
        for t in taps:
            acc += t * hist[k]
            k = k - 1 if k else n - 1
        out.append(acc >> 4)
        pos = pos + 1 if pos + 1 < n else 0
    return out

def make_samples(count):
    state = 12345
    samples = []
    for _ in range(count):
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        samples.append((state >> 8) % 4096 - 2048)
    return samples

OUT = fir(make_samples(2000), [3, -5, 16, -5, 3])
"""


def test_runs_micropython_with_modules_inputs_and_outputs() -> None:
    raw = struct.pack("<4h", 1, -2, 300, -32768)
    script = """
import sys
from array import array
import pkg
from pkg.mathx import fold
print(sys.implementation.name, pkg.VERSION)
print(2 ** 100 + 1, (-7) // 2, -7 % 3)
a = array("h", open("/data/input.bin", "rb").read())
print(list(a), sum(a))
print(fold(a))
with open("/out/doubled.bin", "wb") as f:
    f.write(array("i", [2 * v for v in a]))
"""
    result = run_micropython(script, PKG, {"/data/input.bin": raw})
    lines = result.stdout.splitlines()
    assert lines[0] == "micropython 3"
    assert lines[1] == f"{2**100 + 1} -4 2"
    assert lines[2] == "[1, -2, 300, -32768] -32469"
    assert int(lines[3]) == ((1 * 31 - 2) * 31 + 300) * 31 - 32768
    assert result.files == {"doubled.bin": struct.pack("<4i", 2, -4, 600, -65536)}
    assert result.stderr == ""
    assert 0 < result.run_s < result.wall_s
    assert 0 < result.startup_s < result.wall_s


def test_exception_raises_with_micropython_traceback() -> None:
    modules = {**PKG, "pkg/broken.py": "def explode(x):\n    return {}[x]\n"}
    with pytest.raises(MicroPythonError) as info:
        run_micropython("print('before')\nfrom pkg.broken import explode\nexplode('key')\n", modules)
    err = info.value
    assert err.exc_type == "KeyError"
    assert err.stdout == "before\n"
    assert 'File "/lib/pkg/broken.py", line 2, in explode' in err.traceback
    assert err.traceback.rstrip().endswith("KeyError: key")
    assert "KeyError" in str(err)


def test_integer_computation_matches_cpython() -> None:
    namespace: dict[str, object] = {}
    exec(FIR_SOURCE, namespace)
    expected = namespace["OUT"]
    result = run_micropython(FIR_SOURCE + "print(OUT)\n")
    assert result.stdout.strip() == repr(expected)


def test_hostclock_measures_inside_the_vm() -> None:
    script = """
import hostclock, time
t0 = hostclock.ticks_us()
s = 0
for i in range(20000):
    s += i
t1 = hostclock.ticks_us()
print(t1 - t0, time.ticks_diff(time.ticks_ms(), time.ticks_ms()) <= 0)
"""
    elapsed_us, ticks_ok = run_micropython(script).stdout.split()
    assert 0 < int(elapsed_us) < 10_000_000
    assert ticks_ok == "True"


def test_firmware_package_imports_in_the_vm() -> None:
    modules = firmware_modules()
    assert "firmware/__init__.py" in modules
    assert all(key.startswith("firmware/") and key.endswith(".py") for key in modules)
    assert run_micropython("import firmware\nprint('ok')\n", modules).stdout == "ok\n"


def test_timeout_kills_the_vm() -> None:
    with pytest.raises(MicroPythonTimeout):
        run_micropython("while True:\n    pass\n", timeout_s=1.0)


def test_bad_module_path_is_rejected() -> None:
    with pytest.raises(ValueError):
        run_micropython("pass", {"../escape.py": ""})
