"""hardware_sim/patch_replay.py and `ecg patch replay`: the whole simulated patch on real records."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_firmware_events_mitdb import fast_v_runs, reference_beats

from ecg_cli.main import UserFacingError, main
from ecg_data.errors import RecordError
from ecg_data.paths import data_root
from hardware_sim.lead_off import LeadOff
from hardware_sim.patch_replay import ReplayEvent, replay

DATA = data_root()
MITDB = DATA / "mitdb"


def need(path: Path) -> Path:
    if not path.with_suffix(".hea").is_file():
        pytest.skip(f"{path} not in the data folder")
    return path


def annotated_v_runs(name: str, start_s: float, stop_s: float) -> list[tuple[float, float, int]]:
    """(first V, last V, beats) in s of each annotated NSVT-rate V run inside the stretch."""
    runs = fast_v_runs(*reference_beats(name))
    return [(a / 1000, b / 1000, n) for a, b, n in runs if start_s * 1000 <= a and b < stop_s * 1000]


@pytest.mark.parametrize(("name", "start_s", "seconds"), [("205", 270.0, 70.0), ("223", 1040.0, 40.0)])
def test_nsvt_events_at_the_annotated_ventricular_runs(name: str, start_s: float, seconds: float) -> None:
    need(MITDB / name)
    result = replay(MITDB / name, start_s=start_s, duration_s=seconds)
    # the runs that end 2 s before the stretch does (the patch ends a run on the next beat)
    runs = annotated_v_runs(name, start_s, start_s + seconds - 2.0)
    assert len(runs) >= 2
    nsvt = [e for e in result.events if e.type == "NSVT"]
    ventricular = [e for e in result.events if e.type in ("NSVT", "VT")]
    # Each annotated run inside an NSVT event, or a VT one where the SCNN saw the run's window as
    # VT (a run while VT is open belongs to it); each NSVT starting at a run's first V beat (two
    # runs 700 ms apart, the limit, may join when the detector's beat times differ by a sample).
    # A run that comes while a VT is closing (three negative windows, 7.5 s) belongs to that VT.
    vt = [e for e in ventricular if e.type == "VT"]
    for first, last, _ in runs:
        inside = any(e.onset_s - 0.1 <= first and last <= e.end_s + 0.1 for e in nsvt)
        in_vt = any(e.onset_s - 0.1 <= last and first <= e.end_s + 10.0 for e in vt)
        assert inside or in_vt, (first, last)
    for event in nsvt:
        run = min(runs, key=lambda r: abs(r[0] - event.onset_s))
        assert abs(event.onset_s - run[0]) < 0.1
        assert event.beat_count >= run[2] - 1
        assert event.record == f"mitdb/{name}"
        assert event.end_s < event.emitted_s < event.end_s + 3.0  # the next beat ends a run
        assert event.severity == "MEDIUM" and not event.ongoing
    for event in ventricular:  # none away from the annotated runs
        assert any(event.onset_s - 0.1 <= last and first <= event.end_s + 0.1 for first, last, _ in runs)
    assert ventricular
    assert result.snippets >= len(ventricular)  # one per event


@pytest.mark.parametrize("name", ["112", "122"])
def test_a_clean_normal_stretch_gives_no_ventricular_event(name: str) -> None:
    need(MITDB / name)
    result = replay(MITDB / name, duration_s=180.0)
    types = {e.type for e in result.events}
    assert not types & {"VT", "NSVT", "PAUSE", "NOISE", "LEAD_OFF"}
    assert result.labels.get("V", 0) <= 1 and result.vt_gate_open == 0
    assert result.models["beat"].invocations == result.beats > 180
    assert result.models["rhythm"].invocations == 7  # its first full window (10 s), then at 30, 60, ... 180 s


def test_injected_lead_off_gives_a_lead_off_event() -> None:
    need(MITDB / "112")
    result = replay(MITDB / "112", start_s=100.0, duration_s=90.0, lead_off=[LeadOff(30.0, 50.0, "rail")])
    lead = [e for e in result.events if e.type == "LEAD_OFF"]
    assert len(lead) == 1
    assert abs(lead[0].onset_s - 130.0) <= 0.2 and abs(lead[0].end_s - 150.0) <= 0.2
    assert 131.0 <= lead[0].emitted_s <= 131.0 + 1.2  # 1-s debounce, rules 1 s behind
    assert not {e.type for e in result.events} & {"PAUSE", "VT", "NSVT"}


def test_bad_input_raises_a_record_error(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="missing header"):
        replay(tmp_path / "nope")
    need(MITDB / "112")
    with pytest.raises(RecordError, match="no lead 2"):
        replay(MITDB / "112", lead=2)
    for suffix in (".hea", ".dat"):
        shutil.copy(MITDB / f"112{suffix}", tmp_path / f"112{suffix}")
    (tmp_path / "112.dat").write_bytes((tmp_path / "112.dat").read_bytes()[:1001])  # cut short
    with pytest.raises(RecordError):
        replay(tmp_path / "112")
    with pytest.raises(NotADirectoryError):
        replay(MITDB / "112", models_dir=tmp_path / "no_models")


def test_cli_writes_json_lines_and_the_speed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cinc = DATA / "cinc2017"
    paths = [need(cinc / "A00001"), need(cinc / "A00002")]
    out = tmp_path / "events.jsonl"
    assert main(["patch", "replay", *map(str, paths), "--events", str(out), "--jobs", "2"]) == 0
    err = capsys.readouterr().err
    assert err.count("x real time") == 2 and "cinc2017/A00001" in err
    need(MITDB / "205")
    assert main(["patch", "replay", str(MITDB / "205"), "--events", str(out), "--lead", "0"]) == 0
    lines = out.read_text().splitlines()
    assert lines
    fields = set(ReplayEvent.__dataclass_fields__)
    for line in lines:
        row = json.loads(line)
        assert set(row) == fields
        assert row["record"] == "mitdb/205" and 0 <= row["confidence"] <= 1 and row["onset_s"] <= row["end_s"]
    assert any(json.loads(line)["type"] == "NSVT" for line in lines)
    capsys.readouterr()
    assert main(["patch", "replay", str(MITDB / "205"), "--events", str(out), "--lead", "5"]) == 2
    assert "no lead 5" in capsys.readouterr().err
    with pytest.raises(UserFacingError, match="--jobs"):
        from ecg_cli.main import build_parser
        from hardware_sim.replay_cli import run_cli

        run_cli(build_parser().parse_args(["patch", "replay", "x", "--events", str(out), "--jobs", "0"]))
