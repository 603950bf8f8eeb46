"""`ecg train rhythm`: the Hannun-style ResNet on CinC 2017, teacher and patch-sized student.

Per fold of a stratified 5-fold split: the teacher (the paper's full size) trains on the four
training folds only, then the student learns from the labels and from that teacher's softened
outputs (knowledge distillation), so no teacher has seen the fold its student is scored on. Both
are scored on whole records with the patch's windowing and aggregation; the student also as int8
in the TFLM interpreter. Every training keeps a backup each epoch and `--resume` continues it.
A fold's teacher is kept as its logits on a grid of windows of the training records
(`teacher_logits.py`), not as weights: the student distils from those, in the same sitting or a later
one.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model_compression.datasets.rhythm_records import (
    RHYTHM_CLASSES,
    RhythmRecordConfig,
    RhythmRecords,
    load_rhythm_records,
)
from model_compression.datasets.splits import SPLIT_SEED, Fold, group_kfold, stratified_kfold
from model_compression.rhythm_pipeline import (
    HOP_S,
    WINDOW_S,
    challenge_score,
    cut_windows,
    f1_scores,
    normalise,
    record_probabilities,
    softmax,
)
from model_compression.training.batches import epoch_batches
from model_compression.training.folds import kept_result
from model_compression.training.noise_bank import add_noise, noise_bank
from model_compression.training.resumable_fit import FitFiles, resumable_fit
from model_compression.training.run_folder import RunFolder, read_history, seed_everything
from model_compression.training.teacher_logits import TeacherLogits, crop_at, grid_logits

EXPORT_NAME = "rhythm_resnet"
ROLES = ("teacher", "student")


@dataclass(frozen=True)
class RhythmTrainConfig:
    fs: int = 125
    folds: int = 5
    # The teacher's fold (10.5 M weights, about 2 s a batch of 32 on this 2-core CPU) is sized to
    # finish within one sitting: 8 epochs of one crop per record, about an hour.
    teacher_epochs: int = 8
    teacher_crops_per_record: int = 1
    student_epochs: int = 30
    crops_per_record: int = 2  # random 10-s crops of each training record per epoch (student)
    batch_size: int = 32
    learning_rate: float = 1e-3
    class_weight_power: float = 0.5
    distill_alpha: float = 0.5  # weight of the labels; the rest goes to the teacher
    distill_temperature: float = 3.0
    distill_hop_s: float = 1.0  # the grid of windows the teacher's logits are kept on
    noise_probability: float = 0.3
    snr_db: tuple[float, float] = (6.0, 30.0)
    representative: int = 400
    seed: int = 0
    teacher: bool = True  # False: the student learns from the labels alone
    max_records: int | None = None
    # Folders of doctor-reviewed events exported by the cloud (datasets/confirmed_events.py): each
    # reviewed span joins CinC 2017 as a record, its patient's spans in one fold.
    confirmed: tuple[str, ...] = ()


def window_samples(config: RhythmTrainConfig) -> int:
    return round(WINDOW_S * config.fs)


class CropBatches:
    """Random 10-s crops of the training records, class-weighted, with real noise. With a teacher's
    grid logits, each crop is one of the grid's windows and carries the teacher's logits for it (the
    teacher saw the clean crop)."""

    def __init__(self, records: RhythmRecords, index: np.ndarray, config: RhythmTrainConfig, seed: int,
                 soft: TeacherLogits | None = None, crops_per_record: int | None = None) -> None:  # fmt: skip
        self.records, self.index, self.config, self.soft = records, index, config, soft
        self.crops_per_record = config.crops_per_record if crops_per_record is None else crops_per_record
        if soft is not None:
            missing = [int(i) for i in index if not len(soft.windows_of(int(i)))]
            if missing:
                raise ValueError(f"teacher logits lack {len(missing)} training records (first: {missing[0]})")
        self.rng = np.random.default_rng(seed)
        self.bank = noise_bank(config.fs)
        counts = np.bincount(records.label[index], minlength=len(RHYTHM_CLASSES)).astype(np.float64)
        weight = (counts.sum() / np.maximum(counts, 1) / len(RHYTHM_CLASSES)) ** config.class_weight_power
        self.weight = (weight / weight[records.label[index]].mean()).astype(np.float32)
        self.order = self._draw()
        self.dataset = epoch_batches(lambda: len(self.order), config.batch_size, self.batch, self._redraw)

    def _redraw(self) -> None:
        self.order = self._draw()

    def _draw(self) -> np.ndarray:
        return self.rng.permutation(np.repeat(self.index, self.crops_per_record))

    def crop(self, i: int) -> tuple[np.ndarray, np.ndarray | None]:
        """A crop of record i and, with a teacher, its logits."""
        n = window_samples(self.config)
        signal = self.records.record(int(i))
        if self.soft is not None:
            row = int(self.rng.choice(self.soft.windows_of(int(i))))
            return crop_at(signal, int(self.soft.start[row]), n), self.soft.logits[row]
        if len(signal) <= n:
            return crop_at(signal, 0, n), None
        start = int(self.rng.integers(len(signal) - n + 1))
        return signal[start : start + n], None

    def batch(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rows = self.order[i * self.config.batch_size : (i + 1) * self.config.batch_size]
        crops = [self.crop(r) for r in rows]
        clean = np.stack([c for c, _ in crops])[:, :, None]
        noisy = add_noise(clean, self.rng, self.bank, signal_rms=clean.std(axis=(1, 2)),
                          snr_db=self.config.snr_db, probability=self.config.noise_probability)  # fmt: skip
        label = self.records.label[rows]
        target = np.eye(len(RHYTHM_CLASSES), dtype=np.float32)[label]
        if self.soft is not None:
            target = np.concatenate([target, np.stack([t for _, t in crops if t is not None]).astype(np.float32)], axis=1)
        return normalise(noisy[:, :, 0]), target, self.weight[label]


def distillation_loss(alpha: float, temperature: float, classes: int) -> Any:
    """Labels and teacher logits side by side in y_true: alpha x cross-entropy with the labels plus
    (1 - alpha) x T^2 x cross-entropy with the teacher's softened outputs (Hinton et al. 2015)."""
    from keras import ops

    def loss(y_true: Any, logits: Any) -> Any:
        labels, teacher = y_true[:, :classes], y_true[:, classes:]
        hard = -ops.sum(labels * ops.log_softmax(logits, axis=-1), axis=-1)
        soft_teacher = ops.softmax(teacher / temperature, axis=-1)
        soft = -ops.sum(soft_teacher * ops.log_softmax(logits / temperature, axis=-1), axis=-1)
        return alpha * hard + (1 - alpha) * temperature**2 * soft

    return loss


def label_loss() -> Any:
    from keras import ops

    def loss(y_true: Any, logits: Any) -> Any:
        return -ops.sum(y_true * ops.log_softmax(logits, axis=-1), axis=-1)

    return loss


def build(role: str, config: RhythmTrainConfig, batch_size: int | None = None) -> Any:
    from model_compression.models.resnet import STUDENT, TEACHER, build_resnet

    return build_resnet(window_samples(config), len(RHYTHM_CLASSES), TEACHER if role == "teacher" else STUDENT,
                        batch_size=batch_size)  # fmt: skip


def train(role: str, records: RhythmRecords, index: np.ndarray, config: RhythmTrainConfig, folder: Path,
          seed: int, soft: TeacherLogits | None = None, *, resume: bool = False) -> Any:  # fmt: skip
    """One network in `folder`; with `resume`, kept or continued from its last finished epoch."""
    import keras

    import model_compression.models.resnet  # noqa: F401  (registers its layers: a kept network loads)

    epochs = config.teacher_epochs if role == "teacher" else config.student_epochs

    def dataset() -> Any:
        seed_everything(seed)
        crops = config.teacher_crops_per_record if role == "teacher" else config.crops_per_record
        return CropBatches(records, index, config, seed, soft, crops).dataset

    def build_compiled(steps: int) -> Any:
        model = build(role, config)
        loss = (distillation_loss(config.distill_alpha, config.distill_temperature, len(RHYTHM_CLASSES))
                if soft is not None else label_loss())  # fmt: skip
        schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, steps, alpha=0.02)
        model.compile(optimizer=keras.optimizers.Adam(schedule), loss=loss)
        return model

    return resumable_fit(build_compiled, dataset, epochs, FitFiles(folder),
                         label=f"rhythm {role} {folder.parent.name}", resume=resume)  # fmt: skip


def teacher_stage(records: RhythmRecords, train_idx: np.ndarray, val_idx: np.ndarray | None, config: RhythmTrainConfig,
                  folder: Path, seed: int, *, resume: bool) -> tuple[TeacherLogits, dict[str, Any] | None]:  # fmt: skip
    """The teacher of one fold (or of the shipped model, without `val_idx`): trained, scored on the
    held-out records and its logits kept on the training records' grid windows. With `resume` and
    those files there, they are read back and no teacher is built."""
    logits_path, result_path = folder / "teacher_logits.npz", folder / "teacher_result.json"
    if resume and logits_path.exists() and (val_idx is None or result_path.exists()):
        _log(f"{folder.name}: teacher's logits kept, no teacher to train")
        held_out = json.loads(result_path.read_text()) if val_idx is not None else None
        return TeacherLogits.load(logits_path), held_out
    teacher = train("teacher", records, train_idx, config, folder / "teacher", seed, resume=resume)
    held_out = None
    if val_idx is not None:
        held_out = scores(records.label[val_idx], record_verdicts(keras_windows(teacher), records, val_idx, config))
        _log(f"{folder.name}: teacher score {held_out['score']:.3f}")
    predict = keras_windows(teacher)
    soft = grid_logits(records.record, train_idx, window_samples(config), round(config.distill_hop_s * config.fs),
                       lambda w: predict(normalise(w)), progress=_Every(f"{folder.name}: teacher logits"))  # fmt: skip
    if held_out is not None:
        result_path.write_text(json.dumps(held_out, indent=1))
    soft.save(logits_path)
    return soft, held_out


class _Every:
    """Progress lines every tenth of the way."""

    def __init__(self, label: str) -> None:
        self.label, self.shown = label, -1

    def __call__(self, done: int, total: int) -> None:
        tenth = 10 * done // max(total, 1)
        if tenth != self.shown:
            self.shown = tenth
            _log(f"{self.label} {done}/{total} windows")


def record_verdicts(predict_windows: Callable[[np.ndarray], np.ndarray], records: RhythmRecords, index: np.ndarray, config: RhythmTrainConfig) -> np.ndarray:
    """Each record's class from the mean of its windows' probabilities."""
    n = window_samples(config)
    hop = round(HOP_S * config.fs)
    out = np.empty(len(index), dtype=np.int64)
    for k, i in enumerate(index):
        windows = normalise(cut_windows(records.record(int(i)), n, hop))
        out[k] = int(record_probabilities(softmax(predict_windows(windows))).argmax())
    return out


def keras_windows(model: Any) -> Callable[[np.ndarray], np.ndarray]:
    return lambda windows: np.asarray(model.predict(windows, batch_size=128, verbose=0))


def tflm_windows(model: Any) -> Callable[[np.ndarray], np.ndarray]:
    return lambda windows: model.predict([windows])


def scores(reference: np.ndarray, verdict: np.ndarray) -> dict[str, Any]:
    k = len(RHYTHM_CLASSES)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (reference, verdict), 1)
    f1 = f1_scores(confusion, RHYTHM_CLASSES)
    return {"f1": f1, "score": challenge_score(f1), "confusion": confusion.tolist()}


def to_int8(model: Any, records: RhythmRecords, index: np.ndarray, config: RhythmTrainConfig) -> bytes:
    from model_compression.training.int8_export import batch1_copy, representative_rows
    from model_compression.training.int8_export import to_int8 as convert

    rng = np.random.default_rng(config.seed)
    n = window_samples(config)
    picks = rng.choice(index, size=min(config.representative, len(index)), replace=False)
    windows = normalise(np.stack([cut_windows(records.record(int(i)), n, n)[0] for i in picks]))
    export = batch1_copy(model, lambda: build("student", config, batch_size=1))
    return convert(export, representative_rows([windows], len(windows), config.seed))


def rhythm_folds(label: np.ndarray, patient: np.ndarray, k: int) -> list[Fold]:
    """CinC 2017's records (patient "") dealt out stratified, as without reviewed events, so their
    folds stay those of every earlier run; reviewed spans by patient, stratified as whole patients
    allow, fold j of each side making fold j."""
    cinc = np.flatnonzero(patient == "")
    reviewed = np.flatnonzero(patient != "")
    fold_of = np.empty(len(label), dtype=np.int64)
    for f, (_, val) in enumerate(stratified_kfold(label[cinc], k, seed=SPLIT_SEED)):
        fold_of[cinc[val]] = f
    if len(reviewed):
        groups = min(k, len(np.unique(patient[reviewed])))
        if groups == 1:
            fold_of[reviewed] = 0
        else:
            for f, (_, val) in enumerate(group_kfold(patient[reviewed], groups, SPLIT_SEED, label[reviewed])):
                fold_of[reviewed[val]] = f
    return [(np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)) for f in range(k)]


def cross_validate(run: RunFolder, records: RhythmRecords, patient: np.ndarray, config: RhythmTrainConfig, *,
                   resume: bool) -> dict[str, Any]:  # fmt: skip
    from model_compression.training.tflm import Int8Model

    folds = rhythm_folds(records.label, patient, config.folds)
    results = []
    for k, (train_idx, val_idx) in enumerate(folds):
        name = f"cv/fold{k}"
        kept = kept_result(run, k, len(folds), resume=resume, label="train rhythm")
        if kept is not None:
            results.append(kept)
            continue
        started = time.monotonic()
        result: dict[str, Any] = {"fold": k}
        soft = None
        if config.teacher:
            _log(f"fold {k + 1}/{len(folds)}: teacher")
            soft, result["teacher_float"] = teacher_stage(records, train_idx, val_idx, config, run.file(name),
                                                          config.seed + k, resume=resume)  # fmt: skip
        _log(f"fold {k + 1}/{len(folds)}: student")
        student = train("student", records, train_idx, config, run.file(f"{name}/student"), config.seed + 100 + k,
                        soft, resume=resume)  # fmt: skip
        result["student_float"] = scores(
            records.label[val_idx], record_verdicts(keras_windows(student), records, val_idx, config)
        )
        tflite = to_int8(student, records, train_idx, config)
        # Kept so that a held-out record can be replayed with a model that never saw it.
        run.file(f"{name}/rhythm_resnet.tflite").write_bytes(tflite)
        int8 = Int8Model(tflite)
        result["student_int8"] = scores(
            records.label[val_idx], record_verdicts(tflm_windows(int8), records, val_idx, config)
        )
        result["seconds"] = round(time.monotonic() - started, 1)
        run.write_json(f"{name}/result.json", result)
        _log(f"fold {k + 1}/{len(folds)}: student float {result['student_float']['score']:.3f}, "
             f"int8 {result['student_int8']['score']:.3f}")  # fmt: skip
        results.append(result)
    return summarise(run, results)


def summarise(run: RunFolder, results: list[dict]) -> dict[str, Any]:
    from model_compression.training.plots import plot_confusion, plot_curves

    summary: dict[str, Any] = {"folds": len(results)}
    for key in ("teacher_float", "student_float", "student_int8"):
        have = [r[key] for r in results if key in r]
        if not have:
            continue
        values = np.array([h["score"] for h in have])
        noisy = np.array([h["f1"]["~"] for h in have])
        pooled = np.sum([np.asarray(h["confusion"]) for h in have], axis=0)
        summary[key] = {
            "score_mean": float(values.mean()), "score_std": float(values.std()),
            "noisy_f1_mean": float(noisy.mean()), "noisy_f1_std": float(noisy.std()),
            "f1_mean": {c: float(np.mean([h["f1"][c] for h in have])) for c in RHYTHM_CLASSES},
            "confusion": pooled.tolist(),
        }  # fmt: skip
        plot_confusion(pooled, RHYTHM_CLASSES, RHYTHM_CLASSES, run.file(f"cv_confusion_{key}.png"),
                       f"rhythm, {key.replace('_', ' ')}, {len(have)} folds (records)")  # fmt: skip
    histories = [read_history(run.file(f"cv/fold{r['fold']}/student/history.csv")) for r in results]
    plot_curves(histories, run.file("cv_curves_student.png"), "rhythm student, cross-validation folds")
    run.write_json("cv_metrics.json", summary)
    return summary


def _log(message: str) -> None:
    print(f"train rhythm: {message}", file=sys.stderr, flush=True)


def load(config: RhythmTrainConfig) -> tuple[RhythmRecords, np.ndarray]:
    """CinC 2017 and the reviewed spans of config.confirmed, with each record's patient ("" for
    CinC 2017, where every record counts as its own)."""
    from model_compression.datasets.confirmed_events import confirmed_rhythm_records

    cinc = load_rhythm_records(RhythmRecordConfig(fs=config.fs, max_records=config.max_records))
    parts, patients = [cinc], [np.full(len(cinc.label), "")]
    for folder in config.confirmed:
        part, patient = confirmed_rhythm_records(folder, config.fs)
        _log(f"{folder}: {len(part.label)} reviewed spans, {len(set(patient.tolist()))} patients")
        parts.append(part)
        patients.append(patient)
    return (RhythmRecords.concat(parts) if config.confirmed else cinc), np.concatenate(patients).astype(str)


def train_final(run: RunFolder, records: RhythmRecords, config: RhythmTrainConfig, *, resume: bool) -> bytes:
    """The shipped student: the same recipe on every record (its teacher too), then int8."""
    path = run.file(f"final/{EXPORT_NAME}.tflite")
    if resume and path.exists():
        _log("final model: trained before, kept")
        return path.read_bytes()
    every = np.arange(len(records.label))
    soft = None
    if config.teacher:
        _log("final teacher: all records")
        soft, _ = teacher_stage(records, every, None, config, run.file("final"), config.seed + 1000, resume=resume)
    _log("final student: all records")
    student = train("student", records, every, config, run.file("final/student"), config.seed + 1100, soft,
                    resume=resume)
    tflite = to_int8(student, records, every, config)
    path.write_bytes(tflite)
    return tflite


def model_card(tflite: bytes, cv: dict, config: RhythmTrainConfig, footprint: dict[str, int]) -> str:
    from model_compression.training.model_card import card_text

    rows = []
    for key in ("teacher_float", "student_float", "student_int8"):
        if key in cv:
            s = cv[key]
            rows.append([key.replace("_", " "), f"{s['score_mean']:.3f} ± {s['score_std']:.3f}",
                         *(f"{s['f1_mean'][c]:.3f}" for c in RHYTHM_CLASSES),
                         f"{s['noisy_f1_mean']:.3f} ± {s['noisy_f1_std']:.3f}"])  # fmt: skip
    samples = window_samples(config)
    return card_text(
        "Rhythm network: patch-sized ResNet student (int8, TFLM)",
        {
            "What it does": (
                f"Says Normal, AF, Other rhythm or Noisy for 10 s of one lead. Input `ecg` (1, {samples}, 1) "
                f"int8: the window at {config.fs} Hz, band-passed 0.5-50 Hz as the patch does, minus its mean and "
                "divided by its standard deviation (at least 0.05 mV), clipped to ±8. Output: logits for N, A, O, ~. "
                f"A record's verdict is the class of the mean of its windows' probabilities (10-s windows every "
                f"{HOP_S:g} s, plus one ending at the record's end)."
            ),
            "Data": [
                "PhysioNet/CinC Challenge 2017 training records here (single lead, 300 Hz, 9-61 s), resampled.",
                "Training crops: random 10-s stretches, class weights (inverse frequency)^"
                f"{config.class_weight_power:g}, real nstdb noise on {100 * config.noise_probability:.0f} % of crops.",
                *([f"Doctor-reviewed spans: {', '.join(config.confirmed)}."] if config.confirmed else []),
            ],
            "Split": (
                f"Stratified {config.folds}-fold cross-validation over records. "
                + ("Per fold, the teacher (Hannun et al. 2019 size: 16 residual blocks, 32-256 filters of 16) "
                   "trains on the training folds only and the student distils from it "
                   f"(alpha {config.distill_alpha:g}, temperature {config.distill_temperature:g})."
                   if config.teacher else "The student learns from the labels alone.")
            ),
            "Known limits": [
                "CinC 2017 is AliveCor hand-held lead I; a chest patch sees another lead.",
                "Other rhythm is a mixed class; its F1 is the weakest, as in the challenge.",
            ],
        },
        {
            "Cross-validation (records; challenge score = mean F1 of N, A, O)": (
                ["model", "score", "F1 N", "F1 A", "F1 O", "F1 ~", "Noisy F1"], rows),
            "Footprint": (["flash bytes", "arena bytes", "MACs per window"],
                          [[footprint["flash_bytes"], footprint["arena_bytes"], f"{footprint['macs']:,}"]]),
        },
        model=tflite,
    )


def run_cli(args: Any) -> int:
    from model_compression.models.macs import count_macs
    from model_compression.training.model_card import FIRMWARE_MODELS, export_model
    from model_compression.training.run_folder import RUNS_DIR
    from model_compression.training.tflm import smallest_arena

    a = vars(args)
    fields = {"folds", "seed", "max_records", "teacher_epochs", "student_epochs"}
    overrides = {k: a[k] for k in fields if a.get(k) is not None}
    if a.get("epochs") is not None:
        overrides.setdefault("teacher_epochs", a["epochs"])
        overrides.setdefault("student_epochs", a["epochs"])
    if a.get("no_teacher"):
        overrides["teacher"] = False
    if a.get("confirmed"):
        # Absolute, so that a resumed run reads the same folders from anywhere.
        overrides["confirmed"] = tuple(str(Path(d).resolve()) for d in a["confirmed"])
    config = RhythmTrainConfig(**overrides)
    resume = bool(a.get("resume"))
    run = RunFolder(a.get("run_dir") or RUNS_DIR / "rhythm")
    run.save_config(config, resume=resume)
    records, patient = load(config)
    _log(f"{len(records.label)} records: " + ", ".join(
        f"{c} {int((records.label == i).sum())}" for i, c in enumerate(RHYTHM_CLASSES)))  # fmt: skip
    cv = cross_validate(run, records, patient, config, resume=resume)
    for key in ("teacher_float", "student_float", "student_int8"):
        if key in cv:
            s = cv[key]
            _log(f"{key}: score {s['score_mean']:.3f} ± {s['score_std']:.3f}, Noisy F1 {s['noisy_f1_mean']:.3f}")
    tflite = train_final(run, records, config, resume=resume)
    footprint = {
        "flash_bytes": len(tflite),
        "arena_bytes": smallest_arena(str(run.file(f"final/{EXPORT_NAME}.tflite"))),
        "macs": count_macs(build("student", config, batch_size=1)),
    }
    run.write_json("footprint.json", footprint)
    card = model_card(tflite, cv, config, footprint)
    run.file("model_card.md").write_text(card)
    if a.get("export"):
        path = export_model(EXPORT_NAME, tflite, card, Path(a.get("export_dir") or FIRMWARE_MODELS))
        _log(f"exported {path}")
    print(card)
    return 0
