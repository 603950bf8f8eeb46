"""The patch's Bluetooth LE peripheral: GATT table, frame transport, control point.

Written against MicroPython's low-level `bluetooth` module as the ESP32-S3 port has it (NimBLE).
The module never imports `bluetooth`: `BleService(bt, ...)` takes the module (or any object
with its `BLE()`, `UUID()`) from the hardware layer, so on a PC the same code runs on
hardware_sim/ble_bumble.py (bumble's host stack on a virtual controller), and in the
MicroPython VM on a fake. It uses only: BLE.active, config(gap_name=, mtu=), irq,
gap_advertise, gatts_register_services, gatts_set_buffer, gatts_read, gatts_write,
gatts_notify(conn, handle, data), gatts_indicate(conn, handle, data).

GATT table
----------
| service / characteristic                 | UUID                                 | properties              |
|------------------------------------------|--------------------------------------|-------------------------|
| ECG service                              | e0c90001-b2f4-4c3a-8d6e-5a1f0e7c3b29 |                         |
|   ECG data (frames patch -> gateway)     | e0c90002-b2f4-4c3a-8d6e-5a1f0e7c3b29 | notify                  |
|   ECG control point (commands/responses) | e0c90003-b2f4-4c3a-8d6e-5a1f0e7c3b29 | write, write-no-rsp, indicate |
| Heart Rate 0x180D                        |                                      |                         |
|   Heart Rate Measurement 0x2A37          | bpm + RR (wire.encode_heart_rate)    | notify                  |
|   Body Sensor Location 0x2A38            | 0x01 (chest)                         | read                    |
| Battery 0x180F / Battery Level 0x2A19    | 0..100 %                             | read, notify            |
| Device Information 0x180A                | 0x2A29 manufacturer, 0x2A24 model, 0x2A25 serial, 0x2A26 firmware revision | read |

Advertising: flags, the ECG service's 128-bit UUID and 0x180D (so heart-rate apps find the
patch) in the advertisement (25 of 31 bytes), the name in the scan response.

Protocol on the ECG service (frames of firmware/wire.py)
--------------------------------------------------------
- Data characteristic: EVENT, SUMMARY, SNIPPET_HEADER + SNIPPET_FRAGMENTs, LIVE_DATA, as
  notifications. A frame longer than MTU - 3 spans consecutive notifications (FrameJoiner).
- Control point: the gateway writes commands (ACK, RESUME, TIME_SYNC, CONFIG, LIVE); several
  may arrive back to back (the control point's buffer appends, so none is overwritten before
  the firmware reads it). Each gets one RESPONSE, indicated on the control point (one
  indication in flight at a time, the next after _IRQ_GATTS_INDICATE_DONE).
- Session: MicroPython does not tell the firmware when a client subscribes, and NimBLE sends
  a notification whether or not the client subscribed (the client drops it). So the patch
  sends nothing on the data characteristic until the gateway's first valid command on the
  connection (normally TIME_SYNC, right after subscribing): that connection then owns the
  ECG session. A command from another connection meanwhile gets BUSY. Heart rate and battery
  go to every subscribed client (gatts_write with send_update), e.g. a phone app beside the
  gateway (MAX_CONNECTIONS = 2).
- Snippets: `send_snippet` sends the header, then fragments of fragment_size_for_mtu(MTU)
  bytes (236 at MTU 247, 12 at 23). RESUME (snippet_id, first, count) sends the header again,
  then those fragments, with the fragment size of the first transfer (so the gateway's
  reassembler keeps what it has); if that size no longer fits the MTU, the whole snippet
  at the new size. The service keeps a reference to the last snippet it sent; older ones
  come from the `get_snippet` callback (the store), UNKNOWN_ID when neither has it, and
  are cut for the current MTU: should the gateway have had another fragment size, the new
  header makes its reassembler start afresh and it RESUMEs what is still missing. Up to
  JOB_SLOTS transfers wait in line; more get BUSY.
- Disconnection (of the session's connection): the transfer, the frame queue, pending
  responses and live streaming are dropped; the store keeps unacknowledged events and
  offers them again; the gateway RESUMEs the snippet.
- Garbage on the control point: a frame whose type is a command gets a RESPONSE with status
  ERROR (bad length or CRC: seq taken from byte 2 as written) or BAD_VALUE (valid frame, bad
  field); bytes that are no command frame at all are dropped and counted (`rx_errors`).
  Nothing raises.

Threading: IRQ handlers (scheduled by MicroPython between bytecodes of the main loop) only
set flags and counters; `poll()`, called from the patch's main loop, reads commands, calls
the callbacks and sends, up to SEND_BURST notifications a call. A notification the stack has
no buffer for (OSError ENOMEM) is sent again on the next poll. Call poll() every few ms while
`idle` is False (on air a 244-byte notification takes 1.4-2.5 ms), and at least once per
sample block otherwise. Memory: the frame queue (QUEUE_SLOTS x MAX_FRAME
bytes), the frame being sent and the live-data buffer are allocated in __init__ (about
6.6 kB of heap on the MicroPython VM); the control point's 256-byte append buffer lives in
the stack (gatts_set_buffer); headers and responses are small allocations when a command or
a snippet starts.

Callbacks (attributes, None by default; called from poll()):
  on_ack(target, up_to_id)            target "event" or "snippet"; its return is ignored
  on_time_sync(gateway_ms) -> int     sets the clock; returns the patch clock (ms) before
  on_config(key, value) -> (status, value)   key a wire.CONFIG_KEYS name, value
                                      wire.CONFIG_READ to read; status a STATUSES name
  get_snippet(snippet_id) -> Snippet, None (unknown: UNKNOWN_ID) or False (held but not
                                      loadable now, e.g. its buffer is busy: BUSY, ask again)
  on_session(active)                  a gateway session starts (True) or ends (False)
Without the callback the command is answered UNSUPPORTED.
"""

from array import array
from binascii import unhexlify

from firmware import wire

try:
    from micropython import const
except ImportError:  # CPython
    const = lambda expr: expr  # noqa: E731

TYPE_CHECKING = False  # mypy takes this name as True; MicroPython has no `typing` to import
if TYPE_CHECKING:
    from collections.abc import Callable  # noqa: F401 (used in type comments)
    from typing import Any  # noqa: F401

_IRQ_CENTRAL_CONNECT = const(1)
_IRQ_CENTRAL_DISCONNECT = const(2)
_IRQ_GATTS_WRITE = const(3)
_IRQ_GATTS_INDICATE_DONE = const(20)
_IRQ_MTU_EXCHANGED = const(21)

_FLAG_READ = const(0x0002)
_FLAG_WRITE_NO_RESPONSE = const(0x0004)
_FLAG_WRITE = const(0x0008)
_FLAG_NOTIFY = const(0x0010)
_FLAG_INDICATE = const(0x0020)

_ENOMEM = const(12)

ECG_SERVICE_UUID = "e0c90001-b2f4-4c3a-8d6e-5a1f0e7c3b29"
ECG_DATA_UUID = "e0c90002-b2f4-4c3a-8d6e-5a1f0e7c3b29"
ECG_CONTROL_UUID = "e0c90003-b2f4-4c3a-8d6e-5a1f0e7c3b29"
HEART_RATE_SERVICE = const(0x180D)
HEART_RATE_MEASUREMENT = const(0x2A37)
BODY_SENSOR_LOCATION = const(0x2A38)
BATTERY_SERVICE = const(0x180F)
BATTERY_LEVEL = const(0x2A19)
DEVICE_INFO_SERVICE = const(0x180A)
MANUFACTURER_NAME = const(0x2A29)
MODEL_NUMBER = const(0x2A24)
SERIAL_NUMBER = const(0x2A25)
FIRMWARE_REVISION = const(0x2A26)
SENSOR_LOCATION_CHEST = const(1)

DEFAULT_MTU = const(23)
PREFERRED_MTU = const(247)  # 247-byte ATT packets fill one 251-byte LE data PDU (DLE)
ADV_INTERVAL_US = const(100000)
MAX_CONNECTIONS = const(2)
QUEUE_SLOTS = const(8)
RESPONSE_SLOTS = const(4)
JOB_SLOTS = const(4)
CONTROL_BUFFER = const(256)
SEND_BURST = const(32)  # notifications per poll() at most
HR_MAX_RR = const(8)  # RR intervals per Heart Rate Measurement: fits 20 bytes (MTU 23) always

_T_ACK = const(0x10)
_T_LIVE = const(0x14)


class Snippet:
    """What the service needs of a stored snippet; the store may pass any object with these
    attributes. `payload` is the encoded payload (bytes, bytearray or memoryview): it is
    read, never copied."""

    def __init__(
        self,
        snippet_id,
        event_id,
        start_ms,
        fs_hz,
        lsb_nv,
        lead_count,
        payload,
        encoding="int16",
        flags=0,
        total_samples=None,
    ) -> None:
        self.snippet_id = snippet_id
        self.event_id = event_id
        self.start_ms = start_ms
        self.fs_hz = fs_hz
        self.lsb_nv = lsb_nv
        self.lead_count = lead_count
        self.payload = payload
        self.encoding = encoding
        self.flags = flags
        if total_samples is None:
            total_samples = len(payload) // (2 * lead_count)
        self.total_samples = total_samples


def _uuid128_le(text: str) -> bytes:
    raw = unhexlify(text.replace("-", ""))
    out = bytearray(16)
    for i in range(16):
        out[i] = raw[15 - i]
    return bytes(out)


def advertising_payload(name: str) -> tuple:
    """(advertisement, scan response) of the patch."""
    adv = bytearray(b"\x02\x01\x06")  # flags: LE general discoverable, no BR/EDR
    adv += bytes((17, 0x07)) + _uuid128_le(ECG_SERVICE_UUID)  # complete 128-bit UUIDs
    adv += bytes((3, 0x03, HEART_RATE_SERVICE & 0xFF, HEART_RATE_SERVICE >> 8))  # 16-bit UUIDs
    encoded = name.encode()[:29]
    resp = bytes((len(encoded) + 1, 0x09)) + encoded  # complete local name
    return bytes(adv), resp


def services_definition(bt) -> tuple:
    """The GATT table in gatts_register_services' form (see the module docstring)."""
    uuid = bt.UUID
    ecg = (
        uuid(ECG_SERVICE_UUID),
        (
            (uuid(ECG_DATA_UUID), _FLAG_NOTIFY),
            (uuid(ECG_CONTROL_UUID), _FLAG_WRITE | _FLAG_WRITE_NO_RESPONSE | _FLAG_INDICATE),
        ),
    )
    heart = (
        uuid(HEART_RATE_SERVICE),
        ((uuid(HEART_RATE_MEASUREMENT), _FLAG_NOTIFY), (uuid(BODY_SENSOR_LOCATION), _FLAG_READ)),
    )
    battery = (uuid(BATTERY_SERVICE), ((uuid(BATTERY_LEVEL), _FLAG_READ | _FLAG_NOTIFY),))
    info = (
        uuid(DEVICE_INFO_SERVICE),
        (
            (uuid(MANUFACTURER_NAME), _FLAG_READ),
            (uuid(MODEL_NUMBER), _FLAG_READ),
            (uuid(SERIAL_NUMBER), _FLAG_READ),
            (uuid(FIRMWARE_REVISION), _FLAG_READ),
        ),
    )
    return (ecg, heart, battery, info)


class BleService:
    """The patch's GATT server and ECG-service transport (see the module docstring)."""

    def __init__(
        self,
        bt,
        name="ECG-patch",
        manufacturer="ECG patch project",
        model="ECG-1",
        serial="0000",
        firmware_rev="0.1.0",
        adv_interval_us=ADV_INTERVAL_US,
        mtu=PREFERRED_MTU,
    ) -> None:
        self.on_ack = None  # type: Callable[[str, int], Any] | None
        self.on_time_sync = None  # type: Callable[[int], int] | None
        self.on_config = None  # type: Callable[[str, int], tuple] | None
        self.get_snippet = None  # type: Callable[[int], Any] | None
        self.on_session = None  # type: Callable[[bool], Any] | None

        # Counters (diagnostics)
        self.rx_errors = 0  # control-point bytes that were no command frame
        self.tx_busy = 0  # notifications refused by the stack (ENOMEM), sent again later
        self.tx_errors = 0  # other send errors (link lost)
        self.frames_sent = 0
        self.notifications = 0
        self.responses_dropped = 0
        self.live_dropped = 0
        self.irq_unknown = 0
        self.last_error = None  # type: Exception | None

        # Connections (IRQ side)
        self._nconn = 0
        self._mtu = {}  # type: dict  # conn handle -> ATT MTU
        self._session = -1  # conn handle of the ECG session, -1 none
        self._session_lost = False
        self._rx_flag = False
        self._rx_conn = -1
        self._indicating = -1  # conn handle of the indication in flight

        # Frame queue: QUEUE_SLOTS frames, copied in
        self._q_buf = bytearray(QUEUE_SLOTS * wire.MAX_FRAME)
        self._q_mv = memoryview(self._q_buf)
        self._q_len = array("H", [0] * QUEUE_SLOTS)
        self._q_head = 0
        self._q_count = 0

        # The frame being sent (maybe over several notifications)
        self._tx = bytearray(wire.MAX_FRAME)
        self._tx_mv = memoryview(self._tx)
        self._tx_len = 0
        self._tx_off = 0
        self._tx_queued = False  # _tx came from the frame queue (not a snippet transfer)

        # Responses (indications on the control point)
        self._r_frame = [None] * RESPONSE_SLOTS  # type: list
        self._r_conn = array("h", [0] * RESPONSE_SLOTS)
        self._r_head = 0
        self._r_count = 0

        # Snippet transfers: a line of jobs, then the one in progress
        self._j_snip = [None] * JOB_SLOTS  # type: list
        self._j_size = array("H", [0] * JOB_SLOTS)
        self._j_first = array("H", [0] * JOB_SLOTS)
        self._j_count = array("H", [0] * JOB_SLOTS)
        self._j_head = 0
        self._j_n = 0
        self._snip = None  # type: Snippet | None
        self._snip_size = 0
        self._snip_next = 0
        self._snip_end = 0
        self._snip_header = None  # type: bytes | None  # header frame still to send
        self._hdr_key = None  # type: tuple | None  # (snippet_id, fragment_size) of _hdr_frame
        self._hdr_frame = b""
        self._last = None  # type: Snippet | None  # the last snippet sent, and its fragment size
        self._last_size = 0

        # Live data
        self._live_fs = 0
        self._live_lsb = 0
        self._live_leads = 0
        self._live_on = False
        self._live_buf = bytearray(2 * wire.MAX_LIVE_SAMPLES)
        self._live_k = 0  # values per frame
        self._live_n = 0  # values in the buffer
        self._live_index = 0  # per-lead index of the buffer's first sample
        self._live_left = 0  # values until auto-stop, 0 = never

        self._name = name
        self._adv_interval_us = adv_interval_us
        self._adv, self._resp = advertising_payload(name)

        ble = bt.BLE()
        self._ble = ble
        ble.active(True)
        ble.config(gap_name=name, mtu=mtu)
        ble.irq(self._irq)
        handles = ble.gatts_register_services(services_definition(bt))
        self._h_data, self._h_cp = handles[0]
        self._h_hr, self._h_location = handles[1]
        self._h_battery = handles[2][0]
        h_info = handles[3]
        ble.gatts_set_buffer(self._h_cp, CONTROL_BUFFER, True)
        ble.gatts_write(self._h_location, bytes((SENSOR_LOCATION_CHEST,)))
        ble.gatts_write(self._h_battery, wire.encode_battery_level(100))
        strings = (manufacturer, model, serial, firmware_rev)
        for i in range(4):
            ble.gatts_write(h_info[i], strings[i].encode())
        self._advertise()

    # ------------------------------------------------------------ radio events (IRQ)

    def _advertise(self) -> None:
        self._ble.gap_advertise(self._adv_interval_us, self._adv, resp_data=self._resp)

    def _irq(self, event, data) -> None:
        if event == _IRQ_GATTS_WRITE:
            conn, handle = data
            if handle == self._h_cp:
                self._rx_conn = conn
                self._rx_flag = True
        elif event == _IRQ_GATTS_INDICATE_DONE:
            self._indicating = -1
        elif event == _IRQ_MTU_EXCHANGED:
            conn, mtu = data
            self._mtu[conn] = mtu
        elif event == _IRQ_CENTRAL_CONNECT:
            conn = data[0]
            self._nconn += 1
            self._mtu[conn] = DEFAULT_MTU
            if self._nconn < MAX_CONNECTIONS:
                self._advertise()
        elif event == _IRQ_CENTRAL_DISCONNECT:
            conn = data[0]
            self._nconn -= 1
            if conn in self._mtu:
                del self._mtu[conn]
            if conn == self._session:
                self._session_lost = True
            if conn == self._indicating:
                self._indicating = -1
            self._advertise()
        else:
            self.irq_unknown += 1

    # ------------------------------------------------------------ state

    @property
    def connections(self) -> int:
        return self._nconn

    @property
    def session(self) -> int:
        """The ECG session's connection handle, -1 when there is none."""
        return -1 if self._session_lost else self._session

    def mtu(self) -> int:
        """The ATT MTU of the session's connection (DEFAULT_MTU without one)."""
        return self._mtu.get(self._session, DEFAULT_MTU)

    @property
    def frames_pending(self) -> int:
        """Frames given to send_frame (and live data) not yet wholly handed to the stack."""
        return self._q_count + (1 if self._tx_queued and self._tx_off < self._tx_len else 0)

    @property
    def sending_snippet(self) -> bool:
        return self._snip is not None or self._j_n > 0

    @property
    def idle(self) -> bool:
        """Nothing waits to be read or sent (the main loop may sleep longer)."""
        return (
            not self._rx_flag
            and not self._r_count
            and self._indicating < 0
            and not self._q_count
            and self._tx_off >= self._tx_len
            and self._snip is None
            and not self._j_n
        )

    def _end_session(self) -> None:
        was = self._session >= 0
        self._session = -1
        self._session_lost = False
        self._q_head = 0
        self._q_count = 0
        self._tx_len = 0
        self._tx_off = 0
        self._r_count = 0
        self._r_head = 0
        for i in range(JOB_SLOTS):
            self._j_snip[i] = None
        self._j_n = 0
        self._snip = None
        self._snip_header = None
        self._live_on = False
        self._live_n = 0
        if was and self.on_session is not None:
            self.on_session(False)

    # ------------------------------------------------------------ what the patch sends

    def send_frame(self, frame) -> bool:
        """Queues a patch -> gateway frame (EVENT, SUMMARY, ...); False without a session or
        when the queue is full (keep it and try again later)."""
        n = len(frame)
        if self.session < 0 or self._q_count >= QUEUE_SLOTS or n < 4 or n > wire.MAX_FRAME:
            return False
        if frame[0] & 0x10:
            raise wire.WireError("a command frame goes gateway -> patch")
        slot = (self._q_head + self._q_count) % QUEUE_SLOTS
        start = slot * wire.MAX_FRAME
        self._q_mv[start : start + n] = frame
        self._q_len[slot] = n
        self._q_count += 1
        return True

    def send_snippet(self, snippet) -> bool:
        """Starts sending a whole snippet (header, then its fragments); False without a
        session or when JOB_SLOTS transfers already wait."""
        if self.session < 0:
            return False
        size = wire.fragment_size_for_mtu(self.mtu())
        self._header(snippet, size)  # WireError here for a snippet that cannot be sent
        total = wire.fragment_count(len(snippet.payload), size)
        return self._add_job(snippet, size, 0, total)

    def set_heart_rate(self, bpm, rr_ms=(), contact=None) -> None:
        """Heart Rate Measurement to subscribed clients: bpm and the RR intervals (ms) since
        the last update (the last HR_MAX_RR of them), in 1/1024 s as the spec has them."""
        rr = [wire.rr_ms_to_1024(x) for x in rr_ms[-HR_MAX_RR:]] if rr_ms else []
        value = wire.encode_heart_rate(bpm, rr, None, contact)
        self._ble.gatts_write(self._h_hr, value, True)

    def set_battery(self, percent) -> None:
        self._ble.gatts_write(self._h_battery, wire.encode_battery_level(percent), True)

    def live_format(self, fs_hz, lsb_nv, lead_count) -> None:
        """The format of the samples live_push() gets; LIVE is UNSUPPORTED until it is set."""
        self._live_fs = fs_hz
        self._live_lsb = lsb_nv
        self._live_leads = lead_count

    @property
    def live(self) -> bool:
        return self._live_on

    def live_push(self, code) -> None:
        """One ADC code (leads interleaved) for the live stream; nothing while it is off."""
        if not self._live_on:
            return
        if code > 32767:
            code = 32767
        elif code < -32768:
            code = -32768
        n = self._live_n
        buf = self._live_buf
        buf[2 * n] = code & 0xFF
        buf[2 * n + 1] = (code >> 8) & 0xFF
        n += 1
        self._live_n = n
        left = self._live_left
        if left:
            left -= 1
            self._live_left = left
            if left == 0:
                self._live_flush()
                self._live_on = False
                return
        if n >= self._live_k:
            self._live_flush()

    def _live_flush(self) -> None:
        n = self._live_n
        if n < self._live_leads:
            self._live_n = 0
            return
        n -= n % self._live_leads
        if self._q_count >= QUEUE_SLOTS:
            self.live_dropped += 1
        else:
            slot = (self._q_head + self._q_count) % QUEUE_SLOTS
            start = slot * wire.MAX_FRAME
            self._q_len[slot] = wire.encode_live_data_into(
                self._q_mv[start : start + wire.MAX_FRAME],
                self._live_index,
                memoryview(self._live_buf)[0 : 2 * n],
            )
            self._q_count += 1
        self._live_index += n // self._live_leads
        self._live_n = 0

    # ------------------------------------------------------------ the main-loop side

    def poll(self) -> bool:
        """Reads commands, sends responses and frames; True when it sent something and has
        more to send (call again soon), False when idle or the stack is full."""
        if self._session_lost:
            self._end_session()
        if self._rx_flag:
            self._rx_flag = False
            self._read_commands()
        self._send_response()
        if self._session < 0:
            return False
        return self._pump()

    def _pump(self) -> bool:
        ble = self._ble
        conn = self._session
        chunk = self._mtu.get(conn, DEFAULT_MTU) - 3
        budget = SEND_BURST
        while budget:
            if self._tx_off >= self._tx_len and not self._load_next():
                return False
            off = self._tx_off
            end = off + chunk
            if end > self._tx_len:
                end = self._tx_len
            try:
                ble.gatts_notify(conn, self._h_data, self._tx_mv[off:end])
            except OSError as exc:
                if exc.args and exc.args[0] == _ENOMEM:
                    self.tx_busy += 1
                else:
                    self.tx_errors += 1
                return False
            self.notifications += 1
            self._tx_off = end
            if end == self._tx_len:
                self.frames_sent += 1
            budget -= 1
        return True

    def _load_next(self) -> bool:
        """Puts the next frame into _tx: queued frames first, then the snippet's."""
        if self._q_count:
            slot = self._q_head
            n = self._q_len[slot]
            start = slot * wire.MAX_FRAME
            self._tx_mv[0:n] = self._q_mv[start : start + n]
            self._q_head = (slot + 1) % QUEUE_SLOTS
            self._q_count -= 1
            self._tx_len = n
            self._tx_off = 0
            self._tx_queued = True
            return True
        snip = self._snip
        if snip is None:
            snip = self._start_job()
            if snip is None:
                return False
        header = self._snip_header
        if header is not None:
            n = len(header)
            self._tx_mv[0:n] = header
            self._snip_header = None
        else:
            index = self._snip_next
            start = index * self._snip_size
            end = start + self._snip_size
            payload = snip.payload
            if end > len(payload):
                end = len(payload)
            n = wire.encode_snippet_fragment_into(
                self._tx, snip.snippet_id, index, memoryview(payload)[start:end]
            )
            index += 1
            self._snip_next = index
            if index >= self._snip_end:
                self._snip = None
        self._tx_len = n
        self._tx_off = 0
        self._tx_queued = False
        return True

    def _add_job(self, snippet, size, first, count) -> bool:
        if self._j_n >= JOB_SLOTS:
            return False
        slot = (self._j_head + self._j_n) % JOB_SLOTS
        self._j_snip[slot] = snippet
        self._j_size[slot] = size
        self._j_first[slot] = first
        self._j_count[slot] = count
        self._j_n += 1
        self._last = snippet
        self._last_size = size
        return True

    def _header(self, snip, size):
        """The SNIPPET_HEADER frame of `snip` at `size` bytes a fragment (the last one is
        kept: a RESUME of the same snippet does not compute the CRC-32 again)."""
        key = (snip.snippet_id, size)
        if self._hdr_key != key:
            header = wire.snippet_header_for(
                snippet_id=snip.snippet_id,
                event_id=snip.event_id,
                start_ms=snip.start_ms,
                fs_hz=snip.fs_hz,
                lsb_nv=snip.lsb_nv,
                lead_count=snip.lead_count,
                payload=snip.payload,
                fragment_size=size,
                encoding=snip.encoding,
                flags=snip.flags,
                total_samples=snip.total_samples,
            )
            self._hdr_frame = wire.encode(header)
            self._hdr_key = key
        return self._hdr_frame

    def _start_job(self):
        """Makes the next transfer in line the current one; returns its snippet (or None)."""
        if not self._j_n:
            return None
        slot = self._j_head
        snip = self._j_snip[slot]
        size = self._j_size[slot]
        first = self._j_first[slot]
        self._j_snip[slot] = None
        self._j_head = (slot + 1) % JOB_SLOTS
        self._j_n -= 1
        self._snip_header = self._header(snip, size)
        self._snip = snip
        self._snip_size = size
        self._snip_next = first
        self._snip_end = first + self._j_count[slot]
        return snip

    # ------------------------------------------------------------ responses

    def _respond(self, conn, seq, request, status, **extra) -> None:
        frame = wire.encode_response(seq & 0xFF, request, status, **extra)
        if self._r_count >= RESPONSE_SLOTS:
            self.responses_dropped += 1
            return
        slot = (self._r_head + self._r_count) % RESPONSE_SLOTS
        self._r_frame[slot] = frame
        self._r_conn[slot] = conn
        self._r_count += 1

    def _send_response(self) -> None:
        if self._indicating >= 0 or not self._r_count:
            return
        slot = self._r_head
        conn = self._r_conn[slot]
        try:
            self._ble.gatts_indicate(conn, self._h_cp, self._r_frame[slot])
        except OSError as exc:
            if exc.args and exc.args[0] == _ENOMEM:
                self.tx_busy += 1
                return  # again on the next poll
            self.tx_errors += 1  # link gone: drop it
        else:
            self._indicating = conn
        self._r_frame[slot] = None
        self._r_head = (slot + 1) % RESPONSE_SLOTS
        self._r_count -= 1

    # ------------------------------------------------------------ commands

    def _read_commands(self) -> None:
        data = self._ble.gatts_read(self._h_cp)
        conn = self._rx_conn
        n = len(data)
        pos = 0
        while pos < n:
            left = n - pos
            if left < wire.FRAME_OVERHEAD or data[pos] >> 5 != wire.VERSION:
                self._garbage(conn, data, pos)
                return
            size = data[pos + 1] + wire.FRAME_OVERHEAD
            if size > left:
                self._garbage(conn, data, pos)
                return
            self._command(conn, data[pos : pos + size])
            pos += size

    def _garbage(self, conn, data, pos) -> None:
        """Bytes that cannot be split into frames: answer ERROR if they claim to be a
        command, else drop them; either way the rest of this write goes."""
        self.rx_errors += 1
        ftype = data[pos] & 0x1F
        if data[pos] >> 5 == wire.VERSION and _T_ACK <= ftype <= _T_LIVE and len(data) > pos + 2:
            self._respond(conn, data[pos + 2], wire.FRAME_KINDS[ftype], "ERROR", **_ZEROS[ftype])

    def _command(self, conn, frame) -> None:
        ftype = frame[0] & 0x1F
        if ftype < _T_ACK or ftype > _T_LIVE:
            self.rx_errors += 1  # a frame, but no command
            return
        kind = wire.FRAME_KINDS[ftype]
        try:
            wire.check_frame(frame)
        except wire.WireError:
            self.rx_errors += 1
            self._respond(conn, frame[2] if len(frame) > 2 else 0, kind, "ERROR", **_ZEROS[ftype])
            return
        try:
            msg = wire.decode(frame)
        except wire.WireError:
            self.rx_errors += 1
            self._respond(conn, frame[2] if len(frame) > 2 else 0, kind, "BAD_VALUE", **_ZEROS[ftype])
            return
        seq = msg["seq"]
        if self._session_lost:
            self._end_session()
        if self._session < 0:
            self._session = conn
            if self.on_session is not None:
                self.on_session(True)
        elif conn != self._session:
            self._respond(conn, seq, kind, "BUSY", **_ZEROS[ftype])
            return
        try:
            if kind == "ack":
                self._cmd_ack(conn, msg)
            elif kind == "resume":
                self._cmd_resume(conn, msg)
            elif kind == "time_sync":
                self._cmd_time_sync(conn, msg)
            elif kind == "config":
                self._cmd_config(conn, msg)
            else:
                self._cmd_live(conn, msg)
        except Exception as exc:  # a callback failed: the link must survive it
            self.rx_errors += 1
            self.last_error = exc
            self._respond(conn, seq, kind, "ERROR", **_ZEROS[ftype])

    def _cmd_ack(self, conn, msg) -> None:
        if self.on_ack is None:
            self._respond(conn, msg["seq"], "ack", "UNSUPPORTED")
            return
        self.on_ack(msg["target"], msg["up_to_id"])
        self._respond(conn, msg["seq"], "ack", "OK")

    def _find_snippet(self, snippet_id):
        last = self._last
        if last is not None and last.snippet_id == snippet_id:
            return last
        if self.get_snippet is not None:
            return self.get_snippet(snippet_id)
        return None

    def _cmd_resume(self, conn, msg) -> None:
        seq = msg["seq"]
        snip = self._find_snippet(msg["snippet_id"])
        if snip is None:
            self._respond(conn, seq, "resume", "UNKNOWN_ID")
            return
        if snip is False:
            self._respond(conn, seq, "resume", "BUSY")
            return
        fits = wire.fragment_size_for_mtu(self.mtu())
        payload_bytes = len(snip.payload)
        first = msg["first"]
        count = msg["count"]
        if snip is not self._last:
            size = fits  # size of the first transfer unknown: most likely this one
        elif self._last_size <= fits:
            size = self._last_size
        else:
            size = fits  # the first size no longer fits: the whole snippet again
            first = 0
            count = 0
        total = wire.fragment_count(payload_bytes, size)
        if first >= total:
            self._respond(conn, seq, "resume", "BAD_VALUE")
            return
        if count == 0 or count > total - first:
            count = total - first
        self._header(snip, size)
        if self._add_job(snip, size, first, count):
            self._respond(conn, seq, "resume", "OK")
        else:
            self._respond(conn, seq, "resume", "BUSY")

    def _cmd_time_sync(self, conn, msg) -> None:
        if self.on_time_sync is None:
            self._respond(conn, msg["seq"], "time_sync", "UNSUPPORTED", patch_ms=0)
            return
        patch_ms = self.on_time_sync(msg["gateway_ms"])
        self._respond(conn, msg["seq"], "time_sync", "OK", patch_ms=patch_ms)

    def _cmd_config(self, conn, msg) -> None:
        key = msg["key"]
        if self.on_config is None:
            self._respond(conn, msg["seq"], "config", "UNSUPPORTED", key=key, value=0)
            return
        status, value = self.on_config(key, msg["value"])
        self._respond(conn, msg["seq"], "config", status, key=key, value=value)

    def _cmd_live(self, conn, msg) -> None:
        seq = msg["seq"]
        leads = self._live_leads
        if not leads:
            self._respond(conn, seq, "live", "UNSUPPORTED", fs_hz=0, lsb_nv=0, lead_count=0)
            return
        if msg["enable"]:
            per_frame = (self.mtu() - 3 - wire.FRAGMENT_OVERHEAD) // 2
            if per_frame > wire.MAX_LIVE_SAMPLES:
                per_frame = wire.MAX_LIVE_SAMPLES
            self._live_k = per_frame - per_frame % leads
            self._live_n = 0
            self._live_index = 0
            self._live_left = msg["seconds"] * self._live_fs * leads
            self._live_on = True
        elif self._live_on:
            self._live_flush()
            self._live_on = False
        self._respond(conn, seq, "live", "OK", fs_hz=self._live_fs, lsb_nv=self._live_lsb, lead_count=leads)


# The extra fields of an error response, by command frame type.
_ZEROS = {  # type: dict
    0x10: {},
    0x11: {},
    0x12: {"patch_ms": 0},
    0x13: {"key": "SUMMARY_PERIOD_S", "value": 0},
    0x14: {"fs_hz": 0, "lsb_nv": 0, "lead_count": 0},
}
