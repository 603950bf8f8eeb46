"""Rhythm episodes from WFDB annotations: aux-note rhythm changes and "[" ... "]" flutter marks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ecg_data.record import Episode

FLUTTER_LABEL = "VFL"


def rhythm_label(symbol: str, aux: str) -> str | None:
    """The rhythm an annotation starts ("(VT" -> "VT"), or None when it is not a rhythm change."""
    # Rhythm changes are "+" annotations whose aux note starts with "("; other aux notes ("TS" on a
    # comment) are free text.
    note = aux.rstrip("\x00").strip()
    if symbol != "+" or not note.startswith("(") or len(note) < 2:
        return None
    return note[1:]


def rhythm_episodes(
    sample: np.ndarray, symbol: Sequence[str], aux: Sequence[str], end: int
) -> tuple[Episode, ...]:
    """Episodes from the rhythm annotations; each lasts until the next change or `end`."""
    changes = [
        (int(s), label)
        for s, sym, note in zip(sample, symbol, aux, strict=True)
        if (label := rhythm_label(sym, note)) is not None
    ]
    episodes: list[Episode] = []
    for i, (start, label) in enumerate(changes):
        stop = changes[i + 1][0] if i + 1 < len(changes) else end
        if stop <= start:
            continue
        # A repeated "(N" does not start a new episode.
        if episodes and episodes[-1].label == label and episodes[-1].end == start:
            episodes[-1] = episodes[-1]._replace(end=stop)
        else:
            episodes.append(Episode(start, stop, label))
    return tuple(episodes)


def flutter_episodes(sample: np.ndarray, symbol: Sequence[str], end: int) -> tuple[Episode, ...]:
    """Intervals between "[" (start of ventricular flutter/fibrillation) and "]" (its end)."""
    episodes: list[Episode] = []
    opened: int | None = None
    for s, sym in zip(sample, symbol, strict=True):
        if sym == "[" and opened is None:
            opened = int(s)
        elif sym == "]":
            # A "]" with no "[" means the record began during flutter.
            start = 0 if opened is None else opened
            if int(s) > start:
                episodes.append(Episode(start, int(s), FLUTTER_LABEL))
            opened = None
    if opened is not None and end > opened:
        episodes.append(Episode(opened, end, FLUTTER_LABEL))
    return tuple(episodes)


def clip_episodes(episodes: Sequence[Episode], start: int, stop: int) -> tuple[Episode, ...]:
    """The parts of `episodes` inside [start, stop), shifted so that `start` becomes 0."""
    return tuple(
        Episode(max(e.start, start) - start, min(e.end, stop) - start, e.label)
        for e in episodes
        if e.end > start and e.start < stop
    )


def rhythm_durations(episodes: Sequence[Episode]) -> dict[str, tuple[int, int]]:
    """Per label: (number of episodes, total samples)."""
    totals: dict[str, tuple[int, int]] = {}
    for e in episodes:
        count, samples = totals.get(e.label, (0, 0))
        totals[e.label] = (count + 1, samples + e.end - e.start)
    return totals
