"""Progress of a long fit on stderr: a line every tenth of an epoch with rate and time left, and
one per epoch with its metrics; readable in a log file, where Keras' bar is not."""

from __future__ import annotations

import sys
import time
from typing import Any

import keras


class ProgressLog(keras.callbacks.Callback):
    def __init__(self, label: str, epochs: int, steps: int) -> None:
        super().__init__()
        self.label, self.epochs, self.steps = label, epochs, max(steps, 1)
        self.every = max(self.steps // 10, 1)
        self.started = time.monotonic()
        self.epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epoch = epoch
        self.epoch_started = time.monotonic()

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        done = batch + 1
        if done % self.every and done != self.steps:
            return
        elapsed = time.monotonic() - self.epoch_started
        left = elapsed / done * (self.steps - done)
        loss = (logs or {}).get("loss")
        loss_text = f", loss {float(loss):.4f}" if loss is not None else ""
        _say(f"{self.label}: epoch {self.epoch + 1}/{self.epochs} {100 * done // self.steps:3d}% "
             f"({done}/{self.steps} steps, {elapsed:.0f} s, {left:.0f} s left{loss_text})")  # fmt: skip

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        metrics = ", ".join(f"{k} {float(v):.4f}" for k, v in (logs or {}).items() if k != "learning_rate")
        total = time.monotonic() - self.started
        _say(f"{self.label}: epoch {epoch + 1}/{self.epochs} done in {time.monotonic() - self.epoch_started:.0f} s "
             f"({total / 60:.1f} min in all): {metrics}")  # fmt: skip


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
