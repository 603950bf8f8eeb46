"""The founding patent's SCNN (CN110897630A): 15 convolutions, each followed by a max-pool of 2,
then dense 10 (linear) and dense 1 (sigmoid). VT when the output is at least (X + Y) / 2 = 0.5.

Kernels are (length, channels of the layer before), so layer 7 takes the 8 channels layer 6 makes
(the document prints 5 there). Convolutions and pools pad "same": with 15 halvings a 10-s window
at any rate from 125 Hz up ends in one position, as the patent's layer table implies.
"""

from __future__ import annotations

import keras
from keras import layers

# (filters, kernel length) of the 15 convolutions, as the patent's table.
SCNN_LAYERS: tuple[tuple[int, int], ...] = (
    (12, 121), (10, 91), (8, 71), (8, 51), (5, 41), (8, 21), (5, 11), (5, 11),
    (5, 11), (5, 7), (5, 7), (5, 7), (3, 7), (3, 7), (3, 7),
)  # fmt: skip
THRESHOLD = 0.5  # (X + Y) / 2 with X = 0 (non-VT) and Y = 1 (VT)
LEAKY_SLOPE = 0.1  # the patent names leaky ReLU without its slope
# Fifteen plain layers with few filters: the default Glorot init starts them with a vanishing
# signal and training stalls at chance; He init keeps the variance through the stack.
INIT = "he_normal"
DENSE_NAMES = ("dense_10", "vt_probability")


def build_scnn(samples: int, leads: int = 1, *, batch_size: int | None = None) -> keras.Model:
    """The SCNN for windows of `samples` x `leads`; batch_size=1 for export (fewer ops in TFLite).

    Each convolution is followed by batch normalisation while training; the TFLite converter
    folds it into the convolution's weights, so the patch runs exactly the patent's 15
    convolutions. Without it the activations of the plain stack grow to thousands, and int8
    (one scale per tensor) no longer resolves the typical values: the int8 model said 0.5 for
    most windows while the float one was right.
    """
    inputs = keras.Input((samples, leads), batch_size=batch_size, name="ecg")
    x = inputs
    for i, (filters, kernel) in enumerate(SCNN_LAYERS, 1):
        x = layers.Conv1D(filters, kernel, padding="same", kernel_initializer=INIT, name=f"conv{i}")(x)
        x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = layers.LeakyReLU(negative_slope=LEAKY_SLOPE, name=f"leaky{i}")(x)
        x = layers.MaxPooling1D(2, padding="same", name=f"pool{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(10, name=DENSE_NAMES[0])(x)
    outputs = layers.Dense(1, activation="sigmoid", name=DENSE_NAMES[1])(x)
    return keras.Model(inputs, outputs, name="scnn")


def freeze_features(model: keras.Model) -> None:
    """Stage 2 of the patent: only the dense layers keep learning."""
    for layer in model.layers:
        layer.trainable = layer.name in DENSE_NAMES
