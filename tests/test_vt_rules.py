"""The event rules' inputs recorded during a replay and the rules run again on them:
`hardware_sim.detector_trace` and `ecg eval vt --trace` / `ecg eval vt-rules`."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from ecg_cli.main import main
from ecg_data.paths import data_root
from ecg_data.reader import read_record
from hardware_sim.detector_trace import rerun
from hardware_sim.patch_replay import replay
from scoring.vt_rules import parse_settings

VFDB = data_root() / "vfdb"
RECORD = "420"  # three VT episodes, among them a long one: VT, NSVT and other events
FIGURES = ("episode_sensitivity", "episode_ppv", "false_alerts_per_24h", "run_sensitivity", "run_ppv",
           "latency_median_s", "latency_p95_s", "duration_ppv")  # fmt: skip
NO_VT = {"vt_open_count": 4, "vt_corroborate": False, "vt_by_beats_ms": 10**9}


def _key(e) -> tuple:
    return (e.type, e.event_id, e.severity, e.ongoing, e.heart_rate, e.beat_count,
            round(e.onset_s, 3), round(e.end_s, 3), round(e.emitted_s, 3), round(e.confidence, 4))  # fmt: skip


def test_the_rules_run_again_on_their_recorded_inputs_give_the_replays_events() -> None:
    calls: list = []
    result = replay(VFDB / RECORD, trace=calls)
    assert {c[0] for c in calls} >= {0, 1, 2, 4, 6}  # beats, SCNN, rhythm, quality, ticks
    events = rerun(calls, record=result.record)
    assert [_key(e) for e in events] == [_key(e) for e in result.events]
    assert any(e.type == "VT" for e in events)
    # Settings are applied: more positive windows than the last 3 can hold, no corroboration by V
    # runs and no V run long enough: nothing opens a VT.
    strict = rerun(calls, NO_VT)
    assert not any(e.type == "VT" for e in strict)


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("trace")
    trace, figures = folder / "vt.pkl.gz", folder / "vt.json"
    code = main(["eval", "vt", "--data", str(VFDB), "--records", RECORD, "--jobs", "1",
                 "--trace", str(trace), "--json", str(figures)])  # fmt: skip
    assert code == 0
    return trace, json.loads(figures.read_text())


def test_vt_rules_without_settings_gives_the_traced_runs_figures(traced, tmp_path: Path) -> None:
    trace, replayed = traced
    out = tmp_path / "rules.json"
    assert main(["eval", "vt-rules", str(trace), "--json", str(out)]) == 0
    (again,) = json.loads(out.read_text())["traces"]
    for key in FIGURES:
        assert again[key] == replayed[key], key
    assert again["false_alerts_by_rhythm"] == replayed["false_alerts_by_rhythm"]
    assert again["records"] == replayed["records"]


def test_vt_rules_applies_its_settings(traced, tmp_path: Path) -> None:
    trace, replayed = traced
    out = tmp_path / "rules.json"
    assert (
        main(
            [
                "eval",
                "vt-rules",
                str(trace),
                "--set",
                "vt_open_count=4",
                "--set",
                "vt_corroborate=0",
                "--set",
                "vt_by_beats_ms=1000000000",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    (strict,) = json.loads(out.read_text())["traces"]
    assert strict["settings"] == NO_VT
    assert strict["totals"]["alarms"] == 0 < replayed["totals"]["alarms"]


def test_settings_are_typed_as_their_defaults_and_unknown_ones_refused() -> None:
    assert parse_settings(["vt_open_count=3", "vt_threshold=0.6", "vt_corroborate=false"]) == {
        "vt_open_count": 3, "vt_threshold": 0.6, "vt_corroborate": False,
    }  # fmt: skip
    for bad in (
        "vt_open_count",
        "no_such_rule=1",
        "_vt_thr=1",
        "vt_open_count=three",
        "vt_corroborate=maybe",
    ):
        with pytest.raises(ValueError):
            parse_settings([bad])


def test_a_file_that_is_no_trace_is_refused_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = tmp_path / "figures.json"
    plain.write_text("{}")
    foreign = tmp_path / "foreign.pkl.gz"
    with gzip.open(foreign, "wb") as fh:
        fh.write(b"\x80\x05N.")  # a pickle of None
    for path in (plain, foreign):
        assert main(["eval", "vt-rules", str(path)]) != 0
        assert "not an `ecg eval vt --trace` file" in capsys.readouterr().err


def test_false_alarm_strips_show_each_false_alarm_from_its_record(traced, tmp_path: Path) -> None:
    from scoring.false_alarm_strips import AFTER_S, BEFORE_S, alarm_strips
    from scoring.vt_rules import load_trace, score_trace, trace_events

    trace, _ = traced
    data = load_trace(trace)
    # Nearly every window positive, slow ones too: an alarm outside the reference VT.
    loose = {"vt_threshold": 0.001, "vt_min_hf_pm": 0}
    events = trace_events(data, loose)
    strips = alarm_strips(data, events)
    assert len(strips) == score_trace(data, events)["totals"]["false_alerts"] > 0
    record = read_record(VFDB / RECORD)
    for s in strips:
        assert s.record == RECORD and s.start_s == max(0.0, s.alarm_s - BEFORE_S)
        k = int(s.start_s * s.fs)
        stop = min(int((s.alarm_s + AFTER_S) * s.fs), record.signal.shape[0])
        np.testing.assert_array_equal(s.signal, record.signal[k:stop, 0])
    png = tmp_path / "strips.png"
    assert main(["eval", "vt-rules", str(trace), "--set", "vt_threshold=0.001", "--set", "vt_min_hf_pm=0", "--false-alarm-strips", str(png)]) == 0
    assert png.stat().st_size > 20_000


def _score(end_ms: int, p: float, hf_pm: int) -> tuple:
    return (1, end_ms + 1000, (end_ms, p, hf_pm))  # an on_vt_score call as detector_trace records it


def _fake_run(folder: Path, folds: dict[str, list[str]]) -> Path:
    from model_compression.training.vt import EXPORT_NAME

    for fold, records in folds.items():
        (folder / "cv" / fold).mkdir(parents=True)
        (folder / "cv" / fold / "result.json").write_text(json.dumps({"val_records": records}))
        (folder / "cv" / fold / f"{EXPORT_NAME}_hard_negatives.tflite").write_bytes(b"")
    return folder


def test_a_folds_floor_is_the_lowest_share_of_the_other_folds_vt_windows(tmp_path: Path) -> None:
    from scoring.vt_hf_floor import fold_floors, record_floors, vt_window_shares

    run = _fake_run(tmp_path, {"fold0": ["vfdb/A"], "fold1": ["vfdb/B"], "fold2": ["vfdb/C"]})
    inside = [(0.0, 30.0)]
    trace = {"data": "somewhere/vfdb", "cv_run": str(run), "variant": "hard_negatives", "records": {
        "A": {"reference": inside, "inputs": [_score(10_000, 0.9, 300), _score(12_500, 0.9, 250),
                                              _score(15_000, 0.2, 40),  # negative: not counted
                                              _score(40_000, 0.9, 20)]},  # outside VT
        "B": {"reference": inside, "inputs": [_score(20_000, 0.5, 180), _score(22_500, 0.95, -1)]},  # -1: no share
        "C": {"reference": [], "inputs": [_score(10_000, 0.99, 5)]},  # no VT: a false alarm's window
    }}  # fmt: skip
    assert vt_window_shares(trace, 0.5) == {"vfdb/A": [300, 250], "vfdb/B": [180], "vfdb/C": []}
    floors, fold_of = fold_floors([trace], 0.5)
    assert floors == {"fold0": 180, "fold1": 250, "fold2": 180, "all": 180}
    assert record_floors(trace, floors, fold_of) == {"A": 180, "B": 250, "C": 180}
    with pytest.raises(ValueError, match="fold0: no VT window"):
        fold_floors([trace], 0.6)  # B's window is below that threshold: nothing to set fold0's floor from
    with pytest.raises(ValueError, match="one cross-validated run"):
        fold_floors([{**trace, "cv_run": None}], 0.5)


def test_vt_rules_applies_each_records_fold_floor(traced, tmp_path: Path) -> None:
    from scoring.vt_eval import TRACE_FORMAT
    from scoring.vt_rules import load_trace, score_trace, trace_events

    trace, _ = traced
    data = load_trace(trace)
    # A second record in another fold whose only VT window has all its power above 2 Hz: record
    # 420's floor is then 1000, which none of its windows reaches.
    other = {"reference": [(0.0, 30.0)], "rhythms": [], "duration_s": 60.0, "events": [],
             "inputs": [_score(10_000, 0.9, 1000)]}  # fmt: skip
    run = _fake_run(tmp_path / "run", {"fold0": [f"vfdb/{RECORD}"], "fold1": ["vfdb/other"]})
    data = {**data, "format": TRACE_FORMAT, "cv_run": str(run), "variant": "hard_negatives",
            "records": {**data["records"], "other": other}}  # fmt: skip
    folded = tmp_path / "folded.pkl.gz"
    with gzip.open(folded, "wb") as fh:
        import pickle

        pickle.dump(data, fh)
    out = tmp_path / "rules.json"
    assert main(["eval", "vt-rules", str(folded), "--hf-floor-by-fold", "--json", str(out)]) == 0
    (scored,) = json.loads(out.read_text())["traces"]
    floors = scored["settings"]["vt_min_hf_pm_by_fold"]
    assert floors["fold0"] == 1000 and 0 < floors["fold1"] == floors["all"] < 1000
    expected = score_trace(data, trace_events(data, {}, {RECORD: {"vt_min_hf_pm": 1000},
                                                         "other": {"vt_min_hf_pm": floors["fold1"]}}))  # fmt: skip
    for key in FIGURES:
        assert scored[key] == expected[key], key
    assert scored["totals"]["detected"] < score_trace(data, trace_events(data, {}))["totals"]["detected"]
    assert main(["eval", "vt-rules", str(folded), "--hf-floor-by-fold", "--set", "vt_min_hf_pm=5"]) != 0
    assert main(["eval", "vt-rules", str(trace), "--hf-floor-by-fold"]) != 0  # not a --cv-run trace
