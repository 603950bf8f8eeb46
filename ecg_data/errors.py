"""One error type for every unreadable record, naming the file and the problem."""

from __future__ import annotations

from pathlib import Path


class RecordError(Exception):
    def __init__(self, path: str | Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = Path(path)
        self.problem = problem
