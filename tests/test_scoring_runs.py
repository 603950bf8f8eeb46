"""`ecg eval qrs` and `ecg bench qrs` on one-minute copies of MIT-BIH records, with a stand-in detector."""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import wfdb

from ecg_cli.main import UserFacingError, build_parser
from ecg_data.paths import data_root
from ecg_data.record import Record
from ecg_data.wfdb_records import read_wfdb
from scoring import qrs_bench, qrs_eval
from scoring.qrs_bench import (
    BenchDetector,
    DetectorRun,
    bench,
    bench_json,
    format_bench,
    ours_detector,
    peer_detectors,
    plot_bench,
    record_rate,
)
from scoring.qrs_eval import evaluate
from scoring.records import read_beat_records
from scoring.report import Counts, RecordScore, format_table, summary_json

MITDB = data_root() / "mitdb"
SECONDS = 60.0
# 101 plain, 207 with a flutter episode (40-51 s), 102 paced with no MLII lead.
NAMES = ("101", "207", "102")

pytestmark = pytest.mark.skipif(not (MITDB / "101.hea").exists(), reason=f"MIT-BIH not found at {MITDB}")


def stand_in(record: Record, lead_index: int) -> np.ndarray:
    """Reference beats with every 10th dropped, 10 ms late, plus one spurious detection between beats 3 and 4."""
    assert record.annotations is not None
    beats = record.annotations.beats()
    kept = np.delete(beats, np.arange(0, len(beats), 10))
    spurious = (beats[3] + beats[4]) / 2
    return np.sort(np.append(kept, spurious) / record.fs + 0.010)


@pytest.fixture(scope="module")
def short_mitdb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder holding the first minute of each record in NAMES.

    Each header is the original one cut to a minute, with that minute's checksums, over a link to
    the original signal file; the annotations are those of the minute.
    """
    folder = tmp_path_factory.mktemp("mitdb")
    for name in NAMES:
        n = round(SECONDS * 360)
        digital = wfdb.rdrecord(str(MITDB / name), sampto=n, physical=False).d_signal
        lines = (MITDB / f"{name}.hea").read_text().splitlines()
        first = lines[0].split()
        header = [" ".join([*first[:3], str(n)])]
        for i, line in enumerate(lines[1 : 1 + digital.shape[1]]):
            fields = line.split(maxsplit=8)
            fields[6] = str((int(digital[:, i].sum()) + 32768) % 65536 - 32768)
            header.append(" ".join(fields))
        (folder / f"{name}.hea").write_text("\n".join(header) + "\n")
        (folder / f"{name}.dat").symlink_to(MITDB / f"{name}.dat")
        ann = read_wfdb(MITDB / name, sampto=n).annotations
        assert ann is not None
        wfdb.wrann(name, "atr", ann.sample, list(ann.symbol), write_dir=str(folder))
    return folder


@pytest.fixture(scope="module")
def records(short_mitdb: Path) -> list[Record]:
    return list(read_beat_records([short_mitdb / n for n in NAMES]))


def expected_counts(record: Record) -> Counts:
    assert record.annotations is not None
    beats = len(record.annotations.beats())
    dropped = len(range(0, beats, 10))
    return Counts(tp=beats - dropped, fp=1, fn=dropped)


def test_evaluate_scores_the_stand_in_exactly(records: list[Record]) -> None:
    progress = io.StringIO()
    scores = evaluate(records, stand_in, progress=progress, total=len(records))
    assert [s.name for s in scores] == list(NAMES)
    assert [s.paced for s in scores] == [False, False, True]
    for record, score in zip(records, scores, strict=True):
        assert score.counts == expected_counts(record)
    assert progress.getvalue().count("\n") == len(records)
    assert "[3/3] 102:" in progress.getvalue()


def test_a_record_without_the_named_lead_is_skipped(records: list[Record]) -> None:
    progress = io.StringIO()
    scores = evaluate(records, stand_in, "MLII", progress=progress)
    assert [s.name for s in scores] == ["101", "207"]
    assert "102: skipped, no lead 'MLII'" in progress.getvalue()


def test_summary_splits_paced_from_non_paced() -> None:
    scores = [
        RecordScore("a", False, Counts(90, 5, 10)),
        RecordScore("b", False, Counts(10, 5, 0)),
        RecordScore("p", True, Counts(50, 0, 50)),
    ]
    summary = summary_json(scores)
    assert (summary["tp"], summary["fp"], summary["fn"], summary["beats"]) == (100, 10, 10, 110)
    assert summary["sensitivity"] == pytest.approx(100 / 110)
    assert summary["positive_predictivity"] == pytest.approx(100 / 110)
    assert summary["paced"]["sensitivity"] == 0.5
    assert summary["all"]["tp"] == 150
    assert summary["records"][2] == {
        "name": "p",
        "paced": True,
        "beats": 100,
        "tp": 50,
        "fp": 0,
        "fn": 50,
        "sensitivity": 0.5,
        "positive_predictivity": 1.0,
    }
    assert math.isnan(Counts().sensitivity) and Counts().to_json()["sensitivity"] is None
    table = format_table(scores)
    assert "non-paced (2)" in table and "paced (1)" in table and "all (3)" in table
    assert "90.91" in table


def _args(data: Path, json_path: Path | None, **extra: object) -> argparse.Namespace:
    return argparse.Namespace(
        data=str(data), records=None, lead=None, json=str(json_path) if json_path else None, fs=250, **extra
    )


def test_eval_cli_writes_the_figures(
    short_mitdb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(qrs_eval, "patch_detector", lambda fs: stand_in)
    out = tmp_path / "qrs.json"
    assert qrs_eval.run_cli(_args(short_mitdb, out)) == 0
    figures = json.loads(out.read_text())
    records = {r["name"]: r for r in figures["records"]}
    assert set(records) == set(NAMES) and records["102"]["paced"] and not records["207"]["paced"]
    assert figures["fp"] == 2 and figures["paced"]["fp"] == 1 and figures["all"]["fp"] == 3
    assert figures["tp"] == records["101"]["tp"] + records["207"]["tp"]
    for key in ("sensitivity", "positive_predictivity", "tp", "fp", "fn"):
        assert key in figures and key in figures["paced"] and key in figures["all"]
    assert figures["noise"] is None
    printed = capsys.readouterr()
    assert "all (3)" in printed.out and "[3/3]" in printed.err and "no added noise" in printed.out
    # Beside the JSON: Se and +P per record, and strips around the errors of the worst records.
    for png in (tmp_path / "qrs.png", tmp_path / "qrs_strips.png"):
        assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 20_000


class Recorder:
    """The stand-in detector, keeping a copy of each lead it is given."""

    def __init__(self) -> None:
        self.leads: list[np.ndarray] = []

    def __call__(self, record: Record, lead_index: int) -> np.ndarray:
        self.leads.append(record.signal[:, lead_index].copy())
        return stand_in(record, lead_index)


def test_eval_cli_adds_the_noise_asked_for(
    short_mitdb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    recorder = Recorder()
    monkeypatch.setattr(qrs_eval, "patch_detector", lambda fs: recorder)
    out = tmp_path / "qrs.json"
    assert qrs_eval.run_cli(_args(short_mitdb, out, noise="ma", snr=0.0, seed=3)) == 0
    assert json.loads(out.read_text())["noise"] == {"kind": "ma", "snr_db": 0.0, "seed": 3}
    assert "nstdb ma noise at 0 dB SNR (seed 3)" in capsys.readouterr().out
    clean = [read_wfdb(short_mitdb / name).signal[:, 0] for name in NAMES]
    assert len(recorder.leads) == len(clean)
    for got, lead in zip(recorder.leads, clean, strict=True):
        assert got.shape == lead.shape and not np.allclose(got, lead)


def test_noise_options_are_checked(short_mitdb: Path) -> None:
    with pytest.raises(UserFacingError, match="--snr"):
        qrs_eval.run_cli(_args(short_mitdb, None, noise="ma", snr=None, seed=0))
    with pytest.raises(UserFacingError, match="--noise"):
        qrs_bench.run_cli(_args(short_mitdb, None, noise=None, snr=6.0, seed=0))
    parsed = build_parser().parse_args(["bench", "qrs", "--data", "x", "--noise", "em-like", "--snr", "-6"])
    assert (parsed.noise, parsed.snr, parsed.seed) == ("em-like", -6.0, 0)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["eval", "qrs", "--data", "x", "--noise", "em", "--snr", "6"])


def test_eval_cli_explains_a_missing_patch_detector(
    short_mitdb: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "hardware_sim.patch_qrs", None)
    with pytest.raises(UserFacingError, match="patch_qrs"):
        qrs_eval.run_cli(_args(short_mitdb, None))


def test_eval_cli_rejects_unknown_records(short_mitdb: Path) -> None:
    args = _args(short_mitdb, None)
    args.records = "101,999"
    with pytest.raises(UserFacingError, match="999"):
        qrs_eval.run_cli(args)


def test_bench_on_one_minute(records: list[Record], tmp_path: Path) -> None:
    detectors = [ours_detector(250, stand_in), *peer_detectors()]
    progress = io.StringIO()
    runs = bench(records[:1], detectors, progress=progress, total_records=1)
    assert [r.detector.name for r in runs] == ["ours", "neurokit", "nk-pantompkins1985", "xqrs"]
    assert runs[0].scores[0].counts == expected_counts(records[0])
    assert runs[0].samples == 250 * 60 and runs[1].samples == 360 * 60
    for run in runs:
        assert run.signal_s == pytest.approx(60.0)
        assert run.samples_per_s > 0 and run.x_real_time > 1
    for run in runs[1:]:  # every peer finds record 101's first minute nearly perfectly
        assert run.scores[0].counts.sensitivity > 0.95 and run.scores[0].counts.positive_predictivity > 0.95
    assert progress.getvalue().count("\n") == len(detectors)

    content = bench_json(runs, {"lead": None})
    assert set(content["detectors"]) == {"ours", "neurokit", "nk-pantompkins1985", "xqrs"}
    for figures in content["detectors"].values():
        assert {
            "samples_per_s",
            "x_real_time",
            "sensitivity",
            "positive_predictivity",
            "paced",
            "records",
        } <= set(figures)
    json.dumps(content, allow_nan=False)
    table = format_bench(runs)
    assert "nk-pantompkins1985" in table and "samples/s" in table
    plot = tmp_path / "bench.png"
    plot_bench(runs, plot)
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_bench_cli_with_the_peers_only(
    short_mitdb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench.json"
    assert (
        qrs_bench.main(
            ["--data", str(short_mitdb), "--records", "101,102", "--json", str(out), "--skip-ours"]
        )
        == 0
    )
    content = json.loads(out.read_text())
    assert set(content["detectors"]) == {"neurokit", "nk-pantompkins1985", "xqrs"}
    assert content["detectors"]["xqrs"]["paced"]["beats"] > 0
    assert out.with_suffix(".png").exists()
    assert "x real time" in capsys.readouterr().out


def test_bench_cli_gives_every_detector_the_same_noisy_lead(
    short_mitdb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ours, peer = Recorder(), Recorder()
    monkeypatch.setattr(qrs_bench, "patch_detector", lambda fs: ours)
    monkeypatch.setattr(
        qrs_bench, "peer_detectors", lambda: [BenchDetector("peer", "recorder", peer, record_rate)]
    )
    out = tmp_path / "bench.json"
    assert qrs_bench.run_cli(_args(short_mitdb, out, noise="bw", snr=-6.0, seed=0)) == 0
    content = json.loads(out.read_text())
    assert content["noise"] == {"kind": "bw", "snr_db": -6.0, "seed": 0}
    assert content["detectors"]["ours"]["fp"] == content["detectors"]["peer"]["fp"] == 2
    assert "nstdb bw noise at -6 dB SNR (seed 0)" in capsys.readouterr().out
    assert len(ours.leads) == len(peer.leads) == 1 + len(NAMES)  # the warm-up, then each record
    for a, b in zip(ours.leads, peer.leads, strict=True):
        assert np.array_equal(a, b)
    assert not np.allclose(ours.leads[1], read_wfdb(short_mitdb / NAMES[0]).signal[:, 0])


def test_bench_cli_runs_ours_through_the_patch_detector(
    short_mitdb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(qrs_bench, "patch_detector", lambda fs: stand_in)
    monkeypatch.setattr(qrs_bench, "peer_detectors", lambda: [])
    out = tmp_path / "bench.json"
    assert qrs_bench.run_cli(_args(short_mitdb, out)) == 0
    ours = json.loads(out.read_text())["detectors"]["ours"]
    assert ours["fp"] == 2 and ours["paced"]["fp"] == 1
    assert ours["samples"] == 3 * 250 * 60


def test_detector_run_without_time_has_undefined_throughput() -> None:
    run = DetectorRun(ours_detector(250, stand_in))
    assert math.isnan(run.samples_per_s) and math.isnan(run.x_real_time)
    figures = run.to_json()
    assert figures["samples_per_s"] is None and figures["sensitivity"] is None
    json.dumps(figures, allow_nan=False)
