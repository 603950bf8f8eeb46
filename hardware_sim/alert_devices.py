"""The patch's buzzer, LED, vibration motor and button on a PC: firmware/hal.py's contract.

Every output change is recorded with the simulated time, so a test can read back what was
played and when; presses are queued by the test and read by the firmware (`poll_button`)
once the simulated time reaches them, each once, like the patch's button interrupt.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import NamedTuple

from firmware.hal import BUTTON_LONG, BUTTON_NONE, BUTTON_SHORT, LED_NAMES

DEVICES = ("buzzer", "led", "vibrate")


class Change(NamedTuple):
    t_ms: int
    device: str  # "buzzer" (Hz, 0 silent), "led" (hal.LED_*), "vibrate" (0/1)
    value: int


class Interval(NamedTuple):
    start_ms: int
    end_ms: int | None  # None: still on
    value: int


class SimAlertDevices:
    """Simulated alert hardware. Time comes from `clock()` (ms) if given, else from `now_ms`,
    which the test sets before each firmware call."""

    def __init__(self, clock: Callable[[], int] | None = None) -> None:
        self._clock = clock
        self.now_ms = 0
        self.log: list[Change] = []
        self.state = {name: 0 for name in DEVICES}
        self._presses: deque[tuple[int, int]] = deque()
        self.presses_read: list[tuple[int, int]] = []  # (time read, BUTTON_*)

    def _now(self) -> int:
        return self._clock() if self._clock is not None else self.now_ms

    def _record(self, device: str, value: int) -> None:
        self.state[device] = value
        self.log.append(Change(self._now(), device, value))

    # ---------------------------------------------------------------- hal contract

    def buzzer(self, freq_hz: int) -> None:
        self._record("buzzer", int(freq_hz))

    def led(self, color: int) -> None:
        if not 0 <= color < len(LED_NAMES):
            raise ValueError(f"unknown LED colour {color}")
        self._record("led", int(color))

    def vibrate(self, on: object) -> None:
        self._record("vibrate", 1 if on else 0)

    def poll_button(self) -> int:
        if self._presses and self._presses[0][0] <= self._now():
            _, kind = self._presses.popleft()
            self.presses_read.append((self._now(), kind))
            return kind
        return BUTTON_NONE

    # ---------------------------------------------------------------- test side

    def press(self, t_ms: int, long: bool = False) -> None:
        """A press released at t_ms (long: held >= hal.LONG_PRESS_MS)."""
        self._presses.append((t_ms, BUTTON_LONG if long else BUTTON_SHORT))

    def intervals(self, device: str) -> list[Interval]:
        """Stretches during which `device` was on (non-zero), with its value."""
        out: list[Interval] = []
        start: int | None = None
        value = 0
        for change in self.log:
            if change.device != device or change.value == value:
                continue
            if start is not None and value:
                out.append(Interval(start, change.t_ms, value))
            start, value = change.t_ms, change.value
        if start is not None and value:
            out.append(Interval(start, None, value))
        return out

    def first_on(self, device: str, after_ms: int = 0) -> int | None:
        """When `device` next turned on at or after `after_ms`, None if it did not."""
        for iv in self.intervals(device):
            if iv.start_ms >= after_ms:
                return iv.start_ms
        return None

    def on_ms(self, device: str, start_ms: int, end_ms: int) -> int:
        """Milliseconds `device` was on within [start_ms, end_ms)."""
        total = 0
        for iv in self.intervals(device):
            stop = end_ms if iv.end_ms is None else min(iv.end_ms, end_ms)
            total += max(0, stop - max(iv.start_ms, start_ms))
        return total
