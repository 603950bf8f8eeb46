"""`ecg eval footprint`: what each model the firmware ships costs the patch.

Flash is the .tflite's size; the arena is the smallest with which the TFLM interpreter allocates
and runs the model (probed, as its own report can be too low); multiply-accumulates are counted
from the flatbuffer's convolutions and fully connected layers, the work CMSIS-NN kernels do.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from firmware.model_plan import MODELS
from model_compression.training.model_card import FIRMWARE_MODELS

MEAN_RR_S = 0.8  # the beat classifier runs once per beat: at 75 bpm, every 0.8 s


def tflite_macs(model: bytes) -> int:
    """MACs of one inference, read from the flatbuffer itself (no TensorFlow needed)."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if isinstance(v, int)}
    root = schema.Model.GetRootAsModel(model, 0)
    graph = root.Subgraphs(0)

    def shape(index: int) -> tuple[int, ...]:
        return tuple(int(d) for d in graph.Tensors(index).ShapeAsNumpy())

    total = 0
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = root.OperatorCodes(op.OpcodeIndex())
        name = names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "")
        out = shape(op.Outputs(0))
        if name == "CONV_2D":
            _, kh, kw, cin = shape(op.Inputs(1))
            total += int(np.prod(out)) * kh * kw * cin
        elif name == "DEPTHWISE_CONV_2D":
            _, kh, kw, _ = shape(op.Inputs(1))
            total += int(np.prod(out)) * kh * kw
        elif name == "FULLY_CONNECTED":
            units, depth = shape(op.Inputs(1))
            total += int(np.prod(out)) // units * units * depth
    return total


def footprint(folder: Path = FIRMWARE_MODELS) -> list[dict[str, object]]:
    from model_compression.training.tflm import smallest_arena

    rows = []
    for file, fs, window_s, hop_s in MODELS:
        path = folder / file
        if not path.is_file():
            continue
        model = path.read_bytes()
        per_beat = hop_s == 0
        hop = MEAN_RR_S if per_beat else hop_s
        macs = tflite_macs(model)
        rows.append({
            "model": path.stem, "file": str(path), "fs": fs,
            "flash_bytes": len(model), "arena_bytes": smallest_arena(str(path)),
            "macs_per_inference": macs, "window_s": window_s, "hop_s": hop,
            "runs": "every beat (hop at 75 bpm)" if per_beat else "every hop",
            "macs_per_10s_when_running": round(macs * 10 / hop),
        })  # fmt: skip
    return rows


def run_cli(args: argparse.Namespace) -> int:
    from ecg_cli.main import UserFacingError

    folder = Path(args.models) if args.models else FIRMWARE_MODELS
    rows = footprint(folder)
    if not rows:
        raise UserFacingError(f"{folder}: no model of firmware/model_plan.py there yet")
    print(f"{'model':<18}{'flash B':>10}{'arena B':>10}{'MAC/inference':>15}{'window s':>10}{'hop s':>7}{'MAC/10 s':>13}")
    for r in rows:
        print(f"{r['model']:<18}{r['flash_bytes']:>10,}{r['arena_bytes']:>10,}{r['macs_per_inference']:>15,}"
              f"{r['window_s']:>10}{r['hop_s']:>7}{r['macs_per_10s_when_running']:>13,}")  # fmt: skip
    flash = sum(int(r["flash_bytes"]) for r in rows)  # type: ignore[call-overload]
    print(f"all models: {flash:,} bytes of flash (budget 262,144); largest arena {max(int(r['arena_bytes']) for r in rows):,} bytes (budget 65,536 each)")  # type: ignore[call-overload]
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"models": rows, "flash_bytes_total": flash}, indent=2) + "\n")
        png = out.with_suffix(".png")
        plot(rows, png)
        print(f"wrote {out}, {png}", file=sys.stderr)
    return 0


def plot(rows: list[dict[str, object]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [str(r["model"]) for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
    for ax, key, budget, title in (
        (axes[0], "flash_bytes", 262_144, "flash (bytes; budget: all models)"),
        (axes[1], "arena_bytes", 65_536, "tensor arena (bytes; budget: each)"),
        (axes[2], "macs_per_10s_when_running", 20_000_000, "MAC per 10 s while running (budget: average)"),
    ):
        ax.bar(names, [float(r[key]) for r in rows], color=[f"C{i}" for i in range(len(rows))])  # type: ignore[arg-type]
        ax.axhline(budget, color="red", ls="--", lw=1)
        ax.set_title(title, fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
