"""firmware/events.py: every rule on synthetic streams, with exact onsets, ends and counts.

`Feed` builds a stream of timed inputs and plays it in time order with a tick every 100 ms
(as the patch's loop would), collecting event and summary records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from firmware import wire
from firmware.events import (
    EVENT_WIRE_KEYS,
    FLAG_ONGOING,
    SEVERITY_NAMES,
    WIRE_CONFIG,
    EventConfig,
    EventDetector,
)

N_PROBS = (0.9, 0.05, 0.03, 0.02)
A_PROBS = (0.05, 0.9, 0.03, 0.02)
O_PROBS = (0.05, 0.03, 0.9, 0.02)
NOISE_PROBS = (0.05, 0.03, 0.02, 0.9)


class Feed:
    """Timed inputs for one EventDetector, played in time order (ticks before inputs at a time)."""

    def __init__(self, tick_ms: int = 100, **config: Any) -> None:
        self.events: list[dict] = []
        self.summaries: list[dict] = []
        self.listeners: list[Callable[[dict], None]] = []
        self.detector = EventDetector(self._event, self.summaries.append, EventConfig(**config))
        self.tick_ms = tick_ms
        self._inputs: list[tuple[int, int, str, tuple]] = []

    def _event(self, record: dict) -> None:
        self.events.append(record)
        for listener in self.listeners:
            listener(record)

    def _add(self, t: int, method: str, *args: Any) -> None:
        self._inputs.append((t, len(self._inputs), method, args))

    def beats(self, times: Iterable[int], label: str = "N") -> Feed:
        for t in times:
            self._add(t, "on_beat", label, 0)
        return self

    def vt(self, t: int, p: float, hf_pm: int = -1) -> Feed:
        self._add(t, "on_vt_score", p, hf_pm)
        return self

    def rhythm(self, t: int, probs: tuple) -> Feed:
        self._add(t, "on_rhythm", probs)
        return self

    def lead_off(self, t: int, off: bool) -> Feed:
        self._add(t, "on_lead_off", off)
        return self

    def quality(self, t: int, q: float) -> Feed:
        self._add(t, "on_signal_quality", q)
        return self

    def button(self, t: int) -> Feed:
        self._add(t, "on_button")
        return self

    def baseline_step(self, t: int) -> Feed:
        self._add(t, "on_baseline_step")
        return self

    def run(self, until: int, hooks: Callable[[int], None] | None = None) -> Feed:
        """Plays every input with t <= until; `hooks(t)` runs after each tick (e.g. alerts)."""
        inputs = sorted(self._inputs)
        self._inputs = []
        det = self.detector
        i = 0
        t = 0
        while t <= until:
            det.tick(t)
            if hooks is not None:
                hooks(t)
            nxt = t + self.tick_ms
            while i < len(inputs) and inputs[i][0] < nxt and inputs[i][0] <= until:
                ti, _, method, args = inputs[i]
                getattr(det, method)(ti, *args)
                i += 1
            t = nxt
        return self

    # -------------------------------------------------------------- reading the records

    def of(self, etype: str) -> list[dict]:
        return [e for e in self.events if e["event_type"] == etype]

    def finals(self, etype: str | None = None) -> list[dict]:
        """The last record of each event (closed or still going on), by event_id."""
        last: dict[int, dict] = {}
        for e in self.events:
            if etype is None or e["event_type"] == etype:
                last[e["event_id"]] = e
        return list(last.values())

    def types(self) -> set[str]:
        return {e["event_type"] for e in self.events}


def every(start: int, stop: int, step: int) -> range:
    return range(start, stop, step)


def sinus_with_run(n: int, v_rr: int, before: int = 10000, rr: int = 800, after: int = 10000) -> Feed:
    """Sinus at `rr`, then n V beats `v_rr` apart from t=before, then sinus again."""
    feed = Feed()
    feed.beats(every(0, before, rr))
    run = [before + k * v_rr for k in range(n)]
    feed.beats(run, "V")
    feed.beats(every(run[-1] + rr, run[-1] + after, rr))
    return feed.run(run[-1] + after)


# ------------------------------------------------------------------ NSVT


@pytest.mark.parametrize("n", [3, 5, 10])
def test_nsvt_runs_of_3_5_10_beats(n: int) -> None:
    feed = sinus_with_run(n, 400)
    assert feed.types() == {"NSVT"}
    (e,) = feed.events
    assert (e["onset_ms"], e["end_ms"], e["beat_count"]) == (10000, 10000 + 400 * (n - 1), n)
    assert e["heart_rate"] == 150 and e["severity"] == "MEDIUM" and e["flags"] == 0
    assert not e["critical"]
    assert (e["snippet_start_ms"], e["snippet_end_ms"]) == (0, 40000)  # start clamped at 0
    assert e["t_ms"] == 10000 + 400 * (n - 1) + 700  # run over 700 ms after its last V beat


def test_two_v_beats_and_slow_runs_are_no_nsvt() -> None:
    assert sinus_with_run(2, 400).events == []  # a couplet
    # A run below 100 bpm (accelerated idioventricular rhythm, 86 bpm): no NSVT.
    assert sinus_with_run(12, 700).events == []
    assert sinus_with_run(12, 600).events == []  # exactly 100 bpm is not above 100


def test_a_run_counts_by_its_mean_rate() -> None:
    # One interval of 650 ms (92 bpm) among 400s: still one run, at a mean rate above 100 bpm.
    feed = Feed()
    feed.beats(every(0, 10000, 800))
    feed.beats([10000, 10400, 11050, 11450], "V")
    feed.beats(every(12300, 20000, 800))
    feed.run(20000)
    assert [(e["onset_ms"], e["end_ms"], e["beat_count"], e["heart_rate"]) for e in feed.of("NSVT")] == [
        (10000, 11450, 4, 124)
    ]
    # Every interval at 650 ms: a run below 100 bpm, no NSVT.
    assert sinus_with_run(6, 650).events == []


def test_a_slow_interval_splits_a_run() -> None:
    feed = Feed()
    feed.beats(every(0, 10000, 800))
    feed.beats([10000, 10400, 10800, 11500, 11900, 12300, 12700], "V")  # 700 ms gap after 3 V
    feed.beats(every(13500, 20000, 800))
    feed.run(20000)
    runs = [(e["onset_ms"], e["end_ms"], e["beat_count"]) for e in feed.of("NSVT")]
    assert runs == [(10000, 10800, 3), (11500, 12700, 4)]


def test_x_detections_are_ignored_and_f_beats_end_runs() -> None:
    feed = Feed()
    feed.beats(every(0, 10000, 800))
    feed.beats([10000, 10400, 10800, 11200], "V")
    feed.beats([10200, 10600], "X")  # not beats: neither break the run nor count
    feed.beats([11600], "F")
    feed.beats(every(12400, 20000, 800))
    feed.run(20000)
    (e,) = feed.events
    assert (e["onset_ms"], e["end_ms"], e["beat_count"], e["t_ms"]) == (10000, 11200, 4, 11600)


# ------------------------------------------------------------------ VT


def vt_stream(t0: int, te: int, beats: str, until: int = 0, **config: Any) -> Feed:
    """VT from t0 to te; SCNN windows (10 s, every 2.5 s) scored by the share of the window in
    VT (p >= 0.5 when VT fills half of it); beats at 800 ms outside, at 300 ms inside,
    labelled V ('V') or missed by the beat classifier ('N')."""
    until = until or te + 30000
    feed = Feed(**config)
    feed.beats(t for t in every(0, until, 800) if t < t0 - 300 or t > te + 500)
    feed.beats(every(t0, te + 1, 300), beats)
    for t in every(10000, until + 1, 2500):
        overlap = max(0, min(t, te) - max(t - 10000, t0))
        feed.vt(t, overlap / 10000)
    return feed.run(until)


@pytest.mark.parametrize("beats", ["V", "N"])
def test_vt_latency_within_10_s_of_onset(beats: str) -> None:
    latencies = []
    for t0 in range(40000, 42500, 100):  # every phase of the onset against the 2.5-s hop
        te = t0 + 40000
        feed = vt_stream(t0, te, beats)
        vts = feed.of("VT")
        assert len({e["event_id"] for e in vts}) == 1, t0
        first, last = vts[0], vts[-1]
        assert first["flags"] == FLAG_ONGOING and last["flags"] == 0
        assert first["severity"] == "CRITICAL" and first["critical"]
        latencies.append(first["t_ms"] - t0)
        if beats == "V":  # the V run dates the onset and the end
            assert first["onset_ms"] == t0
            assert last["beat_count"] == len(range(t0, te + 1, 300))
            assert te - 300 <= last["end_ms"] <= te + 1250
        else:
            assert abs(first["onset_ms"] - t0) <= 1250
            assert abs(last["end_ms"] - te) <= 1250
            assert last["beat_count"] == 0
        assert "NSVT" not in feed.types() and "TACHY" not in feed.types()
    if beats == "V":  # one positive window, corroborated by the V run
        assert min(latencies) >= 5000 and max(latencies) < 7500
    else:  # two of three windows
        assert min(latencies) >= 7500 and max(latencies) < 10000
    print(f"VT latency with beats {beats}: {min(latencies)}-{max(latencies)} ms")


def test_one_vt_event_per_episode_with_ongoing_updates() -> None:
    feed = vt_stream(40000, 110000, "N")
    vts = feed.of("VT")
    assert len({e["event_id"] for e in vts}) == 1
    assert [e["flags"] for e in vts] == [FLAG_ONGOING] * (len(vts) - 1) + [0]
    times = [e["t_ms"] for e in vts]
    assert times[0] == 47500 and times[1:-1] == [77500, 107500]  # updates every 30 s
    assert [e["end_ms"] for e in vts] == sorted(e["end_ms"] for e in vts)
    assert times[-1] == 110000 + 5000 + 7500  # three negative windows after VT fills < half
    assert vts[-1]["onset_ms"] == 47500 - 2500 - 6250 and vts[-1]["end_ms"] == 115000 - 3750


def test_a_lone_positive_window_is_no_vt_but_2_of_3_is() -> None:
    feed = Feed()
    feed.beats(every(0, 60000, 800))
    for t in every(10000, 60001, 2500):
        feed.vt(t, 0.8 if t in (20000, 40000, 45000) else 0.1)
    feed.run(60000)
    (first, last) = feed.of("VT")
    assert (first["t_ms"], first["onset_ms"]) == (45000, 40000 - 6250)
    assert (last["t_ms"], last["end_ms"], last["flags"]) == (52500, 45000 - 3750, 0)
    assert last["confidence"] == 800 * 255 // 1000


@pytest.mark.parametrize(("hf_pm", "vt"), [(-1, True), (149, False), (150, True)])
def test_windows_without_power_above_2_hz_are_no_vt(hf_pm: int, vt: bool) -> None:
    feed = Feed(vt_min_hf_pm=150)
    feed.beats(every(0, 60000, 800))
    for t in every(10000, 60001, 2500):
        feed.vt(t, 0.9 if 30000 <= t <= 45000 else 0.1, hf_pm)
    feed.run(60000)
    assert bool(feed.of("VT")) is vt


def test_a_fast_v_run_missed_by_the_scnn_opens_vt_after_15_s() -> None:
    feed = Feed()
    feed.beats(every(0, 10000, 800))
    run = list(every(10000, 50000, 400))  # 40 s at 150 bpm, no SCNN windows at all
    feed.beats(run, "V")
    feed.beats(every(50400, 60000, 800))
    feed.run(60000)
    assert feed.types() == {"VT"}
    first, *_, last = feed.of("VT")
    # The first V beat 15 s (vt_by_beats_ms) or more after the run began: the 39th, at 25.2 s.
    assert (first["t_ms"], first["onset_ms"], first["beat_count"]) == (25200, 10000, 39)
    # Closed on the first tick 700 ms (nsvt_max_gap_ms) after the last V beat.
    assert (last["onset_ms"], last["end_ms"], last["beat_count"], last["t_ms"]) == (10000, 49600, 100, 50300)


# ------------------------------------------------------------------ suppression


def test_lead_off_suppresses_vt_and_pause_and_is_debounced() -> None:
    feed = Feed()
    feed.beats(t for t in every(0, 80000, 800) if not 20000 <= t < 35000)
    feed.lead_off(20000, True).lead_off(35000, False)
    feed.lead_off(60000, True).lead_off(60500, False)  # a 0.5-s bounce: no event
    for t in every(10000, 45001, 2500):
        feed.vt(t, 0.95 if t >= 20000 else 0.05)  # a loose electrode the SCNN takes for VF
    feed.run(80000)
    assert feed.types() == {"LEAD_OFF"}
    first, last = feed.of("LEAD_OFF")
    assert (first["t_ms"], first["onset_ms"], first["flags"]) == (21000, 20000, FLAG_ONGOING)
    assert (last["t_ms"], last["onset_ms"], last["end_ms"], last["flags"]) == (36000, 20000, 35000, 0)
    assert last["severity"] == "LOW" and (last["snippet_start_ms"], last["snippet_end_ms"]) == (0, 0)


def test_vt_after_the_signal_settles_is_detected() -> None:
    feed = Feed()
    feed.beats(t for t in every(0, 90000, 800) if not 20000 <= t < 35000)
    feed.lead_off(20000, True).lead_off(35000, False)
    for t in every(10000, 90001, 2500):
        feed.vt(t, 0.95 if 20000 <= t <= 60000 else 0.05)
    feed.run(90000)
    vt = feed.of("VT")
    # Windows ending before 35 s + 10 s overlap the lead-off: the first usable ones are 45 and 47.5 s.
    assert vt[0]["t_ms"] == 47500 and vt[0]["onset_ms"] == 45000 - 6250


def test_noise_suppresses_vt_and_is_its_own_event() -> None:
    feed = Feed()
    feed.beats(every(0, 80000, 800))
    feed.quality(0, 0.9).quality(20000, 0.2).quality(35000, 0.9)
    feed.quality(60000, 0.3).quality(65000, 0.9)  # 5 s of noise: too short for an event
    for t in every(10000, 45000, 2500):
        feed.vt(t, 0.9 if 20000 <= t < 45000 else 0.1)
    feed.run(80000)
    assert feed.types() == {"NOISE"}
    first, last = feed.finals()[0], feed.of("NOISE")[0]
    assert (last["t_ms"], last["onset_ms"], last["flags"]) == (30000, 20000, FLAG_ONGOING)
    assert (first["t_ms"], first["onset_ms"], first["end_ms"]) == (40000, 20000, 35000)
    assert first["severity"] == "INFO" and first["confidence"] == 800 * 255 // 1000


def test_noise_from_the_rhythm_model() -> None:
    feed = Feed()
    feed.beats(every(0, 120000, 800))
    for t in every(30000, 120001, 30000):
        feed.rhythm(t, NOISE_PROBS if t == 90000 else N_PROBS)
    feed.run(120000)
    (e,) = feed.finals()
    assert (e["event_type"], e["onset_ms"], e["end_ms"], e["t_ms"]) == ("NOISE", 80000, 90000, 95000)


# ------------------------------------------------------------------ pauses


def test_asystole_is_opened_by_tick_when_no_beat_comes() -> None:
    feed = Feed()
    feed.beats(every(0, 10001, 1000)).beats(every(16000, 30000, 1000))
    feed.run(30000)
    first, last = feed.of("PAUSE")
    assert (first["t_ms"], first["onset_ms"], first["flags"]) == (13000, 10000, FLAG_ONGOING)
    assert (last["t_ms"], last["onset_ms"], last["end_ms"], last["flags"]) == (16000, 10000, 16000, 0)
    assert last["severity"] == "HIGH" and last["critical"] and last["heart_rate"] == 60
    assert feed.types() == {"PAUSE"}


def test_short_pauses() -> None:
    feed = Feed()
    feed.beats(every(0, 10001, 1000)).beats(every(12500, 20001, 1000)).beats(every(21400, 30000, 1000))
    feed.run(30000)
    (e,) = feed.events  # 2.5 s: a pause; 1.9 s: none
    assert (e["event_type"], e["onset_ms"], e["end_ms"], e["t_ms"]) == ("PAUSE", 10000, 12500, 12500)
    assert e["severity"] == "LOW" and not e["critical"]


def test_asystole_without_ticks_is_still_sent_when_the_beat_comes() -> None:
    det_events: list[dict] = []
    det = EventDetector(det_events.append)
    for t in (0, 1000, 2000, 3000, 4000, 7500, 8500):
        det.on_beat(t, "N", 0)
    (e,) = det_events
    assert (e["onset_ms"], e["end_ms"], e["severity"], e["flags"]) == (4000, 7500, "HIGH", 0)


def test_fibrillation_is_no_asystole_and_the_asystole_after_it_alarms_when_the_vt_closes() -> None:
    # Sinus, then VF from 10 s that the QRS detector does not see (no beats), the SCNN saying VT
    # from its window ending at 12.5 s to the one at 27.5 s; a flat line after it until 40 s.
    feed = Feed()
    feed.beats(every(0, 10001, 1000)).beats(every(40000, 50000, 1000))
    for t in every(10000, 45001, 2500):
        feed.vt(t, 0.9 if 12500 <= t <= 27500 else 0.05)
    feed.run(50000)
    vt = feed.finals("VT")
    assert next((e["onset_ms"], e["t_ms"]) for e in feed.of("VT")) == (12500 - 6250, 15000)
    assert [(e["onset_ms"], e["end_ms"]) for e in vt] == [(6250, 27500 - 3750)]
    first, second = feed.finals("PAUSE")
    # the asystole opened at 3 s of silence, then was explained by the VT the SCNN confirmed
    assert (first["onset_ms"], first["end_ms"], first["t_ms"]) == (10000, 10000, 15000)
    # the flat line after the VT: an asystole from the VT's end, opened when the VT closed
    vt_closed = feed.of("VT")[-1]["t_ms"]
    assert second["onset_ms"] == 27500 - 3750 and second["end_ms"] == 40000
    opened = next(e for e in feed.of("PAUSE") if e["event_id"] == second["event_id"])
    assert vt_closed <= opened["t_ms"] <= vt_closed + 100
    assert not [e for e in feed.of("PAUSE") if 15000 < e["t_ms"] < vt_closed]


def test_no_pause_inside_an_open_vt() -> None:
    feed = Feed()
    beats = [t for t in every(0, 60000, 400) if not 30000 < t < 32800]  # a 2.8-s gap inside the VT
    feed.beats(beats, "V")
    for t in every(10000, 60001, 2500):
        feed.vt(t, 0.9)
    feed.run(60000)
    assert "VT" in feed.types() and "PAUSE" not in feed.types()


def test_silence_after_a_baseline_step_is_lost_signal_not_a_pause() -> None:
    # MIT-BIH 116 at 1355 s: a step of several mV, then no QRS on the lead for 6-7 s.
    feed = Feed()
    feed.beats(every(0, 10001, 1000)).beats(every(17400, 30000, 1000))
    feed.baseline_step(10300)
    feed.run(30000)
    assert "PAUSE" not in feed.types()
    # the same without ticks: the beat that ends the gap sends no pause either
    events: list[dict] = []
    det = EventDetector(events.append)
    for t in (7000, 8000, 9000, 10000):
        det.on_beat(t, "N", 0)
    det.on_baseline_step(10300)
    det.on_beat(17400, "N", 0)
    assert events == []


def test_a_silence_that_outlasts_the_step_is_an_asystole_from_the_last_beat() -> None:
    feed = Feed()
    feed.beats(every(0, 10001, 1000)).beats(every(40000, 50000, 1000))
    feed.baseline_step(10300)
    feed.run(50000)
    first, *_, last = feed.of("PAUSE")
    assert (first["t_ms"], first["onset_ms"], first["severity"]) == (10300 + 10000 + 3000, 10000, "HIGH")
    assert (last["onset_ms"], last["end_ms"], last["flags"]) == (10000, 40000, 0)
    events: list[dict] = []
    det = EventDetector(events.append)
    for t in (7000, 8000, 9000, 10000):
        det.on_beat(t, "N", 0)
    det.on_baseline_step(10300)
    det.on_beat(23400, "N", 0)  # 13.1 s after the step: an asystole
    (e,) = events
    assert (e["onset_ms"], e["end_ms"], e["severity"]) == (10000, 23400, "HIGH")


def test_large_signal_without_beats_is_no_asystole_but_a_silent_lead_after_it_is() -> None:
    # Beats to 10 s, then coarse activity the QRS detector does not resolve (large epochs ending
    # at 12-20 s), then a flat line: the asystole counts from the activity's end.
    feed = Feed()
    feed.beats(every(0, 10001, 1000)).beats(every(30000, 40000, 1000))
    for t in every(1000, 40001, 1000):
        feed._add(t, "on_signal_quality", 1.0, 12000 <= t <= 20000)
    feed.run(40000)
    first, *_, last = feed.of("PAUSE")
    assert (first["t_ms"], first["onset_ms"]) == (23000, 20000)
    assert (last["onset_ms"], last["end_ms"]) == (20000, 30000)
    # the epoch that holds the last beat's T wave is no activity
    feed = Feed()
    feed.beats(every(0, 10001, 1000)).beats(every(16000, 20000, 1000))
    for t in every(1000, 20001, 1000):
        feed._add(t, "on_signal_quality", 1.0, t == 11000)
    feed.run(20000)
    assert (feed.of("PAUSE")[0]["t_ms"], feed.finals("PAUSE")[0]["onset_ms"]) == (13000, 10000)


def test_a_gap_with_activity_in_it_is_no_pause_when_its_beat_comes() -> None:
    events: list[dict] = []
    det = EventDetector(events.append)
    for t in (7000, 8000, 9000, 10000):
        det.on_beat(t, "N", 0)
    for t in (11000, 12000, 13000):
        det.on_signal_quality(t, 1.0, t == 12000)
    det.on_beat(13800, "N", 0)  # 3.8 s after the last beat, 1.8 s after the activity: no pause
    assert events == []
    det.on_beat(14800, "N", 0)
    det.on_signal_quality(15000, 1.0, True)  # the epoch holds a beat: no activity in a silence
    det.on_beat(17800, "N", 0)
    (e,) = events
    assert (e["event_type"], e["onset_ms"], e["end_ms"], e["severity"]) == ("PAUSE", 14800, 17800, "HIGH")


def test_an_asystole_open_before_a_step_stays_open() -> None:
    # the heart stops first, then the patient falls and the electrode moves
    feed = Feed()
    feed.beats(every(0, 10001, 1000)).beats(every(20000, 30000, 1000))
    feed.baseline_step(14000)
    feed.run(30000)
    (e,) = feed.finals("PAUSE")
    assert (e["onset_ms"], e["end_ms"], e["severity"]) == (10000, 20000, "HIGH")
    assert feed.of("PAUSE")[0]["t_ms"] == 13000


# ------------------------------------------------------------------ rates


def test_bradycardia() -> None:
    feed = Feed()
    feed.beats(every(0, 10001, 1000)).beats(every(11600, 50000, 1600)).beats(every(50000, 70000, 1000))
    feed.run(70000)
    assert feed.types() == {"BRADY"}
    first, last = feed.of("BRADY")
    # The 8-RR mean drops below 40 bpm at the 7th slow beat (21.2 s); 10 s later it opens.
    assert (first["t_ms"], first["onset_ms"], first["flags"]) == (32400, 21200, FLAG_ONGOING)
    # Back at 60 bpm from 50 s: the 4th 1-s RR (54 s) lifts the mean to 46 >= 45; 53 s was the last in.
    assert (last["t_ms"], last["end_ms"], last["flags"]) == (54000, 53000, 0)
    assert last["severity"] == "LOW" and last["heart_rate"] == 37


def test_tachycardia_and_not_during_vt() -> None:
    feed = Feed()
    feed.beats(every(0, 10000, 800)).beats(every(10000, 40000, 450)).beats(every(40200, 60000, 800))
    feed.run(60000)
    assert feed.types() == {"TACHY"}
    first, last = feed.of("TACHY")
    # 7 fast RR bring the mean under 500 ms (> 120 bpm) at 12.7 s; open at the first beat 10 s on.
    assert (first["onset_ms"], first["t_ms"]) == (12700, 23050)
    assert last["flags"] == 0 and last["heart_rate"] == 135 and last["severity"] == "LOW"
    assert vt_stream(40000, 80000, "N").of("TACHY") == []


# ------------------------------------------------------------------ rhythm model


@pytest.mark.parametrize(
    ("probs", "etype", "severity"), [(A_PROBS, "AF", "MEDIUM"), (O_PROBS, "OTHER", "LOW")]
)
def test_af_and_other_need_30_s(probs: tuple, etype: str, severity: str) -> None:
    feed = Feed()
    feed.beats(every(0, 300000, 800))
    for t in every(30000, 300001, 30000):
        feed.rhythm(t, probs if t in (120000, 150000, 180000, 270000) else N_PROBS)  # 270 s: alone
    feed.run(300000)
    assert feed.types() == {etype}
    records = feed.of(etype)
    first, last = records[0], records[-1]
    assert len({r["event_id"] for r in records}) == 1 and len(records) >= 2
    assert (first["t_ms"], first["onset_ms"], first["flags"], first["severity"]) == (
        150000,
        110000,
        FLAG_ONGOING,
        severity,
    )
    assert (last["t_ms"], last["end_ms"], last["flags"]) == (210000, 180000, 0)
    assert last["confidence"] == 900 * 255 // 1000


# ------------------------------------------------------------------ symptom, summary, wire


def test_symptom_marks_with_refractory() -> None:
    feed = Feed()
    feed.beats(every(0, 30000, 800)).button(5000).button(7000).button(20000)
    feed.run(30000)
    marks = [(e["onset_ms"], e["end_ms"], e["severity"]) for e in feed.of("SYMPTOM")]
    assert marks == [(5000, 5000, "INFO"), (20000, 20000, "INFO")]
    assert feed.of("SYMPTOM")[0]["snippet_start_ms"] == 0  # clamped at the clock's start


def test_a_shorter_summary_period_ends_the_current_one_in_one_summary() -> None:
    summaries: list[dict] = []
    det = EventDetector(lambda record: None, summaries.append, EventConfig())  # 600-s periods
    for t in range(0, 60001, 750):
        if t > 30000 and t - 750 <= 30000:
            det.set_config("SUMMARY_PERIOD_S", 10)
        det.tick(t)
        det.on_beat(t, "N", 750)
    got = [(s["time_ms"], s["period_s"], s["beat_count"]) for s in summaries]
    assert got[0][:2] == (30000, 30) and got[0][2] >= 35  # the first 30 s in one summary
    assert [g[:2] for g in got[1:]] == [(40000, 10), (50000, 10), (60000, 10)]
    assert all(12 <= g[2] <= 14 for g in got[1:])


def test_summary_counts() -> None:
    feed = Feed(summary_period_s=60)
    feed.detector.set_battery(87)
    labels = {7500: "V", 15000: "V", 22500: "S", 30000: "V", 45000: "S", 90000: "V"}
    times = list(every(0, 130000, 750))  # 80 bpm
    for t in times:
        feed.beats([t], labels.get(t, "N"))
    feed.lead_off(70000, True).lead_off(75000, False)  # bad 70-75 s, settling to 85 s
    feed.run(130000)
    first, second = feed.summaries[:2]
    assert first == {
        "time_ms": 60000,
        "period_s": 60,
        "flags": 0,
        "heart_rate": 80,
        "heart_rate_min": 80,
        "heart_rate_max": 80,
        "beat_count": 80,
        "veb_count": 3,
        "sveb_count": 2,
        "signal_quality": 255,
        "battery_percent": 87,
    }
    good = [t for t in times if 60000 <= t < 120000 and not 70000 <= t < 85000]
    assert second["beat_count"] == len(good) and second["veb_count"] == 1 and second["sveb_count"] == 0
    assert second["signal_quality"] == 255 * 45000 // 60000
    assert second["heart_rate"] == 80 and second["heart_rate_min"] == 80
    wire.encode_summary(**first)
    assert "LEAD_OFF" in feed.types()


def test_records_encode_as_wire_frames_and_tables_agree() -> None:
    assert FLAG_ONGOING == wire.FLAG_ONGOING
    assert tuple(sorted(wire.SEVERITIES, key=wire.SEVERITIES.__getitem__)) == SEVERITY_NAMES
    assert set(WIRE_CONFIG) <= set(wire.CONFIG_KEYS)
    records = (
        vt_stream(40000, 80000, "V").events
        + sinus_with_run(5, 400).events
        + Feed().beats(every(0, 5001, 1000)).beats([9000]).button(20000).run(20000).events
    )
    for record in records:
        assert record["event_type"] in wire.EVENT_TYPES
        frame = wire.encode_event(**{k: record[k] for k in EVENT_WIRE_KEYS})
        decoded = wire.decode(frame)
        assert decoded["event_id"] == record["event_id"] and decoded["end_ms"] == record["end_ms"]
    ids = [r["event_id"] for r in records[: len(vt_stream(40000, 80000, "V").events)]]
    assert ids == sorted(ids)


def test_event_ids_increase_and_config_from_the_wire() -> None:
    events: list[dict] = []
    det = EventDetector(events.append, first_event_id=41)
    det.set_config("BRADY_BPM", 50)
    det.set_config("PAUSE_MS", 1500)
    assert det.config.brady_bpm == 50 and det.config.pause_ms == 1500
    for t in (0, 1000, 2600, 3600, 10000):
        det.on_beat(t, "N", 0)
    assert [e["event_id"] for e in events] == [41, 42]
    with pytest.raises(ValueError):
        det.set_config("NO_SUCH", 1)
    with pytest.raises(ValueError):
        EventConfig(vt_thresold=0.4)


@pytest.mark.parametrize(("off_s", "closed_at"), [(20, None), (70, 60000 + 60000)])
def test_open_vt_survives_a_short_lead_off_but_not_a_removed_patch(off_s: int, closed_at: int | None) -> None:
    """VT (SCNN only) from 40 s; the leads come off at 60 s for off_s seconds."""
    feed = Feed()
    off_end = 60000 + off_s * 1000
    feed.beats(t for t in every(0, 200000, 800) if t < 40000 or t > off_end)
    feed.beats(every(40000, 60000, 300), "N")
    feed.lead_off(60000, True).lead_off(off_end, False)
    for t in every(10000, 200001, 2500):
        feed.vt(t, 0.9 if 47500 <= t <= 60000 else 0.05)
    feed.run(200000)
    vt = feed.of("VT")
    assert len({e["event_id"] for e in vt}) == 1 and vt[-1]["flags"] == 0
    if closed_at is None:  # closed by 3 negative windows once the signal settled (80 s + 10 s)
        assert vt[-1]["t_ms"] == 95000
    else:
        assert vt[-1]["t_ms"] == closed_at
    assert vt[-1]["end_ms"] == 57500 - 3750  # the window ending at 60 s met the lead-off
