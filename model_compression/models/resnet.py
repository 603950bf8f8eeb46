"""Residual network for rhythm in the style of Hannun et al. (2019), the founding paper's model.

An input convolution, then residual blocks of (batch norm, ReLU, dropout, convolution) twice with
a max-pooled shortcut; every other block subsamples by 2 and the filter count doubles every
`blocks_per_stage` blocks (zero channels padded on the shortcut). The original labels every
1.28 s; a record-level verdict is wanted here, so the sequence is averaged before the classifier.
The teacher is the paper's full size; the student the same family shrunk to the patch.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
from keras import layers


@dataclass(frozen=True)
class ResNetConfig:
    blocks: int = 16
    base_filters: int = 32
    blocks_per_stage: int = 4  # filters = base * 2**(block // blocks_per_stage)
    kernel: int = 16
    dropout: float = 0.2
    max_filters: int | None = None  # a cap for patch-sized students


TEACHER = ResNetConfig()
# Shrunk until the patch affords it: about 11 M MAC and 46 k int8 weights per 10-s window at 125 Hz.
STUDENT = ResNetConfig(blocks=8, base_filters=8, blocks_per_stage=2, kernel=8, max_filters=24)


def build_resnet(
    samples: int, classes: int, config: ResNetConfig = TEACHER, *, leads: int = 1, batch_size: int | None = None
) -> keras.Model:
    """Logits over `classes` for a window of `samples` x `leads`."""
    inputs = keras.Input((samples, leads), batch_size=batch_size, name="ecg")
    x = layers.Conv1D(config.base_filters, config.kernel, padding="same", use_bias=False, name="conv_in")(inputs)
    x = layers.BatchNormalization(name="bn_in")(x)
    x = layers.ReLU(name="relu_in")(x)
    for block in range(config.blocks):
        x = _block(x, block, config)
    x = layers.BatchNormalization(name="bn_out")(x)
    x = layers.ReLU(name="relu_out")(x)
    x = layers.GlobalAveragePooling1D(name="pool_time")(x)
    outputs = layers.Dense(classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="resnet")


@keras.saving.register_keras_serializable(package="ecg")
class PadChannels(layers.Layer):
    """Appends `extra` zero channels (a PAD op in TFLite)."""

    def __init__(self, extra: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.extra = extra

    def call(self, x: keras.KerasTensor) -> keras.KerasTensor:
        return keras.ops.pad(x, [[0, 0], [0, 0], [0, self.extra]])

    def compute_output_shape(self, shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (*shape[:-1], None if shape[-1] is None else shape[-1] + self.extra)

    def get_config(self) -> dict[str, object]:
        return {**super().get_config(), "extra": self.extra}


def filters_of(block: int, config: ResNetConfig) -> int:
    filters = config.base_filters * 2 ** (block // config.blocks_per_stage)
    return min(filters, config.max_filters) if config.max_filters else filters


def _block(x: keras.KerasTensor, block: int, config: ResNetConfig) -> keras.KerasTensor:
    filters = filters_of(block, config)
    stride = 2 if block % 2 == 1 else 1
    name = f"block{block}"
    shortcut = x
    if stride > 1:
        shortcut = layers.MaxPooling1D(stride, padding="same", name=f"{name}_pool")(shortcut)
    in_filters = int(x.shape[-1])
    if filters != in_filters:
        # Zero channels on the shortcut, as the paper: no extra weights.
        shortcut = PadChannels(filters - in_filters, name=f"{name}_padch")(shortcut)
    y = x
    if block > 0:
        y = layers.BatchNormalization(name=f"{name}_bn1")(y)
        y = layers.ReLU(name=f"{name}_relu1")(y)
    y = layers.Conv1D(filters, config.kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_conv1")(y)
    y = layers.BatchNormalization(name=f"{name}_bn2")(y)
    y = layers.ReLU(name=f"{name}_relu2")(y)
    y = layers.Dropout(config.dropout, name=f"{name}_drop")(y)
    y = layers.Conv1D(filters, config.kernel, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    return layers.Add(name=f"{name}_add")([shortcut, y])
