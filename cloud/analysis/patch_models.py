"""The patch's own int8 models as the engine's beat and rhythm classifiers.

The cloud runs the very networks the patch runs (firmware/models, in the TFLM interpreter), so a
record analysed in the cloud and the patch's flags agree on what they saw. Beats are labelled
against the patient's dominant beat as on the patch, which needs history: the beat classifier
keeps the last windows and RR intervals it was given, and the engine hands beats over in order.
Rhythm windows go to the rhythm network and to the SCNN, whose VT verdict (output ≥ 0.5) takes
precedence, giving the engine classes N, A, O, ~ and VT.

The server runs the same bytes in TensorFlow Lite's optimized kernels (`runtime="server"`), about ten
times faster than TFLM's reference kernels and at most one int8 step off them; `runtime="patch"`
runs TFLM itself, as the patch does.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from cloud.analysis.protocols import MODEL_FS, NOT_A_BEAT

MODELS = Path(__file__).resolve().parents[2] / "firmware" / "models"

Runtime = Literal["server", "patch"]


def load_int8(path: Path, runtime: Runtime) -> Any:
    from model_compression.training.tflm import Int8Model, ServerInt8Model

    if runtime not in ("server", "patch"):
        raise ValueError(f"runtime must be 'server' or 'patch', got {runtime!r}")
    return ServerInt8Model(path.read_bytes()) if runtime == "server" else Int8Model(path.read_bytes())


class PatchBeatClassifier:
    """(n, 174, 1) windows at 250 Hz and (n, 3) RR features -> N, S, V, F, Q or NOT_A_BEAT."""

    def __init__(self, model_path: Path = MODELS / "beat_classifier.tflite", runtime: Runtime = "server") -> None:
        from model_compression.beat_features import TEMPLATE_BEATS

        self.model = load_int8(model_path, runtime)
        self.windows: deque[np.ndarray] = deque(maxlen=TEMPLATE_BEATS)
        self.previous_rr: deque[float] = deque(maxlen=TEMPLATE_BEATS)

    def __call__(self, windows: np.ndarray, rr_features: np.ndarray) -> list[str]:
        from model_compression.beat_features import (
            BEAT_CLASSES,
            DECIMATE,
            beat_input,
            rr_model_input,
            templates,
        )

        decimated = np.asarray(windows, dtype=np.float32)[:, ::DECIMATE, 0]
        rr = np.asarray(rr_features, dtype=np.float64)
        kept = len(self.windows)
        # The same template and RR context as over a whole record: computed over the kept history
        # followed by this batch, whose rows come after the first `kept`.
        history = np.concatenate([np.asarray(self.windows, dtype=np.float32).reshape(kept, decimated.shape[1]), decimated])
        template = templates(history, np.zeros(len(history), dtype=np.int8))[kept:]
        previous = np.concatenate([np.asarray(self.previous_rr), rr[:, 0]])
        rr_in = rr_model_input(rr, previous, np.zeros(len(previous)))
        self.windows.extend(decimated)
        self.previous_rr.extend(rr[:, 0].tolist())
        scores = self.model.predict_int8([beat_input(decimated, template), rr_in])
        return [NOT_A_BEAT if BEAT_CLASSES[i] == "X" else BEAT_CLASSES[i] for i in scores.argmax(axis=1)]


class PatchRhythmClassifier:
    """(n, 2500, 1) 10-s windows at 250 Hz -> probabilities of N, A, O, ~ and VT."""

    classes: Sequence[str] = ("N", "A", "O", "~", "VT")

    def __init__(
        self,
        rhythm_path: Path = MODELS / "rhythm_resnet.tflite",
        vt_path: Path = MODELS / "vt_scnn.tflite",
        runtime: Runtime = "server",
    ) -> None:
        self.rhythm = load_int8(rhythm_path, runtime)
        self.vt = load_int8(vt_path, runtime)

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        from firmware.model_plan import RHYTHM_MODEL, VT_MODEL
        from model_compression.datasets.preprocess import resample
        from model_compression.rhythm_pipeline import normalise, softmax

        x = np.asarray(windows, dtype=np.float64)[:, :, 0]
        if RHYTHM_MODEL[1] != VT_MODEL[1]:
            raise ValueError("the patch feeds both window models from one stream at one rate")
        # Both networks take the window the same way (firmware/window_input.py fill_normalised).
        model_x = normalise(resample(x.T, MODEL_FS, RHYTHM_MODEL[1]).T)
        rhythm = softmax(self.rhythm.predict([model_x]))
        p_vt = self.vt.predict([model_x]).reshape(-1, 1)
        return np.concatenate([rhythm * (1.0 - p_vt), p_vt], axis=1)


def available() -> bool:
    return all((MODELS / f).is_file() for f in ("beat_classifier.tflite", "rhythm_resnet.tflite", "vt_scnn.tflite"))


def analyse_with_models(
    chunks: Iterable[np.ndarray], fs: float, runtime: Runtime = "server", **kwargs: Any
) -> dict[str, Any]:
    """`analyse_stream` with the patch's models: beat labels always, rhythm, AF burden and VT
    episodes once the rhythm and VT models are shipped."""
    from cloud.analysis import analyse_stream

    rhythm = PatchRhythmClassifier(runtime=runtime) if available() else None
    beats = PatchBeatClassifier(runtime=runtime)
    return analyse_stream(chunks, fs, beat_classifier=beats, rhythm_classifier=rhythm, **kwargs)
