"""firmware/patch.py: the patch's main loop on real MIT-BIH stretches through the front end.

The VT network is not shipped yet, so the VT path runs on tiny FULLY_CONNECTED int8 models of
the SCNN's input and output shapes, built here without TensorFlow, that answer a fixed
probability: what is tested is when the patch runs them and what it does with their answers.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from ecg_data.paths import data_root
from ecg_data.reader import read_record
from firmware import wire
from firmware.delay_line import DelayLine
from firmware.events import EventConfig
from firmware.model_plan import VT_CONFIRM_HOP_S, VT_MODEL, VT_QUIET_PM, VT_QUIET_WINDOWS, VT_SUSTAIN_HOP_S
from firmware.patch import DECISION_LAG_MS, LABEL_WAIT_MS, Patch
from firmware.quality import SignalQuality
from firmware.snippets import SnippetRecorder
from firmware.store import FLAG_CRITICAL, KIND_EVENT, KIND_SNIPPET, Store
from firmware.vt_gate import HOLD_MS, VtGate
from hardware_sim.alert_devices import SimAlertDevices
from hardware_sim.ecg_source import EcgSource
from hardware_sim.flash import NorFlash
from hardware_sim.front_end import FrontEndConfig
from hardware_sim.noise import NoiseSource
from hardware_sim.patch_qrs import lsb_nv
from hardware_sim.tflm_binding import TflmBinding

MITDB = data_root() / "mitdb"
FIRMWARE_MODELS = Path(__file__).resolve().parents[1] / "firmware" / "models"
CONFIG = FrontEndConfig()
LSB = lsb_nv(CONFIG)
CRITICAL_TONE = 2700  # firmware/alerts.py's VT tone


def constant_vt_model(p: float) -> bytes:
    """An int8 model with the SCNN's input (1, 1250, 1) and output (1, 1) that answers p (its
    FULLY_CONNECTED weights are zero, the bias sets the output)."""
    from tflite_micro.tensorflow.lite.micro.compression import model_editor as me
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as tfl

    s_in, s_w = 8 / 127, 1 / 127
    x = me.Tensor(
        shape=(1, 1250, 1), dtype=tfl.TensorType.INT8, name="ecg", quantization=me.Quantization(s_in, 0)
    )
    w = me.Tensor(shape=(1, 1250), dtype=tfl.TensorType.INT8, data=np.zeros((1, 1250), np.int8),
                  name="w", quantization=me.Quantization(s_w, 0))  # fmt: skip
    b = me.Tensor(shape=(1,), dtype=tfl.TensorType.INT32, data=np.array([round(p / (s_in * s_w))], np.int32),
                  name="b", quantization=me.Quantization(s_in * s_w, 0))  # fmt: skip
    y = me.Tensor(
        shape=(1, 1), dtype=tfl.TensorType.INT8, name="p", quantization=me.Quantization(1 / 256, -128)
    )
    op = me.Operator(opcode=tfl.BuiltinOperator.FULLY_CONNECTED, inputs=[x, w, b], outputs=[y])
    model = me.Model(subgraphs=[me.Subgraph(tensors=[x, w, b, y], operators=[op], inputs=[x], outputs=[y])])
    return bytes(model.build())


def models_folder(tmp: Path, vt_p: float | None, beats: bool = True) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    if beats:
        shutil.copy(FIRMWARE_MODELS / "beat_classifier.tflite", tmp)
    if vt_p is not None:
        (tmp / "vt_scnn.tflite").write_bytes(constant_vt_model(vt_p))
    return tmp


def codes_of(name: str, start_s: float, seconds: float, noise: NoiseSource | None = None) -> list[int]:
    if not (MITDB / f"{name}.hea").is_file():
        pytest.skip(f"mitdb/{name} not in {MITDB}")
    source = EcgSource(read_record(MITDB / name), 0, CONFIG, noise=noise, start_s=start_s, duration_s=seconds)
    return source.codes().tolist()


class Run:
    """A Patch with a store on simulated flash and the simulated alert devices, fed in FIFO reads."""

    def __init__(self, models: Path | None, store: bool = True) -> None:
        self.binding = TflmBinding()
        self.flash = NorFlash(block_count=256, block_size=4096)
        self.store = Store(self.flash) if store else None
        self.devices = SimAlertDevices(clock=self._ms)
        self.patch = Patch(LSB, self.binding if models else None, str(models) if models else None,
                           self.store, self.devices)  # fmt: skip
        self.records: list[tuple[dict, int, int]] = []  # (record, now_ms, VT invocations then)
        self.patch.on_record = self._record

    def _ms(self) -> int:
        """The patch's sample clock (0 while it is being built)."""
        return self.patch.n * 4 if hasattr(self, "patch") else 0

    def _record(self, record: dict, now: int) -> None:
        vt = self.patch.vt
        self.records.append((record, now, vt.invocations if vt is not None else 0))

    def feed(self, codes: Sequence[int], lead_off: bool = False) -> Run:
        for i in range(0, len(codes), 25):
            self.patch.push_block(codes[i : i + 25], lead_off)
        return self

    def first(self, etype: str) -> tuple[dict, int, int] | None:
        return next((r for r in self.records if r[0]["event_type"] == etype), None)

    def types(self) -> set[str]:
        return {r[0]["event_type"] for r in self.records}


# --- the VT path ----------------------------------------------------------------------------------


def test_two_positive_windows_of_three_open_vt_sound_the_alarm_and_store_it_critical(tmp_path: Path) -> None:
    """mitdb/223 turns into a ventricular rhythm at about 100 bpm at 577 s (runs from 589 s).
    Without the beat classifier no beat is V (no run corroborates the SCNN), so only the fast rate
    opens the gate and VT needs the 2-of-3 rule: the event comes with the second window the SCNN
    scores, the buzzer plays the critical tone from then, and the store holds the event with its
    critical flag."""
    run = Run(models_folder(tmp_path / "m", 0.9, beats=False)).feed(codes_of("223", 575, 45))
    vt = run.first("VT")
    assert vt is not None
    record, emitted, invocations = vt
    assert invocations == 2
    assert record["severity"] == "CRITICAL" and record["critical"]
    assert 0 < record["onset_ms"] <= 600_000 - 575_000
    assert run.patch.gate.reason == 1  # the fast rate
    assert run.devices.first_on("buzzer", emitted) == emitted
    assert CRITICAL_TONE in [iv.value for iv in run.devices.intervals("buzzer")]
    assert run.store is not None
    stored = [(ident, flags) for kind, ident, _, flags, *_ in run.store.records(1 << KIND_EVENT)]
    assert (record["event_id"], FLAG_CRITICAL) in stored


def invocation_times_ms(run: Run, codes: Sequence[int]) -> list[int]:
    """Sample-clock ms at which the SCNN ran, fed in FIFO reads."""
    times = []
    for i in range(0, len(codes), 25):
        before = run.patch.vt.invocations if run.patch.vt is not None else 0
        run.patch.push_block(codes[i : i + 25], False)
        if run.patch.vt is not None and run.patch.vt.invocations > before:
            times.append(run.patch.n * 4)
    return times


@pytest.mark.parametrize(
    ("p", "first_hop_s", "hop_s"), [(0.9, VT_CONFIRM_HOP_S, VT_SUSTAIN_HOP_S), (0.2, VT_MODEL[3], VT_MODEL[3])]
)
def test_a_vt_window_brings_the_next_one_forward_and_held_vt_spaces_them(
    tmp_path: Path, p: float, first_hop_s: float, hop_s: float
) -> None:
    """A first VT window brings the confirming one forward; once two in a row said VT, the SCNN
    only watches for the end, at the sustain hop."""
    run = Run(models_folder(tmp_path / "m", p, beats=False))
    times = invocation_times_ms(run, codes_of("223", 575, 35))
    assert len(times) >= 4
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # The service runs every 50 ms and a shortened or stretched hop counts from the service call
    # that ran the window: each end of a gap lands on the grid up to 50 ms late.
    late = 50 if p < 0.5 else 100
    assert 0 <= gaps[0] - 1000 * first_hop_s <= late
    assert all(0 <= g - 1000 * hop_s <= late for g in gaps[1:]), gaps


def test_windows_far_from_vt_stretch_the_hop_while_the_gate_stays_open(tmp_path: Path) -> None:
    """Four windows in a row far below the threshold (here 0.05) and the SCNN runs every 5 s
    instead of 2.5 s, for as long as they stay that far."""
    run = Run(models_folder(tmp_path / "m", VT_QUIET_PM / 2000, beats=False))
    times = invocation_times_ms(run, codes_of("223", 575, 35))
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) >= 5
    quiet = VT_QUIET_WINDOWS - 1  # gaps before the fourth quiet window has run
    assert all(0 <= g - 1000 * VT_MODEL[3] <= 50 for g in gaps[:quiet]), gaps
    assert all(0 <= g - 1000 * VT_SUSTAIN_HOP_S <= 100 for g in gaps[quiet:]), gaps


def test_negative_windows_open_no_vt_and_the_v_run_opens_it_after_15_s(tmp_path: Path) -> None:
    """mitdb 223's VT from 578 s (about 108 bpm, V-V intervals alternating about 530 and 700 ms)
    under an SCNN that says 0.2 throughout: no window opens VT; the V run does, 15 s after it began."""
    run = Run(models_folder(tmp_path / "m", 0.2)).feed(codes_of("223", 575, 45))
    assert run.patch.vt is not None and run.patch.vt.invocations >= 4
    assert run.types() == {"VT"}
    first = run.first("VT")
    assert first is not None
    record, now, _ = first
    assert record["critical"] and record["beat_count"] >= 20 and 100 < record["heart_rate"] < 120
    assert 3300 <= record["onset_ms"] <= 10000  # the reference onset is 3.3 s into the feed
    by_beats = EventConfig().vt_by_beats_ms
    assert by_beats <= record["t_ms"] - record["onset_ms"] < by_beats + 5000
    assert run.devices.first_on("buzzer") == now


@pytest.mark.parametrize("name", ["112", "122"])
def test_a_clean_normal_stretch_never_wakes_the_scnn(tmp_path: Path, name: str) -> None:
    run = Run(models_folder(tmp_path / "m", 0.9)).feed(codes_of(name, 0, 90))
    patch = run.patch
    assert patch.vt is not None and patch.vt.invocations == 0 and patch.gate.opened == 0
    assert patch.vt_hops >= 30
    assert patch.classifier is not None and patch.classifier.model.invocations > 90
    assert not run.types() & {"VT", "NSVT", "PAUSE", "NOISE"}


def test_without_models_beats_still_count_and_no_model_is_run(tmp_path: Path) -> None:
    run = Run(None).feed(codes_of("112", 0, 40))
    assert run.patch.classifier is None and run.patch.vt is None and run.patch.rhythm is None
    assert run.patch.labels[5] == run.patch.path.beat_total > 40  # all Q
    assert run.patch.gate.opened == 0


# --- time base, pauses, lead-off, quality ------------------------------------------------------


def test_a_flat_line_after_beats_gives_asystole_within_the_decision_lag(tmp_path: Path) -> None:
    codes = codes_of("112", 0, 30)
    run = Run(models_folder(tmp_path / "m", None)).feed(codes).feed([0] * 2500)
    pause = run.first("PAUSE")
    assert pause is not None
    record, emitted, _ = pause
    assert record["severity"] == "HIGH" and record["critical"]
    last_beat = record["onset_ms"]
    assert 25_000 < last_beat < 30_000
    # asystole: 3 s without a beat, seen by rules that trail the signal by the lag at most
    assert last_beat + 3000 <= emitted <= last_beat + 3000 + max(DECISION_LAG_MS, LABEL_WAIT_MS) + 100
    assert run.patch.forced_labels >= 1  # the last beat could not wait for a successor


def test_lead_off_status_gives_lead_off_and_no_pause(tmp_path: Path) -> None:
    codes = codes_of("112", 0, 60)
    run = Run(models_folder(tmp_path / "m", None))
    run.feed(codes[:5000]).feed([0] * 5000, lead_off=True).feed(codes[10000:])
    lead = [r for r, _, _ in run.records if r["event_type"] == "LEAD_OFF"]
    assert lead and abs(lead[-1]["onset_ms"] - 20_000) <= 100 and abs(lead[-1]["end_ms"] - 40_000) <= 100
    assert not lead[-1]["flags"] & wire.FLAG_ONGOING
    assert "PAUSE" not in run.types()


def test_muscle_noise_gives_a_noise_event_and_clean_signal_none() -> None:
    noisy = Run(None, store=False).feed(codes_of("112", 0, 60, NoiseSource("ma", -6.0, seed=3)))
    assert "NOISE" in noisy.types()
    clean = Run(None, store=False).feed(codes_of("112", 0, 60))
    assert "NOISE" not in clean.types()


def test_signal_quality_on_synthetic_epochs() -> None:
    fs = 250
    t = np.arange(fs * 4) / fs
    rng = np.random.default_rng(0)
    cases = {
        "slow wave (VF-like, 5 Hz)": (2000 * np.sin(2 * np.pi * 5 * t), 0, 1000),
        "white noise": (rng.normal(0, 500, t.size), 0, 0),
        "flat": (np.zeros(t.size), 0, 1000),
        "saturated": (2000 * np.sin(2 * np.pi * 5 * t), fs // 5, 0),
    }
    for name, (y, clipped, expected) in cases.items():
        q = SignalQuality(fs)
        for i, v in enumerate(y.astype(int).tolist()):
            if i % fs == 0:
                q.clipped = clipped
            q.push(v)
        assert q.epochs == 4
        assert q.quality_pm == expected, name


# --- snippets --------------------------------------------------------------------------------------


def stored_snippet(store: Store, snippet_id: int) -> tuple[dict, bytes]:
    for _kind, ident, _, _, aux, length, loc in store.records(1 << KIND_SNIPPET):
        if ident == snippet_id:
            frame = bytearray(length)
            assert store.read(loc, frame) == length
            payload = bytearray(aux)
            assert store.read_snippet(snippet_id, 0, payload) == aux
            return wire.decode(bytes(frame)), bytes(payload)
    raise AssertionError(f"no snippet {snippet_id} in the store")


def test_a_symptom_marks_an_event_whose_60_s_snippet_lands_in_the_store() -> None:
    codes = codes_of("112", 0, 80)
    run = Run(None)
    run.devices.press(40_000)  # a short press, no alarm sounding: a symptom mark
    run.feed(codes)
    symptom = run.first("SYMPTOM")
    assert symptom is not None
    record, _, _ = symptom
    onset = record["onset_ms"]
    assert 40_000 - DECISION_LAG_MS - LABEL_WAIT_MS <= onset <= 40_000
    assert run.store is not None
    header, payload = stored_snippet(run.store, record["event_id"])
    assert header["event_id"] == record["event_id"] and header["fs_hz"] == 250 and header["lsb_nv"] == LSB
    assert header["encoding"] == "int16" and header["total_samples"] == 15000 and len(payload) == 30000
    k0 = -(-(onset - 30_000) * 250 // 1000)
    assert header["start_ms"] == k0 * 4
    np.testing.assert_array_equal(np.frombuffer(payload, "<i2"), np.asarray(codes[k0 : k0 + 15000]))
    # the event itself, in the store, names its snippet
    events = [r for r in run.store.records(1 << KIND_EVENT) if r[1] == record["event_id"]]
    frame = bytearray(events[-1][5])
    run.store.read(events[-1][6], frame)
    assert wire.decode(bytes(frame))["snippet_samples"] == 15000


def test_a_snippet_older_than_the_ring_starts_where_the_ring_does() -> None:
    store = Store(NorFlash(block_count=64, block_size=4096))
    rec = SnippetRecorder(250, LSB, store, ring_s=20, max_s=12)
    codes = [(i * 37) % 20001 - 10000 for i in range(250 * 30)]
    for c in codes:
        rec.push(c)
    # 5-15 s asked for at 30 s: the ring (20 s) holds from about 10 s on
    samples = rec.request(7, 5_000, 15_000, False)
    assert 0 < samples < 2500
    rec.poll()
    assert rec.written == 1 and rec.pending() == 0
    header, payload = stored_snippet(store, 7)
    k0 = header["start_ms"] // 4
    assert k0 >= 30 * 250 - 20 * 250 and header["total_samples"] == samples
    np.testing.assert_array_equal(np.frombuffer(payload, "<i2"), np.asarray(codes[k0 : k0 + samples]))


# --- the small parts -------------------------------------------------------------------------------


def test_delay_line_releases_in_time_order() -> None:
    line = DelayLine(8)
    for t, kind in [(50, 1), (10, 2), (30, 3), (10, 4), (70, 5)]:
        assert line.put(t, kind, t * 2, -t)
    out = []
    while line.due(60):
        kind = line.pop()
        out.append((line.pt, kind, line.pv, line.pw))
    assert out == [(10, 2, 20, -10), (10, 4, 20, -10), (30, 3, 60, -30), (50, 1, 100, -50)]
    assert line.n == 1 and not line.due(69) and line.due(70)
    for t in range(7):
        line.put(t, 1)
    assert not line.put(99, 1) and line.dropped == 1


def test_vt_gate_triggers_and_hold() -> None:
    gate = VtGate()
    assert gate.open(10_000, 130) and gate.reason == 1  # no beat labels: the rate alone
    gate = VtGate()
    gate.labelled = True
    assert not gate.open(10_000, 80)
    assert not gate.open(12_500, 130)  # sinus tachycardia, every beat N: no
    assert gate.open(12_500, 150) and gate.reason == 1  # a very fast rate
    assert gate.open(12_500 + HOLD_MS - 1, 80) and not gate.open(12_500 + HOLD_MS, 80)
    gate = VtGate()
    gate.labelled = True
    gate.on_label(14_000, "V")
    assert gate.open(15_000, 130) and gate.reason == 1  # a fast rate with a V beat in the window
    gate = VtGate()
    gate.on_label(20_000, "V")
    assert not gate.open(21_000, 80)  # one PVC is not worth a window
    for t, label in ((21_000, "N"), (22_000, "V"), (23_000, "N"), (24_000, "V"), (24_700, "V")):
        gate.on_label(t, label)
    assert not gate.open(25_000, 80)  # bigeminy and a slow pair: no
    for t, label in ((25_200, "N"), (25_700, "V"), (26_200, "X")):
        gate.on_label(t, label)
    assert not gate.open(26_500, 80)  # a fast couplet is not a run
    gate.on_label(26_300, "N")
    gate.on_label(26_800, "V")
    gate.on_label(27_300, "V")
    assert not gate.open(27_400, 80)  # a run is labels in a row: the N broke it
    gate.on_label(27_800, "X")
    assert gate.open(28_000, 80) and gate.reason == 2  # V, V, X 500 ms apart
    assert gate.open(27_800 + 10_000 - 1, 80) and not gate.open(27_800 + 10_000 + HOLD_MS, 80)
    gate = VtGate()
    for _ in range(10):
        gate.on_epoch(1000, True)
    gate.on_beat(30_000)
    gate.on_epoch(100, False)  # a pause with small T waves
    assert not gate.open(33_000, 60)
    gate.on_epoch(900, False)  # a large signal without beats
    assert gate.open(33_000, 60) and gate.reason == 3
