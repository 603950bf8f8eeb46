"""`ecg eval vt-pool`: results of `ecg eval vt` replayed apart, pooled as one run would have."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecg_cli.main import main
from scoring.vt_episodes import RecordVtScore, pool
from scoring.vt_pool import PoolError, pool_files


def _score(
    name: str, *, ref: int, det: int, alarms: int, true: int, hours: float, lat: tuple[float, ...]
) -> RecordVtScore:
    return RecordVtScore(
        record=name, duration_s=hours * 3600.0, reference_episodes=ref, detected=det,
        reference_long=ref, detected_long=det, alarms=alarms, true_alarms=true,
        run_detected=det, run_events=alarms + 2, true_run_events=true + 1,
        reference_s=30.0 * ref, alarm_s=25.0 * alarms, overlap_s=20.0 * true,
        latencies_s=lat, latencies_long_s=lat,
    )  # fmt: skip


def _result(path: Path, data: str, scores: list[RecordVtScore], rhythms: dict[str, int]) -> Path:
    path.write_text(json.dumps({
        "data": data, "cv_run": "model_compression/cv_runs/vt", "model": None,
        **pool(scores), "false_alerts_by_rhythm": rhythms, "records": [s.to_json() for s in scores],
    }))  # fmt: skip
    return path


A = [_score("418", ref=2, det=2, alarms=3, true=2, hours=0.5, lat=(6.0, 9.5)),
     _score("419", ref=0, det=0, alarms=4, true=0, hours=0.5, lat=())]  # fmt: skip
B = [_score("422", ref=5, det=4, alarms=4, true=4, hours=0.5, lat=(7.0, 8.0, 12.0, 30.0))]
C = [_score("A00001", ref=0, det=0, alarms=1, true=0, hours=1 / 120, lat=())]


def test_pooled_equals_one_run_over_all_records(tmp_path: Path) -> None:
    a = _result(tmp_path / "a.json", "../shared/data/vfdb", A, {"NOISE": 3, "N": 1})
    b = _result(tmp_path / "b.json", "../shared/data/vfdb", B, {})
    c = _result(tmp_path / "c.json", "../shared/data/cinc2017", C, {"O": 1})
    figures, scores = pool_files([a, b, c])
    assert [s.record for s in scores] == ["418", "419", "422", "A00001"]
    whole = pool(A + B + C)
    for key, value in whole.items():
        assert figures[key] == value, key
    assert figures["totals"]["false_alerts"] == 6  # 1 + 4 + 0 + 1
    assert figures["episode_sensitivity"] == pytest.approx(6 / 7)
    assert figures["false_alerts_by_rhythm"] == {"NOISE": 3, "N": 1, "O": 1}
    assert [s["records"] for s in figures["sources"]] == [2, 1, 1]


def test_a_record_in_two_results_is_refused(tmp_path: Path) -> None:
    a = _result(tmp_path / "a.json", "../shared/data/vfdb", A, {})
    again = _result(tmp_path / "again.json", "/elsewhere/vfdb", A[:1], {})
    with pytest.raises(PoolError, match="vfdb/418 is in both"):
        pool_files([a, again])
    # The same record name in another database is another record.
    other = _result(tmp_path / "mitdb.json", "../shared/data/mitdb", A[:1], {})
    assert pool_files([a, other])[0]["totals"]["records"] == 3


def test_files_that_are_not_results_get_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"data": "x", "records": [')
    with pytest.raises(PoolError, match="not readable as JSON"):
        pool_files([broken])
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"figures": {}}))
    with pytest.raises(PoolError, match="not an `ecg eval vt --json` result"):
        pool_files([other])
    short = tmp_path / "short.json"
    row = A[0].to_json()
    del row["alarms"]
    short.write_text(json.dumps({"data": "vfdb", "records": [row]}))
    with pytest.raises(PoolError, match="418 lacks alarms"):
        pool_files([short])
    assert main(["eval", "vt-pool", str(short)]) == 2
    assert "418 lacks alarms" in capsys.readouterr().err


def test_cli_prints_and_writes_the_pooled_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _result(tmp_path / "a.json", "../shared/data/vfdb", A, {})
    b = _result(tmp_path / "b.json", "../shared/data/vfdb", B, {})
    out = tmp_path / "pooled.json"
    assert main(["eval", "vt-pool", str(a), str(b), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "pooled over 3 records" in printed
    assert "false alerts: 5 in 1.50 h = 80.00 per 24 h" in printed
    written = json.loads(out.read_text())
    assert written["totals"]["records"] == 3
    assert written["latency_p95_s_10s"] == pool(A + B)["latency_p95_s_10s"]
