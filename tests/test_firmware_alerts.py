"""firmware/alerts.py on the simulated devices of hardware_sim/alert_devices.py: patterns per
severity, silencing by the button, re-alarm on a new episode, and the whole chain from a VT
stream to the buzzer."""

from __future__ import annotations

from typing import Any

from test_firmware_events import Feed, every

from firmware.alerts import PATTERN_CRITICAL, PATTERN_HIGH, Alerts
from firmware.events import FLAG_ONGOING
from firmware.hal import LED_AMBER, LED_BLUE, LED_OFF, LED_RED, NullAlertHardware
from hardware_sim.alert_devices import SimAlertDevices


def record(event_id: int, severity: str, ongoing: bool = True, etype: str = "VT") -> dict[str, Any]:
    return {
        "event_id": event_id,
        "event_type": etype,
        "severity": severity,
        "flags": FLAG_ONGOING if ongoing else 0,
    }


class Bench:
    """Alerts on simulated devices, ticked every 10 ms; scheduled event records and presses."""

    def __init__(self, **options: Any) -> None:
        self.dev = SimAlertDevices()
        self.symptoms: list[int] = []
        self.alerts = Alerts(self.dev, on_symptom=self.symptoms.append, **options)
        self.t = 0
        self._records: list[tuple[int, dict]] = []

    def at(self, t: int, rec: dict) -> Bench:
        self._records.append((t, rec))
        return self

    def run(self, until: int) -> Bench:
        records = sorted(self._records, key=lambda r: r[0])
        self._records = []
        i = 0
        while self.t <= until:
            self.dev.now_ms = self.t
            while i < len(records) and records[i][0] <= self.t:
                self.alerts.on_event(self.t, records[i][1])
                i += 1
            self.alerts.tick(self.t)
            self.t += 10
        return self


def cycle_ms(pattern: tuple) -> int:
    return sum(step[0] for step in pattern)


def test_vt_alarm_pattern_until_the_episode_ends() -> None:
    b = Bench().at(1000, record(1, "CRITICAL")).at(8000, record(1, "CRITICAL", ongoing=False)).run(12000)
    tones = b.dev.intervals("buzzer")
    cycle = cycle_ms(PATTERN_CRITICAL)
    assert cycle == 2400
    # Bursts of 3 + 2 tones of 150 ms at 2.7 kHz every 2.4 s, from the first record.
    starts = [iv.start_ms for iv in tones]
    assert starts[:5] == [1000, 1250, 1500, 2000, 2250]
    assert starts[5:10] == [s + cycle for s in starts[:5]]
    assert all(iv.value == 2700 and iv.end_ms is not None and iv.end_ms - iv.start_ms == 150 for iv in tones)
    assert [iv.start_ms for iv in b.dev.intervals("vibrate")] == starts
    assert b.dev.state == {"buzzer": 0, "led": LED_OFF, "vibrate": 0}
    assert max(starts) < 8000  # stopped when the episode ended
    assert {iv.value for iv in b.dev.intervals("led")} == {LED_RED}


def test_button_silences_then_re_alarms_and_a_new_episode_alarms_at_once() -> None:
    b = Bench().at(1000, record(1, "CRITICAL"))
    b.dev.press(3000)
    b.run(30000)
    assert b.dev.on_ms("buzzer", 3000, 30000) == 0  # silenced (2 min)
    assert b.dev.state["led"] == LED_RED  # steady red while silenced
    assert [c for c in b.dev.log if c.device == "led" and 3010 <= c.t_ms <= 30000] == []
    assert b.symptoms == []  # a press that silences is no symptom mark
    b.run(125000)  # still going on after the silence: alarms again at 123 s
    assert b.dev.first_on("buzzer", 30000) == 123000
    # A new VT episode alarms at once, even while the previous one is silenced.
    b.dev.press(126000)
    b.at(127000, record(1, "CRITICAL", ongoing=False)).at(130000, record(2, "CRITICAL")).run(135000)
    assert b.dev.on_ms("buzzer", 126010, 130000) == 0
    assert b.dev.first_on("buzzer", 126010) == 130000


def test_a_long_press_during_an_alarm_also_marks_a_symptom_and_presses_outside_are_marks() -> None:
    b = Bench()
    b.dev.press(500)
    b.at(1000, record(1, "CRITICAL"))
    b.dev.press(2000, long=True)
    b.run(5000)
    assert b.symptoms == [500, 2000]
    assert b.dev.on_ms("buzzer", 2000, 5000) == 0


def test_high_repeats_beeps_and_a_short_episode_still_plays_one_cycle() -> None:
    b = Bench().at(0, record(3, "HIGH", etype="PAUSE")).run(10000)
    starts = [iv.start_ms for iv in b.dev.intervals("buzzer")]
    assert cycle_ms(PATTERN_HIGH) == 4000
    assert starts == [0, 350, 700, 4000, 4350, 4700, 8000, 8350, 8700]
    b = Bench().at(0, record(4, "HIGH", etype="PAUSE")).at(500, record(4, "HIGH", False, "PAUSE")).run(9000)
    assert [iv.start_ms for iv in b.dev.intervals("buzzer")] == [0, 350, 700]
    b = Bench().at(0, record(5, "HIGH", False, "PAUSE")).run(9000)  # arrives already ended
    assert [iv.start_ms for iv in b.dev.intervals("buzzer")] == [0, 350, 700]


def test_medium_is_led_and_one_vibration_without_sound_unless_configured() -> None:
    nsvt = record(7, "MEDIUM", ongoing=False, etype="NSVT")
    b = Bench().at(1000, nsvt).run(70000)
    assert b.dev.intervals("buzzer") == []
    assert [(iv.start_ms, iv.end_ms) for iv in b.dev.intervals("vibrate")] == [(1000, 1500)]
    leds = b.dev.intervals("led")
    assert {iv.value for iv in leds} == {LED_AMBER} and len(leds) == 30  # every 2 s for 60 s
    assert leds[-1].end_ms is not None and leds[-1].end_ms <= 61000
    b = Bench(sound_for_medium=True).at(1000, nsvt).run(5000)
    assert [(iv.start_ms, iv.end_ms, iv.value) for iv in b.dev.intervals("buzzer")] == [(1000, 1500, 1000)]


def test_ongoing_updates_do_not_restart_a_pattern_but_a_rise_in_severity_does() -> None:
    b = Bench()
    for t in (0, 30000, 60000):
        b.at(t, record(9, "MEDIUM", etype="AF"))
    b.run(90000)
    assert len(b.dev.intervals("vibrate")) == 1
    b = (
        Bench()
        .at(0, record(3, "LOW", etype="BRADY"))
        .at(10000, record(3, "MEDIUM", etype="BRADY"))
        .run(20000)
    )
    assert [iv.start_ms for iv in b.dev.intervals("vibrate")] == [10000]


def test_info_symptom_is_acknowledged_and_noise_is_silent() -> None:
    b = (
        Bench()
        .at(0, record(1, "INFO", False, "NOISE"))
        .at(1000, record(2, "INFO", False, "SYMPTOM"))
        .run(5000)
    )
    assert [(iv.start_ms, iv.end_ms) for iv in b.dev.intervals("vibrate")] == [(1000, 1150)]
    assert [(iv.start_ms, iv.end_ms, iv.value) for iv in b.dev.intervals("led")] == [(1000, 2000, LED_BLUE)]
    assert b.dev.intervals("buzzer") == []


def test_critical_owns_the_outputs_over_medium() -> None:
    b = Bench().at(0, record(1, "MEDIUM", etype="AF")).at(100, record(2, "CRITICAL")).run(3000)
    assert b.dev.intervals("buzzer")[0].start_ms == 100
    assert {iv.value for iv in b.dev.intervals("led") if iv.start_ms >= 100} == {LED_RED}


def test_null_hardware() -> None:
    alerts = Alerts(NullAlertHardware())
    alerts.on_event(0, record(1, "CRITICAL"))
    alerts.tick(10)
    assert alerts.sounding(10)


def test_vt_stream_to_the_buzzer_within_10_s_and_symptom_button_to_an_event() -> None:
    """The chain on the patch: detector -> alerts -> devices, button -> alerts -> detector."""
    t0, te = 40000, 80000
    worst = 0
    for phase in range(0, 2500, 500):
        feed = Feed()
        dev = SimAlertDevices()
        alerts = Alerts(dev, on_symptom=feed.detector.on_button)

        def to_alerts(rec: dict, dev: SimAlertDevices = dev, alerts: Alerts = alerts) -> None:
            dev.now_ms = rec["t_ms"]
            alerts.on_event(rec["t_ms"], rec)

        feed.listeners.append(to_alerts)
        start = t0 + phase
        feed.beats(t for t in every(0, 120000, 800) if t < start - 300 or t > te + 500)
        feed.beats(every(start, te + 1, 300), "N")
        for t in every(10000, 120001, 2500):
            feed.vt(t, max(0, min(t, te) - max(t - 10000, start)) / 10000)
        dev.press(20000)  # no alarm yet: a symptom mark
        dev.press(start + 12000)  # silences the VT alarm

        def hook(t: int, dev: SimAlertDevices = dev, alerts: Alerts = alerts) -> None:
            dev.now_ms = t
            alerts.tick(t)

        feed.run(120000, hooks=hook)
        alarm = dev.first_on("buzzer", start)
        assert alarm is not None and alarm - start <= 10000
        worst = max(worst, alarm - start)
        assert dev.on_ms("buzzer", start + 12000, start + 60000) == 0
        assert [e["onset_ms"] for e in feed.of("SYMPTOM")] == [20000]
        assert feed.finals("VT")[0]["flags"] == 0
    assert worst < 10000
