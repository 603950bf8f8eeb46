"""Consecutive chunks of any length re-cut into fixed analysis blocks with context on both sides.

Block boundaries sit on a grid of absolute sample indices, so the blocks (and so every result
computed from them) do not depend on how the caller happened to cut the stream. Only the current
block and its context are held: memory is bounded by the block size, whatever the stream's length.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Block:
    """`samples[i]` is stream sample `offset + i`; beats are kept only where `core_start <= i < core_end`
    (absolute indices); the rest is context for the filters and the detector."""

    samples: np.ndarray
    offset: int
    core_start: int
    core_end: int
    last: bool  # the stream ends with this block

    @property
    def end(self) -> int:
        return self.offset + len(self.samples)


class Reblocker:
    """Feed chunks with `push`, then call `finish`; each yields the blocks that became complete."""

    def __init__(self, core: int, context: int) -> None:
        if core <= 0 or context < 0:
            raise ValueError(f"core must be > 0 and context >= 0 samples, got {core} and {context}")
        self.core = core
        self.context = context
        self._pieces: list[np.ndarray] = []
        self._held = 0  # samples in _pieces
        self._start = 0  # absolute index of the first held sample
        self._core_start = 0
        self.total = 0  # samples pushed so far

    def push(self, chunk: np.ndarray) -> Iterator[Block]:
        # Cut big chunks into views, so a whole recording passed at once is never copied whole.
        for first in range(0, len(chunk), self.core):
            piece = chunk[first : first + self.core]
            self._pieces.append(piece)
            self._held += len(piece)
            self.total += len(piece)
            while self._start + self._held >= self._core_start + self.core + self.context:
                yield self._emit(self._core_start + self.core, last=False)

    def finish(self) -> Iterator[Block]:
        if self.total > self._core_start:
            yield self._emit(self.total, last=True)

    def _emit(self, core_end: int, *, last: bool) -> Block:
        held = self._pieces[0] if len(self._pieces) == 1 else np.concatenate(self._pieces)
        first = max(self._core_start - self.context, self._start)
        stop = min(core_end + self.context, self._start + self._held)
        block = Block(held[first - self._start : stop - self._start], first, self._core_start, core_end, last)
        # Keep what the next block needs as its left context, and no more.
        keep_from = max(core_end - self.context, self._start)
        rest = held[keep_from - self._start :]
        self._pieces = [rest] if len(rest) else []
        self._held = len(rest)
        self._start = keep_from
        self._core_start = core_end
        return block
