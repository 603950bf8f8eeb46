"""From beats and model outputs to events: the patch's decision layer.

In the spirit of TFLM's micro_speech `RecognizeCommands`: raw per-window scores are never an
event by themselves; a rule averages or counts them over time, needs a minimum duration or
count, and suppresses repeats, so that one episode gives one event (with ONGOING updates).

Inputs, in time order (t_ms: the patch clock in ms, never decreasing, never wrapping; on the
patch an accumulated ms-since-boot counter keeps the times small ints for 12 days)
--------------------------------------------------------------------------------------------
| call                         | what                                                        |
|------------------------------|-------------------------------------------------------------|
| on_beat(t, label, rr_ms)     | a detection classified N, S, V, F, Q or X (X: not a beat,   |
|                              | ignored). RR is measured here between consecutive beats     |
|                              | (X skipped); rr_ms (the signal path's) only stands in for   |
|                              | the first beat when it spans no suppressed time.            |
| on_vt_score(t, p, hf_pm=-1)  | SCNN output 0..1 for the 10-s window ending at t; hf_pm:    |
|                              | that window's power share above about 2 Hz, per mille       |
|                              | (firmware/window_input.py; -1: not known)                   |
| on_rhythm(t, probs)          | rhythm model (N, A, O, ~) for the 10-s window ending at t   |
| on_lead_off(t, off)          | the front end's lead-off status (truthy: off)               |
| on_signal_quality(t, q,      | quality 0..1 (1 clean); a noise flag passes 0 (noisy) or 1; |
|   large=False)               | once per 1-s epoch ending at t: large, the epoch's peak is  |
|                              | at least half the QRS amplitude (firmware/vt_gate.py)       |
| on_baseline_step(t)          | the lead's baseline jumped at t (firmware/baseline_step.py:  |
|                              | an electrode moved; the QRS may be gone for seconds after)  |
| on_button(t)                 | a symptom mark (alerts.py routes presses that silence an    |
|                              | alarm elsewhere, see below)                                 |
| tick(t)                      | time-based rules: asystole, debounces, updates, summaries.  |
|                              | Call it at least every 250 ms.                              |
| set_battery(percent)         | battery level for the next summaries                        |
| set_config(name, value)      | change a rule's setting; WIRE_CONFIG maps the wire's        |
|                              | CONFIG keys (BRADY_BPM, PAUSE_MS, ...) to these names       |

Outputs: `on_event(record)` and `on_summary(record)`, dicts built only when something is
emitted (rare). An event record holds the encode_event keywords (EVENT_WIRE_KEYS: event_id,
event_type, severity as names, flags, confidence 0..255, onset_ms, end_ms, heart_rate,
beat_count), plus `critical` (store it with the store's critical flag), `snippet_start_ms`
and `snippet_end_ms` (raw ECG to keep: onset - snippet_pre_s .. onset + snippet_post_s; both 0
for types without a snippet) and `t_ms` (when it was emitted). An episode's first record and
its updates carry FLAG_ONGOING (end_ms "so far"); its last record clears it; all share the
event_id (a later record supersedes an earlier one). The capture of the snippet is the
caller's: it must keep about snippet_pre_s + 60 s of raw ECG (AF's onset lies up to ~60 s
before it is recognised, VT's up to 10 s). A summary record holds exactly encode_summary's
keywords (time_ms, period_s, heart_rate, heart_rate_min, heart_rate_max, beat_count,
veb_count, sveb_count, signal_quality, battery_percent, flags).

Rules and defaults (EventConfig; per mille internally, integer arithmetic per beat)
---------------------------------------------------------------------------------
| type     | severity        | rule (default)                                                   |
|----------|-----------------|------------------------------------------------------------------|
| VT       | CRITICAL, crit. | SCNN p >= 0.5 (the patent's threshold; VT, flutter, VF) in 2 of  |
|          |                 | the last 3 windows, or in 1 window while a fast V run (>= 3 V    |
|          |                 | beats, mean V-V < 600 ms) is in progress. Also opened by beats:  |
|          |                 | a fast V run lasting >= 15 s (if the SCNN missed it). Closes     |
|          |                 | after 3 windows < 0.5 in a row with no fast V run in progress    |
|          |                 | (or no SCNN window for 10 s).                                    |
| NSVT     | MEDIUM          | >= 3 consecutive V beats at a mean rate > 100 bpm (mean V-V      |
|          |                 | < 600 ms), ended by a non-V beat, a V-V interval >= 700 ms or    |
|          |                 | 700 ms without a beat, shorter than 15 s; beat_count = V beats;  |
|          |                 | heart_rate = run rate. A run during an open VT belongs to the VT.|
| AF       | MEDIUM          | rhythm p(A) >= 0.5 in the current window and mean p(A) over the  |
|          |                 | windows of the last 60 s >= 0.5, the A stretch spanning >= 30 s  |
|          |                 | (the clinical minimum episode; at one 10-s window every 30 s     |
|          |                 | that is two A windows in a row); closes when the mean < 0.5.     |
| OTHER    | LOW             | the same with p(O)                                               |
| BRADY    | LOW; MEDIUM <30 | HR (mean of the last 8 RR, >= 4 RR) < 40 bpm on every beat for   |
|          |                 | >= 10 s; closes at HR >= 45 (5 bpm hysteresis)                   |
| TACHY    | LOW; MEDIUM >150| HR > 120 bpm for >= 10 s while no VT is open and no fast V run is |
|          |                 | in progress; closes at <= 115                                    |
| PAUSE    | LOW; HIGH+crit. | RR >= 2.0 s (sent when the beat ends it; not during an open      |
|          | from 3.0 s      | BRADY, whose slow beats it would repeat); no beat for >= 3.0 s   |
|          |                 | (asystole level) opens it at once from tick, ongoing until a beat|
|          |                 | Never while a VT is open (see "Silence explained" below).        |
| NOISE    | INFO            | quality < 0.5, or rhythm p(~) >= 0.5 (its 10-s window), for      |
|          |                 | >= 10 s; closes after 5 s clean                                  |
| LEAD_OFF | LOW             | lead off for >= 1 s (debounce); closes after 1 s back on          |
| SYMPTOM  | INFO            | on_button; presses within 5 s of the last one are the same mark  |

Confidence: VT the mean SCNN score of its positive windows; AF/OTHER the mean probability;
NOISE 1 - quality (or p(~)); LEAD_OFF and SYMPTOM 1; beat-derived events (NSVT, beats-VT,
PAUSE, BRADY, TACHY) the signal quality at the time (the beat labels carry no probability).
heart_rate: the 8-RR mean at emission; NSVT its run rate; BRADY its lowest and TACHY its
highest 8-RR rate; PAUSE the rate before it.

VT onset, end and latency. The SCNN scores a 10-s window every 2.5 s; taking p >= 0.5 to mean
that VT fills about half the window (the working assumption, to be measured on the shipped
model), the first positive window ending at t1 has its VT onset in (t1 - 7.5 s, t1 - 5 s],
so onset = t1 - 6.25 s (+-1.25 s) unless a fast V run explains it, whose first V beat is then
the onset. Likewise end = the last positive window's end - 3.75 s, or the last V beat of the
episode if later. Latency from VT onset to the opening record (and the alarm): with a V run
seen by the beat classifier, 1 window: 5.0-7.5 s; SCNN alone (VF, or beats not labelled V),
2 of 3 windows: 7.5-10.0 s, plus the SCNN's inference time (measured in
tests/test_firmware_events.py over onset phases in 100-ms steps: 5.0-7.4 s and 7.5-9.9 s,
onset within 1.25 s without beats, exact with them). If the SCNN needs VT to fill more of
its window, each extra 2.5 s of fill adds 2.5 s, and the SCNN-alone path passes 10 s.

Suppression (no false VT or asystole from a loose electrode or noise). The signal is "bad"
while the lead is off (immediately, before the 1-s debounce of the LEAD_OFF event) or the
quality is below 0.5, and settles for 10 s (one model window) after it is good again. While
bad or settling: beats, SCNN and rhythm windows are ignored (a window overlapping bad signal
is not used); RR and HR restart, a V run in progress is dropped, the silence before a pause
restarts from the first good beat; open AF, OTHER, BRADY and TACHY episodes close at their
last evidence; an open VT or asystole stays open (a collapse can pull the electrodes off: the
alarm is not silenced by that) and closes on evidence once the signal is good again, or
after 60 s of bad signal (blind_close_ms: a patch taken off does not alarm for ever).
Summary counts and heart rates use good beats only; signal_quality is the share of the period
neither bad nor settling.

Silence explained. No detected beat is not always no heartbeat. Asystole is a silent lead: an
epoch of large signal in the silence (from 0.5 s after the last beat, past its T wave) is
activity the QRS detector did not resolve (coarse VF before the SCNN confirms it, QRS on a lead
that is recovering), and the silence counts from its end, as from a beat. During an open VT (flutter and
fibrillation defeat the QRS detector) the silence is the VT's: no PAUSE is opened or sent, an
asystole already open closes when the VT opens (its end the VT's onset), and after the VT the
silence counts from the VT's end, so an asystole that follows VF alarms as soon as the VT closes.
A baseline step (an electrode moving: mV in a fraction of a second, after which the lead may
show no QRS for seconds) makes the silence around it lost signal: a gap that holds a step is a
pause only if it outlasts the step by step_hold_ms + asystole_ms (10 + 3 s), and it is then an
asystole (HIGH) from its last beat: a true asystole after a fall is alarmed, 10 s later than
on a clean lead. An asystole already open when a step comes stays open (a collapse can pull the
electrodes: the order tells the two apart).

Known limits: a V run that ends before the SCNN opens VT is sent as NSVT, and the VT that the
SCNN may then confirm follows as its own event (onset at the run's start). A TACHY can open
before a VT that the SCNN sees late. Ongoing updates every 30 s (update_ms).
"""

from array import array

try:
    from micropython import const
except ImportError:  # CPython
    const = lambda expr: expr  # noqa: E731

FLAG_ONGOING = const(0x01)  # firmware.wire.FLAG_ONGOING

INFO = const(0)
LOW = const(1)
MEDIUM = const(2)
HIGH = const(3)
CRITICAL = const(4)
SEVERITY_NAMES = ("INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL")  # firmware.wire.SEVERITIES

EVENT_WIRE_KEYS = (
    "event_id",
    "event_type",
    "severity",
    "flags",
    "confidence",
    "onset_ms",
    "end_ms",
    "heart_rate",
    "beat_count",
)
# The wire's CONFIG keys (firmware.wire.CONFIG_KEYS) that set a rule here.
WIRE_CONFIG = {
    "SUMMARY_PERIOD_S": "summary_period_s",
    "SNIPPET_PRE_S": "snippet_pre_s",
    "SNIPPET_POST_S": "snippet_post_s",
    "BRADY_BPM": "brady_bpm",
    "TACHY_BPM": "tachy_bpm",
    "PAUSE_MS": "pause_ms",
}

_HR_RING = const(8)
_EPOCH_MS = const(1000)  # a signal-quality epoch
_T_WAVE_MS = const(500)  # after a beat, its T wave: no evidence of activity
_RHYTHM_RING = const(8)
_U32 = 0xFFFFFFFF


class EventConfig:
    """Every rule's setting (module docstring); EventConfig(brady_bpm=35, ...) overrides."""

    def __init__(self, **overrides) -> None:
        # VT: the SCNN (window and hop as in model_plan.VT_MODEL)
        self.vt_threshold = 0.5
        self.vt_open_count = 2  # positive windows ...
        self.vt_open_of = 3  # ... among the last this many
        self.vt_corroborate = True  # 1 positive window suffices with a fast V run
        self.vt_close_count = 3  # negative windows in a row to close
        self.vt_window_ms = 10000
        self.vt_hop_ms = 2500
        self.vt_onset_back_ms = 6250  # onset = first positive window's end - this
        self.vt_end_back_ms = 3750  # end = last positive window's end - this
        self.vt_stale_ms = 10000  # no SCNN window for this long: it no longer holds VT open
        # A window with less of its power above about 2 Hz than this (per mille) is not VT,
        # whatever the SCNN says: slow baseline waves, not a ventricular rhythm. The lowest share
        # of any positive window inside the VT of vfdb and mitdb (scoring/vt_hf_floor.py).
        self.vt_min_hf_pm = 144
        # A fast V run this long opens VT: an alarm for a run the SCNN missed, before the 30 s
        # that define sustained VT (the event's onset and end still give its length).
        self.vt_by_beats_ms = 15000
        self.blind_close_ms = 60000  # bad signal this long closes an open VT or asystole
        # NSVT
        self.nsvt_min_beats = 3
        self.nsvt_max_rr_ms = 600  # the run's mean V-V interval below this (> 100 bpm)
        # The longest V-V interval that keeps a run going (86 bpm): a run whose rate wavers about
        # 100 bpm counts by its mean rate, as the clinical definition has it, while a slower
        # interval (or a missed beat) still splits it.
        self.nsvt_max_gap_ms = 700
        # Rhythm model: AF, OTHER
        self.rhythm_window_ms = 10000
        self.rhythm_avg_ms = 60000  # probabilities averaged over windows ending this recently
        self.af_threshold = 0.5
        self.af_min_ms = 30000
        self.other_threshold = 0.5
        self.other_min_ms = 30000
        # Rate
        self.hr_min_rr = 4  # RR intervals before the heart rate counts
        self.brady_bpm = 40
        self.brady_medium_bpm = 30
        self.brady_min_ms = 10000
        self.tachy_bpm = 120
        self.tachy_medium_bpm = 150
        self.tachy_min_ms = 10000
        self.hr_hysteresis_bpm = 5
        # Pause
        self.pause_ms = 2000
        self.asystole_ms = 3000
        self.step_hold_ms = 10000  # silence after a baseline step that is lost signal, not a pause
        # Signal
        self.quality_min = 0.5
        self.noise_threshold = 0.5  # rhythm p(~)
        self.noise_min_ms = 10000
        self.noise_clear_ms = 5000
        self.lead_off_debounce_ms = 1000
        self.settle_ms = 10000
        # Patient
        self.symptom_refractory_ms = 5000
        # Reporting
        self.update_ms = 30000
        self.summary_period_s = 600
        self.snippet_pre_s = 30
        self.snippet_post_s = 30
        self.snippet_types = ("VT", "NSVT", "AF", "OTHER", "BRADY", "TACHY", "PAUSE", "SYMPTOM")
        for name in overrides:
            self.set(name, overrides[name])

    def set(self, name: str, value) -> None:
        if name.startswith("_") or not hasattr(self, name):
            raise ValueError("unknown event setting " + name)
        setattr(self, name, value)


def _pm(p) -> int:
    """A probability or quality 0..1 (float, int or bool) as an int per mille."""
    v = int(p * 1000 + 0.5)
    return 0 if v < 0 else (1000 if v > 1000 else v)


def _bits(x: int) -> int:
    n = 0
    while x:
        n += x & 1
        x >>= 1
    return n


class _Episode:
    """One running (or last) episode of an event type; one instance per type, made once."""

    def __init__(self, etype: str, severity: int, critical: bool = False) -> None:
        self.etype = etype
        self.severity = severity
        self.critical = critical
        self.open = False
        self.event_id = 0
        self.onset = 0
        self.end = 0
        self.conf = 0  # per mille
        self.hr = 0
        self.beats = 0
        self.sent = 0  # when its last record was emitted
        self.cand = -1  # onset of the condition building up to an episode; -1: none
        self.extreme = 0  # BRADY: lowest rate; TACHY: highest


class EventDetector:
    """Beats, model outputs, lead-off, quality and the button in; event and summary records out."""

    def __init__(self, on_event, on_summary=None, config=None, first_event_id: int = 1, start_ms: int = 0):
        self.on_event = on_event
        self.on_summary = on_summary
        self.config = config if config is not None else EventConfig()
        self._next_id = first_event_id if 0 < first_event_id <= _U32 else 1
        # Beats, RR and heart rate
        self._last_t = -1  # last good beat; -1: none since start-up or bad signal
        self._valid_since = 0
        self._rr = array("i", [0] * _HR_RING)
        self._rr_n = 0
        self._rr_i = 0
        self._rr_sum = 0
        self._hr = 0
        # V run in progress, and the last fast run (for VT onset and corroboration)
        self._run_n = 0
        self._run_start = 0
        self._run_last = 0
        self._prev_run_start = -1
        self._prev_run_end = -1
        # Signal state
        self._off = False
        self._off_since = 0
        self._on_since = 0
        self._q = 1000
        self._qlow = False
        self._qlow_since = 0
        self._bad = False
        self._bad_since = 0
        self._settle_until = 0
        self._sup_from = -1
        self._noise_since = -1
        self._noise_end = -1
        self._noise_p = 0
        # VT (SCNN)
        self._vt_bits = 0
        self._vt_first = -1
        self._vt_neg = 0
        self._vt_npos = 0
        self._vt_sum = 0
        self._vt_last_pos = -1
        self._vt_last_win = -1
        self._vt_last_v = -1
        self._vt_quiet = -1  # the last VT's end: silence before it was the VT's
        self._step_t = -1  # the last baseline step
        self._active_t = -1  # the end of the last large epoch in a silence
        # Rhythm windows: end time, p(A), p(O) per mille
        self._rh_t = [0] * _RHYTHM_RING
        self._rh_a = array("h", [0] * _RHYTHM_RING)
        self._rh_o = array("h", [0] * _RHYTHM_RING)
        self._rh_n = 0
        self._rh_i = 0
        self._last_symptom = -1
        self._battery = 0
        # Episodes
        self.vt = _Episode("VT", CRITICAL, True)
        self.af = _Episode("AF", MEDIUM)
        self.other = _Episode("OTHER", LOW)
        self.brady = _Episode("BRADY", LOW)
        self.tachy = _Episode("TACHY", LOW)
        self.asystole = _Episode("PAUSE", HIGH, True)
        self.noise = _Episode("NOISE", INFO)
        self.lead_off = _Episode("LEAD_OFF", LOW)
        self._episodes = (
            self.vt,
            self.asystole,
            self.af,
            self.other,
            self.brady,
            self.tachy,
            self.noise,
            self.lead_off,
        )
        # Summary period
        self._s_start = start_ms
        self._t_seen = start_ms  # the latest time any input or tick brought
        self._s_beats = 0
        self._s_v = 0
        self._s_s = 0
        self._s_rr_sum = 0
        self._s_rr_n = 0
        self._s_hr_min = 0xFFFF
        self._s_hr_max = 0
        self._s_sup = 0
        self._load()
        self._schedule()

    # ------------------------------------------------------------ configuration

    def _load(self) -> None:
        c = self.config
        self._vt_thr = _pm(c.vt_threshold)
        self._vt_mask = (1 << c.vt_open_of) - 1
        self._af_thr = _pm(c.af_threshold)
        self._other_thr = _pm(c.other_threshold)
        self._q_min = _pm(c.quality_min)
        self._noise_thr = _pm(c.noise_threshold)
        self._period_ms = c.summary_period_s * 1000

    def _schedule(self) -> None:
        # summary_period_s 0: no summaries.
        self._s_next = self._s_start + self._period_ms if self._period_ms > 0 else 1 << 62

    def set_config(self, name: str, value) -> None:
        """Change one setting (EventConfig's name, or a WIRE_CONFIG key). A shorter summary period
        that the current one has already outlasted ends it now, in one summary, rather than in a
        burst of back-dated ones that would all but the first be empty."""
        self.config.set(WIRE_CONFIG.get(name, name), value)
        self._load()
        self._schedule()
        if self._s_next < self._t_seen:
            self._s_next = self._t_seen

    def set_battery(self, percent: int) -> None:
        self._battery = 0 if percent < 0 else (100 if percent > 100 else percent)

    # ------------------------------------------------------------ inputs

    def tick(self, t: int) -> None:
        self._advance(t, False)

    def on_beat(self, t: int, label: str, rr_ms: int = 0) -> None:
        self._advance(t, True)
        if label == "X" or self._bad or t < self._settle_until:
            return
        c = self.config
        last = self._last_t
        if last >= 0:
            rr = t - last
        elif rr_ms > 0 and t - rr_ms >= self._valid_since:
            rr = rr_ms
        else:
            rr = 0
        self._last_t = t
        hr_before = self._hr
        if rr > 0:
            i = self._rr_i
            self._rr_sum += rr - self._rr[i]
            self._rr[i] = rr
            self._rr_i = (i + 1) % _HR_RING
            if self._rr_n < _HR_RING:
                self._rr_n += 1
            if self._rr_n >= c.hr_min_rr:
                self._hr = 60000 * self._rr_n // self._rr_sum
            self._s_rr_sum += rr
            self._s_rr_n += 1
        hr = self._hr
        # Summary counts
        self._s_beats += 1
        if label == "V":
            self._s_v += 1
        elif label == "S":
            self._s_s += 1
        if hr:
            if hr < self._s_hr_min:
                self._s_hr_min = hr
            if hr > self._s_hr_max:
                self._s_hr_max = hr
        # Pause / asystole
        asys = self.asystole
        if asys.open:
            asys.end = t
            self._close(asys, t)
        elif rr > 0 and not self.vt.open:
            start = t - rr
            if start < self._vt_quiet:
                start = self._vt_quiet
            if start < self._active_t:
                start = self._active_t
            gap = t - start
            clean = self._step_t <= start
            if not clean:  # lost signal, unless the silence outlasts the step's hold
                gap = t - self._step_t - c.step_hold_ms
            if gap >= c.asystole_ms or (clean and gap >= c.pause_ms and not self.brady.open):
                severe = gap >= c.asystole_ms
                self._emit(
                    t,
                    self._new_id(),
                    "PAUSE",
                    HIGH if severe else LOW,
                    severe,
                    0,
                    start,
                    t,
                    self._q,
                    hr_before,
                    0,
                )
        # V runs: NSVT, and VT by beats
        if label == "V":
            if self._run_n and t - self._run_last < c.nsvt_max_gap_ms:
                self._run_n += 1
                self._run_last = t
            else:
                if self._run_n:
                    self._end_run(t)
                self._run_n = 1
                self._run_start = t
                self._run_last = t
            vt = self.vt
            if vt.open:
                vt.beats += 1
                self._vt_last_v = t
                if t > vt.end:
                    vt.end = t
            elif self._fast_run() and t - self._run_start >= c.vt_by_beats_ms:
                self._vt_last_v = t
                self._open(vt, t, self._run_start, t, self._q, hr, self._run_n)
                self._vt_opened(t)
        elif self._run_n:
            self._end_run(t)
        # Rate
        if hr:
            hyst = c.hr_hysteresis_bpm
            self._rate_rule(self.brady, t, hr, hr < c.brady_bpm, hr < c.brady_bpm + hyst, c.brady_min_ms)
            if self.vt.open:
                tachy = self.tachy
                if tachy.open:
                    self._close(tachy, t)
                tachy.cand = -1
            elif self._fast_run():  # a fast V run is NSVT/VT, not tachycardia
                if not self.tachy.open:
                    self.tachy.cand = -1
            else:
                self._rate_rule(self.tachy, t, hr, hr > c.tachy_bpm, hr > c.tachy_bpm - hyst, c.tachy_min_ms)

    def on_vt_score(self, t: int, p, hf_pm: int = -1) -> None:
        self._advance(t, False)
        if self._bad or t < self._settle_until:
            return
        c = self.config
        pm = _pm(p)
        pos = pm >= self._vt_thr and not (0 <= hf_pm < c.vt_min_hf_pm)
        vt = self.vt
        self._vt_last_win = t
        self._vt_bits = ((self._vt_bits << 1) | (1 if pos else 0)) & self._vt_mask
        if pos:
            if not vt.open and self._vt_bits == 1:  # the only positive among the last n
                self._vt_first = t
                self._vt_sum = 0
                self._vt_npos = 0
            self._vt_sum += pm
            self._vt_npos += 1
            self._vt_neg = 0
            self._vt_last_pos = t
        else:
            self._vt_neg += 1
        if vt.open:
            if pos:
                vt.conf = self._vt_sum // self._vt_npos
                self._vt_extend()
            self._vt_check_close(t)
            return
        if not pos:
            if self._vt_bits == 0:
                self._vt_first = -1
            return
        fast_run = self._fast_run()
        if _bits(self._vt_bits) >= c.vt_open_count or (c.vt_corroborate and fast_run):
            first = self._vt_first
            onset = first - c.vt_onset_back_ms
            beats = 0
            if fast_run:
                onset = self._run_start
                beats = self._run_n
                self._vt_last_v = self._run_last
            elif self._prev_run_end >= first - c.vt_window_ms:
                onset = self._prev_run_start
            if onset < 0:
                onset = 0
            self._open(vt, t, onset, onset, self._vt_sum // self._vt_npos, self._hr, beats)
            self._vt_extend()
            self._vt_opened(t)

    def on_rhythm(self, t: int, probs) -> None:
        """probs: (N, A, O, ~) probabilities of the rhythm window ending at t."""
        self._advance(t, False)
        if self._off:
            return
        c = self.config
        pn = _pm(probs[3])
        if pn >= self._noise_thr:
            start = t - c.rhythm_window_ms
            if start < self._on_since:
                start = self._on_since
            if self._noise_since < 0 or start < self._noise_since:
                self._noise_since = start
            if t > self._noise_end:
                self._noise_end = t
            self._noise_p = pn
            self._noise_rule(t)
            return  # a noisy window is no evidence for or against a rhythm
        if self._bad or t < self._settle_until or self.vt.open:
            return
        i = self._rh_i
        self._rh_t[i] = t
        self._rh_a[i] = _pm(probs[1])
        self._rh_o[i] = _pm(probs[2])
        self._rh_i = (i + 1) % _RHYTHM_RING
        if self._rh_n < _RHYTHM_RING:
            self._rh_n += 1
        sum_a = 0
        sum_o = 0
        n = 0
        since = t - c.rhythm_avg_ms
        for k in range(self._rh_n):
            j = (i - k) % _RHYTHM_RING
            if self._rh_t[j] <= since:
                break
            sum_a += self._rh_a[j]
            sum_o += self._rh_o[j]
            n += 1
        self._rhythm_rule(self.af, t, self._rh_a[i], sum_a // n, self._af_thr, c.af_min_ms)
        self._rhythm_rule(self.other, t, self._rh_o[i], sum_o // n, self._other_thr, c.other_min_ms)

    def on_lead_off(self, t: int, off) -> None:
        self._advance(t, False)
        off = bool(off)
        if off == self._off:
            return
        self._off = off
        if off:
            self._off_since = t
        else:
            self._on_since = t
        self._set_bad(t)
        self._noise_rule(t)
        self._lead_rule(t)

    def on_signal_quality(self, t: int, q, large=False) -> None:
        self._advance(t, False)
        self._q = _pm(q)
        if large and self._last_t >= 0 and t - _EPOCH_MS - _T_WAVE_MS >= self._last_t:
            self._active_t = t
        low = self._q < self._q_min
        if low == self._qlow:
            return
        self._qlow = low
        if low:
            self._qlow_since = t
        elif t > self._noise_end:
            self._noise_end = t
        self._set_bad(t)
        self._noise_rule(t)

    def on_button(self, t: int) -> None:
        self._advance(t, False)
        last = self._last_symptom
        if last >= 0 and t - last < self.config.symptom_refractory_ms:
            return
        self._last_symptom = t
        self._emit(t, self._new_id(), "SYMPTOM", INFO, False, 0, t, t, 1000, self._hr, 0)

    def on_baseline_step(self, t: int) -> None:
        self._advance(t, False)
        if t > self._step_t:
            self._step_t = t

    # ------------------------------------------------------------ time-based rules

    def _advance(self, t: int, beat: bool) -> None:
        if t > self._t_seen:
            self._t_seen = t
        while t >= self._s_next:
            boundary = self._s_next
            self._account(boundary)
            self._summary(boundary)
        self._account(t)
        c = self.config
        self._lead_rule(t)
        self._noise_rule(t)
        if self._run_n and t - self._run_last >= c.nsvt_max_gap_ms:
            self._end_run(t)
        # No beat for asystole_ms after a good beat (a beat arriving now ends the silence), unless
        # a VT or a baseline step explains it.
        last = self._last_t
        if last >= 0 and not beat and not self._bad and not self.vt.open:
            since = last if last >= self._vt_quiet else self._vt_quiet
            if since < self._active_t:
                since = self._active_t
            wait = since
            if self._step_t > since:
                wait = self._step_t + c.step_hold_ms
            if t - wait >= c.asystole_ms:
                asys = self.asystole
                if not asys.open:
                    self._open(asys, t, since, t, self._q, self._hr, 0)
                else:
                    asys.end = t
        if self._bad and t - self._bad_since >= c.blind_close_ms:
            if self.asystole.open:
                self._close(self.asystole, t)
            if self.vt.open:
                self._vt_extend()
                self._close(self.vt, t)
                self._vt_reset()
        if self.vt.open:
            self._vt_check_close(t)
        for ep in self._episodes:
            if ep.open and t - ep.sent >= c.update_ms:
                self._send(ep, t, True)

    def _lead_rule(self, t: int) -> None:
        ep = self.lead_off
        debounce = self.config.lead_off_debounce_ms
        if self._off:
            if ep.open:
                ep.end = t
            elif t - self._off_since >= debounce:
                self._open(ep, t, self._off_since, t, 1000, 0, 0)
        elif ep.open and t - self._on_since >= debounce:
            ep.end = self._on_since
            self._close(ep, t)

    def _noise_rule(self, t: int) -> None:
        ep = self.noise
        c = self.config
        if self._off:  # lead-off explains the signal
            if ep.open:
                ep.end = self._off_since if self._off_since > ep.onset else ep.onset
                self._close(ep, t)
            self._noise_since = -1
            self._noise_end = -1
            return
        if self._qlow and self._noise_since < 0:
            start = self._qlow_since
            self._noise_since = start if start > self._on_since else self._on_since
        if self._noise_since < 0:
            return
        end = t if self._qlow else self._noise_end
        conf = 1000 - self._q if self._qlow else self._noise_p
        if ep.open:
            ep.end = end
            if conf > ep.conf:
                ep.conf = conf
            if not self._qlow and t - end >= c.noise_clear_ms:
                self._close(ep, t)
                self._noise_since = -1
        elif end - self._noise_since >= c.noise_min_ms:
            self._open(ep, t, self._noise_since, end, conf, 0, 0)
        elif not self._qlow and t - end >= c.noise_clear_ms:
            self._noise_since = -1

    def _account(self, t: int) -> None:
        """Fold suppressed time up to t into the summary period's count."""
        f = self._sup_from
        if f < 0:
            return
        if self._bad or t < self._settle_until:
            if t > f:
                self._s_sup += t - f
                self._sup_from = t
        else:
            end = self._settle_until
            if end > f:
                self._s_sup += end - f
            self._sup_from = -1

    def _set_bad(self, t: int) -> None:
        bad = self._off or self._qlow
        if bad == self._bad:
            return
        self._bad = bad
        if not bad:
            self._settle_until = t + self.config.settle_ms
            self._valid_since = self._settle_until
            return
        if self._sup_from < 0:
            self._sup_from = t
        self._bad_since = t
        self._last_t = -1
        self._rr_n = 0
        self._rr_i = 0
        self._rr_sum = 0
        for i in range(_HR_RING):
            self._rr[i] = 0
        self._hr = 0
        self._run_n = 0
        self._rh_n = 0
        for ep in (self.af, self.other, self.brady, self.tachy):
            if ep.open:
                self._close(ep, t)
            ep.cand = -1
        if not self.vt.open:
            self._vt_reset()

    # ------------------------------------------------------------ rules

    def _fast_run(self) -> bool:
        """A V run of at least nsvt_min_beats at a mean rate above 100 bpm is in progress."""
        n = self._run_n
        c = self.config
        return n >= c.nsvt_min_beats and self._run_last - self._run_start < c.nsvt_max_rr_ms * (n - 1)

    def _end_run(self, t: int) -> None:
        fast = self._fast_run()
        n = self._run_n
        self._run_n = 0
        if not fast:
            return
        start = self._run_start
        last = self._run_last
        self._prev_run_start = start
        self._prev_run_end = last
        if self.vt.open:  # part of the VT episode
            self._vt_check_close(t)
            return
        span = last - start
        rate = 60000 * (n - 1) // span if span > 0 else 0
        self._emit(t, self._new_id(), "NSVT", MEDIUM, False, 0, start, last, self._q, rate, n)

    def _vt_extend(self) -> None:
        vt = self.vt
        end = self._vt_last_pos - self.config.vt_end_back_ms
        if self._vt_last_v > end:
            end = self._vt_last_v
        if end > vt.end:
            vt.end = end

    def _vt_opened(self, t: int) -> None:
        # The silence was the VT's: an asystole that it explains ends where the VT began.
        asys = self.asystole
        if asys.open:
            onset = self.vt.onset
            asys.end = onset if onset > asys.onset else asys.onset
            self._close(asys, t)

    def _vt_check_close(self, t: int) -> None:
        vt = self.vt
        c = self.config
        if not vt.open or self._bad or t < self._settle_until:
            return
        if self._fast_run():
            return  # a fast V run in progress holds it open
        if self._vt_npos and self._vt_neg < c.vt_close_count:
            last = self._vt_last_win if self._vt_last_win > self._settle_until else self._settle_until
            if t - last < c.vt_stale_ms:
                return
        self._vt_extend()
        self._close(vt, t)
        self._vt_reset()

    def _vt_reset(self) -> None:
        self._vt_bits = 0
        self._vt_first = -1
        self._vt_neg = 0
        self._vt_npos = 0
        self._vt_sum = 0
        self._vt_last_pos = -1
        self._vt_last_v = -1

    def _rhythm_rule(self, ep: _Episode, t: int, p: int, mean: int, thr: int, min_ms: int) -> None:
        if ep.open:
            if mean < thr:
                self._close(ep, t)
            else:
                if p >= thr:
                    ep.end = t
                ep.conf = mean
                ep.hr = self._hr
            return
        if p >= thr:
            if ep.cand < 0:
                ep.cand = t - self.config.rhythm_window_ms
            if mean >= thr and t - ep.cand >= min_ms:
                self._open(ep, t, ep.cand, t, mean, self._hr, 0)
        elif mean < thr:
            ep.cand = -1

    def _rate_rule(self, ep: _Episode, t: int, hr: int, inside: bool, stay: bool, min_ms: int) -> None:
        slow = ep is self.brady
        if ep.open:
            if not stay:
                self._close(ep, t)
                return
            ep.end = t
            if (hr < ep.extreme) if slow else (hr > ep.extreme):
                ep.extreme = hr
                ep.hr = hr
                severity = self._rate_severity(ep)
                if severity > ep.severity:
                    ep.severity = severity
                    self._send(ep, t, True)
            return
        if not inside:
            ep.cand = -1
            return
        if ep.cand < 0:
            ep.cand = t
            ep.extreme = hr
        elif (hr < ep.extreme) if slow else (hr > ep.extreme):
            ep.extreme = hr
        if t - ep.cand >= min_ms:
            ep.severity = self._rate_severity(ep)
            self._open(ep, t, ep.cand, t, self._q, ep.extreme, 0)

    def _rate_severity(self, ep: _Episode) -> int:
        c = self.config
        if ep is self.brady:
            return MEDIUM if ep.extreme < c.brady_medium_bpm else LOW
        return MEDIUM if ep.extreme > c.tachy_medium_bpm else LOW

    # ------------------------------------------------------------ records

    def _new_id(self) -> int:
        i = self._next_id
        self._next_id = i + 1 if i < _U32 else 1
        return i

    def _open(self, ep: _Episode, t: int, onset: int, end: int, conf: int, hr: int, beats: int) -> None:
        ep.open = True
        ep.event_id = self._new_id()
        ep.onset = onset
        ep.end = end
        ep.conf = conf
        ep.hr = hr
        ep.beats = beats
        self._send(ep, t, True)

    def _close(self, ep: _Episode, t: int) -> None:
        ep.open = False
        ep.cand = -1
        if ep is self.vt:
            self._vt_quiet = ep.end if ep.end > ep.onset else ep.onset
        self._send(ep, t, False)

    def _send(self, ep: _Episode, t: int, ongoing: bool) -> None:
        ep.sent = t
        hr = ep.hr if ep is not self.vt or not self._hr else self._hr
        end = ep.end if ep.end > ep.onset else ep.onset
        flags = FLAG_ONGOING if ongoing else 0
        self._emit(
            t, ep.event_id, ep.etype, ep.severity, ep.critical, flags, ep.onset, end, ep.conf, hr, ep.beats
        )

    def _emit(
        self,
        t: int,
        event_id: int,
        etype: str,
        severity: int,
        critical: bool,
        flags: int,
        onset: int,
        end: int,
        conf: int,
        hr: int,
        beats: int,
    ) -> None:
        c = self.config
        start = 0
        stop = 0
        if etype in c.snippet_types:
            start = onset - c.snippet_pre_s * 1000
            if start < 0:
                start = 0
            stop = onset + c.snippet_post_s * 1000
        conf = 0 if conf < 0 else (1000 if conf > 1000 else conf)
        record = {
            "event_id": event_id,
            "event_type": etype,
            "severity": SEVERITY_NAMES[severity],
            "flags": flags,
            "confidence": conf * 255 // 1000,
            "onset_ms": onset,
            "end_ms": end,
            "heart_rate": hr if hr < 0xFFFF else 0xFFFF,
            "beat_count": beats,
            "critical": critical,
            "snippet_start_ms": start,
            "snippet_end_ms": stop,
            "t_ms": t,
        }
        self.on_event(record)

    def _summary_reset(self) -> None:
        self._s_beats = 0
        self._s_v = 0
        self._s_s = 0
        self._s_rr_sum = 0
        self._s_rr_n = 0
        self._s_hr_min = 0xFFFF
        self._s_hr_max = 0
        self._s_sup = 0

    def _summary(self, boundary: int) -> None:
        period = boundary - self._s_start
        sup = self._s_sup if self._s_sup < period else period
        record = {
            "time_ms": boundary,
            "period_s": period // 1000,
            "flags": 0,
            "heart_rate": 60000 * self._s_rr_n // self._s_rr_sum if self._s_rr_n else 0,
            "heart_rate_min": self._s_hr_min if self._s_hr_max else 0,
            "heart_rate_max": self._s_hr_max,
            "beat_count": self._s_beats,
            "veb_count": self._s_v,
            "sveb_count": self._s_s,
            "signal_quality": 255 * (period - sup) // period if period > 0 else 0,
            "battery_percent": self._battery,
        }
        self._summary_reset()
        self._s_start = boundary
        self._schedule()
        if self.on_summary is not None:
            self.on_summary(record)
