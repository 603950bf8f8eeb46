"""Raw ECG around events: a ring of ADC codes and the snippets events ask for, written to the store.

An event record (firmware/events.py) names the raw ECG to keep, snippet_start_ms ..
snippet_end_ms (onset - 30 s .. onset + 30 s by default), and may be emitted up to about 70 s
after its onset (AF: its 30-s stretch, then the 60-s mean; VT: 10 s). The ring therefore holds
RING_S = 100 s of codes (int16, 50 kB at 250 Hz); a snippet is written once its last sample
is in the ring, as int16 codes (firmware/wire.py's "int16" encoding, snippet_id = event_id,
one lead) through Store.append_snippet, with the event's critical flag. A start older than the
ring holds is moved up to what it holds (the header's start_ms says where it begins).

Times are the patch's ms since boot (sample k at k * 1000 / fs); headers carry FLAG_UNSYNCED.
The ring, the payload buffer and the pending slots are allocated here, once.
"""

from array import array

from firmware import wire

try:
    from micropython import const
except ImportError:  # CPython
    const = lambda expr: expr  # noqa: E731

RING_S = const(100)
MAX_S = const(60)  # longest snippet
SLOTS = const(4)  # snippets waiting for their end at once
FRAGMENT = const(236)  # the header's fragment size: one notification at ATT MTU 247
_SLACK_S = const(2)  # the ring's start moves on while a snippet waits for its poll


class SnippetRecorder:
    """`push` each raw code; `request` a snippet when an event asks for one; `poll(now_ms)` often
    (writes the snippets whose end has been sampled); `flush()` at the end of a recording."""

    def __init__(self, fs: int, lsb_nv: int, store, ring_s: int = RING_S, max_s: int = MAX_S) -> None:
        self.fs = fs
        self.lsb_nv = lsb_nv
        self.store = store
        self.size = fs * ring_s
        self.ring = array("h", bytes(2 * self.size))
        self.pos = 0
        self.n = 0  # codes pushed so far
        self.max_samples = fs * max_s
        self.payload = bytearray(2 * self.max_samples)
        self._id = array("I", bytes(4 * SLOTS))  # event_id, 0: free
        self._k0 = array("i", bytes(4 * SLOTS))  # first sample
        self._k1 = array("i", bytes(4 * SLOTS))  # one past the last
        self._crit = bytearray(SLOTS)
        self.written = 0
        self.refused = 0  # the store had no room, or every slot was taken
        self.last_written = 0  # event_id of the last snippet written

    def push(self, code: int) -> None:
        pos = self.pos
        self.ring[pos] = code
        pos += 1
        self.pos = 0 if pos == self.size else pos
        self.n += 1

    def request(self, event_id: int, start_ms: int, stop_ms: int, critical: bool) -> int:
        """Keeps samples start_ms .. stop_ms for event_id; returns how many it will write (0: none)."""
        fs = self.fs
        k0 = (start_ms * fs + 999) // 1000
        k1 = stop_ms * fs // 1000
        if k1 - k0 > self.max_samples:
            k1 = k0 + self.max_samples
        # The oldest sample the ring will still hold when the snippet is written.
        written_at = (k1 if k1 > self.n else self.n) + _SLACK_S * fs
        oldest = written_at - self.size
        if k0 < oldest:
            k0 = oldest
        if k0 < 0:
            k0 = 0
        if k1 <= k0:
            return 0
        for i in range(SLOTS):
            if self._id[i] == 0:
                self._id[i] = event_id
                self._k0[i] = k0
                self._k1[i] = k1
                self._crit[i] = 1 if critical else 0
                return k1 - k0
        self.refused += 1
        return 0

    def pending(self) -> int:
        count = 0
        for i in range(SLOTS):
            if self._id[i]:
                count += 1
        return count

    def waiting(self, event_id: int) -> bool:
        """Whether event_id's snippet is asked for and not written yet."""
        for i in range(SLOTS):  # MicroPython's array has no `in`
            if self._id[i] == event_id:
                return event_id != 0
        return False

    def poll(self) -> None:
        n = self.n
        for i in range(SLOTS):
            if self._id[i] and self._k1[i] <= n:
                self._write(i, self._k1[i])

    def flush(self) -> None:
        """The end of a recording: pending snippets with the samples there are."""
        for i in range(SLOTS):
            if self._id[i]:
                self._write(i, self._k1[i] if self._k1[i] <= self.n else self.n)

    def _write(self, slot: int, k1: int) -> None:
        event_id = self._id[slot]
        self._id[slot] = 0
        k0 = self._k0[slot]
        if k0 < self.n - self.size:
            k0 = self.n - self.size
        count = k1 - k0
        if count <= 0:
            self.refused += 1
            return
        ring = self.ring
        size = self.size
        buf = self.payload
        j = k0 % size
        p = 0
        for _ in range(count):
            c = ring[j]
            buf[p] = c & 0xFF
            buf[p + 1] = (c >> 8) & 0xFF
            p += 2
            j += 1
            if j == size:
                j = 0
        data = memoryview(buf)[0:p]
        header = wire.snippet_header_for(
            snippet_id=event_id,
            event_id=event_id,
            start_ms=k0 * 1000 // self.fs,
            fs_hz=self.fs,
            lsb_nv=self.lsb_nv,
            lead_count=1,
            payload=data,
            fragment_size=FRAGMENT,
            flags=wire.FLAG_UNSYNCED,
        )
        frame = wire.encode(header)
        if self.store.append_snippet(event_id, frame, data, self._crit[slot] == 1):
            self.written += 1
            self.last_written = event_id
        else:
            self.refused += 1
