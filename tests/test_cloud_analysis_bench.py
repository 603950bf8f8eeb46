"""`ecg bench analysis` on a minute or so of joined MIT-BIH: the records it builds, its worker
processes (and their failures), the comparison and the files it writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cloud.analysis import bench_worker
from cloud.analysis.bench import Limits, compare, parse_hours, run_worker
from cloud.analysis.bench_records import BENCH_FS, BuiltRecord, Pieces, build, iter_chunks
from ecg_cli.main import build_parser
from ecg_data.paths import data_root

MITDB = data_root() / "mitdb"

pytestmark = pytest.mark.skipif(not (MITDB / "101.hea").exists(), reason=f"MIT-BIH not found at {MITDB}")


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> BuiltRecord:
    # 207 (flutter, no reference beats in it) and 102 (paced) are passed over.
    pieces = Pieces(MITDB, ["207", "102", "101", "106"])
    return build(pieces, 0.55, tmp_path_factory.mktemp("bench") / "record.npy")


def test_records_are_joined_from_usable_records_without_steps(record: BuiltRecord) -> None:
    x = np.load(record.path)
    assert len(x) == record.samples == round(0.55 * 3600 * BENCH_FS)
    assert record.sources == ["101", "106"]
    seam = record.starts[1]
    assert 29 * 60 * BENCH_FS < seam < 31 * 60 * BENCH_FS
    # Both sides of the seam sit at 0 mV: no step, and no drift from one piece to the next.
    assert x[0] == x[seam - 1] == x[seam] == 0.0
    assert np.all(np.diff(record.beats) > 0) and record.beats[-1] < record.samples
    # The interval across the seam is an ordinary one, about the mean of its neighbours.
    rr = np.diff(record.beats)
    at = int(np.searchsorted(record.beats, seam)) - 1
    assert 0.6 < rr[at] / np.median(rr[at - 5 : at + 5]) < 1.6


def test_chunks_read_back_the_whole_record(record: BuiltRecord) -> None:
    chunks = list(iter_chunks(record.path, 10_000))
    assert max(len(c) for c in chunks) == 10_000
    assert np.array_equal(np.concatenate(chunks), np.load(record.path))


@pytest.mark.parametrize("hours", ["", "1,x", "0", "-1", "100"])
def test_bad_hours_are_refused(hours: str) -> None:
    with pytest.raises(ValueError, match="--hours"):
        parse_hours(hours)


def test_hours_parse() -> None:
    assert parse_hours("1,6,24") == [1.0, 6.0, 24.0]


def test_a_side_over_its_memory_limit_fails_with_a_reason(record: BuiltRecord, tmp_path: Path) -> None:
    report = run_worker("ours", record, tmp_path / "ours.json", Limits(60.0, 64 * 2**20))
    assert not report["ok"]
    assert report["stage"] in ("start", "import")
    assert report["error"]


def test_a_side_over_its_time_limit_is_stopped(record: BuiltRecord, tmp_path: Path) -> None:
    report = run_worker("neurokit", record, tmp_path / "nk.json", Limits(0.3, 8 * 2**30))
    assert not report["ok"]
    assert report["error"] == "timed out after 0.3 s"
    assert report["process_wall_s"] < 10


def test_comparison_is_relative_to_neurokit_and_the_reference() -> None:
    ours = {"figures": {"mean_hr_bpm": 61.0, "sdnn_ms": 105.0}}
    neurokit = {"figures": {"mean_hr_bpm": 60.0, "sdnn_ms": 100.0, "uncorrected": {"sdnn_ms": 84.0}}}
    reference = {"ours_method": {"sdnn_ms": 104.0}, "neurokit_method": {"sdnn_ms": 110.0}}
    comp = compare(ours, neurokit, reference)
    assert comp["mean_hr_bpm"]["ours_minus_neurokit"] == pytest.approx(1.0)
    assert comp["sdnn_ms"]["ours_vs_neurokit_pct"] == pytest.approx(5.0)
    assert comp["sdnn_ms"]["ours_vs_reference_pct"] == pytest.approx(100 / 104)
    assert comp["sdnn_ms"]["neurokit_vs_reference_pct"] == pytest.approx(-100 / 11)
    assert comp["rmssd_ms"]["ours_vs_neurokit_pct"] is None
    assert comp["sdnn_ms"]["ours_vs_neurokit_uncorrected_pct"] == pytest.approx(25.0)
    assert comp["mean_hr_bpm"]["ours_vs_neurokit_uncorrected_pct"] is None


def test_neurokit_side_reports_the_same_figures(record: BuiltRecord, tmp_path: Path) -> None:
    """In this process, to spare a NeuroKit2 start-up: the worker's report on a minute of ECG."""
    short = tmp_path / "short.npy"
    np.save(short, np.load(record.path)[: 60 * BENCH_FS])
    assert bench_worker.main(["neurokit", str(short), str(BENCH_FS), str(tmp_path / "nk.json")]) == 0
    report = json.loads((tmp_path / "nk.json").read_text())
    stages = {"import", "ecg_process", "hrv_time", "hrv_frequency", "uncorrected_peaks"}
    assert report["ok"] and set(report["stage_s"]) >= stages
    # The extra uncorrected run is not billed: analysis time is the product's stages only.
    billed = sum(report["stage_s"][k] for k in ("ecg_process", "hrv_time", "hrv_frequency"))
    assert report["analysis_s"] == pytest.approx(billed, rel=0.05)
    figures = report["figures"]
    assert 60 < figures["mean_hr_bpm"] < 90 and figures["sdnn_ms"] > 0 and figures["rmssd_ms"] > 0
    assert len(np.load(tmp_path / "nk.npy")) == figures["beats"]
    raw = figures["uncorrected"]
    raw_peaks = np.load(tmp_path / "nk.uncorrected.npy")
    assert len(raw_peaks) == raw["beats"] and abs(raw["beats"] - figures["beats"]) <= 3
    assert abs(raw["mean_hr_bpm"] - figures["mean_hr_bpm"]) < 3 and raw["rmssd_ms"] > 0


def test_bench_command_writes_json_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "analysis.json"
    args = build_parser().parse_args(["bench", "analysis", "--hours", "0.03", "--skip-neurokit", "--json", str(out)])
    assert args.run(args) == 0
    result = json.loads(out.read_text())
    assert out.with_suffix(".png").stat().st_size > 10_000
    (entry,) = result["records"]
    ours = entry["ours"]
    assert ours["ok"], ours
    assert ours["detection"]["sensitivity"] > 0.99 and ours["detection"]["positive_predictivity"] > 0.99
    assert ours["process_peak_rss_mib"] > 10
    reference = entry["reference"]["ours_method"]
    assert abs(ours["figures"]["mean_hr_bpm"] - reference["mean_hr_bpm"]) < 0.5
    assert "neurokit" not in entry
    filtered = entry["median20"]
    assert abs(filtered["ours"]["vs_reference_pct"]["sdnn_ms"]) < 5
    assert "ours" in capsys.readouterr().out


def test_neurokit_uncorrected_peaks_are_scored_and_printed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "analysis.json"
    args = build_parser().parse_args(["bench", "analysis", "--hours", "0.03", "--json", str(out)])
    assert args.run(args) == 0
    (entry,) = json.loads(out.read_text())["records"]
    neurokit = entry["neurokit"]
    assert neurokit["ok"], neurokit
    assert neurokit["uncorrected_detection"]["sensitivity"] > 0.95
    assert "uncorrected_beats_file" not in neurokit
    assert neurokit["stage_s"]["uncorrected_peaks"] > 0
    rmssd = entry["comparison"]["rmssd_ms"]
    assert rmssd["neurokit_uncorrected"] == neurokit["figures"]["uncorrected"]["rmssd_ms"]
    printed = capsys.readouterr().out
    assert "NK uncorr" in printed and "ours vs NK's uncorrected peaks" in printed
