"""Labelled 10-s windows for the VT model: VT from vfdb and mitdb, non-VT from those and CinC 2017.

A window is VT (1) when at least `min_vt_overlap` of it lies in a ventricular tachycardia,
flutter or fibrillation episode (the shockable rhythms the patent's SCNN is to flag), non-VT (0)
when none of it does, and dropped in between or where the rhythm is not annotated. Windows in an
annotated "(NOISE" stretch, and CinC 2017 records labelled too noisy ("~"), are kept but flagged.

Run as a module to build the full set into the cache and print its counts.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from ecg_data.errors import RecordError
from ecg_data.paths import data_root
from ecg_data.reader import list_records, read_record
from ecg_data.record import Annotations, Episode, Record
from model_compression.datasets.cache import Arrays, cached
from model_compression.datasets.preprocess import model_input
from model_compression.datasets.records import lead_order, take_windows
from model_compression.datasets.splits import patient_id

VT_RHYTHMS = frozenset({"VT", "VFL", "VF", "VFIB"})
NOISE_RHYTHM = "NOISE"
CINC = "cinc2017"
CINC_NOISY = "~"
_FORMAT = 2  # bump when the windows change for the same parameters


@dataclass(frozen=True)
class VtWindowConfig:
    window_s: float = 10.0
    hop_s: float = 5.0  # VT is scarce (about an hour in all): overlapping windows
    fs: int = 250  # the patch's rate; the firmware has band-pass taps for 125-500 Hz
    min_vt_overlap: float = 0.5
    leads: int = 1  # MLII first where a record has it; CinC 2017 (one lead) is left out above 1
    databases: tuple[str, ...] = ("vfdb", "mitdb", CINC)
    cinc_hop_s: float = 10.0  # CinC 2017 is plentiful non-VT: no overlap
    max_records: int | None = None  # per database, for quick runs


@dataclass(frozen=True)
class VtWindows:
    """Windows plus one row of metadata each, and a table of the records they came from."""

    x: np.ndarray  # (n, samples, leads) float32, mV, band-passed at config.fs
    label: np.ndarray  # int8: 1 VT, 0 non-VT
    record: np.ndarray  # "vfdb/418": the group for record-wise splits
    patient: np.ndarray  # as record, except where two records share a patient (mitdb 201/202)
    database: np.ndarray
    start_s: np.ndarray  # window start in the record, s
    vt_fraction: np.ndarray  # float32 share of the window in a VT episode
    noise: np.ndarray  # bool: in an annotated noise stretch, or a CinC "~" record
    rhythm: np.ndarray  # rhythm covering most of the window ("N", "VT", "AFIB", ...; CinC: N/A/O/~)
    rec_record: np.ndarray  # per record read:
    rec_minutes: np.ndarray  # its length, min
    rec_vt_minutes: np.ndarray  # annotated VT/VFL/VF/VFIB, min

    def to_arrays(self) -> Arrays:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_arrays(cls, arrays: Arrays) -> VtWindows:
        return cls(**{f.name: arrays[f.name] for f in fields(cls)})

    @classmethod
    def concat(cls, parts: list[VtWindows], samples: int, leads: int) -> VtWindows:
        if not parts:
            parts = [_empty(samples, leads)]
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)})


def load_vt_windows(
    config: VtWindowConfig | None = None,
    *,
    cache_dir: str | Path | None = None,
    root: str | Path | None = None,
) -> VtWindows:
    """All windows for `config` from the databases under `root` (default: the data root), cached."""
    config = config or VtWindowConfig()
    base = Path(root) if root is not None else data_root()
    params = {"format": _FORMAT, "root": str(base.resolve()), **asdict(config)}
    arrays = cached("vt_windows", params, lambda: build(config, base).to_arrays(), cache_dir)
    return VtWindows.from_arrays(arrays)


def build(config: VtWindowConfig, root: Path) -> VtWindows:
    samples = round(config.window_s * config.fs)
    parts = list(_database_windows(config, root))
    return VtWindows.concat(parts, samples, config.leads)


def _database_windows(config: VtWindowConfig, root: Path) -> Iterator[VtWindows]:
    for database in config.databases:
        if database == CINC and config.leads > 1:
            _log(f"{CINC}: skipped, its records have one lead and {config.leads} were asked for")
            continue
        names = list_records(root / database)[: config.max_records]
        for i, name in enumerate(names, 1):
            try:
                record = read_record(root / database / name)
            except RecordError as exc:
                # A damaged file costs its own windows, not the data set.
                _log(f"{database}/{name}: skipped, {exc.problem}")
                continue
            part = record_windows(record, config)
            if database != CINC or i % 500 == 0 or i == len(names):
                vt = int(part.label.sum())
                _log(f"{database}/{name} ({i}/{len(names)}): {len(part.label)} windows, {vt} VT")
            yield part


def record_windows(record: Record, config: VtWindowConfig) -> VtWindows:
    """The labelled windows of one record (or a stretch read with sampfrom/sampto)."""
    samples = round(config.window_s * config.fs)
    leads = lead_order(record)[: config.leads]
    if len(leads) < config.leads:
        _log(f"{record.database}/{record.name}: skipped, {len(leads)} lead(s)")
        return _empty(samples, config.leads)
    is_cinc = record.annotations is None
    if is_cinc and record.label is None:
        _log(f"{record.database}/{record.name}: skipped, neither rhythm annotations nor a label")
        return _empty(samples, config.leads)
    signal = model_input(record.signal[:, leads], record.fs, config.fs)
    hop = config.cinc_hop_s if is_cinc else config.hop_s
    count = (signal.shape[0] - samples) // round(hop * config.fs) + 1 if signal.shape[0] >= samples else 0
    starts_s = np.arange(max(count, 0)) * hop
    n_rec = record.signal.shape[0]
    if is_cinc:
        label = np.zeros(len(starts_s), dtype=np.int8)
        fraction = np.zeros(len(starts_s), dtype=np.float32)
        noise = np.full(len(starts_s), record.label == CINC_NOISY)
        rhythm = np.full(len(starts_s), record.label or "")
        vt_samples = 0
    else:
        assert record.annotations is not None
        label, fraction, noise, rhythm = label_windows(
            record.annotations, record.fs, n_rec, starts_s, config.window_s, config.min_vt_overlap
        )
        vt_samples = int(_vt_mask(record.annotations, n_rec).sum())
    keep = label >= 0
    first = np.rint(starts_s[keep] * config.fs).astype(np.int64)
    n = int(keep.sum())
    rec_id = f"{record.database}/{record.name}"
    return VtWindows(
        x=take_windows(signal, first, samples),
        label=label[keep].astype(np.int8),
        record=np.full(n, rec_id),
        patient=np.full(n, patient_id(record.database, record.name)),
        database=np.full(n, record.database),
        start_s=starts_s[keep] + record.start / record.fs,
        vt_fraction=fraction[keep].astype(np.float32),
        noise=noise[keep],
        rhythm=rhythm[keep],
        rec_record=np.array([rec_id]),
        rec_minutes=np.array([n_rec / record.fs / 60.0]),
        rec_vt_minutes=np.array([vt_samples / record.fs / 60.0]),
    )


def label_windows(
    annotations: Annotations,
    fs: float,
    n_samples: int,
    starts_s: np.ndarray,
    window_s: float,
    min_vt_overlap: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per window: label (1 VT, 0 non-VT, -1 ambiguous or not annotated), VT fraction, noise flag
    and the rhythm covering most of it."""
    lo = np.clip(np.rint(starts_s * fs).astype(np.int64), 0, n_samples)
    hi = np.clip(np.rint((starts_s + window_s) * fs).astype(np.int64), 0, n_samples)
    length = np.maximum(hi - lo, 1)

    def share(mask: np.ndarray) -> np.ndarray:
        total = np.concatenate([[0], np.cumsum(mask, dtype=np.int64)])
        return (total[hi] - total[lo]) / length

    vt = share(_vt_mask(annotations, n_samples))
    known = share(_mask(annotations.rhythms + annotations.flutter, n_samples))
    noise = share(_mask([e for e in annotations.rhythms if e.label == NOISE_RHYTHM], n_samples)) > 0
    label = np.full(len(lo), -1, dtype=np.int8)
    label[vt >= min_vt_overlap] = 1
    label[(vt == 0) & (known == 1)] = 0

    names = sorted({e.label for e in annotations.rhythms})
    rhythm = np.full(len(lo), "", dtype=f"<U{max((len(s) for s in names), default=1)}")
    if names:
        shares = np.stack(
            [share(_mask([e for e in annotations.rhythms if e.label == s], n_samples)) for s in names]
        )
        best = shares.argmax(axis=0)
        covered = shares.max(axis=0) > 0
        rhythm[covered] = np.asarray(names)[best[covered]]
    return label, vt.astype(np.float32), noise, rhythm


def _vt_mask(annotations: Annotations, n_samples: int) -> np.ndarray:
    vt = [e for e in annotations.rhythms if e.label in VT_RHYTHMS]
    return _mask([*vt, *annotations.flutter], n_samples)


def _mask(episodes: tuple[Episode, ...] | list[Episode], n_samples: int) -> np.ndarray:
    mask = np.zeros(n_samples, dtype=bool)
    for e in episodes:
        mask[max(e.start, 0) : min(e.end, n_samples)] = True
    return mask


def _empty(samples: int, leads: int) -> VtWindows:
    none = np.zeros(0)
    return VtWindows(
        x=np.zeros((0, samples, leads), dtype=np.float32),
        label=np.zeros(0, dtype=np.int8),
        record=none.astype(str),
        patient=none.astype(str),
        database=none.astype(str),
        start_s=none,
        vt_fraction=none.astype(np.float32),
        noise=none.astype(bool),
        rhythm=none.astype(str),
        rec_record=none.astype(str),
        rec_minutes=none,
        rec_vt_minutes=none,
    )


def summary(windows: VtWindows) -> str:
    """VT windows and annotated VT minutes per database and record; non-VT windows per database."""
    lines = ["database   record     VT windows  VT min   non-VT windows  noise-flagged"]
    for database in dict.fromkeys(windows.database.tolist()):
        in_db = windows.database == database
        rec_in_db = np.char.startswith(windows.rec_record, f"{database}/")
        for rec, vt_min in zip(windows.rec_record[rec_in_db], windows.rec_vt_minutes[rec_in_db], strict=True):
            here = windows.record == rec
            vt_here = int(windows.label[here].sum())
            if database != CINC and (vt_here or vt_min > 0):
                lines.append(
                    f"{database:<10} {rec.split('/', 1)[1]:<10} {vt_here:>10}  {vt_min:6.1f}"
                    f"  {int((windows.label[here] == 0).sum()):>14}  {int(windows.noise[here].sum()):>13}"
                )
        lines.append(
            f"{database:<10} {'all':<10} {int(windows.label[in_db].sum()):>10}"
            f"  {windows.rec_vt_minutes[rec_in_db].sum():6.1f}  {int((windows.label[in_db] == 0).sum()):>14}"
            f"  {int(windows.noise[in_db].sum()):>13}"
        )
    lines.append(
        f"total: {len(windows.label)} windows, {int(windows.label.sum())} VT, "
        f"{int((windows.label == 0).sum())} non-VT, {windows.rec_vt_minutes.sum():.1f} VT min annotated"
    )
    return "\n".join(lines)


def _log(message: str) -> None:
    print(f"vt_windows: {message}", file=sys.stderr, flush=True)


def main() -> None:
    windows = load_vt_windows()
    print(summary(windows))


if __name__ == "__main__":
    main()
