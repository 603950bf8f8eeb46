"""Multiply-accumulates of one inference, counted from a Keras model's layers."""

from __future__ import annotations

import keras


def count_macs(model: keras.Model) -> int:
    """MACs of convolutions and dense layers (the work a CMSIS-NN kernel does); pooling, activations
    and additions are not multiply-accumulates and batch norm folds into the convolution."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv1D):
            out_len = int(layer.output.shape[1])
            in_ch = int(layer.input.shape[-1])
            k = int(layer.kernel_size[0])
            groups = int(getattr(layer, "groups", 1))
            total += out_len * k * (in_ch // groups) * int(layer.filters)
        elif isinstance(layer, keras.layers.DepthwiseConv1D):
            out_len = int(layer.output.shape[1])
            in_ch = int(layer.input.shape[-1])
            total += out_len * int(layer.kernel_size[0]) * in_ch * int(layer.depth_multiplier)
        elif isinstance(layer, keras.layers.Dense):
            total += int(layer.input.shape[-1]) * int(layer.units)
    return total
