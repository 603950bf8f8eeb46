"""Where the ECG data live: one configurable root for every reader in the project."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_VAR = "ECG_DATA_DIR"


def data_root() -> Path:
    """The data root: $ECG_DATA_DIR, else ../shared/data beside the project."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        return Path(configured).expanduser().resolve()
    return (PROJECT_ROOT.parent / "shared" / "data").resolve()
