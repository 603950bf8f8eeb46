"""Replay of MIT-BIH reference beat labels through firmware/events.py: its NSVT events must be
exactly the runs of >= 3 consecutive ventricular beats at a mean rate above 100 bpm, found here
independently from the annotations (and a V run of 30 s or more would be VT)."""

from __future__ import annotations

import pytest

from ecg_data.paths import data_root
from ecg_data.record import BEAT_SYMBOLS
from ecg_data.wfdb_records import read_annotations
from firmware.events import EventConfig, EventDetector
from model_compression.datasets.aami import aami_class

MITDB = data_root() / "mitdb"
RECORDS = ["203", "205", "207", "215", "223"]  # V-rich: runs of V, multiform PVCs, VT, flutter


def reference_beats(name: str) -> tuple[list[int], list[str]]:
    ann = read_annotations(MITDB / name)
    if ann is None:
        pytest.skip(f"no annotations for mitdb/{name}")
    times, labels = [], []
    for sample, symbol in zip(ann.sample.tolist(), ann.symbol, strict=True):
        if symbol in BEAT_SYMBOLS:
            times.append(sample * 1000 // 360)
            labels.append(aami_class(symbol))
    return times, labels


def fast_v_runs(times: list[int], labels: list[str]) -> list[tuple[int, int, int]]:
    """(first V, last V, beats) of each maximal run of V beats with V-V intervals < 700 ms whose
    mean V-V interval is < 600 ms (above 100 bpm)."""
    runs = []
    start = None

    def close(start: int, last: int) -> None:
        n = last - start + 1
        if n >= 3 and times[last] - times[start] < 600 * (n - 1):
            runs.append((times[start], times[last], n))

    for k, (t, label) in enumerate(zip(times, labels, strict=True)):
        continues = start is not None and label == "V" and t - times[k - 1] < 700 and labels[k - 1] == "V"
        if continues:
            continue
        if start is not None:
            close(start, k - 1)
        start = k if label == "V" else None
    if start is not None:
        close(start, len(times) - 1)
    return runs


@pytest.mark.parametrize("name", RECORDS)
def test_nsvt_events_match_the_annotated_v_runs(name: str) -> None:
    if not (MITDB / f"{name}.atr").is_file():
        pytest.skip(f"mitdb/{name} not in {MITDB}")
    times, labels = reference_beats(name)
    events: list[dict] = []
    det = EventDetector(events.append)
    tick = 0
    for t, label in zip(times, labels, strict=True):
        while tick < t:  # the patch's loop ticks between beats
            det.tick(tick)
            tick += 250
        det.on_beat(t, label, 0)
    det.tick(times[-1] + 5000)
    runs = fast_v_runs(times, labels)
    by_beats = EventConfig().vt_by_beats_ms  # a run this long is VT, not NSVT
    expected_nsvt = [r for r in runs if r[1] - r[0] < by_beats]
    nsvt = [(e["onset_ms"], e["end_ms"], e["beat_count"]) for e in events if e["event_type"] == "NSVT"]
    assert nsvt == expected_nsvt
    sustained = [r for r in runs if r[1] - r[0] >= by_beats]
    vt_onsets = sorted({e["onset_ms"] for e in events if e["event_type"] == "VT"})
    assert vt_onsets == [r[0] for r in sustained]
    print(
        f"mitdb/{name}: {len(nsvt)} NSVT (beats {sorted({r[2] for r in nsvt})}), {len(vt_onsets)} VT by beats"
    )
    if name in ("203", "207"):
        assert nsvt  # these records do have ventricular runs
