"""Full-integer int8 conversion with a representative set of real inputs.

The exported graph is built with a batch of 1: a free batch dimension adds shape ops and raises
TFLM's arena (toolchain notes). Inputs and outputs are int8, quantized with each tensor's own
scale and zero point, which the firmware applies itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np


def batch1_copy(model: Any, build: Callable[[], Any]) -> Any:
    """`build()` (a batch-1 model of the same architecture) with `model`'s weights."""
    export = build()
    export.set_weights(model.get_weights())
    return export


def to_int8(model: Any, representative: Sequence[Sequence[np.ndarray]]) -> bytes:
    """`model` (batch-1 Keras) as an int8 TFLite flatbuffer; `representative` holds, per example,
    one array per model input, in the order of `model.inputs`, each with its batch axis of 1."""
    import tensorflow as tf

    # Keyed by input name: the converter's own input order need not be the model's.
    names = [t.name.split(":")[0] for t in model.inputs]

    def examples() -> Iterator[dict[str, np.ndarray]]:
        for example in representative:
            yield {n: np.asarray(a, dtype=np.float32) for n, a in zip(names, example, strict=True)}

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = examples
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return bytes(converter.convert())


def representative_rows(arrays: Sequence[np.ndarray], count: int, seed: int = 0) -> list[list[np.ndarray]]:
    """`count` random rows of the inputs, each as a list of batch-1 arrays."""
    n = len(arrays[0])
    rows = np.random.default_rng(seed).choice(n, size=min(count, n), replace=False)
    return [[a[i : i + 1] for a in arrays] for i in rows]
