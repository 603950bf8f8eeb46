"""A NOR flash chip behind MicroPython's extended block-device protocol, with power cuts.

The patch keeps its log (firmware/store.py) in a data partition of the ESP32-S3's SPI NOR
flash, reached through `esp32.Partition`, which implements MicroPython's extended block
protocol. `NorFlash` implements the same protocol on a PC, with the chip's rules:

- `ioctl(4, _)` block count, `ioctl(5, _)` block size, `ioctl(6, n)` erases block n (every
  byte 0xFF) and returns 0; ops 1-3 (init, deinit, sync) return 0.
- `readblocks(n, buf, offset)` reads len(buf) bytes at byte `offset` of block n (the range may
  run on into the next blocks, as on esp32.Partition); without offset, whole blocks.
- `writeblocks(n, buf, offset)` programs without erasing: each byte becomes old AND new, so a
  write can clear bits but never set one (NOR). `strict=True` raises `ProgramError` instead
  when a write would need a 0 turned back into 1: a firmware bug that real flash silently
  turns into corrupted data. Without offset: erase, then program, whole blocks (the simple
  protocol).
- Programs are split at `page_size` boundaries (256 B: one SPI "page program" each, as
  ESP-IDF's driver does); `page_programs` counts them. `erase_counts[n]` is block n's wear.

Power loss: `arm_power_loss(steps)` lets `steps` more steps complete, then cuts the power in
the middle of the next one and raises `PowerLoss`. A step is one programmed byte or one block
erase. A cut byte keeps only a random subset of the bits it was clearing (`torn_bits`), a cut
erase leaves a random mix of erased and old bytes in its block; everything before the cut
is done, nothing after it. Once cut, every call raises `PowerLoss` until `power_on()` (the
reboot: tests then build a new store on the same flash). `steps` counts every step since
construction, so an operation's length is the difference of two readings.

`path=` keeps the image in a file (memory-mapped), so a simulated patch keeps its flash
across process restarts; wear counters are not kept there.
"""

from __future__ import annotations

import mmap
import random
from pathlib import Path
from typing import BinaryIO

ERASED = 0xFF
IOCTL_INIT = 1
IOCTL_DEINIT = 2
IOCTL_SYNC = 3
IOCTL_BLOCK_COUNT = 4
IOCTL_BLOCK_SIZE = 5
IOCTL_BLOCK_ERASE = 6


class PowerLoss(Exception):
    """The power was cut in the middle of a flash operation (a simulated reset)."""


class ProgramError(ValueError):
    """A write that NOR flash cannot do: a 0 bit would have to become 1 without an erase."""


class NorFlash:
    """A NOR flash partition: `block_count` erase blocks of `block_size` bytes."""

    def __init__(
        self,
        block_count: int = 64,
        block_size: int = 4096,
        *,
        page_size: int = 256,
        strict: bool = False,
        torn_bits: bool = True,
        seed: int = 0,
        path: str | Path | None = None,
        fill: int = ERASED,
    ) -> None:
        if block_count < 1 or block_size < 1 or page_size < 1 or block_size % page_size:
            raise ValueError("block_count, block_size >= 1 and block_size a multiple of page_size")
        self.block_count = block_count
        self.block_size = block_size
        self.page_size = page_size
        self.strict = strict
        self.torn_bits = torn_bits
        self.size = block_count * block_size
        self.erase_counts = [0] * block_count
        self.page_programs = 0
        self.bytes_programmed = 0
        self.steps = 0
        self.power_losses = 0
        self.powered = True
        self._cut_at: int | None = None
        self._rng = random.Random(seed)
        self._file: BinaryIO | None = None
        self._map: mmap.mmap | None = None
        self.path = Path(path) if path is not None else None
        if self.path is None:
            self._mem: bytearray | mmap.mmap = bytearray([fill]) * self.size
        else:
            self._mem = self._open_file(self.path, fill)

    # ------------------------------------------------------------------ file-backed image

    def _open_file(self, path: Path, fill: int) -> mmap.mmap:
        if path.exists() and path.stat().st_size != self.size:
            raise ValueError(f"{path} holds {path.stat().st_size} bytes, not {self.size}")
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(bytes([fill]) * self.size)
        file = open(path, "r+b")  # noqa: SIM115 - kept open for the map's lifetime
        self._file = file
        self._map = mmap.mmap(file.fileno(), self.size)
        return self._map

    def close(self) -> None:
        """Flushes and closes a file-backed image (a no-op in memory)."""
        if self._map is not None:
            self._map.flush()
            self._map.close()
            self._map = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> NorFlash:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ power

    def arm_power_loss(self, steps: int) -> None:
        """Cuts the power during the step after the next `steps` steps (0: the very next one)."""
        if steps < 0:
            raise ValueError("steps must be >= 0")
        self._cut_at = self.steps + steps

    def disarm(self) -> None:
        self._cut_at = None

    def power_on(self) -> None:
        """The reboot after a cut: the flash answers again, with whatever the cut left."""
        self.powered = True
        self._cut_at = None

    def _check_power(self) -> None:
        if not self.powered:
            raise PowerLoss("the flash has no power (call power_on() to reboot)")

    def _cut(self, what: str) -> PowerLoss:
        self.powered = False
        self._cut_at = None
        self.power_losses += 1
        return PowerLoss(f"power cut during {what} (step {self.steps})")

    def _cut_due(self) -> bool:
        return self._cut_at is not None and self.steps >= self._cut_at

    # ------------------------------------------------------------------ raw access

    def image(self) -> bytes:
        """A copy of the whole flash."""
        return bytes(self._mem)

    def load_image(self, data: bytes) -> None:
        """Replaces the whole flash content (tests: restore a snapshot)."""
        if len(data) != self.size:
            raise ValueError(f"image of {len(data)} bytes, flash of {self.size}")
        self._mem[:] = data

    def _range(self, block_num: int, offset: int, length: int) -> int:
        if not 0 <= block_num < self.block_count or offset < 0:
            raise ValueError(f"block {block_num}, offset {offset} outside the flash")
        start = block_num * self.block_size + offset
        if start + length > self.size:
            raise ValueError(f"{length} bytes at block {block_num} + {offset} run past the flash end")
        return start

    # ------------------------------------------------------------------ block-device protocol

    def readblocks(self, block_num: int, buf, offset: int = 0) -> None:
        self._check_power()
        view = memoryview(buf).cast("B")
        start = self._range(block_num, offset, len(view))
        view[:] = self._mem[start : start + len(view)]

    def writeblocks(self, block_num: int, buf, offset: int | None = None) -> None:
        self._check_power()
        data = memoryview(buf).cast("B")
        if offset is None:  # simple protocol: whole blocks, erased first
            if len(data) % self.block_size:
                raise ValueError("whole-block writes take a multiple of the block size")
            for i in range(len(data) // self.block_size):
                self._erase(block_num + i)
            offset = 0
        self._program(self._range(block_num, offset, len(data)), data)

    def ioctl(self, op: int, arg: int = 0) -> int:
        self._check_power()
        if op == IOCTL_BLOCK_COUNT:
            return self.block_count
        if op == IOCTL_BLOCK_SIZE:
            return self.block_size
        if op == IOCTL_BLOCK_ERASE:
            self._erase(arg)
            return 0
        if op == IOCTL_SYNC and self._map is not None:
            self._map.flush()
        if op in (IOCTL_INIT, IOCTL_DEINIT, IOCTL_SYNC):
            return 0
        raise ValueError(f"unsupported ioctl {op}")

    # ------------------------------------------------------------------ the chip's rules

    def _erase(self, block_num: int) -> None:
        start = self._range(block_num, 0, self.block_size)
        self.erase_counts[block_num] += 1
        if self._cut_due():
            # An interrupted erase: some bytes already erased, the others still old.
            for i in range(start, start + self.block_size):
                if self._rng.random() < 0.5:
                    self._mem[i] = ERASED
            raise self._cut(f"erase of block {block_num}")
        self._mem[start : start + self.block_size] = b"\xff" * self.block_size
        self.steps += 1

    def _program(self, start: int, data: memoryview) -> None:
        mem = self._mem
        n_all = len(data)
        if self.strict and n_all:
            old = int.from_bytes(mem[start : start + n_all], "big")
            new = int.from_bytes(data, "big")
            if new & ~old & ((1 << (8 * n_all)) - 1):
                i = next(i for i in range(n_all) if mem[start + i] & data[i] != data[i])
                raise ProgramError(
                    f"byte {start + i} (block {(start + i) // self.block_size}) holds "
                    f"{mem[start + i]:#04x}: writing {data[i]:#04x} needs an erase first"
                )
        pos = 0
        while pos < n_all:
            # One page program per page touched, as the SPI driver splits writes.
            at = start + pos
            n = min(n_all - pos, (at // self.page_size + 1) * self.page_size - at)
            self.page_programs += 1
            room = None if self._cut_at is None else self._cut_at - self.steps
            if room is not None and room < n:
                n = room
            old = int.from_bytes(mem[at : at + n], "big")
            new = int.from_bytes(data[pos : pos + n], "big")
            mem[at : at + n] = (old & new).to_bytes(n, "big")
            self.steps += n
            self.bytes_programmed += n
            pos += n
            if room is not None and room == n and pos < n_all:
                if self.torn_bits:
                    # The byte being programmed keeps some of the bits it was clearing.
                    mem[start + pos] &= data[pos] | self._rng.randrange(256)
                raise self._cut(f"program of {n_all} bytes at {start}")
