"""A training run's folder: its config, per-epoch log, checkpoints, metrics and plots, so a run
can be read, compared and resumed after the session that started it has ended."""

from __future__ import annotations

import csv
import json
import os
import random
from dataclasses import MISSING, asdict, fields, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ecg_data.paths import PROJECT_ROOT

RUNS_DIR = PROJECT_ROOT / "runs"


class RunFolder:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    def file(self, name: str) -> Path:
        return self.path / name

    def write_json(self, name: str, data: Any) -> Path:
        target = self.file(name)
        partial = target.with_name(f".{target.name}.tmp")
        partial.write_text(json.dumps(_plain(data), indent=2, sort_keys=False) + "\n")
        partial.replace(target)
        return target

    def read_json(self, name: str) -> Any:
        return json.loads(self.file(name).read_text())

    def has(self, name: str) -> bool:
        return self.file(name).exists()

    def save_config(self, config: Any, *, resume: bool) -> None:
        """Writes the config; on resume, refuses one that differs from the run's own. A field the
        config has gained since the run began counts as its default there (it did not exist, so the
        run had the behaviour that the default keeps)."""
        plain = _plain(config)
        if resume and self.has("config.json"):
            old = {**_defaults(config), **self.read_json("config.json")}
            if old != plain:
                changed = sorted(k for k in set(old) | set(plain) if old.get(k) != plain.get(k))
                raise ValueError(f"{self.path}: resuming with a different config ({', '.join(changed)})")
        self.write_json("config.json", plain)


def _defaults(config: Any) -> dict[str, Any]:
    if not (is_dataclass(config) and not isinstance(config, type)):
        return {}
    return {f.name: _plain(f.default) for f in fields(config) if f.default is not MISSING}


def read_history(path: Path) -> list[dict[str, float]]:
    """Rows of a Keras CSVLogger file (empty if absent)."""
    if not path.exists():
        return []
    with path.open() as f:
        # CSVLogger writes "NA" for a metric it lacks in some epoch.
        return [{k: float(v) for k, v in row.items() if v not in ("NA", "")} for row in csv.DictReader(f)]


def seed_everything(seed: int) -> None:
    import keras

    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)


def _plain(data: Any) -> Any:
    if is_dataclass(data) and not isinstance(data, type):
        return _plain(asdict(data))
    if isinstance(data, dict):
        return {str(k): _plain(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_plain(v) for v in data]
    if isinstance(data, np.integer):
        return int(data)
    if isinstance(data, np.floating):
        return float(data)
    if isinstance(data, np.ndarray):
        return _plain(data.tolist())
    return data
