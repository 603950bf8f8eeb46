"""Signal quality per 1-s epoch, in integers: high-frequency activity against the epoch's peak.

ECG is mostly slow: outside the QRS its band-passed samples change smoothly, so the mean
absolute second difference |y[n] - 2 y[n-1] + y[n-2]| stays a few per mille of the epoch's
peak |y| (the R wave). Muscle noise and electrode rubbing are broadband: the second difference
(gain 4 sin^2(pi f / fs): 0.02 at 5 Hz, 0.9 at 40 Hz for fs = 250) makes them stand out, while
ventricular fibrillation (3-10 Hz), baseline wander and a flat line score as clean, so noise
rules never hide VF or asystole. The epoch's ratio = 1000 * sum |d2| / (n * peak) per mille,
averaged over the last SMOOTH epochs (one noisy second in a clean record should not suppress
10 s of analysis), maps to quality 1 at or below RATIO_CLEAN and 0 at or above RATIO_NOISY,
linearly between; an epoch with SATURATED_PM per mille or more of its raw codes at the ADC's
rails (motion, a loose electrode) is 0. Cost: a few integer operations per sample, one
division per epoch.

Calibration (firmware signal path on the front-end simulation, 3-epoch mean, quality < 0.5 at
a mean ratio above 60): MIT-BIH 101, 106, 119, 203, 207, 208, 209, 230: no epoch; 108 and 215
(noisy records): 1.7 % and 0.7 %; nstdb muscle noise at 12 / 6 / 0 / -6 dB SNR: 0 / 32 / 58 /
70 % of epochs, electrode-motion-like noise 0 / 17 / 64 / 77 %; VF, flutter and VT epochs of
the 16 vfdb records: ratio median 7-23, never 0.5.
"""

try:
    from micropython import const
except ImportError:  # CPython
    const = lambda expr: expr  # noqa: E731

RATIO_CLEAN = const(40)  # per mille: clean ECG's ratio stays below (MIT-BIH: median 6-20)
RATIO_NOISY = const(80)  # per mille: quality 0 from here
SMOOTH = const(3)  # epochs averaged
SATURATED_PM = const(100)  # per mille of an epoch's raw codes at the rails


class SignalQuality:
    """Feed each band-passed sample to `push` and count raw codes at the rails with `clipped`;
    at every epoch end `quality_pm` (0..1000), `peak` and `ratio_pm` describe the epoch just
    ended and `epochs` counts them (the caller polls it)."""

    def __init__(self, fs: int, epoch_samples: int = 0) -> None:
        self.epoch = epoch_samples if epoch_samples > 0 else fs
        self.n = 0
        self.y1 = 0
        self.y2 = 0
        self.hf = 0
        self.top = 0
        self.clipped = 0  # raw codes at the rails in the epoch, counted by the caller
        self.epochs = 0
        self.quality_pm = 1000
        self.peak = 0
        self.ratio_pm = 0
        self._last = [0] * SMOOTH  # the last epochs' ratios
        self._i = 0

    def push(self, y: int) -> None:
        d = y - 2 * self.y1 + self.y2
        self.y2 = self.y1
        self.y1 = y
        self.hf += d if d >= 0 else -d
        a = y if y >= 0 else -y
        if a > self.top:
            self.top = a
        self.n += 1
        if self.n == self.epoch:
            self._close()

    def _close(self) -> None:
        n = self.n
        peak = self.top
        ratio = 1000 * self.hf // (n * peak) if peak > 0 else 0
        last = self._last
        last[self._i] = ratio
        self._i = (self._i + 1) % SMOOTH
        mean = 0
        for r in last:
            mean += r
        mean //= SMOOTH
        if self.clipped * 1000 >= SATURATED_PM * n:
            q = 0
        elif mean <= RATIO_CLEAN:
            q = 1000
        elif mean >= RATIO_NOISY:
            q = 0
        else:
            q = 1000 * (RATIO_NOISY - mean) // (RATIO_NOISY - RATIO_CLEAN)
        self.quality_pm = q
        self.peak = peak
        self.ratio_pm = ratio
        self.n = 0
        self.hf = 0
        self.top = 0
        self.clipped = 0
        self.epochs += 1
