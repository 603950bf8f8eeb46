"""The patch's time base on a PC, and the loop that feeds the firmware sample blocks against it.

Ticks follow MicroPython's `time` module: ticks_ms/ticks_us wrap at 2**30 and are compared with
ticks_diff, so firmware code runs unchanged against either clock.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from hardware_sim.ecg_source import Block

TICKS_PERIOD = 1 << 30
TICKS_MAX = TICKS_PERIOD - 1
_TICKS_HALF = TICKS_PERIOD // 2


def ticks_add(ticks: int, delta: int) -> int:
    """MicroPython time.ticks_add."""
    return (ticks + delta) & TICKS_MAX


def ticks_diff(end: int, start: int) -> int:
    """MicroPython time.ticks_diff: signed end - start, correct across one wrap."""
    return ((end - start + _TICKS_HALF) & TICKS_MAX) - _TICKS_HALF


class Clock(ABC):
    """Monotonic microseconds since the clock was made; `tick_offset_us` starts the wrapped ticks
    elsewhere than zero (to exercise wrap-around)."""

    def __init__(self, tick_offset_us: int = 0) -> None:
        self.tick_offset_us = tick_offset_us

    @abstractmethod
    def now_us(self) -> int: ...

    @abstractmethod
    def sleep_until_us(self, t_us: int) -> None:
        """Return once now_us() >= t_us."""

    def ticks_us(self) -> int:
        return (self.tick_offset_us + self.now_us()) & TICKS_MAX

    def ticks_ms(self) -> int:
        return ((self.tick_offset_us + self.now_us()) // 1000) & TICKS_MAX

    def sleep_us(self, us: int) -> None:
        self.sleep_until_us(self.now_us() + us)

    def sleep_ms(self, ms: int) -> None:
        self.sleep_us(ms * 1000)


class VirtualClock(Clock):
    """Virtual time: moves only when slept on, so a replay runs as fast as the firmware allows."""

    def __init__(self, tick_offset_us: int = 0) -> None:
        super().__init__(tick_offset_us)
        self._now_us = 0

    def now_us(self) -> int:
        return self._now_us

    def sleep_until_us(self, t_us: int) -> None:
        self._now_us = max(self._now_us, t_us)


class RealTimeClock(Clock):
    """Wall-clock time from time.perf_counter_ns; sleeping really sleeps."""

    def __init__(self, tick_offset_us: int = 0) -> None:
        super().__init__(tick_offset_us)
        self._origin_ns = time.perf_counter_ns()

    def now_us(self) -> int:
        return (time.perf_counter_ns() - self._origin_ns) // 1000

    def sleep_until_us(self, t_us: int) -> None:
        while (remaining := t_us - self.now_us()) > 0:
            time.sleep(remaining / 1e6)


class BlockSource(Protocol):
    @property
    def fs(self) -> int: ...

    def blocks(self, size: int = ...) -> Iterator[Block]: ...


@dataclass(frozen=True)
class DriveStats:
    blocks: int
    samples: int
    signal_s: float  # signal time delivered
    wall_s: float  # wall time the replay took
    sink_s: float  # wall time spent inside the sink (the firmware)
    max_sink_s: float  # slowest single block in the sink
    max_lag_s: float  # worst lateness of the sink's return behind the block's due time (clock time)

    @property
    def speed(self) -> float:
        """Signal seconds per wall second: about 1 in real time, large in fast mode."""
        return self.signal_s / self.wall_s if self.wall_s > 0 else float("inf")

    @property
    def samples_per_s(self) -> float:
        return self.samples / self.wall_s if self.wall_s > 0 else float("inf")


def drive(
    source: BlockSource,
    sink: Callable[[Block], object],
    realtime: bool = False,
    block_size: int = 25,
    clock: Clock | None = None,
) -> DriveStats:
    """Feed `source`'s blocks to `sink`, each once its last sample has been acquired on `clock`.

    realtime=False runs on a VirtualClock (as fast as possible), realtime=True on a RealTimeClock
    (paced to the wall clock). Pass `clock` to share it with the firmware's hardware layer.
    """
    if clock is None:
        clock = RealTimeClock() if realtime else VirtualClock()
    elif realtime == isinstance(clock, VirtualClock):
        raise ValueError("realtime=True needs a real-time clock, realtime=False a virtual one")
    t0_us = clock.now_us()
    wall0 = time.perf_counter()
    n_blocks = samples = 0
    sink_s = max_sink_s = max_lag_s = 0.0
    for block in source.blocks(block_size):
        end = block.start + len(block.codes)
        due_us = t0_us + round(end * 1e6 / source.fs)
        clock.sleep_until_us(due_us)
        s0 = time.perf_counter()
        sink(block)
        spent = time.perf_counter() - s0
        sink_s += spent
        max_sink_s = max(max_sink_s, spent)
        max_lag_s = max(max_lag_s, (clock.now_us() - due_us) / 1e6)
        n_blocks += 1
        samples += len(block.codes)
    return DriveStats(
        blocks=n_blocks,
        samples=samples,
        signal_s=samples / source.fs,
        wall_s=time.perf_counter() - wall0,
        sink_s=sink_s,
        max_sink_s=max_sink_s,
        max_lag_s=max_lag_s,
    )
