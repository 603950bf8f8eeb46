"""One long fit that survives the end of a session: a backup every epoch (Keras' BackupAndRestore:
weights, optimizer and schedule step), the epochs' history appended to one CSV, and the finished
network kept, so that `--resume` continues where the run stopped and a fresh start begins clean."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_compression.training.progress import ProgressLog


@dataclass(frozen=True)
class FitFiles:
    """Where one fit keeps its state, inside its folder."""

    folder: Path
    finished: str = "model.keras"
    backup: str = "backup"
    history: str = "history.csv"

    def path(self, name: str) -> Path:
        return self.folder / name


def resumable_fit(build: Callable[[int], Any], make_dataset: Callable[[], Any], epochs: int, files: FitFiles, *,
                  label: str, resume: bool) -> Any:  # fmt: skip
    """The network `build(total_steps)` returns (compiled), fitted for `epochs` on the dataset that
    `make_dataset()` returns (called, as `build`, only when there is something to train).

    With `resume`, a finished network in the folder is loaded, not trained, and an interrupted fit
    continues from its last finished epoch (the dataset's random draws start again from their seed).
    Without it, whatever an earlier try left there is cleared first, so nothing of a run with
    another config is restored or appended to."""
    import keras

    files.folder.mkdir(parents=True, exist_ok=True)
    finished, backup, history = files.path(files.finished), files.path(files.backup), files.path(files.history)
    if resume and finished.exists():
        print(f"{label}: trained before, kept", file=sys.stderr, flush=True)
        return keras.saving.load_model(finished, compile=False)
    if not resume:
        finished.unlink(missing_ok=True)
    if not (resume and backup.exists()):
        shutil.rmtree(backup, ignore_errors=True)
        history.unlink(missing_ok=True)
    dataset = make_dataset()
    model = build(len(dataset) * epochs)
    model.fit(dataset, epochs=epochs, verbose=0,
              callbacks=[keras.callbacks.BackupAndRestore(str(backup)),
                         keras.callbacks.CSVLogger(str(history), append=True),
                         ProgressLog(label, epochs, len(dataset))])  # fmt: skip
    model.save(finished)
    return model
