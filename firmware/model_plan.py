"""Which int8 models the patch runs, on what, and how often.

The cost of inference is set here as much as in the networks: the beat classifier runs once per
detected beat; the rhythm network once per `hop` on the last `window`; the VT network only while
the signal path sees something worth a look (a fast rate, ventricular beats, or beats lost in a
large signal), then every `hop` on the last `window`, so its cost on a calm day is near zero.
"""

try:
    from micropython import const
except ImportError:  # CPython
    const = lambda expr: expr  # noqa: E731

# (file in firmware/models, input rate in Hz, window in s, hop in s; hop 0: once per beat)
BEAT_MODEL = ("beat_classifier.tflite", const(125), 0.7, 0)
VT_MODEL = ("vt_scnn.tflite", const(125), 10.0, 2.5)
RHYTHM_MODEL = ("rhythm_resnet.tflite", const(125), 10.0, 30.0)
MODELS = (BEAT_MODEL, VT_MODEL, RHYTHM_MODEL)
# After a window the SCNN calls VT, the next one comes this much later instead of a whole hop:
# the VT rule wants two positive windows, and this halves the wait for the second (the alarm
# latency), at twice the SCNN's cost only while it keeps saying VT.
VT_CONFIRM_HOP_S = 1.25
# Once two windows in a row said VT (the VT rule's two positives: the alarm is up), the SCNN only
# watches for the end: a window every 5 s keeps the episode open (events' vt_stale_ms is 10 s)
# at a quarter of the confirm rate's cost; the first negative brings back the 2.5-s hop.
VT_SUSTAIN_HOP_S = 5.0
# A gate held open for long by a rhythm that is not VT (frequent PVC runs, fast AF with PVCs):
# after this many windows in a row below VT_QUIET_PM per mille the hop stretches to
# VT_SUSTAIN_HOP_S, and the first window at or above it brings back the 2.5-s hop.
VT_QUIET_WINDOWS = const(4)
VT_QUIET_PM = const(100)
