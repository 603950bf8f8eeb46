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
    loose = {"vt_threshold": 0.001}  # nearly every window positive: an alarm outside the reference VT
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
    assert main(["eval", "vt-rules", str(trace), "--set", "vt_threshold=0.001", "--false-alarm-strips", str(png)]) == 0
    assert png.stat().st_size > 20_000
