"""firmware/beat_input.py and window_input.py in the real MicroPython VM give CPython's int8 bytes.

The VM cannot run TFLM, so only the input builders run there, on a scripted stream: 40 s of
MIT-BIH 119 through the firmware signal path (in the VM too), the beat classifier's quantization
read from the shipped model's flatbuffer by firmware/inference.py. The VM run also reports the
builders' cost (per beat, per window) and the heap their buffers take (gc.mem_alloc).
"""

from __future__ import annotations

import json
from array import array

import numpy as np
import pytest

from ecg_data.paths import data_root
from ecg_data.wfdb_records import read_wfdb
from firmware.beat_input import RR_FEATURES
from hardware_sim.ecg_source import EcgSource
from hardware_sim.front_end import FrontEndConfig
from hardware_sim.micropython_vm import (
    MicroPythonVmUnavailable,
    check_vm_installed,
    firmware_modules,
    run_micropython,
)
from hardware_sim.patch_qrs import lsb_nv
from model_compression.beat_pipeline import SHIPPED_MODEL

# Runs in MicroPython and in CPython alike: the same bytes must come out.
SCRIPT = r"""
import gc
from array import array
mem_alloc = getattr(gc, "mem_alloc", lambda: 0)
from firmware.signal_path import SignalPath
from firmware.resample import Resampler
from firmware.inference import Quantizer, read_model
from firmware.beat_input import RR_FEATURES, BeatInput
from firmware.window_input import WindowInput
try:
    import hostclock
    ticks = hostclock.ticks_us
except ImportError:
    import time
    ticks = lambda: int(time.perf_counter() * 1e6)

with open(DATA + "/model.tflite", "rb") as f:
    model = f.read()
with open(DATA + "/codes.bin", "rb") as f:
    codes = array("i", f.read())
ins, outs = read_model(model)
b = 0 if tuple(ins[0][0]) == (1, 87, 3) else 1
gc.collect()
heap0 = mem_alloc()
path = SignalPath(250, LSB)
gc.collect()
heap1 = mem_alloc()
beats = BeatInput(path, LSB, array("b", bytes(261)), Quantizer(ins[b][1], ins[b][2], ins[b][3], 4),
                  array("b", bytes(RR_FEATURES)), Quantizer(ins[1 - b][1], ins[1 - b][2], ins[1 - b][3], 4))
gc.collect()
heap2 = mem_alloc()
windows = WindowInput(LSB)
gc.collect()
heap3 = mem_alloc()
vt_q = Quantizer(13151219, 28, 0, 5)       # 0.049 mV per step, as an SCNN's input might be
rhythm_q = Quantizer(8388608, 27, -1, 8)   # 1/16 of a standard deviation
vt_buf = array("b", bytes(1250))
rhythm_buf = array("b", bytes(1250))
resampler = Resampler(250, 125)
out125 = array("i", [0] * 4)
beat_out = open(OUT + "/beats.bin", "wb")
window_out = open(OUT + "/windows.bin", "wb")
spent = [0, 0, 0]

def ready(k):
    beat_out.write(beats.beat_buf)
    beat_out.write(beats.rr_buf)

beats.on_ready = ready

def consume(x):
    t0 = ticks()
    beats.push(x)
    spent[0] += ticks() - t0
    for i in range(resampler.push(x, out125)):
        windows.push(out125[i])
        if windows.count % 625 == 0 and windows.count >= 1250:
            t0 = ticks()
            windows.fill_vt(vt_buf, vt_q)
            t1 = ticks()
            windows.fill_rhythm(rhythm_buf, rhythm_q)
            spent[1] += t1 - t0
            spent[2] += ticks() - t1
            window_out.write(vt_buf)
            window_out.write(rhythm_buf)
            window_out.write(array("i", [windows.hf_pm]))

path.on_model_sample = consume
for c in codes:
    path.push(c)
beats.flush()
beat_out.close()
window_out.close()
print("RESULT", beats.ready, windows.count // 625 - 1, spent[0], spent[1], spent[2], heap2 - heap1, heap3 - heap2)
"""


def scripted_stream() -> tuple[np.ndarray, int]:
    path = data_root() / "mitdb" / "119"
    if not path.with_suffix(".hea").is_file():
        pytest.skip("mitdb/119 missing")
    config = FrontEndConfig()
    return EcgSource(read_wfdb(path), 0, config, duration_s=40.0).codes(), lsb_nv(config)


def test_input_builders_give_the_same_bytes_on_micropython(tmp_path) -> None:
    try:
        check_vm_installed()
    except MicroPythonVmUnavailable as exc:
        pytest.skip(str(exc))
    codes, lsb = scripted_stream()
    data = array("i", codes.tolist()).tobytes()
    model = SHIPPED_MODEL.read_bytes()

    # CPython
    (tmp_path / "data").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "data" / "codes.bin").write_bytes(data)
    (tmp_path / "data" / "model.tflite").write_bytes(model)
    printed: list[str] = []
    env = {"DATA": str(tmp_path / "data"), "OUT": str(tmp_path / "out"), "LSB": lsb, "print": lambda *a: printed.append(" ".join(map(str, a)))}
    exec(compile(SCRIPT, "inputs_script", "exec"), env)
    on_cpython = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}

    # MicroPython
    header = f'DATA = "/data"\nOUT = "/out"\nLSB = {lsb}\nimport os\ntry:\n    os.mkdir("/out")\nexcept OSError:\n    pass\n'
    result = run_micropython(
        header + SCRIPT,
        modules=firmware_modules(),
        files={"/data/codes.bin": data, "/data/model.tflite": model},
        timeout_s=300,
    )
    line = [ln for ln in result.stdout.splitlines() if ln.startswith("RESULT")][-1].split()
    n_beats, n_windows, beat_us, vt_us, rhythm_us, beat_heap, window_heap = (int(v) for v in line[1:])
    assert n_beats > 40 and n_windows >= 5
    assert result.files["beats.bin"] == on_cpython["beats.bin"]
    assert result.files["windows.bin"] == on_cpython["windows.bin"]
    assert len(on_cpython["beats.bin"]) == n_beats * (261 + RR_FEATURES)
    report = {
        "beats": n_beats,
        "beat_input_us_per_beat": beat_us / n_beats,  # all its pushes (per-sample ring writes) included
        "vt_fill_us_per_window": vt_us / n_windows,
        "rhythm_fill_us_per_window": rhythm_us / n_windows,
        "beat_input_heap_bytes": beat_heap,
        "window_input_heap_bytes": window_heap,
    }
    print(json.dumps(report))
    assert beat_heap < 40_000 and window_heap < 8_000


def test_the_power_share_allocates_no_long_integers_on_micropython() -> None:
    """On the MCU a long integer is a heap object: a filter whose products outgrew small integers
    would allocate on every sample of every SCNN window (with 24-bit coefficients and 8 guard bits,
    about 0.8 MB a window). Large and small windows alike allocate a few hundred bytes at most."""
    try:
        check_vm_installed()
    except MicroPythonVmUnavailable as exc:
        pytest.skip(str(exc))
    script = """
import gc
from firmware.window_input import WindowInput
for amplitude in (3, 2000, 300000):
    w = WindowInput(1000)
    for i in range(1250):
        # a 1.25-Hz sawtooth with a spike every second: slow and fast power both
        w.push(amplitude * (i % 100) // 100 + (amplitude * 4 if i % 125 == 0 else 0))
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    share = w.high_frequency_pm()
    spent = gc.mem_alloc() - before
    gc.enable()
    print("RESULT", amplitude, share, spent)
"""
    result = run_micropython(script, modules=firmware_modules(), timeout_s=120)
    lines = [ln.split() for ln in result.stdout.splitlines() if ln.startswith("RESULT")]
    assert len(lines) == 3
    for _, amplitude, share, spent in lines:
        assert 0 < int(share) < 1000 and int(spent) < 1024, (amplitude, share, spent)
