"""The patch's main loop: ADC codes in; beats, model windows, decisions, alarm and flash log out.

Top to bottom, per block of ADC codes read from the AFE's FIFO (`push_block(codes, lead_off)`):

| stage               | what                                                                      |
|---------------------|---------------------------------------------------------------------------|
| raw ring            | every code kept RING_S = 100 s for event snippets (firmware/snippets.py)  |
| baseline steps      | the raw codes in 20-ms sums (firmware/baseline_step.py: an electrode      |
|                     | moving; the rules take the silence after one for lost signal)             |
| signal path         | 0.5-50 Hz band-pass, QRS detection, RR; the band-passed stream at 250 Hz  |
|                     | and, resampled, at the models' 125 Hz (firmware/signal_path.py)            |
| signal quality      | per 1-s epoch from the band-passed stream and the rail count              |
|                     | (firmware/quality.py: high-frequency share, saturation)                    |
| beat classifier     | every detected beat, once the next one is detected (firmware/inference.py |
|                     | BeatClassifier; model_plan.BEAT_MODEL)                                     |
| window models       | the last 10 s at 125 Hz (firmware/window_input.py): rhythm every 30 s,    |
|                     | VT (SCNN) every 2.5 s (1.25 s after a first VT window, 5 s while windows  |
|                     | keep saying VT) while firmware/vt_gate.py holds its gate open             |
|                     | (a fast rate, a fast V/X run, or beats lost in a large signal; held       |
|                     | 10 s) or a VT is open, as model_plan.py says                              |
| decisions           | firmware/events.py EventDetector: beats, VT scores, rhythm probabilities, |
|                     | lead-off (the AFE's status bit), quality, baseline steps, the button,     |
|                     | ticks                                                                     |
| outputs             | events to firmware/alerts.py (the local alarm) and, with their snippets   |
|                     | and the periodic summaries, to firmware/store.py (critical flag kept)     |

A model whose .tflite is not in the models folder is not run: without the beat classifier every
detection goes to the rules as Q (unclassified: rate, pauses, no NSVT); without the SCNN, VT
comes from beats alone (a fast V run of EventConfig.vt_by_beats_ms); without the rhythm model,
no AF or OTHER.

Time base. Every time is ms since boot on the sample clock (sample k at k * 1000 / fs); beats,
windows and epochs carry their input time (filter delays undone). The rules need their inputs
in time order, but a beat's label comes only when the next beat is detected (0.5-2 s later),
while model scores come at once. So the rules run on a clock T that trails the signal: T =
now - DECISION_LAG_MS, held at the time of the oldest detected beat still waiting for its label
(and at 0 while the QRS detector learns its first thresholds); inputs wait in a DelayLine until
T reaches them. A beat that waits LABEL_WAIT_MS for its successor (a pause) is labelled without
it (BeatInput.finish_pending), so asystole is seen at most about 1 s later than at once. Alerts
run on `now`. The latency this adds to VT alarms: the time from a window's end to the label of
its last beat, about 1 s at VT rates.

Every buffer is allocated in the constructor; `service` runs every SERVICE_DIV-th of a second.
"""

import math

from firmware import wire
from firmware.alerts import Alerts
from firmware.baseline_step import BaselineStep
from firmware.delay_line import DelayLine
from firmware.events import EVENT_WIRE_KEYS, EventDetector
from firmware.hal import NullAlertHardware
from firmware.inference import BeatClassifier, Model
from firmware.model_plan import (
    BEAT_MODEL,
    RHYTHM_MODEL,
    VT_CONFIRM_HOP_S,
    VT_MODEL,
    VT_QUIET_PM,
    VT_QUIET_WINDOWS,
    VT_SUSTAIN_HOP_S,
)
from firmware.quality import SignalQuality
from firmware.signal_path import BEAT_RING, SignalPath
from firmware.snippets import SnippetRecorder
from firmware.store import KIND_EVENT, KIND_SUMMARY
from firmware.vt_gate import VtGate
from firmware.window_input import CLIP, WINDOW, WindowInput

try:
    from micropython import const
except ImportError:  # CPython
    const = lambda expr: expr  # noqa: E731

TYPE_CHECKING = False  # mypy takes this name as True; MicroPython has no `typing` to import
if TYPE_CHECKING:
    from collections.abc import Callable  # noqa: F401 (used in type comments)

FS = const(250)
LABELS = "NSVFXQ"  # the beat classifier's classes (beat_features.BEAT_CLASSES), then Q: unclassified
_Q = const(5)
RHYTHM_CLASSES = const(4)  # N, A, O, ~
BEAT_ARENA = const(16384)  # the beat classifier needs 5.8 kB (its model card)
WINDOW_ARENA = const(65536)  # the footprint budget of each window model (model_compression/footprint.py)
DECISION_LAG_MS = const(1000)
LABEL_WAIT_MS = const(2000)
SERVICE_DIV = const(20)  # services a second: alerts want a tick every 50 ms or less
# DelayLine kinds
_LEAD = const(1)
_QUALITY = const(2)
_BEAT = const(3)
_VT = const(4)
_RHYTHM = const(5)
_STEP = const(6)
_SNIPPET_IDS = const(8)


def load_model(folder, name: str):
    """The model file's bytes, None when the folder does not hold it."""
    if folder is None:
        return None
    try:
        with open(folder + "/" + name, "rb") as f:
            return f.read()
    except OSError:
        return None


def _window_model(binding, models_dir, name):
    """(model, its 10-s window input buffer, that input's quantizer), or None when not shipped."""
    data = load_model(models_dir, name)
    if data is None:
        return None
    m = Model(binding, data, WINDOW_ARENA)
    i = m.find_input((1, WINDOW, 1))
    return m, m.inputs[i], m.quantizer(i, CLIP)


class Patch:
    """The patch: `push_block(codes, lead_off)` per FIFO read, `finish()` at the end of a recording.

    binding: the TFLM binding (microlite; hardware_sim/tflm_binding.py on a PC), None: no models.
    models_dir: folder of the .tflite files (model_plan names them). store: firmware/store.Store
    or None. alert_hw: firmware/hal.py's alert contract. rail: the ADC's largest code (16-bit
    codes at most: snippets keep int16). config: firmware/events.EventConfig.

    `on_record(record, now_ms)` and `on_summary(record)` (attributes, None by default) see every
    event and summary record as it is emitted.
    """

    def __init__(
        self,
        lsb_nv: int,
        binding=None,
        models_dir=None,
        store=None,
        alert_hw=None,
        fs: int = FS,
        rail: int = 32767,
        config=None,
    ) -> None:
        if rail > 32767:
            raise ValueError("snippets keep int16 codes: 16-bit ADC at most")
        self.fs = fs
        self.lsb_nv = lsb_nv
        self.rail = rail
        self.store = store
        self.on_record = None  # type: Callable | None
        self.on_summary = None  # type: Callable | None
        self.n = 0  # samples pushed
        self._step = fs // SERVICE_DIV
        self._next_service = self._step
        path = SignalPath(fs, lsb_nv, VT_MODEL[1])
        self.path = path
        self._bp_ms = path.bandpass.delay * 1000 // fs
        r = path.resampler
        self._win_ms = self._bp_ms + (r.delay_up * 1000 // (fs * r.up) if r is not None else 0)
        self.quality = SignalQuality(fs)
        self.steps = BaselineStep(fs, lsb_nv)
        self._bin_sum = 0  # raw codes of the baseline bin being summed
        self._bin_n = 0
        self._steps_seen = 0
        self.gate = VtGate()
        self.window = WindowInput(lsb_nv)
        path.on_model_sample = self.window.push  # type: ignore[assignment]  # the path's hooks start as None
        self.line = DelayLine()
        self.snippets = SnippetRecorder(fs, lsb_nv, store) if store is not None else None
        # Models
        self.classifier = None  # type: BeatClassifier | None
        self.vt = None  # type: Model | None
        self.rhythm = None  # type: Model | None
        if binding is not None:
            data = load_model(models_dir, BEAT_MODEL[0])
            if data is not None:
                clf = BeatClassifier(path, lsb_nv, binding, data, BEAT_ARENA)
                clf.on_label = self._on_label
                self.classifier = clf
                self.gate.labelled = True
            vt = _window_model(binding, models_dir, VT_MODEL[0])
            if vt is not None:
                self.vt, self._vt_in, self._vt_q = vt
            rhythm = _window_model(binding, models_dir, RHYTHM_MODEL[0])
            if rhythm is not None:
                self.rhythm, self._rh_in, self._rh_q = rhythm
        if self.classifier is not None:
            quality_push = self.quality.push
            beat_push = self.classifier.push

            def filtered(y: int) -> None:
                quality_push(y)
                beat_push(y)

            path.on_filtered_sample = filtered  # type: ignore[assignment]
        else:
            path.on_filtered_sample = self.quality.push  # type: ignore[assignment]
        self._vt_hop = int(VT_MODEL[3] * 1000)
        self._vt_confirm = int(VT_CONFIRM_HOP_S * 1000)
        self._vt_sustain = int(VT_SUSTAIN_HOP_S * 1000)
        self._vt_run = 0  # SCNN windows in a row that said VT
        self._vt_quiet = 0  # SCNN windows in a row, the gate open, that were far from VT
        self._rh_hop = int(RHYTHM_MODEL[3] * 1000)
        self._next_vt = 0
        self._next_rh = 0
        self._rh_p = [0] * RHYTHM_CLASSES  # per mille, of the window waiting in the line
        self._rh_f = [0.0] * RHYTHM_CLASSES
        # Decisions and outputs
        first_id = 1
        self._summary_id = 1
        if store is not None:
            first_id = store.last_ident(KIND_EVENT) + 1
            self._summary_id = store.last_ident(KIND_SUMMARY) + 1
        self.detector = EventDetector(self._on_event, self._on_summary, config, first_id)
        self.alerts = Alerts(alert_hw if alert_hw is not None else NullAlertHardware(), self._on_symptom)
        self._snip_eid = [0] * _SNIPPET_IDS  # episodes whose snippet is asked for, and its samples
        self._snip_len = [0] * _SNIPPET_IDS
        self._snip_i = 0
        # State of the loop
        self._off = 0
        self._seen = 0  # detections handed on
        self._epochs = 0
        self._epoch_beat = False
        self._t = 0  # the rules' clock T
        self._t_out = 0  # the last time given to the rules (<= T)
        # Counters
        self.labels = [0] * len(LABELS)
        self.forced_labels = 0  # beats labelled without their successor (pauses)
        self.late_inputs = 0  # inputs that reached the rules after T had passed them
        self.vt_hops = 0  # VT hops with a full window (the gate decides whether the SCNN runs)
        self.stored = 0  # records the store took
        self.store_refused = 0

    # ------------------------------------------------------------ input

    def push_block(self, codes, lead_off=False) -> None:
        """One FIFO read: ADC codes in time order and the AFE's lead-off status bit for them."""
        off = 1 if lead_off else 0
        if off != self._off:
            self._off = off
            self.line.put(self.n * 1000 // self.fs, _LEAD, off)
        push = self.path.push
        snip = self.snippets
        hi = self.rail
        lo = -hi - 1
        quality = self.quality
        steps = self.steps
        per_bin = steps.per_bin
        acc = self._bin_sum
        k = self._bin_n
        n = self.n
        nxt = self._next_service
        for c in codes:
            if c >= hi or c <= lo:
                quality.clipped += 1
            if snip is not None:
                snip.push(c)
            acc += c
            k += 1
            if k == per_bin:
                steps.push_bin(acc)
                acc = 0
                k = 0
            push(c)
            n += 1
            if n >= nxt:
                self.n = n
                self._service(False)
                nxt = self._next_service
        self.n = n
        self._bin_sum = acc
        self._bin_n = k

    def finish(self) -> None:
        """The end of a recording: the last beats labelled, every input decided, snippets written."""
        if self.classifier is not None:
            self.classifier.input.flush()
        self._service(True)
        if self.snippets is not None:
            self.snippets.flush()

    # ------------------------------------------------------------ the loop's periodic work

    def _service(self, final: bool) -> None:
        self._next_service += self._step
        fs = self.fs
        now = self.n * 1000 // fs
        path = self.path
        line = self.line
        # Detections: the gate's beat clock, and the rules' beats when nothing labels them.
        while self._seen < path.beat_total:
            k = self._seen % BEAT_RING
            t = path.beat_index[k] * 1000 // fs
            self.gate.on_beat(t)
            self._epoch_beat = True
            if self.classifier is None:
                self.labels[_Q] += 1
                line.put(t, _BEAT, _Q, path.rr_ms[k])
            self._seen += 1
        st = self.steps
        if st.found != self._steps_seen:
            self._steps_seen = st.found
            line.put(st.last_ms, _STEP)
        q = self.quality
        if q.epochs != self._epochs:
            self._epochs = q.epochs
            self.gate.on_epoch(q.peak, self._epoch_beat)
            line.put(now - self._bp_ms, _QUALITY, q.quality_pm, 1 if self.gate.large_signal() else 0)
            self._epoch_beat = False
        if self.window.count >= WINDOW:
            t_w = now - self._win_ms
            if now >= self._next_rh:
                self._next_rh += self._rh_hop
                if self._next_rh <= now:  # the first window, or a hop missed
                    self._next_rh = now + self._rh_hop
                if self.rhythm is not None:
                    self._run_rhythm(t_w)
            if now >= self._next_vt:
                self._next_vt += self._vt_hop
                if self._next_vt <= now:
                    self._next_vt = now + self._vt_hop
                self.vt_hops += 1
                # An open VT keeps the SCNN running until it says the VT is over: a gate that
                # closed under it would end the alarm by silence (events' vt_stale_ms), not evidence.
                gated = self.gate.open(t_w, path.heart_rate_bpm()) or self.detector.vt.open
                p = self._run_vt(t_w) if gated and self.vt is not None else -1
                if p >= 500:
                    self._vt_quiet = 0
                    self._vt_run += 1
                    if self._vt_run == 1:
                        self._next_vt = now + self._vt_confirm
                    else:
                        self._next_vt = now + self._vt_sustain
                else:
                    self._vt_run = 0
                    self._vt_quiet = self._vt_quiet + 1 if 0 <= p < VT_QUIET_PM else 0
                    if self._vt_quiet >= VT_QUIET_WINDOWS:
                        self._next_vt = now + self._vt_sustain
        # The rules' clock
        t = now if final else now - DECISION_LAG_MS
        if not final and path.qrs.init_peaks < 8:
            t = 0  # the detector reports its first seconds' beats all at once when it has learnt
        clf = self.classifier
        if clf is not None and not final:
            k = clf.input.ready
            if k < path.beat_total:
                tp = path.beat_index[k % BEAT_RING] * 1000 // fs
                if now - tp >= LABEL_WAIT_MS and clf.input.pending == k:
                    clf.input.finish_pending()
                    self.forced_labels += 1
                elif tp < t:
                    t = tp
        if t > self._t:
            self._t = t
        self._release(self._t)
        self.detector.tick(self._t)
        self._t_out = self._t
        self.alerts.tick(now)
        if self.snippets is not None:
            self.snippets.poll()

    def _release(self, until: int) -> None:
        line = self.line
        det = self.detector
        while line.due(until):
            kind = line.pop()
            t = line.pt
            if t < self._t_out:
                t = self._t_out
                self.late_inputs += 1
            self._t_out = t
            if kind == _BEAT:
                det.on_beat(t, LABELS[line.pv], line.pw)
            elif kind == _VT:
                det.on_vt_score(t, line.pv / 1000, line.pw)
            elif kind == _RHYTHM:
                f = self._rh_f
                for i in range(RHYTHM_CLASSES):
                    f[i] = self._rh_p[i] / 1000
                det.on_rhythm(t, f)
            elif kind == _QUALITY:
                det.on_signal_quality(t, line.pv / 1000, line.pw)
            elif kind == _LEAD:
                det.on_lead_off(t, line.pv)
            elif kind == _STEP:
                det.on_baseline_step(t)

    # ------------------------------------------------------------ models

    def _on_label(self, k: int, label: int) -> None:
        path = self.path
        slot = k % BEAT_RING
        t = path.beat_index[slot] * 1000 // self.fs
        self.labels[label] += 1
        self.gate.on_label(t, LABELS[label])
        self.line.put(t, _BEAT, label, path.rr_ms[slot])

    def _run_vt(self, t: int) -> int:
        """The SCNN on the window ending at t; its VT probability in per mille."""
        m = self.vt
        if m is None:
            return 0
        self.window.fill_vt(self._vt_in, self._vt_q)
        m.invoke()
        info = m.output_info  # (shape, scale mantissa, scale exponent, zero point)
        e = info[2]
        num = (m.output[0] - info[3]) * info[1] * 1000
        p = (num + (1 << (e - 1))) >> e if e > 0 else num << -e
        p = 0 if p < 0 else (1000 if p > 1000 else p)
        self.line.put(t, _VT, p, self.window.hf_pm)
        return p

    def _run_rhythm(self, t: int) -> None:
        m = self.rhythm
        if m is None:
            return
        self.window.fill_rhythm(self._rh_in, self._rh_q)
        m.invoke()
        info = m.output_info
        scale = info[1] / (1 << info[2])
        out = m.output
        top = out[m.argmax()]
        f = self._rh_f
        total = 0.0
        for i in range(RHYTHM_CLASSES):
            f[i] = math.exp((out[i] - top) * scale)
            total += f[i]
        for i in range(RHYTHM_CLASSES):
            self._rh_p[i] = int(1000 * f[i] / total + 0.5)
        self.line.put(t, _RHYTHM)

    # ------------------------------------------------------------ outputs

    def _on_event(self, record) -> None:
        now = self.n * 1000 // self.fs
        self.alerts.on_event(now, record)
        store = self.store
        if store is not None:
            eid = record["event_id"]
            samples = self._snippet_for(record)
            fields = {k: record[k] for k in EVENT_WIRE_KEYS}
            fields["flags"] |= wire.FLAG_UNSYNCED
            frame = wire.encode_event(snippet_id=eid if samples else 0, snippet_samples=samples, **fields)
            self._stored(store.append(KIND_EVENT, frame, eid, record["critical"]))
        if self.on_record is not None:
            self.on_record(record, now)

    def _snippet_for(self, record) -> int:
        """Samples of the episode's snippet (asked for at its first record), 0 for none."""
        snippets = self.snippets
        if snippets is None or record["snippet_end_ms"] <= 0:
            return 0
        eid = record["event_id"]
        for i in range(_SNIPPET_IDS):
            if self._snip_eid[i] == eid:
                return self._snip_len[i]
        samples = snippets.request(
            eid, record["snippet_start_ms"], record["snippet_end_ms"], record["critical"]
        )
        i = self._snip_i
        self._snip_eid[i] = eid
        self._snip_len[i] = samples
        self._snip_i = (i + 1) % _SNIPPET_IDS
        return samples

    def _on_summary(self, record) -> None:
        store = self.store
        if store is not None:
            fields = dict(record)  # exactly encode_summary's keywords (firmware/events.py)
            fields["flags"] |= wire.FLAG_UNSYNCED
            frame = wire.encode_summary(**fields)
            self._stored(store.append(KIND_SUMMARY, frame, self._summary_id))
            self._summary_id += 1
        if self.on_summary is not None:
            self.on_summary(record)

    def _stored(self, seq: int) -> None:
        if seq:
            self.stored += 1
        else:
            self.store_refused += 1

    def _on_symptom(self, t: int) -> None:
        # a press marks the rules' present (they run DECISION_LAG_MS or so behind the alarm)
        self.detector.on_button(self._t)
