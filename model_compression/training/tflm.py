"""Running int8 models as the patch does: TensorFlow Lite for Microcontrollers' interpreter.

Inputs are matched to the model's input tensors by shape (TFLite may reorder inputs), quantized
with each tensor's scale and zero point, and outputs dequantized the same way. A server that runs the
same models over whole records uses `ServerInt8Model`: TensorFlow Lite's optimized kernels on the
same bytes (the LiteRT runtime, without TensorFlow), an order of magnitude faster and at most one
int8 step away from the patch's output.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_ARENA = 256 * 1024


@dataclass(frozen=True)
class TensorInfo:
    shape: tuple[int, ...]
    scale: float
    zero_point: int


class Int8Model:
    """One int8 .tflite in the TFLM interpreter."""

    def __init__(self, model: bytes, arena_size: int = DEFAULT_ARENA) -> None:
        from tflite_micro import runtime

        self.model = model
        self._ip = runtime.Interpreter.from_bytes(model, arena_size=arena_size)
        self.inputs = [_info(self._ip.get_input_details(i)) for i in range(input_count(model))]
        self.output = _info(self._ip.get_output_details(0))

    def quantize(self, values: np.ndarray, index: int) -> np.ndarray:
        return quantize(values, self.inputs[index])

    def invoke_int8(self, tensors: Sequence[np.ndarray]) -> np.ndarray:
        """One inference on already-quantized int8 inputs (in the model's input order)."""
        for i, t in enumerate(tensors):
            self._ip.set_input(np.asarray(t, dtype=np.int8).reshape(self.inputs[i].shape), i)
        self._ip.invoke()
        return np.array(self._ip.get_output(0), dtype=np.int8).reshape(-1)

    def predict(self, arrays: Sequence[np.ndarray]) -> np.ndarray:
        """Float outputs (n, classes) for float inputs given in any order (matched by shape)."""
        order = self.input_order([a.shape[1:] for a in arrays])
        quantized = [self.quantize(arrays[src], dst) for dst, src in enumerate(order)]
        n = len(arrays[0])
        out = np.empty((n, int(np.prod(self.output.shape))), dtype=np.float32)
        for row in range(n):
            out[row] = dequantize(self.invoke_int8([q[row] for q in quantized]), self.output)
        return out

    def predict_int8(self, arrays: Sequence[np.ndarray]) -> np.ndarray:
        order = self.input_order([a.shape[1:] for a in arrays])
        quantized = [self.quantize(arrays[src], dst) for dst, src in enumerate(order)]
        return np.stack([self.invoke_int8([q[row] for q in quantized]) for row in range(len(arrays[0]))])

    def input_order(self, shapes: Sequence[tuple[int, ...]]) -> list[int]:
        """For each model input, the index of the given array with its shape."""
        order = []
        for info in self.inputs:
            matches = [i for i, s in enumerate(shapes) if tuple(s) == info.shape[1:] and i not in order]
            if not matches:
                raise ValueError(f"no input of shape {info.shape[1:]} among {list(shapes)}")
            order.append(matches[0])
        return order


class ServerInt8Model(Int8Model):
    """The same .tflite in LiteRT's (TensorFlow Lite's) interpreter with its optimized builtin kernels.

    XNNPACK is left out: it moves more outputs one step off TFLM's (4 % of the rhythm network's,
    against 1.6 % without it) for little speed. One thread: analysis workers are the unit of
    parallelism."""

    def __init__(self, model: bytes) -> None:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        self.model = model
        self._lite = Interpreter(
            model_content=model,
            num_threads=1,
            experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        )
        self._lite.allocate_tensors()
        details = self._lite.get_input_details()
        self._input_index = [int(d["index"]) for d in details]
        self.inputs = [_info(d) for d in details]
        out = self._lite.get_output_details()[0]
        self._output_index = int(out["index"])
        self.output = _info(out)

    def invoke_int8(self, tensors: Sequence[np.ndarray]) -> np.ndarray:
        for index, info, t in zip(self._input_index, self.inputs, tensors, strict=True):
            self._lite.set_tensor(index, np.asarray(t, dtype=np.int8).reshape(info.shape))
        self._lite.invoke()
        return np.array(self._lite.get_tensor(self._output_index), dtype=np.int8).reshape(-1)


def quantize(values: np.ndarray, info: TensorInfo) -> np.ndarray:
    q = np.rint(np.asarray(values, dtype=np.float64) / info.scale) + info.zero_point
    return np.clip(q, -128, 127).astype(np.int8)


def dequantize(values: np.ndarray, info: TensorInfo) -> np.ndarray:
    return ((np.asarray(values, dtype=np.float32) - info.zero_point) * info.scale).astype(np.float32)


def reference_outputs(model: bytes, tensors: Sequence[Sequence[np.ndarray]]) -> np.ndarray:
    """int8 outputs of TFLite's reference kernels (not XNNPACK) for the same int8 inputs."""
    import tensorflow as tf

    ip = tf.lite.Interpreter(
        model_content=model, experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF
    )
    ip.allocate_tensors()
    details = ip.get_input_details()
    out_index = ip.get_output_details()[0]["index"]
    rows = []
    for example in tensors:
        for d, t in zip(details, example, strict=True):
            ip.set_tensor(d["index"], np.asarray(t, dtype=np.int8).reshape(d["shape"]))
        ip.invoke()
        rows.append(np.array(ip.get_tensor(out_index)).reshape(-1))
    return np.stack(rows)


def smallest_arena(model_path: str, *, low: int = 512, high: int = 512 * 1024, step: int = 16) -> int:
    """The smallest arena (bytes, to `step`) with which the model allocates and runs. Probed in
    subprocesses: an arena far too small can crash the interpreter instead of raising."""

    def works(size: int) -> bool:
        code = (
            "import sys, numpy as np\nfrom tflite_micro import runtime\n"
            f"ip = runtime.Interpreter.from_file({model_path!r}, arena_size={size})\n"
            "for i in range(64):\n"
            "    try: d = ip.get_input_details(i)\n"
            "    except Exception: break\n"
            "    ip.set_input(np.zeros(d['shape'], dtype=d['dtype']), i)\n"
            "ip.invoke()\n"
        )
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
        return run.returncode == 0

    if not works(high):
        raise RuntimeError(f"{model_path}: does not run even with a {high}-byte arena")
    while high - low > step:
        mid = (low + high) // 2
        if works(mid):
            high = mid
        else:
            low = mid
    return high


def _info(details: dict) -> TensorInfo:
    q = details["quantization_parameters"]
    return TensorInfo(tuple(int(s) for s in details["shape"]), float(q["scales"][0]), int(q["zero_points"][0]))


def input_count(model: bytes) -> int:
    """The model's number of inputs, from its flatbuffer (the interpreter only answers per index)."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    return int(schema.Model.GetRootAsModel(model, 0).Subgraphs(0).InputsLength())
