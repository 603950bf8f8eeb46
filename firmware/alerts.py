"""The patch's own alarm: buzzer, LED and vibration per severity, and the button to silence it.

Driven by the event records of firmware/events.py (`on_event(t_ms, record)`) and by `tick(t_ms)`
(call it every 50 ms or less: the shortest step of a pattern is 100 ms); a non-blocking state
machine (no sleeps), its state allocated once, on the hardware contract of firmware/hal.py.
Nothing here depends on the gateway: the patch alarms on its own, in or out of radio range.

Patterns (steps cycled from the first record of an event; LED colours from firmware/hal.py)
---------------------------------------------------------------------------------------------
| severity          | pattern                                                    | lasts       |
|-------------------|------------------------------------------------------------|-------------|
| CRITICAL (VT)     | 2.4-s cycle: 3 + 2 tones of 150 ms at 2.7 kHz (after IEC   | until the   |
|                   | 60601-1-8's high-priority burst), red LED flashing, the    | episode     |
|                   | motor on with each tone                                    | ends*       |
| HIGH (asystole)   | 4-s cycle: 3 beeps of 200 ms at 2 kHz with the motor, red  | until the   |
|                   | LED with each beep                                         | episode ends*|
| MEDIUM (NSVT, AF, | amber LED 0.5 s every 2 s; one 0.5-s vibration at the start;| 60 s        |
|  brady/tachy <30, | a 1-kHz tone with it only if sound_for_medium              |             |
|  >150 bpm)        |                                                            |             |
| LOW (lead-off,    | amber LED 0.25 s every 3 s, silent                         | 30 s        |
|  rate, other)     |                                                            |             |
| INFO (symptom)    | blue LED 1 s with a 150-ms buzz of the motor: "press taken"| 1 s         |
| INFO (noise)      | nothing                                                    |             |
* and at least one whole cycle, so that a short episode is still heard; an event that
arrives already ended (no ONGOING flag) plays one cycle.

The highest active severity owns the LED, the highest one not silenced the buzzer and motor.
An event alerts once: its ONGOING updates do not restart the pattern, unless its severity
rises (e.g. BRADY LOW -> MEDIUM).

The button (firmware/hal.py reports short and long presses):
- a press while a CRITICAL or HIGH alarm sounds silences it for `silence_ms` (2 min): buzzer
  and motor stop, the LED stays steady red; if the episode is still going on afterwards, it
  alarms again, from the start of its pattern. A new episode (another event_id) alarms at once, even during a silence.
- any other press, and every long press (>= 1.5 s, even one that silences), is a symptom
  mark: `on_symptom(t_ms)` (wire it to EventDetector.on_button).
"""

from firmware.hal import BUTTON_LONG, BUTTON_NONE, LED_AMBER, LED_BLUE, LED_OFF, LED_RED

try:
    from micropython import const
except ImportError:  # CPython
    const = lambda expr: expr  # noqa: E731

_INFO = const(0)
_LOW = const(1)
_MEDIUM = const(2)
_HIGH = const(3)
_CRITICAL = const(4)
_LEVELS = const(5)
_FLAG_ONGOING = const(0x01)
_SEEN = const(8)
_SEVERITY_NAMES = ("INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL")

# Steps: (ms, buzzer Hz, LED colour, vibration)
_TONE_CRITICAL = const(2700)
_TONE_HIGH = const(2000)
_TONE_MEDIUM = const(1000)
PATTERN_CRITICAL = (
    (150, _TONE_CRITICAL, LED_RED, 1),
    (100, 0, LED_RED, 0),
    (150, _TONE_CRITICAL, LED_RED, 1),
    (100, 0, LED_RED, 0),
    (150, _TONE_CRITICAL, LED_RED, 1),
    (350, 0, LED_OFF, 0),
    (150, _TONE_CRITICAL, LED_RED, 1),
    (100, 0, LED_RED, 0),
    (150, _TONE_CRITICAL, LED_RED, 1),
    (1000, 0, LED_OFF, 0),
)
PATTERN_HIGH = (
    (200, _TONE_HIGH, LED_RED, 1),
    (150, 0, LED_OFF, 0),
    (200, _TONE_HIGH, LED_RED, 1),
    (150, 0, LED_OFF, 0),
    (200, _TONE_HIGH, LED_RED, 1),
    (3100, 0, LED_OFF, 0),
)
PATTERN_MEDIUM = ((500, 0, LED_AMBER, 1), (1500, 0, LED_OFF, 0))
PATTERN_LOW = ((250, 0, LED_AMBER, 0), (2750, 0, LED_OFF, 0))
PATTERN_SYMPTOM = ((150, 0, LED_BLUE, 1), (850, 0, LED_BLUE, 0))
PATTERNS = (PATTERN_SYMPTOM, PATTERN_LOW, PATTERN_MEDIUM, PATTERN_HIGH, PATTERN_CRITICAL)


def _cycle_ms(pattern) -> int:
    total = 0
    for step in pattern:
        total += step[0]
    return total


class Alerts:
    """Alert patterns on `hw` (firmware/hal.py's contract), from event records and the button."""

    def __init__(
        self,
        hw,
        on_symptom=None,
        sound_for_medium: bool = False,
        silence_ms: int = 120000,
        medium_ms: int = 60000,
        low_ms: int = 30000,
    ) -> None:
        self.hw = hw
        self.on_symptom = on_symptom
        self.sound_for_medium = sound_for_medium
        self.silence_ms = silence_ms
        self._length = (1000, low_ms, medium_ms, 0, 0)  # fixed duration; 0: until the episode ends
        self._cycle = [_cycle_ms(p) for p in PATTERNS]
        self._active = [False] * _LEVELS
        self._id = [0] * _LEVELS
        self._start = [0] * _LEVELS
        self._until = [0] * _LEVELS  # -1: until its episode ends
        self._silenced = [-1] * _LEVELS  # silenced before this time
        self._seen_id = [0] * _SEEN  # events already alerted, with the severity alerted
        self._seen_sev = [0] * _SEEN
        self._seen_i = 0
        self._hz = -1
        self._led = -1
        self._vib = -1
        self._apply(0, LED_OFF, 0)

    # ------------------------------------------------------------ inputs

    def on_event(self, t: int, record) -> None:
        """An event record from EventDetector (event_id, event_type, severity, flags)."""
        severity = _SEVERITY_NAMES.index(record["severity"])
        if severity == _INFO and record["event_type"] != "SYMPTOM":
            self._drive(t)
            return
        eid = record["event_id"]
        ongoing = record["flags"] & _FLAG_ONGOING
        k = -1
        for i in range(_SEEN):
            if self._seen_id[i] == eid:
                k = i
                break
        if k >= 0 and severity <= self._seen_sev[k]:
            if not ongoing:  # the episode is over: end an open-ended alarm after a whole cycle
                for s in range(_LEVELS):
                    if self._active[s] and self._id[s] == eid and self._until[s] < 0:
                        least = self._start[s] + self._cycle[s]
                        self._until[s] = least if least > t else t
            self._drive(t)
            return
        if k < 0:
            k = self._seen_i
            self._seen_i = (k + 1) % _SEEN
            self._seen_id[k] = eid
        self._seen_sev[k] = severity
        for s in range(_LEVELS):  # a rise in severity moves the event up
            if self._active[s] and self._id[s] == eid:
                self._active[s] = False
        self._active[severity] = True
        self._id[severity] = eid
        self._start[severity] = t
        self._silenced[severity] = -1
        length = self._length[severity]
        if length:
            self._until[severity] = t + length
        else:
            self._until[severity] = -1 if ongoing else t + self._cycle[severity]
        self._drive(t)

    def tick(self, t: int) -> None:
        """Reads the button, then sets the outputs for time t."""
        while True:
            press = self.hw.poll_button()
            if press == BUTTON_NONE:
                break
            self._press(t, press)
        self._drive(t)

    def silence(self, t: int) -> bool:
        """Silences the CRITICAL and HIGH alarms sounding at t; True if there was one."""
        done = False
        for s in (_HIGH, _CRITICAL):
            if self._active[s] and t >= self._silenced[s]:
                self._silenced[s] = t + self.silence_ms
                done = True
        return done

    def sounding(self, t: int) -> bool:
        """A CRITICAL or HIGH alarm is active and not silenced at t."""
        return any(self._active[s] and t >= self._silenced[s] for s in (_HIGH, _CRITICAL))

    # ------------------------------------------------------------ state machine

    def _press(self, t: int, press: int) -> None:
        self._drive(t)  # expire what has ended before judging the press
        silenced = self.silence(t)
        if (not silenced or press == BUTTON_LONG) and self.on_symptom is not None:
            self.on_symptom(t)

    def _drive(self, t: int) -> None:
        hz = 0
        led = LED_OFF
        vib = 0
        led_set = False
        sound_set = False
        s = _LEVELS - 1
        while s >= 0:
            if self._active[s] and self._until[s] >= 0 and t >= self._until[s]:
                self._active[s] = False
            if self._silenced[s] >= 0 and t >= self._silenced[s]:  # silence over: from the top
                self._start[s] = self._silenced[s]
                self._silenced[s] = -1
            if self._active[s] and not (led_set and sound_set):
                pattern = PATTERNS[s]
                elapsed = t - self._start[s]
                cycle = elapsed // self._cycle[s]
                phase = elapsed % self._cycle[s]
                for step in pattern:
                    if phase < step[0]:
                        break
                    phase -= step[0]
                silenced = t < self._silenced[s]
                if not led_set:
                    led = LED_RED if silenced else step[2]
                    led_set = True
                if not sound_set and not silenced:
                    sound_set = True
                    if s >= _HIGH or cycle == 0:  # lower severities: the first cycle only
                        vib = step[3]
                        hz = step[1]
                        if s == _MEDIUM and self.sound_for_medium and vib:
                            hz = _TONE_MEDIUM
            s -= 1
        self._apply(hz, led, vib)

    def _apply(self, hz: int, led: int, vib: int) -> None:
        hw = self.hw
        if hz != self._hz:
            self._hz = hz
            hw.buzzer(hz)
        if led != self._led:
            self._led = led
            hw.led(led)
        if vib != self._vib:
            self._vib = vib
            hw.vibrate(vib)
