"""QRS detection on the patch: integer, streaming, one sample at a time.

The detector follows Hamilton and Tompkins (1986) as refined in EP Limited's open-source
detector: an 5-11 Hz band-pass, derivative, 80 ms moving-window integral, peaks held for
200 ms, adaptive thresholds from the means of the last eight QRS and noise peaks, search-back
at 1.5 mean RR for missed beats, and a derivative check that rejects baseline shifts. Each
beat is then placed on the extremum of the band-passed signal so that RR intervals are
measured between like points of the QRS.

All arithmetic is on Python ints (small ints on MicroPython) and every buffer is allocated
once, in the constructor.
"""

from array import array

# Detector units are 5 uV, the resolution the thresholds below were designed for.
_UNIT_NV = 5000
# Peaks below this (in detector units, about 150 uV of QRS) are never beats.
_MIN_PEAK = 7
_CLIP = 32000


def _ms(fs: int, millis: int) -> int:
    return (millis * fs + 500) // 1000


def _mean8(buf: array) -> int:
    return (buf[0] + buf[1] + buf[2] + buf[3] + buf[4] + buf[5] + buf[6] + buf[7]) >> 3


def _push8(buf: array, value: int) -> None:
    i = 7
    while i > 0:
        buf[i] = buf[i - 1]
        i -= 1
    buf[0] = value


class QrsDetector:
    """Feed ADC codes with `push`; found beats' sample indices go to the `beats` ring.

    A beat is reported once its neighbourhood is known: about 0.5 s late, up to 1.5 mean RR
    for beats found by search-back, and 8 s for those of the first seconds, while the first
    thresholds are learnt. Callers keep the index, not the arrival time.
    """

    def __init__(self, fs: int, lsb_nv: int) -> None:
        self.fs = fs
        self.lsb_nv = lsb_nv
        self.ms10 = max(1, _ms(fs, 10))
        self.ms95 = _ms(fs, 95)
        self.ms150 = _ms(fs, 150)
        self.ms220 = _ms(fs, 220)
        self.ms360 = _ms(fs, 360)
        self.ms1000 = _ms(fs, 1000)
        self.ms1500 = _ms(fs, 1500)
        self.pre_blank = _ms(fs, 200)
        self.window = _ms(fs, 80)

        # Low-pass: y = 2y1 - y2 + x - 2x[n-L/2] + x[n-L], L = 50 ms (zeros at multiples of 1/L).
        self.lp_len = 2 * _ms(fs, 25)
        self.lp_gain = (self.lp_len * self.lp_len) // 4
        self.lp_buf = array("i", [0] * self.lp_len)
        self.lp_ptr = 0
        self.lp_y1 = 0
        self.lp_y2 = 0
        # High-pass: the input delayed by half a 125 ms window minus that window's mean.
        self.hp_len = _ms(fs, 125)
        self.hp_buf = array("i", [0] * self.hp_len)
        self.hp_ptr = 0
        self.hp_sum = 0
        self.der_buf = array("i", [0] * self.ms10)
        self.der_ptr = 0
        self.mwi_buf = array("i", [0] * self.window)
        self.mwi_ptr = 0
        self.mwi_sum = 0
        # Samples from the input to the band-pass output's matching point.
        self.bp_delay = self.lp_len // 2 - 1 + (self.hp_len - 1) // 2
        self.filter_delay = self.ms10 // 2 + self.bp_delay + self.pre_blank

        # Derivative of the raw signal for the baseline-shift check.
        self.raw_der_buf = array("i", [0] * self.ms10)
        self.raw_der_ptr = 0
        self.dd_len = self.window + self.filter_delay + _ms(fs, 100)
        self.dd_buf = array("i", [0] * self.dd_len)
        self.dd_ptr = 0

        # Band-passed signal history, for placing each beat on its extremum.
        self.hist_len = _ms(fs, 4000)
        self.hist = array("i", [0] * self.hist_len)

        # Peak finder.
        self.pk_max = 0
        self.pk_since = 0
        self.pk_last = 0
        self.temp_peak = 0
        self.blank_count = 0

        # Adaptive thresholds.
        self.qrs_buf = array("i", [0] * 8)
        self.noise_buf = array("i", [0] * 8)
        self.rr_buf = array("i", [0] * 8)
        self.reset_buf = array("i", [0] * 8)
        self.qrs_mean = 0
        self.noise_mean = 0
        self.rr_mean = self.ms1000
        self.threshold = 0
        self.init_peaks = 0
        self.init_blank = 0
        self.init_max = 0
        self.reset_count = 0
        self.count = 0
        self.sb_peak = 0
        self.sb_loc = 0
        self.sb_count = self.ms1500
        self.n = -1
        # Peaks seen while learning the first thresholds, judged once those exist.
        self.init_pk = array("i", [0] * 48)
        self.init_loc = array("i", [0] * 48)
        self.init_pk_count = 0
        # Found beats (input sample indices), read by the caller up to `beat_total`.
        self.beats = array("i", [0] * 16)
        self.beat_total = 0

    def _threshold(self) -> int:
        # 0.3125 of the way from the noise mean to the QRS mean.
        return self.noise_mean + (((self.qrs_mean - self.noise_mean) * 5) >> 4)

    def _filter(self, x: int) -> int:
        lp_buf = self.lp_buf
        p = self.lp_ptr
        half = p - (self.lp_len >> 1)
        if half < 0:
            half += self.lp_len
        y0 = (self.lp_y1 << 1) - self.lp_y2 + x - (lp_buf[half] << 1) + lp_buf[p]
        self.lp_y2 = self.lp_y1
        self.lp_y1 = y0
        lp_buf[p] = x
        p += 1
        self.lp_ptr = 0 if p == self.lp_len else p
        lp = y0 // self.lp_gain

        hp_buf = self.hp_buf
        p = self.hp_ptr
        self.hp_sum += lp - hp_buf[p]
        half = p - (self.hp_len >> 1)
        if half < 0:
            half += self.hp_len
        bp = hp_buf[half] - self.hp_sum // self.hp_len
        hp_buf[p] = lp
        p += 1
        self.hp_ptr = 0 if p == self.hp_len else p
        self.hist[self.n % self.hist_len] = bp

        p = self.der_ptr
        d = bp - self.der_buf[p]
        self.der_buf[p] = bp
        p += 1
        self.der_ptr = 0 if p == self.ms10 else p
        if d < 0:
            d = -d

        p = self.mwi_ptr
        self.mwi_sum += d - self.mwi_buf[p]
        self.mwi_buf[p] = d
        p += 1
        self.mwi_ptr = 0 if p == self.window else p
        out = self.mwi_sum // self.window
        return _CLIP if out > _CLIP else out

    def _peak(self, datum: int) -> int:
        pk = 0
        if self.pk_since > 0:
            self.pk_since += 1
        if datum > self.pk_last and datum > self.pk_max:
            self.pk_max = datum
            if datum > 2:
                self.pk_since = 1
        elif datum < (self.pk_max >> 1) or self.pk_since > self.ms95:
            pk = self.pk_max
            self.pk_max = 0
            self.pk_since = 0
        self.pk_last = datum
        return pk if pk >= _MIN_PEAK else 0

    def _baseline_shift(self) -> bool:
        """True when the raw derivative lacks a matched rise and fall within 150 ms."""
        buf = self.dd_buf
        p = self.dd_ptr
        size = self.dd_len
        hi = 0
        lo = 0
        hi_t = 0
        lo_t = 0
        t = 0
        while t < self.ms220:
            v = buf[p]
            if v > hi:
                hi = v
                hi_t = t
            elif v < lo:
                lo = v
                lo_t = t
            p += 1
            if p == size:
                p = 0
            t += 1
        lo = -lo
        gap = hi_t - lo_t
        if gap < 0:
            gap = -gap
        return not (hi > (lo >> 3) and lo > (hi >> 3) and gap < self.ms150)

    def _place(self, estimate: int) -> int:
        """Index of the band-pass extremum nearest the estimated beat index, in input time."""
        centre = estimate + self.bp_delay
        half = self.window
        start = centre - half
        if self.n - start >= self.hist_len:
            return estimate
        hist = self.hist
        size = self.hist_len
        best = -1
        best_i = centre
        i = start
        end = min(centre + half, self.n)
        while i <= end:
            v = hist[i % size]
            if v < 0:
                v = -v
            if v > best:
                best = v
                best_i = i
            i += 1
        return best_i - self.bp_delay

    def _restart_thresholds(self) -> None:
        """Thresholds from the peaks in `qrs_buf` alone, as if no noise had been seen, at 60 bpm."""
        self.qrs_mean = _mean8(self.qrs_buf)
        self.noise_mean = 0
        self.rr_mean = self.ms1000
        self.sb_count = self.ms1500 + self.ms150
        self.threshold = self._threshold()

    def _accept(self, peak: int, rr: int) -> None:
        """Count `peak` as a QRS ending an RR of `rr` samples: update thresholds and search-back."""
        _push8(self.qrs_buf, peak)
        self.qrs_mean = _mean8(self.qrs_buf)
        self.threshold = self._threshold()
        _push8(self.rr_buf, rr)
        self.rr_mean = _mean8(self.rr_buf)
        self.sb_count = self.rr_mean + (self.rr_mean >> 1) + self.window
        self.sb_peak = 0
        self.init_blank = 0
        self.init_max = 0
        self.reset_count = 0

    def _emit(self, index: int) -> None:
        self.beats[self.beat_total & 15] = index
        self.beat_total += 1

    def _judge_init_peaks(self) -> None:
        """Report the learning period's beats once the first threshold exists."""
        last = -1
        i = 0
        while i < self.init_pk_count:
            if self.init_pk[i] > self.threshold:
                loc = self.init_loc[i]
                if last >= 0:
                    _push8(self.rr_buf, loc - last)
                last = loc
                self._emit(self._place(loc))
            i += 1
        if last >= 0:
            self.count = self.n - last
        self.init_pk_count = 0

    def push(self, code: int) -> None:
        """Feed one ADC code; beats found are appended to `beats` (a ring of 16)."""
        self.n += 1
        x = (code * self.lsb_nv) // _UNIT_NV
        datum = self._filter(x)

        a_peak = self._peak(datum)
        new_peak = 0
        if a_peak and not self.blank_count:
            self.temp_peak = a_peak
            self.blank_count = self.pre_blank
        elif not a_peak and self.blank_count:
            self.blank_count -= 1
            if self.blank_count == 0:
                new_peak = self.temp_peak
        elif a_peak:
            if a_peak > self.temp_peak:
                self.temp_peak = a_peak
                self.blank_count = self.pre_blank
            else:
                self.blank_count -= 1
                if self.blank_count == 0:
                    new_peak = self.temp_peak

        p = self.raw_der_ptr
        self.dd_buf[self.dd_ptr] = x - self.raw_der_buf[p]
        self.raw_der_buf[p] = x
        p += 1
        self.raw_der_ptr = 0 if p == self.ms10 else p
        self.dd_ptr += 1
        if self.dd_ptr == self.dd_len:
            self.dd_ptr = 0

        delay = 0
        self.count += 1
        if self.init_peaks < 8:
            if new_peak > 0:
                self.count = self.window
                if self.init_pk_count < 48:
                    self.init_pk[self.init_pk_count] = new_peak
                    self.init_loc[self.init_pk_count] = self.n - self.window - self.filter_delay
                    self.init_pk_count += 1
            self.init_blank += 1
            if self.init_blank == self.ms1000:
                self.init_blank = 0
                self.qrs_buf[self.init_peaks] = self.init_max
                self.init_max = 0
                self.init_peaks += 1
                if self.init_peaks == 8:
                    self._restart_thresholds()
                    self._judge_init_peaks()
            if new_peak > self.init_max:
                self.init_max = new_peak
            return

        if new_peak > 0 and not self._baseline_shift():
            if new_peak > self.threshold:
                self._accept(new_peak, self.count - self.window)
                self.count = self.window
                delay = self.window + self.filter_delay
            else:
                _push8(self.noise_buf, new_peak)
                self.noise_mean = _mean8(self.noise_buf)
                self.threshold = self._threshold()
                # Early peaks may be T waves, which can mask a small QRS after them.
                if new_peak > self.sb_peak and self.count - self.window >= self.ms360:
                    self.sb_peak = new_peak
                    self.sb_loc = self.count - self.window

        if self.count > self.sb_count and self.sb_peak > (self.threshold >> 1):
            self._accept(self.sb_peak, self.sb_loc)
            self.count = self.count - self.sb_loc
            delay = self.count + self.filter_delay

        # Without a beat for 8 s, rebuild the thresholds from the largest peak of each second.
        self.init_blank += 1
        if self.init_blank == self.ms1000:
            self.init_blank = 0
            self.reset_buf[self.reset_count] = self.init_max
            self.init_max = 0
            self.reset_count += 1
            if self.reset_count == 8:
                for i in range(8):
                    self.qrs_buf[i] = self.reset_buf[i]
                    self.noise_buf[i] = 0
                self._restart_thresholds()
                self.init_blank = 0
                self.init_max = 0
                self.reset_count = 0
        if new_peak > self.init_max:
            self.init_max = new_peak

        if delay:
            self._emit(self._place(self.n - delay))
