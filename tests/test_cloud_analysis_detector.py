"""The analysis engine's QRS detector on MIT-BIH, scored beat by beat as `ecg eval qrs` scores (EC57)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cloud.analysis import analyse, qrs_eval
from cloud.analysis.blocks import Block
from cloud.analysis.detector import DetectorConfig, QrsDetector
from ecg_data.paths import data_root
from ecg_data.wfdb_records import read_wfdb
from scoring.beat_match import match_annotations
from scoring.report import Counts

MITDB = data_root() / "mitdb"
SECONDS = 300
# 106: bigeminy with large PVCs; 108: P waves nearly as tall as the QRS; 208: PVC couplets, fusion.
RECORDS = ("106", "108", "208")

pytestmark = pytest.mark.skipif(not (MITDB / "106.hea").exists(), reason=f"MIT-BIH not found at {MITDB}")


def score(name: str) -> Counts:
    record = read_wfdb(MITDB / name, sampto=SECONDS * 360)
    assert record.annotations is not None
    beats = analyse(record.signal[:, 0], record.fs)["beats"]["sample"]
    return Counts.of(match_annotations(record.annotations, beats, record.fs, unit="samples"))


def test_detector_finds_99_percent_of_beats_with_99_percent_predictivity() -> None:
    counts = [score(name) for name in RECORDS]
    total = sum(counts, Counts())
    assert total.beats > 1000
    assert total.sensitivity >= 0.99, counts
    assert total.positive_predictivity >= 0.99, counts


def test_detector_state_carries_over_between_blocks() -> None:
    """Two blocks in a row give the beats one block covering both gives."""
    record = read_wfdb(MITDB / "208", sampto=120 * 360)
    x, fs = record.signal[:, 0], record.fs
    one = QrsDetector(fs)
    whole = np.concatenate([one.block(Block(x, 0, 0, len(x), True)), one.finish(len(x))])
    two = QrsDetector(fs)
    half, context = len(x) // 2, round(5 * fs)
    first = two.block(Block(x[: half + context], 0, 0, half, False))
    second = two.block(Block(x[half - context :], half - context, half, len(x), True))
    split = np.concatenate([first, second, two.finish(len(x))])
    assert np.array_equal(whole, split)


def test_without_the_wave_rule_tall_p_waves_pass_for_beats() -> None:
    """The rule earns its place: on 108 the detector without it does clearly worse."""
    record = read_wfdb(MITDB / "108", sampto=SECONDS * 360)
    annotations = record.annotations
    assert annotations is not None
    x, fs = record.signal[:, 0], record.fs

    def errors(config: DetectorConfig) -> int:
        detector = QrsDetector(fs, config)
        beats = np.concatenate([detector.block(Block(x, 0, 0, len(x), True)), detector.finish(len(x))])
        match = match_annotations(annotations, beats, fs, unit="samples")
        return match.fp + match.fn

    assert errors(DetectorConfig()) * 3 < errors(DetectorConfig(wave_ratio=0.0))


def test_eval_command_scores_a_record(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "qrs.json"
    assert qrs_eval.main(["--records", "106", "--fs", "250", "--json", str(out)]) == 0
    scores = json.loads(out.read_text())
    assert scores["records"][0]["name"] == "106" and scores["sensitivity"] > 0.99
    assert "non-paced (1)" in capsys.readouterr().out
