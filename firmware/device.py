"""The patch's top level: its main loop (firmware/patch.py), flash log (firmware/store.py) and
gateway link (firmware/ble_service.py), joined.

    store = Store(esp32.Partition.find(esp32.Partition.TYPE_DATA, label="ecg")[0])
    patch = Patch(LSB_NV, microlite, "/models", store, PatchAlertHardware(...))
    device = Device(patch, BleService(bluetooth, name="ECG-0042", serial="0042"))
    while True:
        device.push_block(afe.read_fifo(), afe.lead_off())  # the sampling side, per FIFO read
        device.poll()  # the radio side; again at once while it returns True

Flow
----
| from                        | to                                 | how                                     |
|-----------------------------|------------------------------------|-----------------------------------------|
| Patch -> store: EVENT and   | gateway, ECG data characteristic   | offered while a session is open, one    |
| SUMMARY records             |                                    | frame held at a time for the service's  |
|                             |                                    | queue: first the unacknowledged critical|
|                             |                                    | records stored before the session, then |
|                             |                                    | the rest of them, then each new record  |
|                             |                                    | in store order (FLAG_BACKLOG on those   |
|                             |                                    | stored before the session opened)       |
| gateway RESUME (snippet_id, | store SNIPPET record + its chunks  | `get_snippet` loads header and payload  |
| first, count)               | -> fragments                       | into one buffer (2 * fs * MAX_S bytes); |
|                             |                                    | BUSY while that buffer is being sent or |
|                             |                                    | the snippet is not written yet          |
| gateway ACK event / snippet | Store.ack(KIND_EVENT / _SNIPPET)   | acknowledged records can be reclaimed   |
| gateway ACK (any)           | Store.ack(KIND_SUMMARY)            | summaries have no id on the wire: an ACK|
|                             |                                    | acknowledges those already handed to the|
|                             |                                    | stack (ATT delivers in order)           |
| gateway TIME_SYNC           | the boot's clock offset            | below                                   |
| gateway CONFIG              | EventDetector.set_config           | WIRE_CONFIG keys, range-checked         |
| detected beats (QRS)        | Heart Rate Measurement             | every RR, HR_MAX_RR a notification at   |
|                             |                                    | most, at least once a second            |
| set_battery(percent)        | Battery Level, the summaries       |                                         |
| ADC codes                   | LIVE_DATA                          | while the gateway has asked for it      |

Time (firmware/wire.py, Times). The Patch stores frames as it makes them: times in ms since
boot on the sample clock, FLAG_UNSYNCED. The first TIME_SYNC after boot sets offset_ms =
gateway_ms - patch clock; from then on every frame and snippet header stored in this boot
(store seq >= boot_seq) is sent with offset_ms added and FLAG_UNSYNCED cleared. Later
TIME_SYNCs are answered with the patch clock (boot ms + offset_ms), so the gateway sees the
drift, but do not move the offset: a record is then the same bytes every time it is sent (the
cloud de-duplicates events by id and onset; a snippet's header stays the same, so a gateway's
reassembler keeps its fragments across RESUMEs). Records of an earlier boot go as stored
(FLAG_UNSYNCED: their boot's offset is unknown).

Memory, allocated here once: the snippet buffer (2 * fs * MAX_S bytes, 30 kB at 250 Hz: on
the ESP32-S3 in PSRAM) and two frame buffers of wire.MAX_FRAME bytes. Per frame offered, a
decode/encode of it (small allocations; events and summaries are rare).

When the link drops: the service ends the session (its frame queue, snippet transfer and
responses go); the device drops its held frame and its place in the log. Nothing in the store
changes, so nothing is lost: every record not acknowledged is offered again in the next
session, critical ones first, and the gateway RESUMEs the snippet it was receiving (the
service still holds it, or the device loads it again from flash). Frames sent but not
acknowledged before the drop come again (the gateway de-duplicates by id). Heart rate and live
data are not stored: what comes while disconnected is not sent later.
"""

from firmware import wire
from firmware.ble_service import HR_MAX_RR, Snippet
from firmware.events import WIRE_CONFIG
from firmware.signal_path import BEAT_RING
from firmware.snippets import MAX_S
from firmware.store import FLAG_CRITICAL, KIND_EVENT, KIND_SNIPPET, KIND_SUMMARY

try:
    from micropython import const
except ImportError:  # CPython
    const = lambda expr: expr  # noqa: E731

TYPE_CHECKING = False  # mypy takes this name as True; MicroPython has no `typing` to import
if TYPE_CHECKING:
    from collections.abc import Iterator  # noqa: F401 (used in type comments)

HR_PERIOD_MS = const(1000)  # a Heart Rate Measurement at least this often
_MAX_RR_MS = const(60000)  # longer RR (a lead-off gap) do not fit the measurement's uint16
_OFFERED = (1 << KIND_EVENT) | (1 << KIND_SUMMARY)
# Offer passes over the store, per session.
_CRITICAL = const(0)  # unacknowledged critical records stored before the session
_REST = const(1)  # the other unacknowledged records stored before the session
_NEW = const(2)  # records stored since the last pass began
# CONFIG writes accepted (the wire key's range); SNIPPET_PRE_S + SNIPPET_POST_S <= MAX_S too.
CONFIG_LIMITS = {
    "SUMMARY_PERIOD_S": (0, 86400),  # 0: no summaries
    "SNIPPET_PRE_S": (0, MAX_S),
    "SNIPPET_POST_S": (0, MAX_S),
    "BRADY_BPM": (20, 100),
    "TACHY_BPM": (60, 250),
    "PAUSE_MS": (1000, 10000),
}


class Device:
    """The patch: a Patch with its store, and a BleService (see the module docstring)."""

    def __init__(self, patch, service, battery: int = 100) -> None:
        store = patch.store
        if store is None:
            raise ValueError("the device needs the Patch's store")
        self.patch = patch
        self.service = service
        self.store = store
        self.boot_seq = store.seq  # records from here on were stored in this boot
        self.synced = False
        self.offset_ms = 0  # epoch ms of boot, from the first TIME_SYNC
        # Offering
        self._frame = bytearray(wire.MAX_FRAME)
        self._held = 0  # bytes of the frame waiting for room in the service's queue
        self._held_summary = 0  # its summary ident (0: an event)
        self._it = None  # type: Iterator | None  # the running pass's store.records()
        self._pass = _CRITICAL
        self._pass_stop = 0  # store seq when the running pass began
        self._critical_stop = 0  # ... and when the critical pass began
        self._session_seq = 0  # store seq when the session opened: older records are backlog
        self._summary_out = 0  # ident of the last summary queued in this session
        # Snippets: one buffer for the one being sent, and its header frame
        self._payload = bytearray(2 * patch.fs * MAX_S)
        self._header = bytearray(wire.MAX_FRAME)
        self._snippet = None  # type: Snippet | None
        # Heart rate
        self._beats = patch.path.beat_total
        self._rr = [0] * HR_MAX_RR
        self._rr_n = 0
        self._hr_next = 0
        self._contact = True
        # Counters
        self.offered = 0  # frames handed to the service
        self.unreadable = 0  # store records whose frame could not be read back
        self.rr_lost = 0  # RR intervals overwritten in the beat ring before they were read
        self.battery = -1
        self.set_battery(battery)
        service.on_ack = self._on_ack
        service.on_time_sync = self._on_time_sync
        service.on_config = self._on_config
        service.get_snippet = self._get_snippet
        service.on_session = self._on_session
        service.live_format(patch.fs, patch.lsb_nv, 1)

    def now_ms(self) -> int:
        """The patch clock: ms since boot on the sample clock."""
        return self.patch.n * 1000 // self.patch.fs

    # ------------------------------------------------------------ sampling side

    def push_block(self, codes, lead_off=False) -> None:
        """One FIFO read of ADC codes and the AFE's lead-off bit for them."""
        self.patch.push_block(codes, lead_off)
        service = self.service
        if service.live:
            for c in codes:
                service.live_push(c)
        self._contact = not lead_off
        self._heart_rate()

    def finish(self) -> None:
        """The end of a recording (Patch.finish: last beats decided, pending snippets written)."""
        self.patch.finish()

    def set_battery(self, percent: int) -> None:
        percent = 0 if percent < 0 else (100 if percent > 100 else percent)
        if percent != self.battery:
            self.battery = percent
            self.service.set_battery(percent)
            self.patch.detector.set_battery(percent)

    def _heart_rate(self) -> None:
        path = self.patch.path
        total = path.beat_total
        k = self._beats
        if total - k > BEAT_RING:
            self.rr_lost += total - k - BEAT_RING
            k = total - BEAT_RING
        while k < total:
            rr = path.rr_ms[k % BEAT_RING]
            if 0 < rr <= _MAX_RR_MS:
                if self._rr_n == HR_MAX_RR:
                    self._send_heart_rate()
                self._rr[self._rr_n] = rr
                self._rr_n += 1
            k += 1
        self._beats = total
        now = self.now_ms()
        if now >= self._hr_next:
            self._hr_next = now + HR_PERIOD_MS
            self._send_heart_rate()

    def _send_heart_rate(self) -> None:
        n = self._rr_n
        self._rr_n = 0
        self.service.set_heart_rate(self.patch.path.heart_rate_bpm(), self._rr[:n], self._contact)

    # ------------------------------------------------------------ radio side

    def poll(self) -> bool:
        """The service's poll, then the next records offered; True: call again soon."""
        busy = self.service.poll()
        return self._offer() or busy

    def _offer(self) -> bool:
        """Hands frames to the service's queue until it is full or nothing is left; True if
        it handed any."""
        service = self.service
        if service.session < 0:
            return False
        handed = False
        while self._held or self._next_record():
            if not service.send_frame(memoryview(self._frame)[0 : self._held]):
                break
            if self._held_summary:
                self._summary_out = self._held_summary
            self._held = 0
            self.offered += 1
            handed = True
        return handed

    def _next_record(self) -> bool:
        """Reads the next record to offer into the held frame; False when none is left."""
        store = self.store
        while True:
            if self._it is None:
                if self._pass == _NEW and store.seq <= self._pass_stop:
                    return False  # nothing stored since the last pass began
                since = self._pass_stop if self._pass == _NEW else 0
                self._pass_stop = store.seq
                if self._pass == _CRITICAL:
                    self._critical_stop = store.seq
                self._it = store.records(_OFFERED, True, since)
            for kind, ident, seq, flags, _aux, length, loc in self._it:
                critical = flags & FLAG_CRITICAL
                if self._pass == _CRITICAL and not critical:
                    continue
                if self._pass == _REST and critical and seq < self._critical_stop:
                    continue  # sent in the critical pass
                if store.read(loc, self._frame, seq) != length:
                    self.unreadable += 1
                    continue
                self._held = self._as_sent(length, seq)
                self._held_summary = ident if kind == KIND_SUMMARY else 0
                return True
            self._it = None
            if self._pass < _NEW:
                self._pass += 1

    def _as_sent(self, n: int, seq: int) -> int:
        """The stored frame (first n bytes of _frame) as this session sends it: times on the
        synced clock, FLAG_BACKLOG if stored before the session. Returns its length."""
        backlog = seq < self._session_seq
        convert = self.synced and seq >= self.boot_seq
        if not backlog and not convert:
            return n
        msg = wire.decode(bytes(self._frame[0:n]))
        flags = msg["flags"]
        if convert and flags & wire.FLAG_UNSYNCED:
            flags &= ~wire.FLAG_UNSYNCED
            if msg["kind"] == "event":
                msg["onset_ms"] += self.offset_ms
                msg["end_ms"] += self.offset_ms
            else:
                msg["time_ms"] += self.offset_ms
        if backlog:
            flags |= wire.FLAG_BACKLOG
        msg["flags"] = flags
        frame = wire.encode(msg)
        self._frame[0 : len(frame)] = frame
        return len(frame)

    # ------------------------------------------------------------ service callbacks

    def _on_session(self, active) -> None:
        self._it = None
        self._pass = _CRITICAL
        self._pass_stop = 0
        self._held = 0
        self._summary_out = 0
        self._session_seq = self.store.seq

    def _on_ack(self, target, up_to_id) -> None:
        store = self.store
        if target == "event":
            store.ack(KIND_EVENT, up_to_id)
        else:
            store.ack(KIND_SNIPPET, up_to_id)
        # The gateway has what was handed to the stack before its ACK came (notifications of
        # one connection arrive in order); frames still in the service's queue wait.
        if self._summary_out and not self.service.frames_pending:
            store.ack(KIND_SUMMARY, self._summary_out)
            self._summary_out = 0

    def _on_time_sync(self, gateway_ms) -> int:
        now = self.now_ms()
        if self.synced:
            return now + self.offset_ms
        if gateway_ms < now:
            raise ValueError("gateway time before the patch's boot")  # answered ERROR
        self.offset_ms = gateway_ms - now
        self.synced = True
        return now

    def _on_config(self, key, value) -> tuple:
        name = WIRE_CONFIG.get(key)
        if name is None:  # SNIPPET_ENCODING: the patch stores int16 snippets only
            if key == "SNIPPET_ENCODING" and value in (wire.CONFIG_READ, wire.ENCODINGS["int16"]):
                return "OK", wire.ENCODINGS["int16"]
            return "UNSUPPORTED", 0
        detector = self.patch.detector
        config = detector.config
        if value != wire.CONFIG_READ:
            lo, hi = CONFIG_LIMITS[key]
            ok = lo <= value <= hi
            if key == "SNIPPET_PRE_S":
                ok = ok and value + config.snippet_post_s <= MAX_S
            elif key == "SNIPPET_POST_S":
                ok = ok and config.snippet_pre_s + value <= MAX_S
            elif key == "BRADY_BPM":
                ok = ok and value < config.tachy_bpm
            elif key == "TACHY_BPM":
                ok = ok and value > config.brady_bpm
            if not ok:
                return "BAD_VALUE", getattr(config, name)
            detector.set_config(key, value)
        return "OK", getattr(config, name)

    def _get_snippet(self, snippet_id):
        """The stored snippet, loaded into the one payload buffer; False (BUSY) while that
        buffer is being sent or the Patch has not written the snippet yet; None if unknown."""
        if self.service.sending_snippet:
            return False
        store = self.store
        found = None
        for _kind, ident, seq, _flags, aux, length, loc in store.records(1 << KIND_SNIPPET, False):
            if ident == snippet_id:
                found = (seq, aux, length, loc)  # the newest copy wins
        if found is None:
            recorder = self.patch.snippets
            if recorder is not None and recorder.waiting(snippet_id):
                return False  # asked for by its event, written once its last sample is in
            return None
        seq, size, length, loc = found
        frame = self._header
        if size > len(self._payload) or store.read(loc, frame, seq) != length:
            return None
        payload = memoryview(self._payload)[0:size]
        if store.read_snippet(snippet_id, 0, payload) != size:
            return None  # chunks dropped under pressure
        header = wire.decode(bytes(frame[0:length]))
        start_ms = header["start_ms"]
        flags = header["flags"]
        if self.synced and seq >= self.boot_seq and flags & wire.FLAG_UNSYNCED:
            start_ms += self.offset_ms
            flags &= ~wire.FLAG_UNSYNCED
        snip = self._snippet
        if snip is None:
            snip = Snippet(snippet_id, header["event_id"], start_ms, header["fs_hz"], header["lsb_nv"],
                           header["lead_count"], payload, header["encoding"], flags, header["total_samples"])  # fmt: skip
            self._snippet = snip
        else:  # the service may hold this object as its last snippet: it now names this one
            snip.snippet_id = snippet_id
            snip.event_id = header["event_id"]
            snip.start_ms = start_ms
            snip.fs_hz = header["fs_hz"]
            snip.lsb_nv = header["lsb_nv"]
            snip.lead_count = header["lead_count"]
            snip.payload = payload
            snip.encoding = header["encoding"]
            snip.flags = flags
            snip.total_samples = header["total_samples"]
        return snip
