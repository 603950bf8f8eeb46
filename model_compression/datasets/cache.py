"""Built data sets kept as .npz files named by a hash of everything that shaped them."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ecg_data.paths import PROJECT_ROOT

DEFAULT_CACHE_DIR = PROJECT_ROOT / "build" / "cache"
ENV_VAR = "ECG_CACHE_DIR"

Arrays = dict[str, np.ndarray]


def cache_dir(configured: str | Path | None = None) -> Path:
    """`configured`, else $ECG_CACHE_DIR, else build/cache in the project (git-ignored)."""
    if configured is not None:
        return Path(configured)
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else DEFAULT_CACHE_DIR


def cache_key(params: Mapping[str, Any]) -> str:
    text = json.dumps(params, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cached(
    name: str, params: Mapping[str, Any], build: Callable[[], Arrays], directory: str | Path | None = None
) -> Arrays:
    """The arrays `build` makes for `params`, read from the cache when built before."""
    path = cache_dir(directory) / f"{name}-{cache_key(params)}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    arrays = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written beside and renamed, so an interrupted run never leaves a half file under the real name.
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with partial.open("wb") as f:
        np.savez(f, allow_pickle=False, **arrays)
    partial.replace(path)
    print(f"{name}: cached {path}", file=sys.stderr)
    return arrays
