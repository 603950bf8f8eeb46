"""Keras feeds for training sets drawn afresh every epoch (replication, crops, noise)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import keras


def epoch_batches(
    rows: Callable[[], int], batch_size: int, batch: Callable[[int], Any], redraw: Callable[[], None]
) -> keras.utils.PyDataset:
    """A PyDataset of ceil(rows() / batch_size) batches made by `batch(i)`; `redraw()` after each
    epoch draws the next epoch's order (and whatever else changes between epochs)."""

    class _Batches(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__(workers=1, use_multiprocessing=False)

        def __len__(self) -> int:
            return math.ceil(rows() / batch_size)

        def __getitem__(self, i: int) -> Any:
            return batch(i)

        def on_epoch_end(self) -> None:
            redraw()

    return _Batches()
