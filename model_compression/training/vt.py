"""`ecg train vt`: the patent's SCNN in its two stages, cross-validated leave-patients-out.

Stage 1 trains the whole network on the non-VT windows plus the VT windows replicated until they
are as many (the patent asks for within 10 %). Stage 2 freezes the convolutions and pools and
retrains the two dense layers on the VT windows. Both are scored on every fold, so the closing
figures say whether stage 2 helps; the shipped recipe is the one that does better. A third variant,
off by default, continues stage 1 with hard-negative mining: the non-VT training windows that stage 1
still scores high come back several times in more epochs, against false alarms on rhythms it mistakes
for VT (artefact after a shock, fast wide-complex rhythms).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model_compression.datasets.splits import SPLIT_SEED, group_kfold
from model_compression.datasets.vt_windows import VtWindowConfig, VtWindows, load_vt_windows
from model_compression.training.batches import epoch_batches
from model_compression.training.folds import kept_result, nan_mean, nan_std
from model_compression.training.noise_bank import add_noise, noise_bank
from model_compression.training.progress import ProgressLog
from model_compression.training.resumable_fit import FitFiles, resumable_fit
from model_compression.training.run_folder import RunFolder, read_history, seed_everything

EXPORT_NAME = "vt_scnn"
VARIANTS = ("stage1", "stage2", "hard_negatives")


@dataclass(frozen=True)
class VtTrainConfig:
    fs: int = 125
    folds: int = 5
    epochs: int = 6
    batch_size: int = 64
    learning_rate: float = 1e-3
    stage2_epochs: int = 4
    stage2_learning_rate: float = 1e-4
    noise_probability: float = 0.3
    snr_db: tuple[float, float] = (6.0, 24.0)
    gain_range: tuple[float, float] = (0.5, 2.0)
    representative: int = 300
    seed: int = 0
    max_non_vt: int | None = None  # quick runs: a random subset of the non-VT windows
    # A window is VT when VT fills at least this share of it (windows with less, but some, are left
    # out): lower, the SCNN learns to call VT sooner after onset, which is the alarm's latency.
    min_vt_overlap: float = 0.5
    # Folders of doctor-reviewed events exported by the cloud (datasets/confirmed_events.py), added
    # to the databases' windows: cross-validated by patient with them, then in the shipped model.
    confirmed: tuple[str, ...] = ()
    # Share of training windows (VT and non-VT alike) slowed down by a factor drawn log-uniformly
    # from slow_range: a stretch of each window resampled to the whole, so rates and QRS widths
    # below those recorded (slow VT near 100 bpm) are seen in training. 0: off.
    slow_probability: float = 0.0
    slow_range: tuple[float, float] = (1.0, 1.6)
    # Hard-negative mining after stage 1 (the "hard_negatives" variant; 0 epochs: off): the training
    # fold's non-VT windows that stage 1 scores at least hard_negative_floor are drawn
    # hard_negative_copies times an epoch instead of once, VT replicated to match as in stage 1.
    hard_negative_epochs: int = 0
    hard_negative_copies: int = 4
    hard_negative_floor: float = 0.1
    hard_negative_learning_rate: float = 3e-4


def variants(config: VtTrainConfig) -> tuple[str, ...]:
    """The variants a run with `config` trains and scores."""
    return VARIANTS if config.hard_negative_epochs > 0 else VARIANTS[:2]


def variants_in(results: dict) -> list[str]:
    """The variants a fold result or a cross-validation summary holds figures of."""
    return [v for v in VARIANTS if f"{v}_int8" in results]


def load(config: VtTrainConfig) -> VtWindows:
    window_config = VtWindowConfig(fs=config.fs, min_vt_overlap=config.min_vt_overlap)
    return with_confirmed(load_vt_windows(window_config), config.confirmed, window_config)


def with_confirmed(windows: VtWindows, folders: Sequence[str], config: VtWindowConfig) -> VtWindows:
    """The databases' windows and those of each folder of reviewed events."""
    from model_compression.datasets.confirmed_events import confirmed_vt_windows

    parts = [windows]
    for folder in folders:
        part = confirmed_vt_windows(folder, config)
        _log(f"{folder}: {len(part.label)} reviewed windows, {int(part.label.sum())} VT, "
             f"{len(set(part.patient.tolist()))} patients")  # fmt: skip
        parts.append(part)
    return VtWindows.concat(parts, windows.x.shape[1], windows.x.shape[2]) if folders else windows


def model_x(x: np.ndarray, config: VtTrainConfig) -> np.ndarray:
    """Windows (n, samples, 1) in mV as the SCNN takes them: in standard deviations of each window,
    clipped, as the rhythm network (firmware/window_input.py fills both the same way)."""
    from model_compression.rhythm_pipeline import normalise

    if x.shape[2] != 1:
        raise ValueError(f"the patch feeds the SCNN one lead, not {x.shape[2]}")
    return normalise(x[:, :, 0])


class Stage1Batches:
    """Each epoch: every non-VT window once and as many VT windows, drawn by replicating the VT
    windows (the patent's balancing), shuffled, with random gain and real noise. `extra_non_vt`
    (row indices, repeats allowed) joins the non-VT windows: the hard negatives drawn again."""

    def __init__(self, x: np.ndarray, label: np.ndarray, config: VtTrainConfig, seed: int,
                 extra_non_vt: np.ndarray | None = None) -> None:  # fmt: skip
        self.x, self.label, self.config = x, label, config
        self.rng = np.random.default_rng(seed)
        self.bank = noise_bank(config.fs)
        self.vt = np.flatnonzero(label == 1)
        self.non_vt = np.flatnonzero(label == 0)
        if extra_non_vt is not None and len(extra_non_vt):
            if (label[extra_non_vt] != 0).any():
                raise ValueError("hard negatives must be non-VT windows")
            self.non_vt = np.concatenate([self.non_vt, np.asarray(extra_non_vt, dtype=self.non_vt.dtype)])
        self.order = self._draw()
        self.dataset = epoch_batches(lambda: len(self.order), config.batch_size, self.batch, self._redraw)

    def _redraw(self) -> None:
        self.order = self._draw()

    def _draw(self) -> np.ndarray:
        copies = math.ceil(len(self.non_vt) / max(len(self.vt), 1))
        vt = np.tile(self.vt, copies)[: len(self.non_vt)]
        return self.rng.permutation(np.concatenate([self.non_vt, vt]))

    def batch(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self.order[i * self.config.batch_size : (i + 1) * self.config.batch_size]
        x = slow_down(self.x[rows], self.rng, self.config.slow_range, self.config.slow_probability)
        x = x * self.rng.uniform(*self.config.gain_range, size=(len(rows), 1, 1)).astype(np.float32)
        rms = x.std(axis=(1, 2))
        x = add_noise(x, self.rng, self.bank, signal_rms=rms, snr_db=self.config.snr_db,
                      probability=self.config.noise_probability)  # fmt: skip
        return model_x(x, self.config), self.label[rows].astype(np.float32)


def slow_down(x: np.ndarray, rng: np.random.Generator, factors: tuple[float, float], probability: float) -> np.ndarray:
    """Windows (n, samples, leads); for a `probability` share of them, a random stretch of
    samples / factor resampled to the whole window by linear interpolation (factor drawn
    log-uniformly from `factors`, at least 1): the same rhythm, slower and wider."""
    if probability <= 0 or factors[1] <= 1.0:
        return x
    if factors[0] < 1.0:
        raise ValueError(f"slow_range must be at least 1 (a window holds no signal to speed up), got {factors}")
    x = x.copy()
    rows = np.flatnonzero(rng.random(len(x)) < probability)
    if not len(rows):
        return x
    samples = x.shape[1]
    factor = np.exp(rng.uniform(np.log(factors[0]), np.log(factors[1]), len(rows)))
    start = rng.uniform(0.0, 1.0, len(rows)) * (samples - 1) * (1.0 - 1.0 / factor)
    at = start[:, None] + np.arange(samples)[None, :] / factor[:, None]
    left = np.minimum(np.floor(at).astype(np.int64), samples - 2)
    frac = (at - left).astype(np.float32)[:, :, None]
    src = x[rows]
    lo = np.take_along_axis(src, left[:, :, None], axis=1)
    hi = np.take_along_axis(src, left[:, :, None] + 1, axis=1)
    x[rows] = lo + frac * (hi - lo)
    return x


def train_stage1(x: np.ndarray, label: np.ndarray, config: VtTrainConfig, folder: Path, seed: int,
                 *, resume: bool = False) -> Any:  # fmt: skip
    """Stage 1 in `folder`; with `resume`, kept or continued from its last finished epoch."""
    import keras

    from model_compression.models.scnn import build_scnn

    def dataset() -> Any:
        seed_everything(seed)
        return Stage1Batches(x, label, config, seed).dataset

    def build(steps: int) -> Any:
        model = build_scnn(x.shape[1], x.shape[2])
        schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, steps, alpha=0.05)
        model.compile(optimizer=keras.optimizers.Adam(schedule), loss="binary_crossentropy", metrics=["accuracy"])
        return model

    files = FitFiles(folder, finished="stage1.keras", backup="backup_stage1")
    return resumable_fit(build, dataset, config.epochs, files, label=f"vt stage 1 {folder.name}",
                         resume=resume)  # fmt: skip


def hard_negatives(model: Any, x: np.ndarray, label: np.ndarray, config: VtTrainConfig) -> np.ndarray:
    """Rows of the non-VT windows that `model` scores at least `hard_negative_floor` (without the
    training augmentation: the windows as recorded)."""
    non_vt = np.flatnonzero(label == 0)
    return non_vt[float_scores(model, x[non_vt], config) >= config.hard_negative_floor]


def train_hard_negatives(stage1: Any, x: np.ndarray, label: np.ndarray, config: VtTrainConfig, folder: Path,
                         seed: int, *, resume: bool = False) -> Any:  # fmt: skip
    """A copy of `stage1` trained `hard_negative_epochs` more with its hard negatives drawn
    `hard_negative_copies` times an epoch; resumable as stage 1."""
    import keras

    from model_compression.models.scnn import build_scnn

    def dataset() -> Any:
        hard = hard_negatives(stage1, x, label, config)
        _log(f"{folder.name}: {len(hard)} of {int((label == 0).sum())} non-VT training windows scored "
             f"≥ {config.hard_negative_floor:g} by stage 1, drawn {config.hard_negative_copies}x")  # fmt: skip
        seed_everything(seed)
        extra = np.repeat(hard, max(config.hard_negative_copies - 1, 0))
        return Stage1Batches(x, label, config, seed, extra_non_vt=extra).dataset

    def build(steps: int) -> Any:
        model = build_scnn(x.shape[1], x.shape[2])
        model.set_weights(stage1.get_weights())
        schedule = keras.optimizers.schedules.CosineDecay(config.hard_negative_learning_rate, steps, alpha=0.05)
        model.compile(optimizer=keras.optimizers.Adam(schedule), loss="binary_crossentropy", metrics=["accuracy"])
        return model

    files = FitFiles(folder, finished="hard_negatives.keras", backup="backup_hard_negatives",
                     history="history_hard_negatives.csv")  # fmt: skip
    return resumable_fit(build, dataset, config.hard_negative_epochs, files, label=f"vt hard negatives {folder.name}",
                         resume=resume)  # fmt: skip


def train_stage2(stage1: Any, x: np.ndarray, label: np.ndarray, config: VtTrainConfig, folder: Path) -> Any:
    """A copy of `stage1` whose dense layers were retrained on the VT windows, features frozen."""
    import keras

    from model_compression.models.scnn import build_scnn, freeze_features

    model = build_scnn(x.shape[1], x.shape[2])
    model.set_weights(stage1.get_weights())
    freeze_features(model)
    model.compile(optimizer=keras.optimizers.Adam(config.stage2_learning_rate), loss="binary_crossentropy",
                  metrics=["accuracy"])  # fmt: skip
    vt = np.flatnonzero(label == 1)
    model.fit(model_x(x[vt], config), label[vt].astype(np.float32), batch_size=config.batch_size,
              epochs=config.stage2_epochs, verbose=0,
              callbacks=[keras.callbacks.CSVLogger(str(folder / "history_stage2.csv")),
                         ProgressLog(f"vt stage 2 {folder.name}", config.stage2_epochs,
                                     math.ceil(len(vt) / config.batch_size))])  # fmt: skip
    return model


def float_scores(model: Any, x: np.ndarray, config: VtTrainConfig) -> np.ndarray:
    return np.asarray(model.predict(model_x(x, config), batch_size=256, verbose=0)).reshape(-1)


def to_int8(model: Any, x: np.ndarray, config: VtTrainConfig) -> bytes:
    from model_compression.models.scnn import build_scnn
    from model_compression.training.int8_export import batch1_copy, representative_rows
    from model_compression.training.int8_export import to_int8 as convert

    export = batch1_copy(model, lambda: build_scnn(x.shape[1], x.shape[2], batch_size=1))
    return convert(export, representative_rows([model_x(x, config)], config.representative, config.seed))


def int8_scores(model_bytes: bytes, x: np.ndarray, config: VtTrainConfig) -> np.ndarray:
    from model_compression.training.tflm import Int8Model

    return Int8Model(model_bytes).predict([model_x(x, config)]).reshape(-1)


def window_stats(label: np.ndarray, score: np.ndarray) -> dict[str, float | int]:
    """Sensitivity and specificity of VT at the patent's threshold (output ≥ 0.5)."""
    from model_compression.models.scnn import THRESHOLD

    said = score >= THRESHOLD
    tp = int((said & (label == 1)).sum())
    fn = int((~said & (label == 1)).sum())
    tn = int((~said & (label == 0)).sum())
    fp = int((said & (label == 0)).sum())
    return {
        "sensitivity": tp / (tp + fn) if tp + fn else math.nan,
        "specificity": tn / (tn + fp) if tn + fp else math.nan,
        "tp": tp, "fn": fn, "tn": tn, "fp": fp,
    }  # fmt: skip


def cross_validate(run: RunFolder, windows: VtWindows, config: VtTrainConfig, *, resume: bool,
                   only: Sequence[int] = ()) -> list[dict[str, Any]]:
    """Each fold's result, trained or kept; with `only`, just those folds (a screening)."""
    folds = group_kfold(windows.patient, config.folds, seed=SPLIT_SEED, labels=windows.label)
    wrong = sorted(set(only) - set(range(len(folds))))
    if wrong:
        raise ValueError(f"no fold {wrong[0]}: the folds are 0-{len(folds) - 1}")
    results = []
    for k, (train, val) in enumerate(folds):
        name = f"cv/fold{k}"
        if only and k not in only:
            continue
        kept = kept_result(run, k, len(folds), resume=resume, label="train vt")
        if kept is not None:
            results.append(kept)
            continue
        started = time.monotonic()
        train = _limit_non_vt(train, windows.label, config, seed=k)
        vt_patients = sorted(set(windows.patient[val][windows.label[val] == 1].tolist()))
        _log(f"fold {k + 1}/{len(folds)}: {len(train)} training windows; VT patients held out: {', '.join(vt_patients)}")
        x_train, y_train = windows.x[train], windows.label[train]
        x_val, y_val = windows.x[val], windows.label[val]
        stage1 = train_stage1(x_train, y_train, config, run.file(name), seed=config.seed + k, resume=resume)
        models = [stage1, train_stage2(stage1, x_train, y_train, config, run.file(name))]
        if config.hard_negative_epochs > 0:
            models.append(train_hard_negatives(stage1, x_train, y_train, config, run.file(name),
                                               seed=config.seed + 500 + k, resume=resume))  # fmt: skip
        result: dict[str, Any] = {"fold": k, "vt_patients": vt_patients, "seconds": 0.0}
        for variant, model in zip(variants(config), models, strict=True):
            result[f"{variant}_float"] = window_stats(y_val, float_scores(model, x_val, config))
            tflite = to_int8(model, x_train, config)
            # Kept so that the patch can be replayed on each held-out patient with a model that
            # never saw them (ecg eval vt --model).
            run.file(f"{name}/{EXPORT_NAME}_{variant}.tflite").write_bytes(tflite)
            scores = int8_scores(tflite, x_val, config)
            result[f"{variant}_int8"] = window_stats(y_val, scores)
            result[f"{variant}_int8_scores"] = np.round(scores, 4).tolist()
        result["val_index"] = val.tolist()
        result["val_records"] = sorted(set(windows.record[val].tolist()))
        result["seconds"] = round(time.monotonic() - started, 1)
        run.write_json(f"{name}/result.json", result)
        _log(f"fold {k + 1}/{len(folds)}: "
             + "; ".join(f"{v} int8 {_line(result[f'{v}_int8'])}" for v in variants(config)))  # fmt: skip
        results.append(result)
    return results


def _limit_non_vt(train: np.ndarray, label: np.ndarray, config: VtTrainConfig, seed: int) -> np.ndarray:
    if not config.max_non_vt:
        return train
    non_vt = train[label[train] == 0]
    if len(non_vt) <= config.max_non_vt:
        return train
    keep = np.random.default_rng(seed).choice(non_vt, config.max_non_vt, replace=False)
    return np.sort(np.concatenate([train[label[train] == 1], keep]))


def summarise(run: RunFolder, windows: VtWindows, results: list[dict]) -> dict[str, Any]:
    from model_compression.training.plots import plot_confusion, plot_curves

    summary: dict[str, Any] = {"folds": len(results)}
    # Folds kept from a run without the hard-negative variant leave it out of the whole summary.
    present = [v for v in VARIANTS if all(f"{v}_int8" in r for r in results)]
    for variant in present:
        for kind in ("float", "int8"):
            key = f"{variant}_{kind}"
            pooled = {c: sum(int(r[key][c]) for r in results) for c in ("tp", "fn", "tn", "fp")}
            per_fold_se = [r[key]["sensitivity"] for r in results]
            per_fold_sp = [r[key]["specificity"] for r in results]
            summary[key] = {
                "pooled_sensitivity": pooled["tp"] / max(pooled["tp"] + pooled["fn"], 1),
                "pooled_specificity": pooled["tn"] / max(pooled["tn"] + pooled["fp"], 1),
                "sensitivity_mean": nan_mean(per_fold_se), "sensitivity_std": nan_std(per_fold_se),
                "specificity_mean": nan_mean(per_fold_sp), "specificity_std": nan_std(per_fold_sp),
                **pooled,
            }  # fmt: skip
            matrix = np.array([[pooled["tn"], pooled["fp"]], [pooled["fn"], pooled["tp"]]])
            plot_confusion(matrix, ["non-VT", "VT"], ["non-VT", "VT"], run.file(f"cv_confusion_{key}.png"),
                           f"VT windows, {variant} {kind}, {len(results)} folds")  # fmt: skip
    summary["errors_by_rhythm"] = errors_by_rhythm(windows, results, present)
    histories = [read_history(run.file(f"cv/fold{r['fold']}/history.csv")) for r in results]
    plot_curves(histories, run.file("cv_curves.png"), "SCNN stage 1, cross-validation folds")
    run.write_json("cv_metrics.json", summary)
    return summary


def errors_by_rhythm(windows: VtWindows, results: list[dict], present: Sequence[str]) -> dict[str, dict[str, int]]:
    """Where each variant's int8 errors fall: rhythm (and database) of each wrong window."""
    out: dict[str, dict[str, int]] = {}
    for variant in present:
        counts: dict[str, int] = {}
        for r in results:
            index = np.asarray(r["val_index"], dtype=np.int64)
            said = np.asarray(r[f"{variant}_int8_scores"]) >= 0.5
            wrong = index[said != (windows.label[index] == 1)]
            for db, rhythm in zip(windows.database[wrong], windows.rhythm[wrong], strict=True):
                key = f"{db}:{rhythm or '?'}"
                counts[key] = counts.get(key, 0) + 1
        out[variant] = dict(sorted(counts.items(), key=lambda kv: -kv[1]))
    return out



def _line(stats: dict[str, float]) -> str:
    return f"Se {100 * stats['sensitivity']:.1f} Sp {100 * stats['specificity']:.2f}"


def _log(message: str) -> None:
    print(f"train vt: {message}", file=sys.stderr, flush=True)


def config_from(args: dict) -> VtTrainConfig:
    keys = {"folds", "epochs", "seed", "fs", "max_non_vt", "min_vt_overlap", "slow_probability",
            "hard_negative_epochs"}
    overlap = args.get("min_vt_overlap")
    if overlap is not None and not 0.0 < overlap <= 1.0:
        raise ValueError(f"min_vt_overlap must be in (0, 1], got {overlap}")
    slow = args.get("slow_probability")
    if slow is not None and not 0.0 <= slow <= 1.0:
        raise ValueError(f"slow_probability must be in [0, 1], got {slow}")
    hard = args.get("hard_negative_epochs")
    if hard is not None and hard < 0:
        raise ValueError(f"hard_negative_epochs must be at least 0, got {hard}")
    given = {k: args[k] for k in keys if args.get(k) is not None}
    if args.get("confirmed"):
        # Absolute, so that a resumed run reads the same folders from anywhere.
        given["confirmed"] = tuple(str(Path(d).resolve()) for d in args["confirmed"])
    return VtTrainConfig(**given)


def describe(config: VtTrainConfig) -> dict[str, Any]:
    return asdict(config)


def better_variant(cv: dict) -> str:
    """The variant with the higher pooled int8 sensitivity + specificity (Youden's J)."""
    def j(v: str) -> float:
        s = cv[f"{v}_int8"]
        return float(s["pooled_sensitivity"] + s["pooled_specificity"])

    return max(variants_in(cv), key=j)


def train_final(run: RunFolder, windows: VtWindows, config: VtTrainConfig, variant: str, *, resume: bool) -> bytes:
    path = run.file(f"final/{EXPORT_NAME}.tflite")
    if resume and path.exists() and run.has("final/variant.json") and run.read_json("final/variant.json") == variant:
        _log("final model: trained before, kept")
        return path.read_bytes()
    _log(f"final model ({variant}): training on all patients")
    train = _limit_non_vt(np.arange(len(windows.label)), windows.label, config, seed=1000)
    x, y = windows.x[train], windows.label[train]
    model = train_stage1(x, y, config, run.file("final"), seed=config.seed + 1000, resume=resume)
    if variant == "stage2":
        model = train_stage2(model, x, y, config, run.file("final"))
    elif variant == "hard_negatives":
        model = train_hard_negatives(model, x, y, config, run.file("final"), seed=config.seed + 1500, resume=resume)
    model.save(run.file("final/model.keras"))
    tflite = to_int8(model, x, config)
    path.write_bytes(tflite)
    run.write_json("final/variant.json", variant)
    return tflite


def model_card(
    tflite: bytes, cv: dict, config: VtTrainConfig, variant: str, footprint: dict[str, int], windows: VtWindows
) -> str:
    from model_compression.training.model_card import card_text

    rows = []
    for v in variants_in(cv):
        for kind in ("float", "int8"):
            s = cv[f"{v}_{kind}"]
            rows.append([
                v, kind,
                f"{100 * s['pooled_sensitivity']:.2f}", f"{100 * s['pooled_specificity']:.2f}",
                f"{100 * s['sensitivity_mean']:.1f} ± {100 * s['sensitivity_std']:.1f}",
                f"{100 * s['specificity_mean']:.2f} ± {100 * s['specificity_std']:.2f}",
            ])  # fmt: skip
    samples = round(10 * config.fs)
    return card_text(
        "VT detector: the patent's SCNN (int8, TFLM)",
        {
            "What it does": (
                f"Says VT (ventricular tachycardia, flutter or fibrillation) or not over a 10-s window of one "
                f"lead. Input `ecg` (1, {samples}, 1) int8: the window at {config.fs} Hz, band-passed 0.5-50 Hz "
                f"at 250 Hz and resampled as the patch does, minus its mean, in units of its standard "
                f"deviation (at least 0.05 mV), clipped to ±8. Output: VT probability; VT when ≥ 0.5 "
                f"(the patent's (X+Y)/2). Shipped variant: {variant}."
            ),
            "Data": [
                "VT windows: `(VT`, `(VFL`, `(VF`, `(VFIB` episodes (and flutter `[`...`]`) of vfdb and mitdb, "
                "10 s with a 5-s hop, VT when at least half of the window is in an episode.",
                "Non-VT windows: every other annotated rhythm of vfdb and mitdb (5-s hop), and CinC 2017 "
                "(Normal, AF, Other, Noisy; 10-s hop).",
                "Augmented with gain 0.5-2x and real nstdb muscle/baseline noise (SNR 6-24 dB) on 30 % of windows.",
                *([f"Slowed down {config.slow_range[0]:g}-{config.slow_range[1]:g}x (log-uniform) on "
                   f"{100 * config.slow_probability:.0f} % of windows."] if config.slow_probability > 0 else []),
                *([f"Doctor-reviewed events: {', '.join(config.confirmed)}."] if config.confirmed else []),
            ],
            "Split": (
                f"Leave-patients-out cross-validation, {config.folds} folds of whole patients (records), "
                "VT patients spread over the folds. Stage 1: non-VT plus VT replicated to the same count, "
                "whole network. Stage 2: convolutions and pools frozen, dense layers retrained on the VT windows."
                + (f" Hard negatives: stage 1 continued {config.hard_negative_epochs} epoch(s) with the non-VT "
                   f"training windows it scored ≥ {config.hard_negative_floor:g} drawn "
                   f"{config.hard_negative_copies}x." if config.hard_negative_epochs > 0 else "")
            ),
            "Known limits": [
                f"VT comes from {len(set(windows.patient[windows.label == 1].tolist()))} patients "
                f"(about {windows.rec_vt_minutes.sum():.0f} minutes annotated): morphologies beyond them are unseen.",
                "One lead; the patent's 12-lead input is not what a patch has.",
            ],
        },
        {
            "Cross-validation (windows, %)": (
                ["variant", "model", "Se pooled", "Sp pooled", "Se per fold", "Sp per fold"], rows
            ),
            "Footprint": (["flash bytes", "arena bytes", "MACs per window"],
                          [[footprint["flash_bytes"], footprint["arena_bytes"], f"{footprint['macs']:,}"]]),
        },
        model=tflite,
    )


def run_cli(args: Any) -> int:
    from model_compression.models.macs import count_macs
    from model_compression.models.scnn import build_scnn
    from model_compression.training.model_card import FIRMWARE_MODELS, export_model
    from model_compression.training.run_folder import RUNS_DIR
    from model_compression.training.tflm import smallest_arena

    a = vars(args)
    only = tuple(a.get("fold") or ())
    if only and a.get("export"):
        raise ValueError("--fold trains a screening of some folds; --export needs them all")
    config = config_from(a)
    resume = bool(a.get("resume"))
    run = RunFolder(a.get("run_dir") or RUNS_DIR / "vt")
    run.save_config(config, resume=resume)
    windows = load(config)
    _log(f"{len(windows.label)} windows, {int(windows.label.sum())} VT, from {len(set(windows.patient.tolist()))} patients")
    results = cross_validate(run, windows, config, resume=resume, only=only)
    if only:
        # A screening: the folds' results and models stay for ecg eval vt --cv-run; no pooled
        # figures, final model or card, which stand for the whole cross-validation.
        _log(f"screening of fold(s) {', '.join(map(str, only))} done in {run.path}")
        return 0
    cv = summarise(run, windows, results)
    for v in variants_in(cv):
        s = cv[f"{v}_int8"]
        _log(f"{v} int8 pooled: Se {100 * s['pooled_sensitivity']:.2f} Sp {100 * s['pooled_specificity']:.2f}")
    variant = better_variant(cv)
    tflite = train_final(run, windows, config, variant, resume=resume)
    footprint = {
        "flash_bytes": len(tflite),
        "arena_bytes": smallest_arena(str(run.file(f"final/{EXPORT_NAME}.tflite"))),
        "macs": count_macs(build_scnn(round(10 * config.fs), 1, batch_size=1)),
    }
    run.write_json("footprint.json", footprint)
    card = model_card(tflite, cv, config, variant, footprint, windows)
    run.file("model_card.md").write_text(card)
    if a.get("export"):
        path = export_model(EXPORT_NAME, tflite, card, Path(a.get("export_dir") or FIRMWARE_MODELS))
        _log(f"exported {path}")
    print(card)
    return 0
