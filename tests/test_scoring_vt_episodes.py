"""VT episode scoring (EC57 episode comparison) with hand-made episodes and events, and `ecg eval vt`
end to end: with a stand-in replay on real annotations, and with the real replay when it exists."""

from __future__ import annotations

import argparse
import json
import math
import sys
import types
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import wfdb

from ecg_cli.main import UserFacingError, build_parser
from ecg_data.headers import declared_length, read_header
from ecg_data.paths import data_root
from ecg_data.record import Annotations
from ecg_data.rhythm import flutter_episodes, rhythm_episodes
from ecg_data.wfdb_records import read_annotations, read_wfdb
from scoring import vt_eval
from scoring.vt_episodes import (
    METRIC_KEYS,
    NO_RHYTHM,
    REFERENCE_RHYTHMS,
    ScoredRecord,
    false_alert_rhythms,
    merge_intervals,
    overlap_s,
    overlaps,
    pool,
    reference_episodes,
    score_record,
)
from scoring.vt_episodes import (
    figures as vt_figures,
)

DATA = data_root()
HOUR = 3600.0


@dataclass(frozen=True)
class Event:
    type: str
    onset_s: float
    end_s: float
    emitted_s: float


def vt(onset: float, end: float, emitted: float | None = None) -> Event:
    return Event("VT", onset, end, onset + 10.0 if emitted is None else emitted)


def nsvt(onset: float, end: float) -> Event:
    return Event("NSVT", onset, end, end + 0.6)


def make_annotations(fs: float, notes: list[tuple[float, str, str]], end_s: float) -> Annotations:
    """Annotations from (time s, symbol, aux) through ecg_data's own episode builders."""
    sample = np.array([round(t * fs) for t, _, _ in notes], dtype=np.int64)
    symbol = [s for _, s, _ in notes]
    aux = [a for _, _, a in notes]
    end = round(end_s * fs)
    return Annotations(
        sample=sample,
        symbol=tuple(symbol),
        aux=tuple(aux),
        rhythms=rhythm_episodes(sample, symbol, aux, end),
        flutter=flutter_episodes(sample, symbol, end),
    )


# ---- reference episodes ----


def test_reference_labels_are_those_the_scnn_is_trained_on() -> None:
    from model_compression.datasets.vt_windows import VT_RHYTHMS

    assert REFERENCE_RHYTHMS == VT_RHYTHMS


def test_reference_merges_touching_rhythms_and_flutter_marks_keeps_gaps() -> None:
    ann = make_annotations(
        100.0,
        [
            (0.0, "+", "(N"),
            (10.0, "+", "(VT"),
            (14.5, "[", ""),  # flutter mark just before its "(VFL", and ending after it
            (15.0, "+", "(VFL"),  # VT straight into VFL: one episode
            (30.0, "+", "(N"),
            (30.5, "]", ""),
            (40.0, "+", "(AFIB"),  # not ventricular
            (50.0, "+", "(N"),
            (60.0, "+", "(VT"),
            (62.0, "+", "(N"),  # one sinus beat's gap: a second episode
            (62.8, "+", "(VFIB"),
            (70.0, "+", "(N"),
        ],
        end_s=100.0,
    )
    assert reference_episodes(ann, 100.0) == [(10.0, 30.5), (60.0, 62.0), (62.8, 70.0)]
    assert reference_episodes(ann, 100.0, merge_gap_s=1.0) == [(10.0, 30.5), (60.0, 70.0)]


def test_reference_of_an_episode_open_at_the_end_lasts_to_the_end() -> None:
    ann = make_annotations(250.0, [(0.0, "+", "(N"), (20.0, "+", "(VF"), (25.0, "[", "")], end_s=30.0)
    assert reference_episodes(ann, 250.0) == [(20.0, 30.0)]


@pytest.mark.skipif(not (DATA / "mitdb" / "207.atr").exists(), reason="mitdb 207 not found")
def test_reference_of_mitdb_207_first_minute() -> None:
    """VT (38.5 s), a sinus beat, flutter from its "[" (40.7 s) to its "(N" (51.1 s), ..."""
    path = DATA / "mitdb" / "207"
    header = read_header(path)
    ann = read_annotations(path, length=declared_length(header))
    assert ann is not None
    episodes = [(round(a, 1), round(b, 1)) for a, b in reference_episodes(ann, header.fs) if a < 70]
    assert episodes == [(38.5, 40.0), (40.7, 51.1), (54.8, 60.6), (61.8, 63.3)]


# ---- intervals ----


def test_overlap_rules() -> None:
    assert overlaps((0.0, 10.0), (9.9, 20.0))
    assert not overlaps((0.0, 10.0), (10.0, 20.0))  # half-open: touching shares no time
    assert overlaps((5.0, 5.0), (0.0, 10.0))  # an instant inside
    assert overlaps((0.0, 10.0), (0.0, 0.0))
    assert not overlaps((10.0, 10.0), (0.0, 10.0))
    assert merge_intervals([(5.0, 6.0), (0.0, 2.0), (2.0, 3.0), (1.0, 1.5)]) == [(0.0, 3.0), (5.0, 6.0)]
    assert overlap_s([(0.0, 10.0), (20.0, 30.0)], [(5.0, 25.0)]) == pytest.approx(10.0)


# ---- one record ----


def test_hit_miss_false_alert_and_runs() -> None:
    reference = [(100.0, 130.0), (500.0, 505.0)]
    events = [
        vt(110.0, 140.0, emitted=115.0),  # detects the first episode, 15 s after its onset
        vt(1000.0, 1010.0),  # outside any episode: a false alert
        nsvt(501.0, 503.0),  # the short run, seen as NSVT only
        Event("AF", 0.0, 600.0, 60.0),  # not a ventricular event: ignored
    ]
    s = score_record(reference, events, HOUR, "r")
    assert (s.reference_episodes, s.detected, s.alarms, s.true_alarms, s.false_alerts) == (2, 1, 2, 1, 1)
    assert (s.run_detected, s.run_events, s.true_run_events) == (2, 3, 2)
    assert (s.reference_long, s.detected_long) == (1, 1)
    assert s.latencies_s == (15.0,)
    assert (s.reference_s, s.alarm_s, s.overlap_s) == pytest.approx((35.0, 40.0, 20.0))
    f = pool([s])
    assert f["episode_sensitivity"] == 0.5
    assert f["episode_ppv"] == 0.5
    assert f["duration_sensitivity"] == pytest.approx(20 / 35)
    assert f["duration_ppv"] == pytest.approx(20 / 40)
    assert f["episode_sensitivity_10s"] == 1.0
    assert f["false_alerts_per_24h"] == pytest.approx(24.0)
    assert f["run_sensitivity"] == 1.0
    assert f["run_ppv"] == pytest.approx(2 / 3)
    assert f["latency_median_s"] == 15.0 and f["latency_p95_s"] == 15.0
    assert f["totals"]["false_alerts"] == 1 and f["totals"]["hours"] == pytest.approx(1.0)


def test_one_event_over_two_episodes_detects_both_and_counts_once() -> None:
    """A sinus beat between VT and flutter keeps two episodes; one alarm covers both. The second
    episode's latency is negative: the alarm was up before its onset."""
    s = score_record([(10.0, 20.0), (21.0, 35.0)], [vt(15.0, 30.0, emitted=18.0)], 60.0)
    assert (s.reference_episodes, s.detected, s.alarms, s.true_alarms) == (2, 2, 1, 1)
    assert s.latencies_s == pytest.approx((8.0, -3.0))
    assert pool([s])["episode_ppv"] == 1.0


def test_touching_episodes_are_one_and_latency_counts_from_the_first_onset() -> None:
    s = score_record([(20.0, 35.0), (10.0, 20.0)], [vt(25.0, 40.0, emitted=30.0)], 60.0)
    assert (s.reference_episodes, s.detected, s.reference_long) == (1, 1, 1)
    assert s.latencies_s == (20.0,)
    assert s.reference_s == pytest.approx(25.0)


def test_latency_is_the_earliest_vt_alarm_and_nsvt_raises_none() -> None:
    events = [nsvt(100.5, 103.0), vt(100.0, 130.0, emitted=112.0), vt(120.0, 150.0, emitted=125.0)]
    s = score_record([(100.0, 140.0)], events, HOUR)
    assert s.latencies_s == (12.0,)
    only_nsvt = score_record([(100.0, 140.0)], [nsvt(100.5, 103.0)], HOUR)
    assert only_nsvt.latencies_s == () and only_nsvt.detected == 0 and only_nsvt.run_detected == 1


def test_ten_second_subset() -> None:
    s = score_record([(0.0, 9.9), (20.0, 30.0), (40.0, 60.0)], [vt(21.0, 25.0), vt(1.0, 2.0, 4.0)], 100.0)
    assert (s.reference_long, s.detected_long, s.detected) == (2, 1, 2)
    f = pool([s])
    assert f["episode_sensitivity_10s"] == 0.5
    assert f["episode_sensitivity"] == pytest.approx(2 / 3)
    # latency over the long episodes only: the 9.9-s one's is left out
    assert s.latencies_s == (4.0, 11.0) and s.latencies_long_s == (11.0,)
    assert f["latency_median_s_10s"] == f["latency_p95_s_10s"] == 11.0
    assert f["totals"]["latencies_10s"] == 1


def test_an_instant_event_and_clipping_to_the_record() -> None:
    # An event still open at the end (end == onset) and one running past the record's end.
    s = score_record([(50.0, 70.0)], [vt(60.0, 60.0), vt(90.0, 130.0)], 100.0)
    assert (s.detected, s.true_alarms, s.false_alerts) == (1, 1, 1)
    assert s.alarm_s == pytest.approx(10.0)


def test_pool_adds_counts_before_dividing() -> None:
    a = score_record([(0.0, 10.0)], [vt(0.0, 10.0, 5.0)], HOUR, "a")
    b = score_record([(0.0, 10.0), (100.0, 130.0), (200.0, 230.0)], [vt(105.0, 115.0, 111.0)], HOUR, "b")
    f = pool([a, b])
    assert f["episode_sensitivity"] == 0.5  # 2 of 4, not the mean of 1 and 1/3
    assert f["latency_median_s"] == pytest.approx(8.0)  # latencies 5 and 11
    assert f["latency_p95_s"] == pytest.approx(5.0 + 0.95 * 6.0)
    assert f["false_alerts_per_24h"] == 0.0


# ---- CinC-style records and empty cases ----


def test_cinc_records_count_for_false_alerts_only() -> None:
    """No reference: every VT event is a false alert; NSVT counts against run +P only."""
    records = [
        score_record([], [vt(5.0, 15.0), nsvt(2.0, 3.0)], 30.0, "A00001"),
        score_record([], [], 30.0, "A00002"),
    ]
    f = pool(records)
    assert f["false_alerts_per_24h"] == pytest.approx(1 / 60 * 86400)
    assert f["episode_ppv"] == 0.0 and f["duration_ppv"] == 0.0 and f["run_ppv"] == 0.0
    for key in ("episode_sensitivity", "duration_sensitivity", "episode_sensitivity_10s", "run_sensitivity"):
        assert f[key] is None
    assert f["latency_median_s"] is None and f["latency_p95_s"] is None
    assert f["totals"]["records"] == 2 and f["totals"]["false_alerts"] == 1


def test_false_alerts_go_to_the_rhythm_they_share_most_time_with() -> None:
    reference = [(100.0, 130.0)]
    rhythms = [(0.0, 100.0, "N"), (100.0, 130.0, "VFL"), (130.0, 200.0, "NOISE"), (200.0, 400.0, "N")]
    events = [
        vt(110.0, 140.0),  # overlaps the episode: no false alert
        vt(150.0, 190.0),  # in noise
        vt(195.0, 215.0),  # 5 s of noise, 15 s of N
        vt(300.0, 300.0),  # an instant, in N
        vt(450.0, 460.0),  # after the last annotated rhythm
        nsvt(20.0, 22.0),  # NSVT raises no alarm
    ]
    assert false_alert_rhythms(reference, rhythms, events) == {"NOISE": 1, "N": 2, NO_RHYTHM: 1}
    assert false_alert_rhythms(reference, [], [vt(10.0, 20.0)]) == {NO_RHYTHM: 1}
    # The counts add up to the false alerts score_record finds.
    score = score_record(reference, events, 500.0)
    assert sum(false_alert_rhythms(reference, rhythms, events).values()) == score.false_alerts


def test_vt_eval_pools_false_alerts_by_rhythm() -> None:
    a = vt_eval.Replayed("a", [(0.0, 10.0)], [vt(20.0, 30.0)], 60.0, rhythms=[(0.0, 10.0, "VT"), (10.0, 60.0, "AFIB")])
    b = vt_eval.Replayed("b", [], [vt(1.0, 2.0), vt(5.0, 6.0)], 30.0, rhythms=[(0.0, math.inf, "CinC O")])
    records = [ScoredRecord(r.name, r.reference, r.rhythms, r.events, r.duration_s) for r in (a, b)]
    assert vt_figures(records)[1]["false_alerts_by_rhythm"] == {"CinC O": 2, "AFIB": 1}
    line = vt_eval.format_summary({**pool([score_record(r.reference, r.events, r.duration_s) for r in (a, b)]),
                                   "false_alerts_by_rhythm": {"CinC O": 2, "AFIB": 1}})  # fmt: skip
    assert "(reference rhythm: CinC O 2, AFIB 1)" in line


def test_empty_cases_are_none_and_json_serialisable() -> None:
    nothing = pool([])
    assert set(METRIC_KEYS) <= nothing.keys()
    assert all(nothing[k] is None for k in METRIC_KEYS)
    quiet = pool([score_record([], [], 60.0)])
    assert quiet["false_alerts_per_24h"] == 0.0
    assert all(quiet[k] is None for k in METRIC_KEYS if k != "false_alerts_per_24h")
    for figures in (nothing, quiet):
        json.dumps(figures, allow_nan=False)
    row = score_record([(1.0, 2.0)], [vt(1.5, 3.0)], 10.0, "x").to_json()
    assert json.loads(json.dumps(row, allow_nan=False))["false_alerts"] == 0
    assert not any(isinstance(v, float) and math.isnan(v) for v in row.values())


# ---- the command ----


def test_command_is_registered() -> None:
    args = build_parser().parse_args(["eval", "vt", "--data", "d", "--json", "o.json", "--jobs", "2"])
    assert args.jobs == 2 and args.model is None and callable(args.run)


def test_model_folder_replaces_only_the_vt_model(tmp_path: Path) -> None:
    from firmware.model_plan import VT_MODEL
    from model_compression.training.model_card import FIRMWARE_MODELS

    model = tmp_path / "candidate.tflite"
    model.write_bytes(b"TFL3 stand-in")
    tasks = [vt_eval.Task(str(tmp_path / "418"), False, None)]
    plan, _, _ = vt_eval.replacement_plan(tasks, "vfdb", str(model), None, None, None)
    with vt_eval.model_sets(plan) as owner:
        folder = owner["vfdb/418"]
        assert (Path(folder) / VT_MODEL[0]).read_bytes() == b"TFL3 stand-in"
        shipped = {p.name for p in FIRMWARE_MODELS.iterdir() if p.is_file()} - {VT_MODEL[0]}
        assert shipped <= {p.name for p in Path(folder).iterdir()}
    assert not Path(folder).exists()
    plan, _, _ = vt_eval.replacement_plan(tasks, "vfdb", None, None, None, None)
    with vt_eval.model_sets(plan) as none:
        assert plan == {} and none == {}  # the replay's shipped models, no folder


def short_copy(source: Path, folder: Path, seconds: float) -> Path:
    """The first `seconds` of a WFDB record: a cut header (with that stretch's checksums) over a link
    to the original signal file, and that stretch's annotations."""
    n = round(seconds * read_header(source).fs)
    digital = wfdb.rdrecord(str(source), sampto=n, physical=False).d_signal
    lines = source.with_suffix(".hea").read_text().splitlines()
    header = [" ".join([*lines[0].split()[:3], str(n)])]
    for i, line in enumerate(lines[1 : 1 + digital.shape[1]]):
        fields = line.split(maxsplit=8)
        fields[6] = str((int(digital[:, i].sum()) + 32768) % 65536 - 32768)
        header.append(" ".join(fields))
    name = source.name
    (folder / f"{name}.hea").write_text("\n".join(header) + "\n")
    (folder / f"{name}.dat").symlink_to(source.with_suffix(".dat"))
    ann = read_wfdb(source, sampto=n).annotations
    assert ann is not None
    wfdb.wrann(name, "atr", ann.sample, list(ann.symbol), aux_note=list(ann.aux), write_dir=str(folder))
    return folder / name


@dataclass(frozen=True)
class StandInEvent:
    record: str
    type: str
    onset_s: float
    end_s: float
    confidence: float
    emitted_s: float
    heart_rate: int
    beat_count: int


@dataclass(frozen=True)
class StandInUse:
    macs: int


@dataclass(frozen=True)
class StandInResult:
    record: str
    duration_s: float
    events: list[StandInEvent]
    wall_s: float
    models: dict[str, StandInUse]


def stand_in_replay(events: dict[str, list[tuple[str, float, float, float]]]) -> types.ModuleType:
    """A module in place of hardware_sim.patch_replay whose replay returns the given events per record."""
    module = types.ModuleType(vt_eval.REPLAY_MODULE)

    def replay(
        path: str | Path, *, lead: int = 0, models_dir: str | Path | None = None, trace: list | None = None
    ) -> StandInResult:
        header = read_header(path)
        name = Path(path).name
        rows = [StandInEvent(name, t, a, b, 0.9, e, 180, 12) for t, a, b, e in events.get(name, [])]
        # the SCNN once per VT event and the beat classifier once a second, at 1 M MAC each
        duration = header.sig_len / header.fs
        uses = {"vt": StandInUse(len(rows) * 10**6), "beat": StandInUse(int(duration) * 10**6)}
        return StandInResult(name, duration, rows, 0.01, uses)

    module.replay = replay  # type: ignore[attr-defined]
    return module


def run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    assert isinstance(args, argparse.Namespace)
    return int(args.run(args))


@pytest.mark.skipif(not (DATA / "mitdb" / "207.dat").exists(), reason="mitdb 207 not found")
def test_command_end_to_end_with_a_stand_in_replay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "mitdb"
    data.mkdir()
    short_copy(DATA / "mitdb" / "207", data, 70.0)
    events = {"207": [("VT", 41.0, 52.0, 46.0), ("NSVT", 38.6, 39.9, 40.5), ("VT", 64.0, 69.0, 68.0)]}
    monkeypatch.setitem(sys.modules, vt_eval.REPLAY_MODULE, stand_in_replay(events))
    out = tmp_path / "vt.json"
    jsonl = tmp_path / "events.jsonl"
    argv = ["eval", "vt", "--data", str(data), "--json", str(out), "--events", str(jsonl), "--jobs", "1"]
    assert run(argv) == 0
    figures = json.loads(out.read_text())
    assert figures["layout"] == "wfdb" and figures["skipped"] == []
    (row,) = figures["records"]
    # Reference 38.5-40.0, 40.7-51.1, 54.8-60.6, 61.8-63.3: the first VT event detects the second
    # episode only, the NSVT the first, the last VT event is past them all.
    assert (row["reference_episodes"], row["detected"], row["false_alerts"], row["run_detected"]) == (4, 1, 1, 2)
    assert figures["episode_sensitivity"] == 0.25 and figures["episode_ppv"] == 0.5
    assert figures["latency_median_s"] == pytest.approx(46.0 - 40.7, abs=0.05)
    assert figures["false_alerts_per_24h"] == pytest.approx(86400 / 70.0)
    assert len(jsonl.read_text().splitlines()) == 3
    budget = figures["inference"]
    assert budget["signal_s"] == pytest.approx(70.0, abs=0.01) and budget["worst_record"] == "207"
    assert budget["macs_per_10s_by_model"]["vt"] == pytest.approx(3e6 * 10 / 70.0, rel=1e-3)
    assert budget["macs_per_10s"] == pytest.approx((3e6 + 70e6) * 10 / 70.0, rel=1e-3)
    assert out.with_suffix(".png").stat().st_size > 0
    assert "episodes: Se 25.0% (1/4)" in capsys.readouterr().out


@pytest.mark.skipif(not (DATA / "cinc2017" / "A00001.mat").exists(), reason="CinC 2017 not found")
def test_command_on_cinc_layout_counts_false_alerts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "cinc"
    data.mkdir()
    names = ["A00001", "A00002"]
    for name in names:
        for ext in ("hea", "mat"):
            (data / f"{name}.{ext}").symlink_to(DATA / "cinc2017" / f"{name}.{ext}")
    (data / "REFERENCE.csv").write_text("A00001,N\nA00002,N\n")
    monkeypatch.setitem(sys.modules, vt_eval.REPLAY_MODULE, stand_in_replay({"A00002": [("VT", 5.0, 15.0, 15.0)]}))
    out = tmp_path / "cinc.json"
    assert run(["eval", "vt", "--data", str(data), "--json", str(out), "--jobs", "1"]) == 0
    figures = json.loads(out.read_text())
    hours = sum(read_header(data / n).sig_len / 300.0 for n in names) / 3600.0
    assert figures["layout"] == "cinc2017"
    assert figures["totals"]["false_alerts"] == 1 and figures["totals"]["hours"] == pytest.approx(hours, abs=1e-5)
    assert figures["false_alerts_per_24h"] == pytest.approx(24 / hours, rel=1e-4)
    assert figures["episode_sensitivity"] is None and figures["episode_ppv"] == 0.0


def test_command_refuses_unknown_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, vt_eval.REPLAY_MODULE, stand_in_replay({}))
    with pytest.raises(UserFacingError, match="no annotated record nope"):
        run(["eval", "vt", "--data", str(DATA / "mitdb"), "--records", "nope", "--jobs", "1"])


@pytest.mark.skipif(not (DATA / "mitdb" / "203.atr").exists(), reason="mitdb 203 not found")
def test_command_says_when_no_finished_fold_holds_the_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, vt_eval.REPLAY_MODULE, stand_in_replay({}))
    fold = tmp_path / "run" / "cv" / "fold0"
    fold.mkdir(parents=True)
    (fold / "result.json").write_text(json.dumps({"fold": 0, "val_records": ["mitdb/207"]}))
    for variant in ("stage1", "stage2"):
        (fold / f"vt_scnn_{variant}.tflite").write_bytes(b"vt")
    with pytest.raises(UserFacingError, match="none of its records is in a finished fold"):
        run(["eval", "vt", "--data", str(DATA / "mitdb"), "--records", "203", "--cv-run", str(tmp_path / "run"),
             "--variant", "stage2", "--jobs", "1"])  # fmt: skip


@pytest.mark.skipif(not (DATA / "mitdb" / "207.dat").exists(), reason="mitdb 207 not found")
@pytest.mark.timeout(120)
def test_command_with_the_real_replay(tmp_path: Path) -> None:
    """The simulated patch itself on 207's first 70 s (VT and flutter from 38 s)."""
    pytest.importorskip(vt_eval.REPLAY_MODULE)
    data = tmp_path / "mitdb"
    data.mkdir()
    short_copy(DATA / "mitdb" / "207", data, 70.0)
    out = tmp_path / "vt.json"
    assert run(["eval", "vt", "--data", str(data), "--json", str(out), "--jobs", "1"]) == 0
    figures = json.loads(out.read_text())
    (row,) = figures["records"]
    assert row["reference_episodes"] == 4 and row["hours"] == pytest.approx(70 / 3600, abs=1e-4)
    assert set(METRIC_KEYS) <= figures.keys()


def test_cv_run_gives_each_record_the_model_of_the_fold_that_held_it_out(tmp_path: Path) -> None:
    run = tmp_path / "run"
    for k, records in enumerate((["vfdb/418", "cinc2017/A00001"], ["vfdb/419"])):
        fold = run / "cv" / f"fold{k}"
        fold.mkdir(parents=True)
        (fold / "result.json").write_text(json.dumps({"fold": k, "val_records": records}))
        for variant in ("stage1", "stage2"):
            (fold / f"vt_scnn_{variant}.tflite").write_bytes(f"{k}{variant}".encode())
    (run / "final").mkdir()
    (run / "final" / "variant.json").write_text(json.dumps("stage2"))
    def cv_folders(variant: str | None) -> AbstractContextManager[dict[str, str]]:
        return vt_eval.model_sets({r: {"vt_scnn.tflite": m} for r, m in vt_eval.vt_fold_models(run, variant).items()})

    with cv_folders(None) as owner:
        assert set(owner) == {"vfdb/418", "cinc2017/A00001", "vfdb/419"}
        assert (Path(owner["vfdb/418"]) / "vt_scnn.tflite").read_bytes() == b"0stage2"
        assert (Path(owner["vfdb/419"]) / "vt_scnn.tflite").read_bytes() == b"1stage2"
        assert owner["vfdb/418"] == owner["cinc2017/A00001"]
    tasks = [vt_eval.Task(str(tmp_path / n), False, None) for n in ("418", "419", "420")]
    plan, kept, unseen = vt_eval.replacement_plan(tasks, "vfdb", None, str(run), None, None)
    assert [Path(t.path).name for t in kept] == ["418", "419"] and unseen == ["vfdb/420"]
    assert plan["vfdb/419"] == {"vt_scnn.tflite": run / "cv" / "fold1" / "vt_scnn_stage2.tflite"}
    with cv_folders("stage1") as owner:
        assert (Path(owner["vfdb/419"]) / "vt_scnn.tflite").read_bytes() == b"1stage1"
    (run / "cv" / "fold1" / "vt_scnn_stage1.tflite").unlink()
    with pytest.raises(FileNotFoundError, match="missing"):
        vt_eval.vt_fold_models(run, "stage1")


def test_beats_cv_run_gives_its_records_their_folds_beat_classifier(tmp_path: Path) -> None:
    beats = tmp_path / "beats"
    for k, records in enumerate((["mitdb/207"], ["mitdb/201", "mitdb/202"])):
        fold = beats / "cv" / f"fold{k}"
        fold.mkdir(parents=True)
        (fold / "result.json").write_text(json.dumps({"fold": k, "val_records": records}))
        (fold / "beat_classifier.tflite").write_bytes(f"beats{k}".encode())
    model = tmp_path / "vt.tflite"
    model.write_bytes(b"vt")
    tasks = [vt_eval.Task(str(tmp_path / n), False, None) for n in ("201", "207", "223")]
    plan, kept, unseen = vt_eval.replacement_plan(tasks, "mitdb", str(model), None, None, str(beats))
    assert kept == tasks and unseen == []
    # Every record gets the VT model asked for; only the run's own records a fold's beat classifier.
    assert plan["mitdb/223"] == {"vt_scnn.tflite": model}
    assert plan["mitdb/201"]["beat_classifier.tflite"] == beats / "cv" / "fold1" / "beat_classifier.tflite"
    with vt_eval.model_sets(plan) as owner:
        assert (Path(owner["mitdb/207"]) / "beat_classifier.tflite").read_bytes() == b"beats0"
        assert (Path(owner["mitdb/207"]) / "vt_scnn.tflite").read_bytes() == b"vt"
        assert (Path(owner["mitdb/223"]) / "rhythm_resnet.tflite").is_file()  # the shipped ones
        assert len({owner[r] for r in plan}) == 3
    (beats / "cv" / "fold0" / "result.json").write_text(json.dumps({"fold": 0}))
    with pytest.raises(FileNotFoundError, match="val_records"):
        vt_eval.replacement_plan(tasks, "mitdb", None, None, None, str(beats))
