"""The event rules' inputs, recorded during a replay, and the rules run again on them alone.

A patch replay spends its time in the signal path and the models; the rules
(firmware/events.py EventDetector) cost next to nothing. Recording every call the patch makes to
its detector (beats with labels, SCNN scores, rhythm windows, quality epochs, lead-off, baseline
steps, ticks), each with the patch clock at that moment (when an event emitted there reaches the
alarm), lets a rule setting be tried on hours of records in seconds: `rerun` feeds the same
calls to a detector with other settings and returns the events a replay would give.

The rerun is exact for rules that do not change what the patch runs: the SCNN runs while the
gate (firmware/vt_gate.py) is open or a VT is open, so a setting that keeps a VT open longer or
shorter than the recorded one sees the SCNN windows of the recorded episode only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from firmware.events import EventConfig, EventDetector
from firmware.patch import Patch
from hardware_sim.patch_replay import ReplayEvent, episode_events

# The detector's inputs, in the order of their index in a recorded call.
INPUTS = (
    "on_beat",
    "on_vt_score",
    "on_rhythm",
    "on_lead_off",
    "on_signal_quality",
    "on_baseline_step",
    "tick",
    "on_button",
)

Call = tuple[int, int, tuple[Any, ...]]  # (index into INPUTS, patch clock in ms, arguments)


def record_inputs(patch: Patch, calls: list[Call]) -> None:
    """From now on, every input call of `patch`'s detector is appended to `calls`."""
    det = patch.detector
    fs = patch.fs
    for k, name in enumerate(INPUTS):
        method = getattr(det, name)

        def recorded(*args: Any, _k: int = k, _method: Any = method) -> Any:
            # The rhythm model's probabilities come in a buffer the patch reuses: keep a copy.
            kept = tuple(list(a) if isinstance(a, (list, tuple)) else a for a in args)
            calls.append((_k, patch.n * 1000 // fs, kept))
            return _method(*args)

        setattr(det, name, recorded)


def rerun(
    calls: list[Call], overrides: Mapping[str, Any] | None = None, record: str = ""
) -> list[ReplayEvent]:
    """The events of the recorded inputs under the rules' defaults with `overrides`
    (EventConfig names), as patch_replay.replay reports them (times in s from the record's
    start; emitted_s on the patch clock)."""
    first: dict[int, int] = {}
    last: dict[int, dict[str, Any]] = {}
    now = [0]

    def on_event(rec: dict[str, Any]) -> None:
        first.setdefault(rec["event_id"], now[0])
        last[rec["event_id"]] = rec

    det = EventDetector(on_event, None, config=EventConfig(**dict(overrides or {})))
    inputs = [getattr(det, name) for name in INPUTS]
    for k, t_now, args in calls:
        now[0] = t_now
        inputs[k](*args)
    return episode_events(first, last, record)
