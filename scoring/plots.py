"""Pictures of a QRS evaluation: Se and +P per record, and ECG strips around the detector's errors.

Strips are cut while the run goes (one per record with errors, around its densest cluster of
errors), so drawing the worst records needs neither the records kept in memory nor read again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ecg_data.record import BEAT_SYMBOLS, Record
from scoring.beat_match import MATCH_WINDOW_S, BeatMatch
from scoring.records import is_paced
from scoring.report import RecordScore, total

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

STRIP_S = 8.0
MAX_STRIPS = 4
# Colour-blind-safe pair for the two kinds of error; matched detections in a third hue.
FN_COLOUR = "#d62728"
FP_COLOUR = "#1f77b4"
HIT_COLOUR = "#2ca02c"
SE_COLOUR = "#4c4c4c"
PP_COLOUR = "#ff7f0e"
PACED_SHADE = "0.9"


@dataclass(frozen=True)
class Strip:
    """A stretch of one record's scored lead with what the reference and the detector put there."""

    record: str
    lead: str
    fs: float
    start_s: float  # record time of signal[0]
    signal: np.ndarray  # mV, as the detectors got it (noise included)
    beat_s: np.ndarray  # reference beats in the strip, record time
    beat_symbols: tuple[str, ...]
    missed: np.ndarray  # per reference beat: a false negative
    detection_s: np.ndarray  # our detections in the strip, record time
    extra: np.ndarray  # per detection: a false positive
    fn: int  # in the whole record
    fp: int
    paced: bool = False

    @property
    def errors(self) -> int:
        return self.fn + self.fp

    @property
    def times(self) -> np.ndarray:
        return self.start_s + np.arange(self.signal.size) / self.fs


class ErrorStrips:
    """An observer for `scoring.qrs_eval.evaluate`: keeps a strip per record with errors."""

    def __init__(self, seconds: float = STRIP_S) -> None:
        self.seconds = seconds
        self.strips: list[Strip] = []

    def __call__(self, record: Record, lead_index: int, detections_s: np.ndarray, match: BeatMatch) -> None:
        ann = record.annotations
        if ann is None or match.fn + match.fp == 0:
            return
        fs = record.fs
        detections_s = np.asarray(detections_s, dtype=np.float64).reshape(-1)
        errors_s = np.concatenate([ann.sample[match.ref_missed] / fs, detections_s[match.test_extra]])
        n = record.signal.shape[0]
        width = min(n, round(self.seconds * fs))
        # Half a second either side of the cluster, so its edge errors are not at the strip's edge.
        centre = densest(errors_s, max(0.0, self.seconds - 1.0))
        first = int(np.clip(round(centre * fs) - width // 2, 0, n - width))
        stop = first + width
        beats = np.flatnonzero(
            np.fromiter((s in BEAT_SYMBOLS for s in ann.symbol), bool, len(ann.symbol))
            & (ann.sample >= first)
            & (ann.sample < stop)
        )
        shown = np.flatnonzero((detections_s >= first / fs) & (detections_s < stop / fs))
        self.strips.append(
            Strip(
                record=record.name,
                lead=record.leads[lead_index],
                fs=fs,
                start_s=first / fs,
                signal=np.array(record.signal[first:stop, lead_index]),
                beat_s=ann.sample[beats] / fs,
                beat_symbols=tuple(ann.symbol[i] for i in beats),
                missed=np.isin(beats, match.ref_missed),
                detection_s=detections_s[shown],
                extra=np.isin(shown, match.test_extra),
                fn=match.fn,
                fp=match.fp,
                paced=is_paced(record),
            )
        )

    def worst(self, count: int = MAX_STRIPS) -> list[Strip]:
        """The strips of the `count` records with the most errors (fp + fn)."""
        return sorted(self.strips, key=lambda s: (-s.errors, s.record))[:count]


def densest(times: np.ndarray, width: float) -> float:
    """The middle of the `width`-long stretch holding most of `times`."""
    t = np.sort(np.asarray(times, dtype=np.float64))
    inside = np.searchsorted(t, t + width, side="right") - np.arange(t.size)
    i = int(np.argmax(inside))
    return float(t[i] + t[i + inside[i] - 1]) / 2


def clock(seconds: float, digits: int = 1) -> str:
    """m:ss.s (h:mm:ss.s past the hour), as record times are read off a recorder."""
    minutes, s = divmod(round(seconds, digits), 60.0)
    hours, m = divmod(int(minutes), 60)
    sec = f"{s:0{3 + digits if digits else 2}.{digits}f}"
    return f"{hours}:{m:02d}:{sec}" if hours else f"{m}:{sec}"


def _new_figure(width: float, height: float) -> Figure:
    # Agg directly: no pyplot state, no GUI backend, nothing left open between calls.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def plot_scores(scores: Sequence[RecordScore], path: str | Path, title: str = "") -> None:
    """Se and +P per record (dots, non-paced totals as dashed lines) over FN and FP counts (bars);
    paced records, left out of the totals, are shaded and starred."""
    from matplotlib.patches import Patch

    fig = _new_figure(max(8.0, 0.26 * len(scores) + 2.0), 6.5)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    x = np.arange(len(scores))
    se = np.array([100 * s.counts.sensitivity for s in scores])
    pp = np.array([100 * s.counts.positive_predictivity for s in scores])
    for i, score in enumerate(scores):
        if score.paced:
            for ax in (top, bottom):
                ax.axvspan(i - 0.5, i + 0.5, color=PACED_SHADE, lw=0)
    top.plot(x, se, "o", color=SE_COLOUR, label="Se", ms=5)
    top.plot(x, pp, "^", color=PP_COLOUR, label="+P", ms=5)
    non_paced = total(s for s in scores if not s.paced)
    if non_paced.beats:
        top.axhline(
            100 * non_paced.sensitivity, color=SE_COLOUR, ls="--", lw=0.8, label="Se, non-paced total"
        )
        top.axhline(
            100 * non_paced.positive_predictivity,
            color=PP_COLOUR,
            ls="--",
            lw=0.8,
            label="+P, non-paced total",
        )
    shown = np.concatenate([se, pp])
    lowest = float(np.nanmin(shown)) if np.isfinite(shown).any() else 0.0
    top.set_ylim(max(0.0, lowest - 0.1 * (100.0 - lowest) - 0.5), 100.0 + 0.05 * (100.0 - lowest) + 0.2)
    top.set_ylabel("%")
    top.grid(axis="y", lw=0.4, alpha=0.6)
    handles, _ = top.get_legend_handles_labels()
    if any(s.paced for s in scores):
        handles.append(Patch(color=PACED_SHADE, label="paced (not in totals)"))
    # Above the axes, where it cannot hide a record's dots.
    top.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        fontsize="small",
        ncol=len(handles),
        frameon=False,
    )
    bottom.bar(x - 0.2, [s.counts.fn for s in scores], 0.4, color=FN_COLOUR, label="FN (missed beats)")
    bottom.bar(x + 0.2, [s.counts.fp for s in scores], 0.4, color=FP_COLOUR, label="FP (extra detections)")
    bottom.set_ylabel("errors")
    bottom.grid(axis="y", lw=0.4, alpha=0.6)
    bottom.legend(loc="upper left", fontsize="small")
    bottom.set_xticks(x, [s.name + ("*" if s.paced else "") for s in scores], rotation=90, fontsize="small")
    bottom.set_xlim(-0.6, len(scores) - 0.4)
    if title:
        fig.suptitle(title, fontsize="medium")
    fig.savefig(path, dpi=110)


def plot_strips(strips: Sequence[Strip], path: str | Path, title: str = "") -> None:
    """One ECG strip per row: the signal, reference beat symbols along the top, our detections on
    the trace; missed beats (FN) and extra detections (FP) shaded over their match window."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    if not strips:
        fig = _new_figure(8.0, 1.5)
        fig.text(0.5, 0.5, "no detection errors", ha="center", va="center")
        fig.savefig(path, dpi=110)
        return
    fig = _new_figure(14.0, 2.7 * len(strips) + 0.7)
    for ax, strip in zip(fig.subplots(len(strips), 1, squeeze=False)[:, 0], strips, strict=True):
        _draw_strip(ax, strip)
    handles = [
        Line2D([], [], color="black", lw=0.8, label="ECG"),
        Line2D([], [], ls="", marker="o", mfc="none", color=HIT_COLOUR, label="our detection"),
        Line2D([], [], ls="", marker="X", color=FP_COLOUR, label="false positive"),
        Patch(color=FP_COLOUR, alpha=0.2, label="FP window"),
        Patch(color=FN_COLOUR, alpha=0.2, label="missed beat (FN), symbol in red"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize="small")
    if title:
        fig.suptitle(title, fontsize="medium")
    fig.savefig(path, dpi=100)


def ecg_paper_grid(ax: Axes) -> None:
    """ECG-paper rhythm on a strip's time axis: a line every 0.2 s, labelled every second."""
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    ax.xaxis.set_major_locator(MultipleLocator(1.0))
    ax.xaxis.set_minor_locator(MultipleLocator(0.2))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: clock(v, 0)))
    ax.grid(which="both", axis="x", color="#f2b8b5", lw=0.5)
    ax.grid(which="major", axis="y", color="#f2b8b5", lw=0.5)


def _draw_strip(ax: Axes, strip: Strip) -> None:
    from matplotlib.transforms import blended_transform_factory

    t = strip.times
    ax.plot(t, strip.signal, color="black", lw=0.8, zorder=3)
    for beat in strip.beat_s[strip.missed]:
        ax.axvspan(beat - MATCH_WINDOW_S, beat + MATCH_WINDOW_S, color=FN_COLOUR, alpha=0.2, lw=0)
    for det in strip.detection_s[strip.extra]:
        ax.axvspan(det - MATCH_WINDOW_S, det + MATCH_WINDOW_S, color=FP_COLOUR, alpha=0.2, lw=0)
    top = blended_transform_factory(ax.transData, ax.transAxes)
    for beat, symbol, missed in zip(strip.beat_s, strip.beat_symbols, strip.missed, strict=True):
        ax.text(
            beat,
            0.97,
            symbol,
            transform=top,
            ha="center",
            va="top",
            color=FN_COLOUR if missed else "0.3",
            fontweight="bold" if missed else "normal",
            fontsize="medium" if missed else "small",
        )
    on_trace = np.interp(strip.detection_s, t, strip.signal)
    hit = ~strip.extra
    ax.plot(strip.detection_s[hit], on_trace[hit], "o", mfc="none", mew=1.5, ms=8, color=HIT_COLOUR, zorder=4)
    ax.plot(strip.detection_s[strip.extra], on_trace[strip.extra], "X", ms=9, color=FP_COLOUR, zorder=4)
    low, high = float(np.nanmin(strip.signal)), float(np.nanmax(strip.signal))
    span = max(high - low, 0.5)
    ax.set_ylim(low - 0.08 * span, high + 0.3 * span)  # headroom for the beat symbols
    ax.set_xlim(t[0], t[-1])
    ecg_paper_grid(ax)
    ax.set_ylabel(f"{strip.lead} (mV)")
    in_strip_fn, in_strip_fp = int(strip.missed.sum()), int(strip.extra.sum())
    ax.set_title(
        f"record {strip.record}{' (paced)' if strip.paced else ''} at {clock(strip.start_s)}: {in_strip_fn} FN, {in_strip_fp} FP here "
        f"(record: {strip.fn} FN, {strip.fp} FP)",
        fontsize="medium",
        loc="left",
    )
