"""VT episodes scored the way ANSI/AAMI EC57:2012 compares episodes: the reference's ventricular
tachycardia, flutter and fibrillation episodes against the patch's VT (and NSVT) events.

Pure functions, no replay: `reference_episodes` (annotations -> intervals in s), `score_record`
(one record's reference and events -> counts) and `pool` (records -> gross figures, as JSON).

Rules
-----
- Reference episodes: rhythm episodes labelled `(VT`, `(VFL`, `(VF` or `(VFIB` (the labels the SCNN
  is trained on, `model_compression.datasets.vt_windows.VT_RHYTHMS`) together with ventricular
  flutter marked `[` ... `]`. Overlapping or touching intervals are merged into one episode: MIT-BIH
  opens its `[` a beat before the `(VFL` note, and a `(VT` that turns straight into `(VFL` is one
  ventricular arrhythmia for an alarm. Episodes separated by time in another rhythm (even one sinus
  beat, as in mitdb 207 at 40 s) stay apart, as EC57 scores the annotated episodes as they are;
  `merge_gap_s` widens this when asked.
- Intervals are half-open [onset, end) in record seconds. Two intervals overlap when they share time;
  an event of no length (onset == end) overlaps an episode holding its instant. No tolerance.
- Episode sensitivity: reference episodes overlapped by at least one VT event / reference episodes.
  Episode +P: VT events overlapping at least one reference episode / VT events. One event spanning
  two episodes detects both and counts once as a true detection.
- Duration sensitivity / +P: time in both (the union of reference episodes) and (the union of VT
  events), over the reference time / over the detected time; both clipped to the record.
- `episode_sensitivity_10s`: as episode sensitivity, over reference episodes (after merging) of
  at least 10 s.
- False alerts: VT events that overlap no reference episode, per 24 h of replayed record. In a
  record without rhythm annotations that is known to hold no VT (CinC 2017) every VT event is one.
- False alerts by rhythm (`false_alert_rhythms`): each false alert under the reference rhythm it
  shares most time with (the one holding its onset when it has no length), to say what raised it:
  noise, high-grade ectopy, atrial fibrillation, sinus rhythm... For CinC 2017 the record's class.
- Run sensitivity / +P: every reference episode, however short, against VT and NSVT events together:
  most of MIT-BIH's VT episodes are runs of a few beats that the patch sends as NSVT.
- Latency, per detected reference episode: the earliest `emitted_s` among the VT events overlapping
  it, minus the episode's onset. Only VT events raise the alarm, so NSVT is left out. Signed: a
  negative value means the alarm was already up at the annotated onset (an event carried over from
  the episode just before). Median and 95th percentile (linear interpolation) over all records,
  over every detected episode and (`_10s`) over those of at least 10 s: the sustained episodes an
  alarm is for. A run of a few beats is sent as NSVT, and a VT alarm that follows because the
  arrhythmia went on is late for the run only by the run's own definition.

Undefined figures (no reference episode, no event, no hours, no latency) are None, so that the
result of `pool` goes through `json.dumps(..., allow_nan=False)` as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Protocol

import numpy as np

from ecg_data.record import Annotations

# Equal to vt_windows.VT_RHYTHMS (a test keeps them so); spelt out to keep scoring free of SciPy imports.
REFERENCE_RHYTHMS = frozenset({"VT", "VFL", "VF", "VFIB"})
ALARM_TYPE = "VT"
RUN_TYPES = frozenset({"VT", "NSVT"})
LONG_EPISODE_S = 10.0
SECONDS_PER_DAY = 86400.0

Interval = tuple[float, float]
Labelled = tuple[float, float, str]  # a reference rhythm episode: onset s, end s, label
NO_RHYTHM = "none"  # a false alert outside every annotated rhythm episode


class EpisodeEvent(Protocol):
    """What scoring needs of an event (hardware_sim.patch_replay.ReplayEvent has it)."""

    @property
    def type(self) -> str: ...
    @property
    def onset_s(self) -> float: ...
    @property
    def end_s(self) -> float: ...
    @property
    def emitted_s(self) -> float: ...


def reference_episodes(annotations: Annotations, fs: float, *, merge_gap_s: float = 0.0) -> list[Interval]:
    """The record's VT/flutter/fibrillation episodes in seconds, merged (see the module's rules)."""
    episodes = [e for e in annotations.rhythms if e.label in REFERENCE_RHYTHMS] + list(annotations.flutter)
    return merge_intervals([(e.start / fs, e.end / fs) for e in episodes], merge_gap_s)


def merge_intervals(intervals: Iterable[Interval], gap_s: float = 0.0) -> list[Interval]:
    """Sorted, disjoint intervals: those overlapping or at most `gap_s` apart become one."""
    merged: list[Interval] = []
    for onset, end in sorted((float(a), float(max(a, b))) for a, b in intervals):
        if merged and onset - merged[-1][1] <= gap_s:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((onset, end))
    return merged


def overlaps(a: Interval, b: Interval) -> bool:
    """Whether half-open intervals share time; one of no length counts at its instant."""
    (a0, a1), (b0, b1) = a, b
    if a0 >= a1:
        return b0 <= a0 < b1 or a0 == b0
    if b0 >= b1:
        return a0 <= b0 < a1
    return a0 < b1 and b0 < a1


def overlap_s(a: Sequence[Interval], b: Sequence[Interval]) -> float:
    """Time shared by two lists of sorted, disjoint intervals."""
    total, i, j = 0.0, 0, 0
    while i < len(a) and j < len(b):
        total += max(0.0, min(a[i][1], b[j][1]) - max(a[i][0], b[j][0]))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def clip(intervals: Sequence[Interval], duration_s: float) -> list[Interval]:
    return [(max(a, 0.0), min(b, duration_s)) for a, b in intervals if b > 0.0 and a < duration_s]


@dataclass(frozen=True)
class RecordVtScore:
    """One record's counts; the figures come from `pool` (also for a single record)."""

    record: str
    duration_s: float
    reference_episodes: int  # after merging
    detected: int  # ... overlapped by a VT event
    reference_long: int  # reference episodes of >= LONG_EPISODE_S
    detected_long: int
    alarms: int  # VT events
    true_alarms: int  # VT events overlapping a reference episode
    run_detected: int  # reference episodes overlapped by a VT or NSVT event
    run_events: int  # VT and NSVT events
    true_run_events: int
    reference_s: float  # reference VT time, clipped to the record
    alarm_s: float  # time covered by VT events, clipped to the record
    overlap_s: float  # time in both
    latencies_s: tuple[float, ...]  # per detected reference episode, in episode order
    latencies_long_s: tuple[float, ...] = ()  # the same, episodes of at least LONG_EPISODE_S

    @property
    def false_alerts(self) -> int:
        return self.alarms - self.true_alarms

    @property
    def hours(self) -> float:
        return self.duration_s / 3600.0

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        row["latencies_s"] = [round(v, 3) for v in self.latencies_s]
        row["latencies_long_s"] = [round(v, 3) for v in self.latencies_long_s]
        for key in ("duration_s", "reference_s", "alarm_s", "overlap_s"):
            row[key] = round(row[key], 3)
        return {**row, "false_alerts": self.false_alerts, "hours": round(self.hours, 6)}

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> RecordVtScore:
        """The inverse of to_json (its derived keys ignored); ValueError naming what is missing."""
        names = [f.name for f in fields(cls)]
        missing = [k for k in names if k not in row]
        if missing:
            raise ValueError(f"record {row.get('record', '?')} lacks {', '.join(missing)}")
        values = {k: row[k] for k in names}
        values["latencies_s"] = tuple(row["latencies_s"])
        values["latencies_long_s"] = tuple(row["latencies_long_s"])
        return cls(**values)


def event_span(e: EpisodeEvent) -> Interval:
    """An event's time as a half-open interval (an end before the onset reads as no length)."""
    return (float(e.onset_s), float(max(e.onset_s, e.end_s)))


def score_record(
    reference: Sequence[Interval], events: Iterable[EpisodeEvent], duration_s: float, name: str = ""
) -> RecordVtScore:
    """Count one record's matches. `reference`: its episodes in seconds (merged here again, so
    hand-made lists need not be); `events`: the patch's events of any type (only VT and NSVT count)."""
    ref = merge_intervals(reference)
    alarms = [e for e in events if e.type in RUN_TYPES]
    vt = [e for e in alarms if e.type == ALARM_TYPE]

    detected = long_ = detected_long = run_detected = 0
    latencies: list[float] = []
    latencies_long: list[float] = []
    for episode in ref:
        hits = [e for e in vt if overlaps(event_span(e), episode)]
        is_long = episode[1] - episode[0] >= LONG_EPISODE_S
        long_ += is_long
        if hits:
            detected += 1
            detected_long += is_long
            latencies.append(min(float(e.emitted_s) for e in hits) - episode[0])
            if is_long:
                latencies_long.append(latencies[-1])
        run_detected += any(overlaps(event_span(e), episode) for e in alarms)
    ref_in = merge_intervals(clip(ref, duration_s))
    vt_in = merge_intervals(clip([event_span(e) for e in vt], duration_s))
    return RecordVtScore(
        record=name,
        duration_s=float(duration_s),
        reference_episodes=len(ref),
        detected=detected,
        reference_long=long_,
        detected_long=detected_long,
        alarms=len(vt),
        true_alarms=sum(any(overlaps(event_span(e), r) for r in ref) for e in vt),
        run_detected=run_detected,
        run_events=len(alarms),
        true_run_events=sum(any(overlaps(event_span(e), r) for r in ref) for e in alarms),
        reference_s=sum(b - a for a, b in ref_in),
        alarm_s=sum(b - a for a, b in vt_in),
        overlap_s=overlap_s(ref_in, vt_in),
        latencies_s=tuple(latencies),
        latencies_long_s=tuple(latencies_long),
    )


def false_alerts(
    reference: Sequence[Interval], rhythms: Sequence[Labelled], events: Iterable[EpisodeEvent]
) -> list[tuple[EpisodeEvent, str]]:
    """The false alerts (VT events overlapping no reference episode), each with the label of the
    reference rhythm its time lies mostly in (see the module's rules)."""
    ref = merge_intervals(reference)
    out: list[tuple[EpisodeEvent, str]] = []
    for e in events:
        if e.type != ALARM_TYPE:
            continue
        span = event_span(e)
        if any(overlaps(span, r) for r in ref):
            continue
        shared: dict[str, float] = {}
        for onset, end, label in rhythms:
            if overlaps(span, (onset, end)):
                shared[label] = shared.get(label, 0.0) + overlap_s([span], [(onset, end)])
        out.append((e, max(shared, key=lambda k: shared[k]) if shared else NO_RHYTHM))
    return out


def false_alert_rhythms(
    reference: Sequence[Interval], rhythms: Sequence[Labelled], events: Iterable[EpisodeEvent]
) -> dict[str, int]:
    """Label -> number of false alerts whose time lies mostly in reference rhythm episodes of
    that label."""
    counts: dict[str, int] = {}
    for _, label in false_alerts(reference, rhythms, events):
        counts[label] = counts.get(label, 0) + 1
    return counts


def add_counts(parts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Label -> count summed over `parts`, most first (ties by label)."""
    total: dict[str, int] = {}
    for part in parts:
        for label, n in part.items():
            total[label] = total.get(label, 0) + int(n)
    return dict(sorted(total.items(), key=lambda kv: (-kv[1], kv[0])))


COUNT_KEYS = (
    "reference_episodes", "detected", "reference_long", "detected_long", "alarms", "true_alarms", "false_alerts",
    "run_detected", "run_events", "true_run_events",
)  # fmt: skip
METRIC_KEYS = (
    "episode_sensitivity", "episode_ppv", "duration_sensitivity", "duration_ppv", "episode_sensitivity_10s",
    "false_alerts_per_24h", "run_sensitivity", "run_ppv", "latency_median_s", "latency_p95_s",
    "latency_median_s_10s", "latency_p95_s_10s",
)  # fmt: skip


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, None when nothing was there to count."""
    return None if denominator <= 0 else float(numerator) / float(denominator)


def pool(records: Sequence[RecordVtScore]) -> dict[str, Any]:
    """Gross figures over `records` (counts summed first, as EC57's gross statistics), METRIC_KEYS
    at the top level (None where undefined) and the summed counts under "totals"."""
    counts = {k: sum(getattr(r, k) for r in records) for k in COUNT_KEYS}
    seconds = {
        k: sum(getattr(r, k) for r in records) for k in ("duration_s", "reference_s", "alarm_s", "overlap_s")
    }
    latencies = np.array([v for r in records for v in r.latencies_s], dtype=np.float64)
    long_latencies = np.array([v for r in records for v in r.latencies_long_s], dtype=np.float64)
    hours = seconds["duration_s"] / 3600.0
    per_day = ratio(counts["false_alerts"] * SECONDS_PER_DAY, seconds["duration_s"])
    metrics: dict[str, Any] = {
        "episode_sensitivity": ratio(counts["detected"], counts["reference_episodes"]),
        "episode_ppv": ratio(counts["true_alarms"], counts["alarms"]),
        "duration_sensitivity": ratio(seconds["overlap_s"], seconds["reference_s"]),
        "duration_ppv": ratio(seconds["overlap_s"], seconds["alarm_s"]),
        "episode_sensitivity_10s": ratio(counts["detected_long"], counts["reference_long"]),
        "false_alerts_per_24h": per_day,
        "run_sensitivity": ratio(counts["run_detected"], counts["reference_episodes"]),
        "run_ppv": ratio(counts["true_run_events"], counts["run_events"]),
        "latency_median_s": float(np.median(latencies)) if latencies.size else None,
        "latency_p95_s": float(np.percentile(latencies, 95)) if latencies.size else None,
        "latency_median_s_10s": float(np.median(long_latencies)) if long_latencies.size else None,
        "latency_p95_s_10s": float(np.percentile(long_latencies, 95)) if long_latencies.size else None,
    }
    totals = {
        "records": len(records),
        **counts,
        "hours": round(hours, 6),
        **{k: round(v, 3) for k, v in seconds.items() if k != "duration_s"},
        "latencies": int(latencies.size),
        "latencies_10s": int(long_latencies.size),
    }
    return {**metrics, "totals": totals}


@dataclass(frozen=True)
class ScoredRecord:
    """One record's reference and the patch's events on it: what the figures are made of."""

    name: str
    reference: Sequence[Interval]
    rhythms: Sequence[Labelled]
    events: Sequence[EpisodeEvent]
    duration_s: float


def figures(records: Sequence[ScoredRecord]) -> tuple[list[RecordVtScore], dict[str, Any]]:
    """Per-record scores and the pooled figures with false alerts by reference rhythm, as
    `ecg eval vt` reports them and `ecg eval vt-rules` reproduces them."""
    scores = [score_record(r.reference, r.events, r.duration_s, r.name) for r in records]
    pooled = pool(scores)
    pooled["false_alerts_by_rhythm"] = add_counts(
        false_alert_rhythms(r.reference, r.rhythms, r.events) for r in records
    )
    return scores, pooled
