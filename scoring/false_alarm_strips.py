"""The ECG under each false VT alarm, one strip a row, for a cardiologist to judge what the
patch alarmed on: the 10 s the SCNN had seen when the alarm went off, and 2 s after it.

A false alarm is a VT event that overlaps no reference episode (scoring/vt_episodes.py); the
strip is cut from the record the trace was replayed from, on the lead the patch read (the
first), with the event's onset and the alarm's time marked and the reference rhythm it fell in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scoring.vt_episodes import EpisodeEvent, false_alerts

BEFORE_S = 10.0  # the SCNN's window up to the alarm
AFTER_S = 2.0
MAX_STRIPS = 30


@dataclass(frozen=True)
class AlarmStrip:
    record: str
    rhythm: str  # the reference rhythm the alarm's time lies mostly in
    onset_s: float
    alarm_s: float  # when the patch raised it
    confidence: float
    start_s: float  # the strip's first sample, in record time
    fs: float
    signal: np.ndarray  # mV, the lead the patch read


def alarm_strips(trace: dict, events_of: Mapping[str, Sequence[EpisodeEvent]]) -> list[AlarmStrip]:
    """A strip for each false alarm of `events_of` (record name -> events, e.g. the rules run
    again on a trace's inputs), read from the trace's data folder, in record order."""
    from ecg_data.headers import read_header, record_stem
    from ecg_data.reader import read_record

    folder = Path(trace["data"])
    strips = []
    for name, rec in trace["records"].items():
        alarms = false_alerts(rec["reference"], rec["rhythms"], events_of.get(name, ()))
        if not alarms:
            continue
        path = folder / name
        header = read_header(record_stem(path))
        fs = float(header.fs)
        for event, rhythm in alarms:
            alarm = float(event.emitted_s)
            start = max(0.0, alarm - BEFORE_S)
            stop = min(int((alarm + AFTER_S) * fs), int(header.sig_len))
            record = read_record(path, sampfrom=int(start * fs), sampto=stop)
            confidence = float(getattr(event, "confidence", float("nan")))
            strips.append(
                AlarmStrip(name, rhythm, float(event.onset_s), alarm, confidence,
                           record.start / record.fs, record.fs, record.signal[:, 0].copy())
            )  # fmt: skip
    return strips


def plot_alarm_strips(strips: Sequence[AlarmStrip], path: str | Path, title: str = "") -> int:
    """The first MAX_STRIPS strips, one a row, on ECG-paper grid; returns how many were drawn."""
    from scoring.plots import _new_figure, clock, ecg_paper_grid

    shown = list(strips[:MAX_STRIPS])
    if not shown:
        fig = _new_figure(8.0, 1.5)
        fig.text(0.5, 0.5, "no false VT alarms", ha="center", va="center")
        fig.savefig(path, dpi=110)
        return 0
    fig = _new_figure(14.0, 2.2 * len(shown) + 0.6)
    for ax, s in zip(fig.subplots(len(shown), 1, squeeze=False)[:, 0], shown, strict=True):
        t = s.start_s + np.arange(s.signal.shape[0]) / s.fs
        ax.plot(t, s.signal, color="black", lw=0.8)
        if t[0] <= s.onset_s:
            ax.axvline(s.onset_s, color="tab:orange", lw=1.2, ls="--")
        ax.axvline(s.alarm_s, color="tab:red", lw=1.5)
        ax.set_xlim(t[0], t[-1])
        ecg_paper_grid(ax)
        ax.set_ylabel("mV")
        ax.set_title(
            f"{s.record}: VT alarm at {clock(s.alarm_s)} (onset {clock(s.onset_s)}, confidence "
            f"{s.confidence:.2f}), reference rhythm {s.rhythm}", fontsize="small", loc="left",
        )  # fmt: skip
    more = f" (first {len(shown)} of {len(strips)})" if len(strips) > len(shown) else ""
    fig.suptitle(
        (title + ": " if title else "") + f"false VT alarms{more}; dashed: the event's onset, red: the alarm",
        fontsize="medium",
    )  # fmt: skip
    fig.savefig(path, dpi=90)
    return len(shown)
