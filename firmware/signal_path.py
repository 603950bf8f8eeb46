"""The patch's signal path: ADC codes -> 0.5-50 Hz band -> beats, RR and heart rate.

It also feeds the band-passed signal, resampled, to whatever consumes it at the models'
rate. Every buffer is allocated here, once.
"""

from array import array

from firmware.bandpass import Bandpass
from firmware.qrs import QrsDetector
from firmware.resample import Resampler

BEAT_RING = 32


class SignalPath:
    """Feed ADC codes with `push` or `push_block`; read beats from the rings.

    `beat_index[k % BEAT_RING]` and `rr_ms[k % BEAT_RING]` for k below `beat_total` hold each
    beat's sample index (input time) and the RR interval that ends at it (0 for the first).
    """

    def __init__(self, fs: int, lsb_nv: int, model_fs: int = 0) -> None:
        self.fs = fs
        self.bandpass = Bandpass(fs)
        self.qrs = QrsDetector(fs, lsb_nv)
        self.resampler = Resampler(fs, model_fs) if model_fs and model_fs != fs else None
        self.model_out = array("i", [0] * 4)
        self.model_fs = model_fs or fs
        self.on_model_sample = None
        # The band-passed stream at the patch's own rate too: the beat classifier cuts its windows
        # there while the window models take the resampled stream.
        self.on_filtered_sample = None
        self.beat_index = array("i", [0] * BEAT_RING)
        self.rr_ms = array("i", [0] * BEAT_RING)
        self.beat_total = 0
        self._qrs_seen = 0
        self._last_beat = -1
        # Beat indices are in input time: undo the band-pass delay.
        self._shift = self.bandpass.delay

    def push(self, code: int) -> None:
        filtered = self.bandpass.push(code)
        qrs = self.qrs
        qrs.push(filtered)
        if qrs.beat_total != self._qrs_seen:
            self._take_beats()
        at_fs = self.on_filtered_sample
        if at_fs is not None:
            at_fs(filtered)
        consumer = self.on_model_sample
        if consumer is not None:
            resampler = self.resampler
            if resampler is None:
                consumer(filtered)
            else:
                out = self.model_out
                for i in range(resampler.push(filtered, out)):
                    consumer(out[i])

    def push_block(self, codes) -> None:
        push = self.push
        for code in codes:
            push(code)

    def _take_beats(self) -> None:
        qrs = self.qrs
        while self._qrs_seen < qrs.beat_total:
            index = qrs.beats[self._qrs_seen & 15] - self._shift
            self._qrs_seen += 1
            slot = self.beat_total % BEAT_RING
            self.beat_index[slot] = index
            last = self._last_beat
            self.rr_ms[slot] = (index - last) * 1000 // self.fs if last >= 0 else 0
            self._last_beat = index
            self.beat_total += 1

    def heart_rate_bpm(self) -> int:
        """Mean heart rate over the last (up to) eight RR intervals, 0 before two beats."""
        total = 0
        count = 0
        k = self.beat_total - 1
        while k >= 0 and count < 8:
            rr = self.rr_ms[k % BEAT_RING]
            if rr <= 0:
                break
            total += rr
            count += 1
            k -= 1
        return 60000 * count // total if count else 0
