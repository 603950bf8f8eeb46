"""The firmware's TFLM binding on a PC: the `microlite` module's calls on tflite-micro's interpreter.

firmware/inference.py runs its models through a binding object with the calls of `microlite`
(the MicroPython user module of tensorflow-micropython-examples, built into the ESP32-S3 image):
`interpreter(model, arena_size, input_callback, output_callback)`, `invoke()`,
`getInputTensor(i)`, `getOutputTensor(i)`, `tensor.setValue(k, v)`, `tensor.getValue(k)` (plus
`getType`, `quantizeFloatToInt8`, `quantizeInt8ToFloat`, which the firmware does not use). Here
the same calls drive `tflite_micro.runtime.Interpreter` (TFLM's reference kernels, compiled for
the host), so the int8 bytes in and out are those the MCU would see. Each interpreter keeps the
bytes of its last invocation and the time spent in TFLM's Invoke.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

TFLITE_INT8 = 9  # TfLiteType kTfLiteInt8, what microlite's getType() returns


class Tensor:
    """One int8 input or output tensor, as microlite's `tensor` object."""

    def __init__(self, details: dict) -> None:
        self.shape = tuple(int(s) for s in details["shape"])
        self.data = np.zeros(int(np.prod(self.shape)), dtype=np.int8)
        q = details["quantization_parameters"]
        self.scale = float(q["scales"][0]) if len(q["scales"]) else 0.0
        self.zero_point = int(q["zero_points"][0]) if len(q["zero_points"]) else 0
        if details["dtype"] != np.int8:
            raise TypeError(f"only int8 tensors are bound, got {details['dtype']}")

    def setValue(self, index: int, value: int) -> None:
        if not -128 <= value <= 127:
            raise OverflowError(f"int8 value out of range: {value}")
        self.data[index] = value

    def getValue(self, index: int) -> int:
        return int(self.data[index])

    def getType(self) -> int:
        return TFLITE_INT8

    def quantizeFloatToInt8(self, value: float) -> int:
        q = round(value / self.scale) + self.zero_point
        return max(-128, min(127, q))

    def quantizeInt8ToFloat(self, value: int) -> float:
        return float(np.float32((value - self.zero_point) * np.float32(self.scale)))


class Interpreter:
    """microlite.interpreter: the model, its arena, the callbacks that fill and read tensors."""

    def __init__(
        self,
        model: bytes | bytearray | memoryview,
        arena_size: int,
        input_callback: Callable[[Any], None],
        output_callback: Callable[[Any], None],
    ) -> None:
        from tflite_micro import runtime

        from model_compression.training.tflm import input_count

        data = bytes(model)
        self._ip = runtime.Interpreter.from_bytes(data, arena_size=arena_size)
        self.inputs = [Tensor(self._ip.get_input_details(i)) for i in range(input_count(data))]
        self.outputs = [Tensor(self._ip.get_output_details(0))]
        self._input_callback = input_callback
        self._output_callback = output_callback
        self.invocations = 0
        self.invoke_s = 0.0  # TFLM's Invoke alone, summed
        self.last_inputs: list[bytes] = []
        self.last_output = b""

    def getInputTensor(self, index: int) -> Tensor:
        return self.inputs[index]

    def getOutputTensor(self, index: int) -> Tensor:
        return self.outputs[index]

    def invoke(self) -> int:
        self._input_callback(self)
        for i, t in enumerate(self.inputs):
            self._ip.set_input(t.data.reshape(t.shape), i)
        t0 = time.perf_counter()
        self._ip.invoke()
        self.invoke_s += time.perf_counter() - t0
        out = self.outputs[0]
        out.data[:] = np.asarray(self._ip.get_output(0), dtype=np.int8).reshape(-1)
        self.invocations += 1
        self.last_inputs = [t.data.tobytes() for t in self.inputs]
        self.last_output = out.data.tobytes()
        self._output_callback(self)
        return 0


class TflmBinding:
    """Stands for the `microlite` module: pass it where the firmware takes its binding."""

    def __init__(self) -> None:
        self.interpreters: list[Interpreter] = []

    def interpreter(
        self,
        model: bytes | bytearray | memoryview,
        arena_size: int,
        input_callback: Callable[[Any], None],
        output_callback: Callable[[Any], None],
    ) -> Interpreter:
        ip = Interpreter(model, arena_size, input_callback, output_callback)
        self.interpreters.append(ip)
        return ip
