"""The beat classifier: a small CNN over the beat and its template, joined with RR context.

Small enough to run on every beat (about 0.1 M multiply-accumulates): three convolution stages
over 0.7 s at 125 Hz, then two dense layers that also take the RR features.
"""

from __future__ import annotations

import keras
from keras import layers

from model_compression.beat_features import BEAT_CLASSES, CHANNELS, RR_FEATURES, SAMPLES


def build_beat_net(*, batch_size: int | None = None, dropout: float = 0.2) -> keras.Model:
    beat = keras.Input((SAMPLES, CHANNELS), batch_size=batch_size, name="beat")
    rr = keras.Input((len(RR_FEATURES),), batch_size=batch_size, name="rr")
    x = beat
    for i, (filters, kernel) in enumerate(((12, 7), (16, 5), (24, 5)), 1):
        x = layers.Conv1D(filters, kernel, padding="same", name=f"conv{i}")(x)
        x = layers.ReLU(name=f"relu{i}")(x)
        x = layers.MaxPooling1D(2, padding="same", name=f"pool{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    r = layers.Dense(16, activation="relu", name="rr_dense")(rr)
    x = layers.Concatenate(name="join")([x, r])
    x = layers.Dropout(dropout, name="drop")(x)
    x = layers.Dense(32, activation="relu", name="dense")(x)
    outputs = layers.Dense(len(BEAT_CLASSES), name="logits")(x)
    return keras.Model([beat, rr], outputs, name="beat_net")
