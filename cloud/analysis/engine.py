"""One pass over a stream of one lead: blocks -> beats (and labels, rhythm) -> a JSON-ready report.

Only the current block, a few seconds of model input and the beat times are held, so memory does
not grow with the record beyond its beats (about 100,000 a day).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cloud.analysis.artefacts import STEP_MV, StepLog
from cloud.analysis.blocks import Block, Reblocker
from cloud.analysis.detector import DetectorConfig, QrsDetector
from cloud.analysis.filters import MIN_FS
from cloud.analysis.hrv import RR_FILTERS, RrFilter, frequency_domain, nn_intervals, time_domain
from cloud.analysis.models import BeatLabeller, ModelSignal, RhythmLabeller
from cloud.analysis.protocols import NOT_A_BEAT, RHYTHM_WINDOW_S, BeatClassifier, RhythmClassifier
from cloud.analysis.rejections import settle_rejections
from cloud.analysis.rhythm import af_burden, rhythm_summary, vt_episodes
from cloud.analysis.summary import heart_rate, pauses, rr_stats

SCHEMA_VERSION = 2  # 2: pauses around a baseline step counted apart (artefact), baseline steps listed
NO_MODEL = "model not available"


@dataclass(frozen=True)
class AnalysisConfig:
    block_s: float = 60.0
    context_s: float = 5.0  # each side of a block, for the filters and the detector's peaks
    pause_threshold_s: float = 2.0
    trend_interval_s: float = 60.0
    # NN without artefacts and ectopic beats' intervals; "none" keeps every RR, as NeuroKit2 does.
    rr_filter: RrFilter = "median20"
    # NN only between beats the beat classifier calls normal, as HRV standards define it; False
    # counts every detected beat (NeuroKit2's hrv_time, which has no beat labels).
    nn_normal_beats_only: bool = True
    detector: DetectorConfig = field(default_factory=DetectorConfig)

    def check(self) -> None:
        if not self.block_s >= 10.0:
            raise ValueError(f"block_s must be at least 10 s, got {self.block_s}")
        if not 1.0 <= self.context_s <= self.block_s:
            raise ValueError(f"context_s must be from 1 s to block_s, got {self.context_s}")
        if not (self.pause_threshold_s > 0 and math.isfinite(self.pause_threshold_s)):
            raise ValueError(f"pause_threshold_s must be > 0, got {self.pause_threshold_s}")
        if not (self.trend_interval_s > 0 and math.isfinite(self.trend_interval_s)):
            raise ValueError(f"trend_interval_s must be > 0, got {self.trend_interval_s}")
        if self.rr_filter not in RR_FILTERS:
            raise ValueError(f"rr_filter must be one of {', '.join(RR_FILTERS)}, got {self.rr_filter!r}")


class StreamAnalysis:
    """Feed chunks with `push`, then `result()`."""

    def __init__(
        self,
        fs: float,
        config: AnalysisConfig,
        beat_classifier: BeatClassifier | None = None,
        rhythm_classifier: RhythmClassifier | None = None,
    ) -> None:
        self.fs = check_fs(fs)
        config.check()
        self.config = config
        self.blocks = Reblocker(round(config.block_s * self.fs), round(config.context_s * self.fs))
        self.detector = QrsDetector(self.fs, config.detector)
        self.steps = StepLog(self.fs)
        wants_models = beat_classifier is not None or rhythm_classifier is not None
        self.signal = ModelSignal(self.fs) if wants_models else None
        self.beat_labeller = BeatLabeller(beat_classifier, self.fs) if beat_classifier is not None else None
        self.rhythm = RhythmLabeller(rhythm_classifier) if rhythm_classifier is not None else None
        self._beats: list[np.ndarray] = []
        self._labels: list[str] = []
        self._finished = False
        self._started = time.perf_counter()

    def push(self, chunk: Any) -> None:
        x = check_chunk(chunk, self.blocks.total)
        for block in self.blocks.push(x):
            self._block(block)

    def finish(self) -> None:
        if self._finished:
            return
        if self.blocks.total == 0:
            raise ValueError("no samples: the stream was empty")
        for block in self.blocks.finish():
            self._block(block)
        if not self._finished:
            # The stream ended on a block boundary: nothing left to filter, only to settle.
            if self.signal is not None:
                self.signal.final = True
            self._beats_found(self.detector.finish(self.blocks.total), final=True)

    def _block(self, block: Block) -> None:
        self.steps.add(block)
        if self.signal is not None:
            self.signal.add(block)
        found = self.detector.block(block)
        if block.last:
            found = np.concatenate([found, self.detector.finish(block.end)])
        self._beats_found(found, final=block.last)

    def _beats_found(self, found: np.ndarray, *, final: bool) -> None:
        if self.signal is not None and self.rhythm is not None:
            self.rhythm.ready(self.signal)
        if self.beat_labeller is None:
            self._beats.append(found)
        else:
            assert self.signal is not None
            self.beat_labeller.add(found)
            beats, labels = self.beat_labeller.ready(self.signal)
            self._beats.append(beats)
            self._labels.extend(labels)
        self._finished = final

    def result(self) -> dict[str, Any]:
        self.finish()
        config = self.config
        samples = np.concatenate(self._beats) if self._beats else np.zeros(0, dtype=np.int64)
        labels = np.asarray(self._labels, dtype=str) if self.beat_labeller is not None else None
        rejected = overruled = 0
        if labels is not None:
            rejected = int((labels == NOT_A_BEAT).sum())
            samples, labels, overruled = settle_rejections(samples, labels)
            rejected -= overruled
        beat_s = samples / self.fs
        steps_s = self.steps.seconds()
        duration_s = self.blocks.total / self.fs
        nn = nn_intervals(beat_s, labels if config.nn_normal_beats_only else None, config.rr_filter)
        beats: dict[str, Any] = {"count": len(samples), "sample": samples.tolist()}
        if labels is None:
            beats["label_reason"] = NO_MODEL
        else:
            beats["label"] = labels.tolist()
            beats["not_beats_dropped"] = rejected
            # Rejected by the classifier but kept as Q: dropping them would have left a gap.
            beats["not_beats_kept_for_rhythm"] = overruled
        report: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "fs": self.fs,
            "samples": self.blocks.total,
            "duration_s": duration_s,
            "beats": beats,
            "heart_rate": heart_rate(beat_s, duration_s, config.trend_interval_s),
            "rr": rr_stats(beat_s),
            "hrv": {
                "nn_definition": nn.definition,
                "time_domain": time_domain(nn),
                "frequency_domain": frequency_domain(nn),
            },
            "pauses": pauses(beat_s, config.pause_threshold_s, steps_s),
            "artefacts": {"baseline_step_mv": STEP_MV, "baseline_steps_s": [round(float(t), 3) for t in steps_s]},
            **self._rhythm_results(),
            "processing": {
                "block_s": config.block_s,
                "context_s": config.context_s,
                "detector": "adaptive thresholds on an 8-20 Hz slope envelope (after Hamilton-Tompkins), "
                "search-back at 1.5 mean RR",
                "elapsed_s": round(time.perf_counter() - self._started, 3),
            },
        }
        return json_safe(report)

    def _rhythm_results(self) -> dict[str, Any]:
        if self.rhythm is None:
            return {name: {"reason": NO_MODEL} for name in ("rhythm", "af_burden", "vt_episodes")}
        probs, classes = self.rhythm.result(), self.rhythm.classes
        return {
            "rhythm": rhythm_summary(probs, classes, RHYTHM_WINDOW_S),
            "af_burden": af_burden(probs, classes, RHYTHM_WINDOW_S),
            "vt_episodes": vt_episodes(probs, classes, RHYTHM_WINDOW_S),
        }


def analyse_stream(
    chunks: Iterable[np.ndarray],
    fs: float,
    *,
    beat_classifier: BeatClassifier | None = None,
    rhythm_classifier: RhythmClassifier | None = None,
    config: AnalysisConfig | None = None,
) -> dict[str, Any]:
    analysis = StreamAnalysis(fs, config or AnalysisConfig(), beat_classifier, rhythm_classifier)
    for chunk in chunks:
        analysis.push(chunk)
    return analysis.result()


def check_fs(fs: Any) -> float:
    try:
        value = float(fs)
    except (TypeError, ValueError):
        raise ValueError(f"fs must be a number of Hz, got {fs!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"fs must be a positive number of Hz, got {fs!r}")
    if value < MIN_FS:
        raise ValueError(f"fs {value:g} Hz is too low for QRS detection (at least {MIN_FS:g} Hz)")
    return value


def check_chunk(chunk: Any, first: int) -> np.ndarray:
    """A chunk as float64 samples; ValueError for anything but a finite 1-D numeric array."""
    x = np.asarray(chunk)
    if x.ndim != 1:
        raise ValueError(f"chunks must be 1-D arrays of one lead, got shape {x.shape} at sample {first}")
    if x.dtype.kind not in "iuf":
        raise ValueError(f"chunks must hold real numbers (mV), got dtype {x.dtype} at sample {first}")
    x = x.astype(np.float64, copy=False)
    bad = ~np.isfinite(x)
    if bad.any():
        raise ValueError(f"non-finite sample (NaN or inf) at sample {first + int(np.argmax(bad))}")
    return x


def json_safe(value: Any) -> Any:
    """Plain Python types throughout, floats to 6 significant digits; a non-finite float (none is
    expected) becomes None."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return float(f"{value:.6g}") if math.isfinite(value) else None
    return value
