"""The beat classifier's inputs, built as the signal streams (model_compression/beat_features.py).

Per beat: its window (0.25 s before to 0.45 s after the detection: 174 band-passed samples at
250 Hz, every other one kept: 87 at 125 Hz), the sample-wise median of the previous 32 windows
(the template), their difference, all over the template's QRS amplitude (the largest |template|
within 6 samples of the detection, at least 0.05 mV), clipped to +-4; and RR context: previous
and next RR over the local mean (last 8 RR) and over the longer mean (last 32 previous RR), local
over longer mean, local, previous, next RR in s, the local rhythm's irregularity (4 x mean
|successive difference| / mean of the local RRs) and the previous RR over the one before it,
clipped to [0, 4].

All in integers: samples stay band-passed ADC codes; the template is kept as twice the median
(the sum of the two middle values), so the beat, template and difference are the exact half-code
numerators 2x, T2, 2x - T2 over the amplitude max|T2|, and Quantizer rounds each ratio to int8
exactly. Each of the 87 template samples keeps its last 32 values sorted: a new window replaces
the oldest value in each column (a shift of at most 32 entries), the median is read in place.

The next RR is an input, so a beat's inputs are complete when the following beat is detected
(and its own window is). `push` takes each band-passed sample (the signal path's `on_model_sample`
with model_fs = fs); when a beat's inputs are in the model's buffers, `on_ready(k)` is called
(run the model there: the next beat overwrites the buffers). Every buffer is allocated here, once.
"""

from array import array

try:
    from micropython import const
except ImportError:  # CPython
    const = lambda expr: expr  # noqa: E731

FS = const(250)  # the rate windows are cut at (the signal path's)
SAMPLES = const(87)
BEFORE = const(62)  # samples at 250 Hz before the detection
DECIMATE = const(2)
DETECTION = const(31)  # index of the detection in the 125 Hz window
QRS_HALF = const(6)
TEMPLATE_BEATS = const(32)
LOCAL_BEATS = const(8)
CLIP = const(4)
CHANNELS = const(3)
RR_FEATURES = const(10)
IRREGULARITY_GAIN = const(4)
MIN_AMPLITUDE_NV = const(50000)  # 0.05 mV
# 250 Hz history: the QRS detector reports the beats of its first 8 s at once, 8 s late.
HISTORY = const(2048)


def _ignore(k: int) -> None:
    pass


def zeros(n: int) -> array:
    """A zeroed int32 array of n, built without a temporary list (which would double the peak)."""
    a = array("i", range(n))
    for i in range(n):
        a[i] = 0
    return a


class BeatInput:
    """path: the SignalPath (beat_index, beat_total, bandpass.delay are read); beat_buf / rr_buf:
    the model's int8 input buffers (87 x 3 row-major, and 8); beat_q / rr_q: their Quantizers."""

    def __init__(self, path, lsb_nv: int, beat_buf, beat_q, rr_buf, rr_q) -> None:
        if path.fs != FS:
            raise ValueError("beat windows are cut at 250 Hz")
        self.path = path
        self.lsb_nv = lsb_nv
        self.delay = path.bandpass.delay
        self.beat_buf = beat_buf
        self.beat_q = beat_q
        self.rr_buf = rr_buf
        self.rr_q = rr_q
        self.on_ready = _ignore  # on_ready(k): beat k's inputs are in the buffers
        self.history = zeros(HISTORY)
        self.n = -1  # index of the newest band-passed sample
        self.window = zeros(SAMPLES)
        self.template2 = zeros(SAMPLES)
        self.past = zeros(TEMPLATE_BEATS * SAMPLES)  # window k at row k % 32
        self.sorted = zeros(TEMPLATE_BEATS * SAMPLES)  # column j at j * 32
        self.local = zeros(LOCAL_BEATS)  # last RR intervals, samples
        self.local_sum = 0
        self.long = zeros(TEMPLATE_BEATS)  # last previous-RR values, samples
        self.long_sum = 0
        self.cut = 0  # beats whose window is taken
        self.pending = -1  # beat whose window is in the buffers, waiting for the next beat
        self.pending_at = 0
        self._prev_at = 0
        self._prev_rr = 0  # the previous beat's previous RR, samples
        self.ready = 0  # beats handed to on_ready

    def push(self, x: int) -> None:
        n = self.n + 1
        self.n = n
        self.history[n % HISTORY] = x
        if self.cut < self.path.beat_total:
            self._work()

    def _work(self) -> None:
        path = self.path
        while True:
            if self.pending >= 0:
                if self.pending + 1 >= path.beat_total:
                    return
                nxt = path.beat_index[(self.pending + 1) % len(path.beat_index)]
                self._finish(nxt - self.pending_at)
                continue
            k = self.cut
            if k >= path.beat_total:
                return
            at = path.beat_index[k % len(path.beat_index)]
            if self.n < at + self.delay - BEFORE + DECIMATE * (SAMPLES - 1):
                return
            self._take(k, at)

    def flush(self) -> None:
        """At the end of a recording: the last beats, with zeros past the signal and the previous
        RR for the missing next one (as model_compression.beat_pipeline does)."""
        path = self.path
        while self.pending >= 0 or self.cut < path.beat_total:
            if self.pending >= 0:
                if self.pending + 1 < path.beat_total:
                    nxt = path.beat_index[(self.pending + 1) % len(path.beat_index)]
                    self._finish(nxt - self.pending_at)
                else:
                    self._finish(0)
            else:
                k = self.cut
                self._take(k, path.beat_index[k % len(path.beat_index)])

    def finish_pending(self) -> bool:
        """Labels the beat waiting for its successor now, the previous RR standing in for the next
        (as flush does): for a beat before a long pause, whose label cannot wait for the next
        beat. Later beats go on as usual. False when no beat is waiting."""
        if self.pending < 0:
            return False
        self._finish(0)
        return True

    def _take(self, k: int, at: int) -> None:
        """Beat k's window, template and amplitude: the beat tensor, then the window joins the past."""
        window = self.window
        history = self.history
        # Samples before input time 0 (band-pass start-up) and past the newest are zeros.
        start = self.delay
        if start <= self.n - HISTORY:
            start = self.n - HISTORY + 1
        n = self.n
        first = at + self.delay - BEFORE
        for j in range(SAMPLES):
            i = first + DECIMATE * j
            window[j] = history[i % HISTORY] if start <= i <= n else 0
        count = k if k < TEMPLATE_BEATS else TEMPLATE_BEATS
        t2 = self.template2
        col = self.sorted
        if count == 0:
            for j in range(SAMPLES):
                t2[j] = 2 * window[j]
        else:
            lo = (count - 1) >> 1
            hi = count >> 1
            for j in range(SAMPLES):
                base = j * TEMPLATE_BEATS
                t2[j] = col[base + lo] + col[base + hi]
        amp = 0
        for j in range(DETECTION - QRS_HALF, DETECTION + QRS_HALF + 1):
            a = t2[j] if t2[j] >= 0 else -t2[j]
            if a > amp:
                amp = a
        q = self.beat_q
        # amplitude in half-codes: 2 * 0.05 mV at least
        if amp * self.lsb_nv < 2 * MIN_AMPLITUDE_NV:
            q.set_unit(2 * MIN_AMPLITUDE_NV, self.lsb_nv)
        else:
            q.set_unit(amp, 1)
        out = self.beat_buf
        quant = q.q
        p = 0
        for j in range(SAMPLES):
            x2 = 2 * window[j]
            out[p] = quant(x2)
            out[p + 1] = quant(t2[j])
            out[p + 2] = quant(x2 - t2[j])
            p += CHANNELS
        self._remember(k)
        self.cut = k + 1
        self.pending = k
        self.pending_at = at

    def _remember(self, k: int) -> None:
        """Window k into the past windows and the sorted columns (replacing window k - 32's)."""
        window = self.window
        past = self.past
        col = self.sorted
        row = (k % TEMPLATE_BEATS) * SAMPLES
        full = k >= TEMPLATE_BEATS
        count = k if k < TEMPLATE_BEATS else TEMPLATE_BEATS
        for j in range(SAMPLES):
            new = window[j]
            base = j * TEMPLATE_BEATS
            if full:
                old = past[row + j]
                # position of old (binary search), then slide the values between it and new
                a = base
                b = base + count
                while a < b:
                    mid = (a + b) >> 1
                    if col[mid] < old:
                        a = mid + 1
                    else:
                        b = mid
                i = a
                last = base + count - 1
                if new > old:
                    while i < last and col[i + 1] < new:
                        col[i] = col[i + 1]
                        i += 1
                else:
                    while i > base and col[i - 1] > new:
                        col[i] = col[i - 1]
                        i -= 1
                col[i] = new
            else:
                i = base + count
                while i > base and col[i - 1] > new:
                    col[i] = col[i - 1]
                    i -= 1
                col[i] = new
            past[row + j] = new

    def _finish(self, next_rr: int) -> None:
        """The RR features of the pending beat (next_rr in samples, 0: unknown), then on_ready."""
        k = self.pending
        prev = self.pending_at - self._prev_at if k > 0 else next_rr
        if next_rr <= 0:
            next_rr = prev
        if prev <= 0:  # a single beat: the reference's 1 s
            prev = next_rr = FS
        # local mean: the last (up to) 8 RR ending at or before this beat
        local = self.local
        steps = 0  # sum of |successive differences| of those RR
        if k > 0:
            slot = (k - 1) % LOCAL_BEATS
            self.local_sum += prev - local[slot]
            local[slot] = prev
            ln = self.local_sum
            ld = k if k < LOCAL_BEATS else LOCAL_BEATS
            for j in range(ld - 1):
                d = local[(slot - j) % LOCAL_BEATS] - local[(slot - j - 1) % LOCAL_BEATS]
                steps += d if d >= 0 else -d
        else:
            ln = prev
            ld = 1
        before = self._prev_rr if k > 0 else prev
        count = ld  # the irregularity's intervals and their sum, before the floor below
        total = ln
        # longer mean: the last (up to) 32 previous-RR values, this beat's included
        slot = k % TEMPLATE_BEATS
        self.long_sum += prev - self.long[slot]
        self.long[slot] = prev
        gn = self.long_sum
        gd = k + 1 if k < TEMPLATE_BEATS else TEMPLATE_BEATS
        # at least 0.2 s: fs / 5 samples
        if 5 * ln < FS * ld:
            ln = FS
            ld = 5
        if 5 * gn < FS * gd:
            gn = FS
            gd = 5
        q = self.rr_q
        out = self.rr_buf
        # ratio a / b quantized: unit b, numerator a
        q.set_unit(ln, 1)
        out[0] = q.q(prev * ld)
        out[1] = q.q(next_rr * ld)
        q.set_unit(gn, 1)
        out[2] = q.q(prev * gd)
        out[3] = q.q(next_rr * gd)
        q.set_unit(ld * gn, 1)
        out[4] = q.q(ln * gd)
        q.set_unit(ld * FS, 1)
        out[5] = q.q(ln)
        q.set_unit(FS, 1)
        out[6] = q.q(prev)
        out[7] = q.q(next_rr)
        # irregularity: gain * (steps / (count - 1)) / (total / count), 0 with fewer than two intervals
        if count >= 2:
            q.set_unit((count - 1) * total, 1)
            out[8] = q.q(IRREGULARITY_GAIN * count * steps)
        else:
            out[8] = q.q(0)
        q.set_unit(before, 1)
        out[9] = q.q(prev)
        self._prev_rr = prev
        self._prev_at = self.pending_at
        self.pending = -1
        self.ready = k + 1
        self.on_ready(k)
