"""Labelled beats for the beat classifier: the patch's own detections on MIT-BIH DS1.

The classifier on the patch only ever sees beats its QRS detector found, so the training beats are
those detections, not the reference annotations: each is matched to the reference (EC57, 150 ms)
and takes the AAMI class of its reference beat. Detections that match no beat are kept as false
detections, for a noise class. RR features come from the detections too, as the patch has them.

Run as a module to build DS1 into the cache and print the class counts.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from ecg_data.errors import RecordError
from ecg_data.paths import data_root
from ecg_data.reader import read_record
from ecg_data.record import Record
from hardware_sim.patch_qrs import detect_beats
from model_compression.datasets.aami import AAMI_CLASSES, aami_class
from model_compression.datasets.cache import Arrays, cached
from model_compression.datasets.preprocess import model_input
from model_compression.datasets.records import lead_order, take_windows
from model_compression.datasets.splits import DS1, patient_id
from scoring.beat_match import match_annotations

FALSE_DETECTION = "FD"  # label of a detection that matches no reference beat
LABELS: tuple[str, ...] = (*AAMI_CLASSES, FALSE_DETECTION)
_FORMAT = 1


@dataclass(frozen=True)
class BeatWindowConfig:
    before_s: float = 0.25
    after_s: float = 0.45
    fs: int = 250  # the model's rate
    fs_patch: int = 250  # the rate the QRS detector runs at
    rr_beats: int = 8  # local mean RR over the last this many intervals (the patch's heart rate)
    database: str = "mitdb"
    records: tuple[str, ...] = DS1


@dataclass(frozen=True)
class BeatWindows:
    x: np.ndarray  # (n, samples, 1) float32, mV, band-passed at config.fs, detection at `before` samples
    rr: np.ndarray  # (n, 3) float32 s: previous RR, next RR, local mean RR (all from detections)
    label: np.ndarray  # "N", "S", "V", "F", "Q" or FALSE_DETECTION
    symbol: np.ndarray  # the matched reference beat's MIT-BIH symbol, "" when none
    false_detection: np.ndarray  # bool: matches no reference beat
    in_flutter: np.ndarray  # bool: unmatched inside reference flutter, where EC57 does not count it
    record: np.ndarray  # "mitdb/208": the group for record-wise splits
    patient: np.ndarray
    time_s: np.ndarray  # detection time from the start of the whole record, s

    def to_arrays(self) -> Arrays:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_arrays(cls, arrays: Arrays) -> BeatWindows:
        return cls(**{f.name: arrays[f.name] for f in fields(cls)})


def load_beat_windows(
    config: BeatWindowConfig | None = None,
    *,
    cache_dir: str | Path | None = None,
    root: str | Path | None = None,
) -> BeatWindows:
    """Beats of every record in `config.records`, cached."""
    config = config or BeatWindowConfig()
    base = Path(root) if root is not None else data_root()
    params = {"format": _FORMAT, "root": str(base.resolve()), **asdict(config)}
    arrays = cached("beat_windows", params, lambda: build(config, base).to_arrays(), cache_dir)
    return BeatWindows.from_arrays(arrays)


def build(config: BeatWindowConfig, root: Path) -> BeatWindows:
    parts = []
    for i, name in enumerate(config.records, 1):
        try:
            record = read_record(root / config.database / name)
        except RecordError as exc:
            _log(f"{config.database}/{name}: skipped, {exc.problem}")
            continue
        part = record_beats(record, config)
        _log(f"{config.database}/{name} ({i}/{len(config.records)}): {class_counts_line(part.label)}")
        parts.append(part)
    return BeatWindows(
        **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(BeatWindows)}
    )


def record_beats(record: Record, config: BeatWindowConfig) -> BeatWindows:
    """Beat windows of one record (or a stretch read with sampfrom/sampto) on its MLII lead."""
    if record.annotations is None:
        raise ValueError(f"{record.name}: no reference annotations to label beats with")
    lead = lead_order(record)[0]
    times = detect_beats(record, lead, config.fs_patch)
    match = match_annotations(record.annotations, times, record.fs)

    symbol = np.full(len(times), "", dtype="<U1")
    symbol[match.test_matched] = [record.annotations.symbol[i] for i in match.ref_matched]
    label = np.full(len(times), FALSE_DETECTION, dtype="<U2")
    label[match.test_matched] = [aami_class(s) for s in symbol[match.test_matched]]
    in_flutter = np.zeros(len(times), dtype=bool)
    in_flutter[match.test_ignored] = True

    rr = rr_features(times, config.rr_beats)
    signal = model_input(record.signal[:, [lead]], record.fs, config.fs)
    before = round(config.before_s * config.fs)
    length = before + round(config.after_s * config.fs)
    # Detection times, like the annotations, count from the first sample read.
    first = np.rint(times * config.fs).astype(np.int64) - before
    # Beats need both neighbours for their RR features and a whole window inside the recording.
    keep = np.isfinite(rr).all(axis=1) & (first >= 0) & (first + length <= signal.shape[0])
    n = int(keep.sum())
    return BeatWindows(
        x=take_windows(signal, first[keep], length),
        rr=rr[keep].astype(np.float32),
        label=label[keep],
        symbol=symbol[keep],
        false_detection=label[keep] == FALSE_DETECTION,
        in_flutter=in_flutter[keep],
        record=np.full(n, f"{record.database}/{record.name}"),
        patient=np.full(n, patient_id(record.database, record.name)),
        time_s=times[keep] + record.start / record.fs,
    )


def rr_features(times: np.ndarray, rr_beats: int) -> np.ndarray:
    """(n, 3): previous RR, next RR and the mean of the last `rr_beats` RR intervals up to each beat
    (fewer at the start, as the patch's heart rate); NaN where a neighbour is missing."""
    rr = np.diff(np.asarray(times, dtype=np.float64))
    previous = np.concatenate([[np.nan], rr])
    following = np.concatenate([rr, [np.nan]])
    total = np.concatenate([[0.0], np.cumsum(rr)])
    end = np.arange(len(times))  # intervals 0..end-1 end at or before beat `end`
    start = np.maximum(end - rr_beats, 0)
    count = end - start
    with np.errstate(invalid="ignore", divide="ignore"):
        local = np.where(count > 0, (total[end] - total[start]) / count, np.nan)
    return np.stack([previous, following, local], axis=1)


def class_counts(labels: np.ndarray) -> dict[str, int]:
    return {c: int((labels == c).sum()) for c in LABELS}


def class_counts_line(labels: np.ndarray) -> str:
    return " ".join(f"{c} {n}" for c, n in class_counts(labels).items())


def summary(beats: BeatWindows) -> str:
    lines = ["record  " + "".join(f"{c:>7}" for c in LABELS)]
    for rec in dict.fromkeys(beats.record.tolist()):
        counts = class_counts(beats.label[beats.record == rec])
        lines.append(f"{rec.split('/', 1)[1]:<8}" + "".join(f"{n:>7}" for n in counts.values()))
    lines.append(f"{'total':<8}" + "".join(f"{n:>7}" for n in class_counts(beats.label).values()))
    return "\n".join(lines)


def _log(message: str) -> None:
    print(f"beat_windows: {message}", file=sys.stderr, flush=True)


def main() -> None:
    print(summary(load_beat_windows()))


if __name__ == "__main__":
    main()
