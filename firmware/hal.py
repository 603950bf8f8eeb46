"""The patch's hardware layer for alerts: buzzer, LED, vibration motor and the button.

firmware/alerts.py drives these devices through one duck-typed object (no base class, no
typing at run time); hardware_sim/alert_devices.py implements it on a PC and records what was
played and when; `PatchAlertHardware` below implements it on the ESP32-S3.

The contract (every method returns at once; none blocks, sleeps or allocates per call)
-------------------------------------------------------------------------------------
| method               | meaning                                                             |
|----------------------|---------------------------------------------------------------------|
| buzzer(freq_hz)      | 0: silent; else a tone at freq_hz (piezo: square wave, 50 % duty)   |
| led(color)           | LED_OFF, LED_RED, LED_AMBER, LED_GREEN or LED_BLUE (one RGB LED)    |
| vibrate(on)          | vibration motor on (truthy) or off                                  |
| poll_button()        | the oldest press not yet read: BUTTON_SHORT or BUTTON_LONG, or      |
|                      | BUTTON_NONE when there is none. Each press is reported once, at     |
|                      | its release (so its length is known); presses queue (a few).        |

Alerts calls buzzer/led/vibrate only when the output changes, so an implementation may
reprogram the peripheral on each call. A press is long when held >= LONG_PRESS_MS.
"""

try:
    from micropython import const
except ImportError:  # CPython
    const = lambda expr: expr  # noqa: E731

LED_OFF = const(0)
LED_RED = const(1)
LED_AMBER = const(2)
LED_GREEN = const(3)
LED_BLUE = const(4)
LED_NAMES = ("off", "red", "amber", "green", "blue")

BUTTON_NONE = const(0)
BUTTON_SHORT = const(1)
BUTTON_LONG = const(2)

LONG_PRESS_MS = const(1500)
_DEBOUNCE_MS = const(30)
_QUEUE = const(8)


class NullAlertHardware:
    """A patch without alert devices (or a test that does not look): does nothing."""

    def buzzer(self, freq_hz: int) -> None:
        pass

    def led(self, color: int) -> None:
        pass

    def vibrate(self, on) -> None:
        pass

    def poll_button(self) -> int:
        return BUTTON_NONE


class PatchAlertHardware:
    """The contract on the ESP32-S3: a piezo on a PWM pin, an RGB LED (3 pins, active high), a
    vibration motor behind a transistor, a push button to ground (internal pull-up).

    The button's edge interrupt stores press lengths in a ring allocated here (no allocation
    in the handler). Not exercised by the tests (no `machine` on a PC): the simulation in
    hardware_sim/alert_devices.py stands in for it there.
    """

    def __init__(
        self, buzzer_pin: int, led_pins: tuple, vibrate_pin: int, button_pin: int, clock=None
    ) -> None:
        import machine  # only on the device

        if clock is None:  # MicroPython's time: ticks_ms, ticks_diff
            import time

            clock = time
        self._time = clock
        self._pwm = machine.PWM(machine.Pin(buzzer_pin), freq=2700, duty_u16=0)
        self._rgb = [machine.Pin(p, machine.Pin.OUT, value=0) for p in led_pins]
        self._motor = machine.Pin(vibrate_pin, machine.Pin.OUT, value=0)
        self._button = machine.Pin(button_pin, machine.Pin.IN, machine.Pin.PULL_UP)
        self._queue = bytearray(_QUEUE)
        self._head = 0
        self._tail = 0
        self._down = False
        self._down_at = clock.ticks_ms()
        self._button.irq(self._edge, machine.Pin.IRQ_FALLING | machine.Pin.IRQ_RISING)

    def _edge(self, pin) -> None:
        now = self._time.ticks_ms()
        if pin.value() == 0:  # pressed (pull-up: low)
            self._down = True
            self._down_at = now
            return
        if not self._down:
            return
        held = self._time.ticks_diff(now, self._down_at)
        self._down = False
        if held < _DEBOUNCE_MS or (self._head + 1) % _QUEUE == self._tail:
            return  # a bounce, or the queue is full
        self._queue[self._head] = BUTTON_LONG if held >= LONG_PRESS_MS else BUTTON_SHORT
        self._head = (self._head + 1) % _QUEUE

    def buzzer(self, freq_hz: int) -> None:
        if freq_hz:
            self._pwm.freq(freq_hz)
            self._pwm.duty_u16(32768)
        else:
            self._pwm.duty_u16(0)

    def led(self, color: int) -> None:
        # (red, green, blue) per color; amber = red + green.
        r = color in (LED_RED, LED_AMBER)
        g = color in (LED_GREEN, LED_AMBER)
        b = color == LED_BLUE
        self._rgb[0].value(1 if r else 0)
        self._rgb[1].value(1 if g else 0)
        self._rgb[2].value(1 if b else 0)

    def vibrate(self, on) -> None:
        self._motor.value(1 if on else 0)

    def poll_button(self) -> int:
        if self._tail == self._head:
            return BUTTON_NONE
        press = self._queue[self._tail]
        self._tail = (self._tail + 1) % _QUEUE
        return press
