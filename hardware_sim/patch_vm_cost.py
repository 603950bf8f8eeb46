"""What the firmware loop costs in the real MicroPython VM, stage by stage, and the heap it holds.

One VM run on a stretch of a record through the front end (ADC codes streamed from a file):

| stage            | measured as                                                                 |
|------------------|-----------------------------------------------------------------------------|
| signal path      | SignalPath(250 Hz, model rate 125 Hz).push per code, its two streams handed |
|                  | to do-nothing consumers (the resampler to 125 Hz and the calls included)    |
| sample glue      | the Patch's other per-sample work, each on the streams the path produced:   |
|                  | raw ring (SnippetRecorder.push), SignalQuality.push, WindowInput.push       |
| beat input       | BeatInput.push on the path's 250-Hz stream, its beats replayed on the same  |
|                  | samples (less the replay loop's own cost), per detected beat                |
| window fill      | WindowInput.fill_normalised (VT and rhythm input: the same call), per window |
| Patch            | the whole Patch.push_block loop, per second of signal, with every model the |
|                  | folder holds on a stand-in binding whose invoke runs only microlite's       |
|                  | callbacks (the tensor copies): TFLM's own time is accounted apart           |
| Patch breakdown  | a second run with timers around _service (rules, store, snippets, alarm:    |
|                  | "housekeeping", window models taken out), each window model's run (fill,    |
|                  | copy, decode) and the beat classifier's run (copy, label), per call         |

Every per-sample loop runs REPEATS times and the fastest counts (V8 compiles the VM in tiers:
cold runs are slower). A timer call costs 0.5-4 us in this VM (warm or cold): the per-call
timers subtract the measured cost of one.

Heap (gc.mem_alloc after gc.collect, 32-bit VM like the MCUs): the Patch with its store and
no models; and with the models (their .tflite bytes included: firmware/patch.py's load_model
reads each file into RAM). The stand-in tensors share one preallocated buffer, so they add
next to nothing; TFLM's arenas are not in the VM and are counted apart.
"""

from __future__ import annotations

import json
from array import array
from pathlib import Path

import numpy as np

from hardware_sim.micropython_vm import run_micropython, vm_modules

_SCRIPT = r"""
import gc
import json
from array import array
import hostclock
from firmware.signal_path import SignalPath
from firmware.quality import SignalQuality
from firmware.window_input import WindowInput
from firmware.snippets import SnippetRecorder
from firmware.beat_input import BeatInput, CLIP as BEAT_CLIP, RR_FEATURES
from firmware.inference import read_model, Quantizer
from firmware.patch import Patch
from firmware.store import Store

ticks = hostclock.ticks_us
FS = {fs}
LSB = {lsb}
RAIL = {rail}
REPEATS = {repeats}
MODELS = "/models"
with open("/data/codes.bin", "rb") as f:
    codes = array("i", f.read())
N = len(codes)
NS = {stage_samples}
stage = codes[:NS]


from ram_flash import RamFlash


_SHARED = bytearray(4096)


class Tensor:
    def setValue(self, k, v):
        _SHARED[k] = v & 255

    def getValue(self, k):
        return 0


class Interp:
    # microlite's calls; invoke runs the callbacks, not TFLM (timed apart, on the PC)
    def __init__(self, model, arena, cb_in, cb_out):
        ins, outs = read_model(model)
        self.ins = [Tensor() for _ in ins]
        self.out = Tensor()
        self.cb_in = cb_in
        self.cb_out = cb_out

    def getInputTensor(self, i):
        return self.ins[i]

    def getOutputTensor(self, i):
        return self.out

    def invoke(self):
        self.cb_in(self)
        self.cb_out(self)
        return 0


class Binding:
    def interpreter(self, model, arena, cb_in, cb_out):
        return Interp(model, arena, cb_in, cb_out)


def tick_cost():
    best = None
    for _ in range(5):
        t0 = ticks()
        for _ in range(1000):
            ticks()
        dt = (ticks() - t0) / 1000
        best = dt if best is None or dt < best else best
    return best


TICK = tick_cost()
out = {{"samples": N, "stage_samples": NS, "tick_us": TICK}}


def best_of(fn):
    best = None
    for _ in range(REPEATS):
        gc.collect()
        dt = fn()
        best = dt if best is None or dt < best else best
    return best


# -- signal path alone, and the streams it hands on
keep = {{}}


def _skip(x):
    pass


# A fresh signal path, its streams handed to _skip, timed over the stage; the path is left in keep.
def path_run():
    def run():
        path = SignalPath(FS, LSB, 125)
        path.on_filtered_sample = _skip
        path.on_model_sample = _skip
        push = path.push
        t0 = ticks()
        for c in stage:
            push(c)
        dt = ticks() - t0
        keep["path"] = path
        return dt
    return run


out["path_us"] = best_of(path_run())
out["stage_beats"] = keep["path"].beat_total
f250 = array("i", bytes(4 * NS))
f125 = array("i", bytes(4 * (NS // 2 + 8)))
seen = array("i", bytes(4 * NS))  # beat_total as each 250-Hz sample is handed on
at = array("i", bytes(4 * NS))  # every beat's index, unwrapped from the path's ring
pos = [0, 0]


def on250(y):
    i = pos[0]
    f250[i] = y
    total = p.beat_total
    seen[i] = total
    ring = p.beat_index
    for k in range(seen[i - 1] if i else 0, total):
        at[k] = ring[k % len(ring)]
    pos[0] = i + 1


def on125(y):
    f125[pos[1]] = y
    pos[1] += 1


p = SignalPath(FS, LSB, 125)
p.on_filtered_sample = on250
p.on_model_sample = on125
for c in stage:
    p.push(c)
n250 = pos[0]
n125 = pos[1]
f250 = f250[:n250]
f125 = f125[:n125]
quality = SignalQuality(FS)
window = WindowInput(LSB)
snip = SnippetRecorder(FS, LSB, None)


def time_loop(fn, data):
    def run():
        t0 = ticks()
        for x in data:
            fn(x)
        return ticks() - t0
    return run


out["quality_us"] = best_of(time_loop(quality.push, f250))
out["window_push_us"] = best_of(time_loop(window.push, f125))
out["raw_ring_us"] = best_of(time_loop(snip.push, stage))

# -- beat input on the path's 250-Hz stream
with open(MODELS + "/{beat_file}", "rb") as f:
    beat_model = f.read()
ins, _ = read_model(beat_model)
b = 0 if tuple(ins[0][0]) == (1, 87, 3) else 1
bq = Quantizer(ins[b][1], ins[b][2], ins[b][3], BEAT_CLIP)
rq = Quantizer(ins[1 - b][1], ins[1 - b][2], ins[1 - b][3], BEAT_CLIP)
beat_buf = array("b", bytes(261))
rr_buf = array("b", bytes(RR_FEATURES))


class Replayed:
    # the path as BeatInput reads it, replayed from the capture: its beats appear on the
    # same samples, so BeatInput is timed alone (not as a small difference of two path runs)
    def __init__(self, path):
        self.fs = path.fs
        self.bandpass = path.bandpass
        self.beat_index = at[: max(1, path.beat_total)]
        self.beat_total = 0


def replay(attach):
    def run():
        src = Replayed(keep["path"])
        fn, keep["attached"] = attach(src)
        t0 = ticks()
        for i in range(n250):
            src.beat_total = seen[i]
            fn(f250[i])
        return ticks() - t0
    return run


def with_beats(src):
    beats = BeatInput(src, LSB, beat_buf, bq, rr_buf, rq)
    return beats.push, beats


out["beat_input_us"] = best_of(replay(with_beats))
out["beats_built"] = keep["attached"].ready
out["replay_us"] = best_of(replay(lambda src: (_skip, None)))

# -- window fill: the last 10 s of the 125-Hz stream
vt_q = Quantizer({vt_m}, {vt_e}, {vt_zp}, 8)
rh_q = Quantizer({rh_m}, {rh_e}, {rh_zp}, 8)
win_buf = array("b", bytes(1250))


def fills(q):
    def run():
        t0 = ticks()
        for _ in range(10):
            window.fill_normalised(win_buf, q)
        return (ticks() - t0) / 10
    return run


out["vt_fill_us"] = best_of(fills(vt_q))
out["rhythm_fill_us"] = best_of(fills(rh_q))

# -- heap of the Patch
def allocated(make):  # what make() returns, and the heap it took
    gc.collect()
    before = gc.mem_alloc()
    made = make()
    gc.collect()
    return made, gc.mem_alloc() - before


flash = RamFlash(256, 4096)
store, out["heap_store"] = allocated(lambda: Store(flash))
patch, out["heap_patch_no_models"] = allocated(lambda: Patch(LSB, None, None, store, None, fs=FS, rail=RAIL))
patch = store = flash = None
flash = RamFlash(256, 4096)
store = Store(flash)
binding = Binding()
patch, out["heap_patch_models"] = allocated(lambda: Patch(LSB, binding, MODELS, store, None, fs=FS, rail=RAIL))
out["models_present"] = [patch.classifier is not None, patch.vt is not None, patch.rhythm is not None]
patch = store = flash = None
gc.collect()


# -- the whole Patch, and its breakdown
def run_patch(instrument):
    flash = RamFlash(256, 4096)
    store = Store(flash)
    patch = Patch(LSB, Binding(), MODELS, store, None, fs=FS, rail=RAIL)
    spent = {{"service": 0.0, "rhythm": 0.0, "vt": 0.0, "beat": 0.0}}
    calls = {{"service": 0, "rhythm": 0, "vt": 0, "beat": 0}}

    def timed(name, fn):
        def wrapper(*args):
            t0 = ticks()
            out = fn(*args)
            spent[name] += ticks() - t0 - TICK
            calls[name] += 1
            return out
        return wrapper

    if instrument:
        patch._service = timed("service", patch._service)
        patch._run_rhythm = timed("rhythm", patch._run_rhythm)
        patch._run_vt = timed("vt", patch._run_vt)
        if patch.classifier is not None:
            inp = patch.classifier.input
            inp.on_ready = timed("beat", inp.on_ready)
    block = array("i", [0] * 25)
    total = 0
    for start in range(0, N - 24, 25):
        for i in range(25):
            block[i] = codes[start + i]
        t0 = ticks()
        patch.push_block(block, False)
        total += ticks() - t0 - TICK
    patch.finish()
    return total, spent, calls, patch


best = None
for _ in range(max(1, REPEATS - 1)):
    gc.collect()
    total, _, _, done = run_patch(False)
    best = total if best is None or total < best else best
out["patch_us"] = best
out["patch_samples"] = done.n
out["patch_beats"] = done.path.beat_total
out["patch_stored"] = done.stored
gc.collect()
_, spent, calls, _ = run_patch(True)
out["spent_us"] = spent
out["calls"] = calls
print("RESULT " + json.dumps(out))
"""


def _quant(model: bytes | None) -> tuple[int, int, int]:
    """(scale mantissa, exponent, zero point) of the window model's input, or a plausible stand-in."""
    if model is None:
        return (8388608, 27, -1)  # 1/16 of a standard deviation per step, as the rhythm model
    from firmware.inference import read_model
    from firmware.window_input import WINDOW

    ins, _ = read_model(model)
    for shape, m, e, zp in ins:
        if tuple(shape) == (1, WINDOW, 1):
            return (m, e, zp)
    raise ValueError("model without a (1, 1250, 1) input")


def measure(codes: np.ndarray, lsb_nv: int, rail: int, models_dir: Path, *,
            fs: int = 250, stage_seconds: float = 60.0, repeats: int = 3, timeout_s: float = 900.0) -> dict:
    """Runs the script above in the VM on these ADC codes; returns its raw figures (us, bytes, counts)."""
    from firmware.model_plan import BEAT_MODEL, RHYTHM_MODEL, VT_MODEL

    files: dict[str, bytes | Path] = {"/data/codes.bin": array("i", np.asarray(codes, np.int32).tolist()).tobytes()}
    for name, *_ in (BEAT_MODEL, VT_MODEL, RHYTHM_MODEL):
        if (models_dir / name).is_file():
            files[f"/models/{name}"] = models_dir / name
    if f"/models/{BEAT_MODEL[0]}" not in files:
        raise FileNotFoundError(f"{models_dir / BEAT_MODEL[0]}: the beat input's quantization comes from it")

    def read(name: str) -> bytes | None:
        path = models_dir / name
        return path.read_bytes() if path.is_file() else None

    vt = _quant(read(VT_MODEL[0]))
    rh = _quant(read(RHYTHM_MODEL[0]))
    script = _SCRIPT.format(
        fs=fs, lsb=lsb_nv, rail=rail, repeats=repeats,
        stage_samples=min(len(codes), int(stage_seconds * fs)), beat_file=BEAT_MODEL[0],
        vt_m=vt[0], vt_e=vt[1], vt_zp=vt[2], rh_m=rh[0], rh_e=rh[1], rh_zp=rh[2],
    )  # fmt: skip
    result = run_micropython(script, modules=vm_modules(), files=files, timeout_s=timeout_s)
    line = [ln for ln in result.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    raw: dict = json.loads(line[len("RESULT ") :])
    raw["vm_run_s"] = result.run_s
    return raw


def per_stage(raw: dict, fs: int = 250) -> dict[str, float]:
    """The raw VM figures as costs per unit: us per sample, per beat, per window, per second."""
    ns = raw["stage_samples"]
    seconds = raw["patch_samples"] / fs
    beats = max(1, raw["stage_beats"])
    calls = raw["calls"]
    spent = raw["spent_us"]
    windows = spent["rhythm"] + spent["vt"]
    return {
        "signal_path_us_per_sample": raw["path_us"] / ns,
        "sample_glue_us_per_sample": (raw["quality_us"] + raw["window_push_us"] + raw["raw_ring_us"]) / ns,
        "beat_input_us_per_beat": max(0.0, raw["beat_input_us"] - raw["replay_us"]) / beats,
        "classifier_run_us_per_beat": spent["beat"] / calls["beat"] if calls["beat"] else 0.0,
        "vt_fill_us_per_window": raw["vt_fill_us"],
        "rhythm_fill_us_per_window": raw["rhythm_fill_us"],
        "rhythm_run_us_per_window": spent["rhythm"] / calls["rhythm"] if calls["rhythm"] else 0.0,
        "vt_run_us_per_window": spent["vt"] / calls["vt"] if calls["vt"] else 0.0,
        "housekeeping_us_per_s": (spent["service"] - windows) / seconds,
        "patch_us_per_s": raw["patch_us"] / seconds,
        "patch_beats_per_s": raw["patch_beats"] / seconds,
    }
