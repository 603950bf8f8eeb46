"""Beat-detection figures per record and in total, as tables and JSON.

Records with paced beats are totalled apart: EC57 excludes them from the figures it asks for, so the
headline totals are those of the non-paced records.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from scoring.beat_match import BeatMatch, positive_predictivity, sensitivity


@dataclass(frozen=True)
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @classmethod
    def of(cls, match: BeatMatch) -> Counts:
        return cls(match.tp, match.fp, match.fn)

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def beats(self) -> int:
        """Reference beats scored."""
        return self.tp + self.fn

    @property
    def sensitivity(self) -> float:
        return sensitivity(self.tp, self.fn)

    @property
    def positive_predictivity(self) -> float:
        return positive_predictivity(self.tp, self.fp)

    def to_json(self) -> dict[str, Any]:
        """Fractions (not percent); null where undefined."""
        return {
            "beats": self.beats,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "sensitivity": finite_or_none(self.sensitivity),
            "positive_predictivity": finite_or_none(self.positive_predictivity),
        }


@dataclass(frozen=True)
class RecordScore:
    name: str
    paced: bool
    counts: Counts

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "paced": self.paced, **self.counts.to_json()}


def total(scores: Iterable[RecordScore]) -> Counts:
    return sum((s.counts for s in scores), Counts())


def summary_json(scores: Sequence[RecordScore]) -> dict[str, Any]:
    """Non-paced totals at the top level, then `paced`, `all` and every record."""
    return {
        **total(s for s in scores if not s.paced).to_json(),
        "paced": total(s for s in scores if s.paced).to_json(),
        "all": total(scores).to_json(),
        "records": [s.to_json() for s in scores],
    }


def percent(value: float) -> str:
    return "-" if math.isnan(value) else f"{100 * value:.2f}"


def format_table(scores: Sequence[RecordScore]) -> str:
    """Per-record rows, non-paced first, each group followed by its total, then the overall total."""
    header = f"{'record':<16}{'beats':>7}{'tp':>7}{'fp':>6}{'fn':>6}{'Se %':>8}{'+P %':>8}"
    lines = [header, "-" * len(header)]
    groups = [("non-paced", [s for s in scores if not s.paced]), ("paced", [s for s in scores if s.paced])]
    for label, group in groups:
        if not group:
            continue
        lines += [_row(s.name, s.counts) for s in group]
        lines.append(_row(f"{label} ({len(group)})", total(group)))
        lines.append("")
    lines.append(_row(f"all ({len(scores)})", total(scores)))
    return "\n".join(lines)


def _row(label: str, c: Counts) -> str:
    return (
        f"{label:<16}{c.beats:>7}{c.tp:>7}{c.fp:>6}{c.fn:>6}"
        f"{percent(c.sensitivity):>8}{percent(c.positive_predictivity):>8}"
    )


def finite_or_none(value: float) -> float | None:
    """JSON has no NaN: undefined figures become null."""
    return None if math.isnan(value) else value


def say(stream: TextIO | None, line: str) -> None:
    """A progress line, when there is somewhere to say it."""
    if stream is not None:
        print(line, file=stream, flush=True)
