"""Time-stamped inputs of the event rules, held until the decision clock reaches them.

The patch's decisions (firmware/events.py) need their inputs in time order, but they arrive
out of it: a beat's label comes once the next beat is detected (up to about 2 s after the
beat), a model score or a quality epoch at once. The patch runs the rules a little behind
the signal and releases what this line holds in time order as their clock advances.
Entries are kept sorted by time (insertion; the line is short); equal times keep their
order of arrival. Allocated once.
"""

from array import array


class DelayLine:
    def __init__(self, size: int = 64) -> None:
        self.size = size
        self.t = array("i", bytes(4 * size))
        self.kind = bytearray(size)
        self.v = array("i", bytes(4 * size))
        self.w = array("i", bytes(4 * size))
        self.n = 0
        self.dropped = 0  # entries refused because the line was full
        # The entry taken by the last pop.
        self.pt = 0
        self.pv = 0
        self.pw = 0

    def put(self, t: int, kind: int, v: int = 0, w: int = 0) -> bool:
        n = self.n
        if n == self.size:
            self.dropped += 1
            return False
        ts = self.t
        i = n
        while i > 0 and ts[i - 1] > t:
            ts[i] = ts[i - 1]
            self.kind[i] = self.kind[i - 1]
            self.v[i] = self.v[i - 1]
            self.w[i] = self.w[i - 1]
            i -= 1
        ts[i] = t
        self.kind[i] = kind
        self.v[i] = v
        self.w[i] = w
        self.n = n + 1
        return True

    def due(self, t: int) -> bool:
        """The oldest entry is at or before t."""
        return self.n > 0 and self.t[0] <= t

    def pop(self) -> int:
        """Removes the oldest entry: returns its kind, leaves its time and values in pt, pv, pw."""
        kind = self.kind[0]
        self.pt = self.t[0]
        self.pv = self.v[0]
        self.pw = self.w[0]
        n = self.n - 1
        for i in range(n):
            self.t[i] = self.t[i + 1]
            self.kind[i] = self.kind[i + 1]
            self.v[i] = self.v[i + 1]
            self.w[i] = self.w[i + 1]
        self.n = n
        return kind
