"""Int8 models through TensorFlow Lite for Microcontrollers, behind a binding object.

The binding is the `microlite` MicroPython user module (tensorflow-micropython-examples, built into
the ESP32-S3 firmware image); these are the only calls used, and hardware_sim/tflm_binding.py
implements the same ones on the `tflite-micro` Python interpreter:

    interp = microlite.interpreter(model, arena_size, input_callback, output_callback)
    interp.invoke()               # input_callback(interp), TFLM Invoke(), output_callback(interp)
    interp.getInputTensor(i)      # inside the callbacks
    interp.getOutputTensor(i)
    tensor.setValue(k, v)         # int8 value v at flat index k
    tensor.getValue(k)

microlite tells neither shapes nor quantization, so both are read here from the model's own
flatbuffer (`read_model`): each input's shape (TFLite may reorder inputs: match them by shape),
scale (its float32 bits, as an exact mantissa and exponent: no float rounding on the device) and
zero point. `Quantizer` rounds ratios of integers to int8 exactly as `round(v / scale) + zero_point`
does in float64 (halves round up), with small integers in the per-sample path.

The int8 input and output buffers are allocated once per model, here.
"""

from array import array

try:
    from micropython import const
except ImportError:  # CPython
    const = lambda expr: expr  # noqa: E731

_SMALL_BITS = const(28)  # numerator * 2**(F + 1) stays below 2**30: MicroPython's small int


# --- the model's flatbuffer (schema.fbs of TFLite), read without allocating copies ----------------


def _u16(b, p: int) -> int:
    return b[p] | (b[p + 1] << 8)


def _u32(b, p: int) -> int:
    return b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)


def _i32(b, p: int) -> int:
    v = b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | ((b[p + 3] & 0x7F) << 24)
    return v - 0x80000000 if b[p + 3] & 0x80 else v


def _field(b, table: int, index: int) -> int:
    """Position of field `index` of the table at `table`, 0 when absent."""
    vtable = table - _i32(b, table)
    offset_at = 4 + 2 * index
    if offset_at >= _u16(b, vtable):
        return 0
    offset = _u16(b, vtable + offset_at)
    return table + offset if offset else 0


def _ref(b, table: int, index: int) -> int:
    """Table or vector that field `index` points to, 0 when absent."""
    p = _field(b, table, index)
    return p + _u32(b, p) if p else 0


def _tensor(b, tensors: int, i: int) -> tuple:
    """(shape, scale mantissa, scale exponent, zero point) of tensor i: scale = m * 2**-e."""
    slot = tensors + 4 + 4 * i
    t = slot + _u32(b, slot)
    shape_vec = _ref(b, t, 0)
    shape = tuple(_i32(b, shape_vec + 4 + 4 * k) for k in range(_u32(b, shape_vec))) if shape_vec else ()
    m = 0
    e = 0
    zp = 0
    q = _ref(b, t, 4)
    if q:
        scales = _ref(b, q, 2)
        if scales and _u32(b, scales):
            p = scales + 4  # float32, little endian
            exponent = ((b[p + 3] & 0x7F) << 1) | (b[p + 2] >> 7)
            m = ((b[p + 2] & 0x7F) << 16) | (b[p + 1] << 8) | b[p] | 0x800000
            e = 150 - exponent
            while m & 1 == 0 and e > 0:
                m >>= 1
                e -= 1
        zps = _ref(b, q, 3)
        if zps and _u32(b, zps):
            zp = _i32(b, zps + 4)  # int64; int8 models' fit in the low word
    return (shape, m, e, zp)


def read_model(model) -> tuple:
    """([inputs], [outputs]) of the first subgraph, each (shape, scale m, scale e, zero point)."""
    b = model
    root = _u32(b, 0)
    subgraphs = _ref(b, root, 2)
    g = subgraphs + 4 + _u32(b, subgraphs + 4)
    tensors = _ref(b, g, 0)
    found = []
    for field in (1, 2):
        vec = _ref(b, g, field)
        found.append([_tensor(b, tensors, _i32(b, vec + 4 + 4 * k)) for k in range(_u32(b, vec))])
    return found[0], found[1]


def _size(shape: tuple) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


# --- exact int8 quantization of integer ratios -------------------------------------------------


def _bits(n: int) -> int:
    k = 0
    while n:
        n >>= 1
        k += 1
    return k


class Quantizer:
    """int8 codes of values v = num / unit (unit = un / ud, a ratio of integers set per beat or
    window) clipped to +-clip: clip(round(v / scale) + zero_point) to int8, as the reference does
    in float64, but exact. The per-value path uses small integers only; values within rounding
    distance of a half are redone with exact (long) integers."""

    def __init__(self, m: int, e: int, zp: int, clip: int) -> None:
        self.m = m
        self.e = e
        self.zp = zp
        self.clip = clip
        # q of +-clip: round(clip * 2**e / m), half up.
        top = (2 * clip * (1 << e) + m) // (2 * m)
        bottom = (-2 * clip * (1 << e) + m) // (2 * m)
        self.hi = min(127, top + zp)
        self.lo = max(-128, bottom + zp)
        self.p = 1
        self.d = m
        self.bound = 1
        self.shift = 1
        self.cb = 1

    def set_unit(self, un: int, ud: int) -> None:
        """v = num * ud / un from now on."""
        self.p = ud << self.e  # v / scale = num * p / d
        self.d = un * self.m
        # |num| >= bound means |v| > clip: saturated, whatever the rounding.
        self.bound = self.clip * un // ud + 1
        f = _SMALL_BITS - _bits(self.bound)
        if f < 0:
            f = 0
        self.shift = f + 1
        # v / scale ~ num * 2**f / cb
        self.cb = max(1, (2 * self.d * (1 << f) + self.p) // (2 * self.p))

    def q(self, num: int) -> int:
        if num >= self.bound:
            return self.hi
        if num <= -self.bound:
            return self.lo
        cb2 = self.cb << 1
        t = (num << self.shift) + self.cb
        r = t // cb2
        rest = t - r * cb2
        margin = (r if r >= 0 else -r) + 2
        if rest <= margin or rest >= cb2 - margin:
            r = (2 * num * self.p + self.d) // (2 * self.d)  # exact, long integers (rare)
        r += self.zp
        return self.hi if r > self.hi else self.lo if r < self.lo else r


# --- one model -----------------------------------------------------------------------------------


class Model:
    """One int8 model in the binding's TFLM interpreter.

    Write int8 values into `inputs[i]` (array('b'), the model's input i, row-major), call `invoke`,
    read `output` (array('b')). `input_info[i]` / `output_info` hold (shape, scale m, scale e, zero
    point), scale = m * 2**-e.
    """

    def __init__(self, binding, model, arena_size: int) -> None:
        ins, outs = read_model(model)
        self.input_info = ins
        self.output_info = outs[0]
        self.inputs = [array("b", bytes(_size(info[0]))) for info in ins]
        self.output = array("b", bytes(_size(self.output_info[0])))
        self.invocations = 0
        self._interp = binding.interpreter(model, arena_size, self._fill, self._read)

    def find_input(self, shape: tuple) -> int:
        """Index of the input tensor of this shape (batch included)."""
        for i, info in enumerate(self.input_info):
            if tuple(info[0]) == tuple(shape):
                return i
        raise ValueError("no input of this shape")

    def quantizer(self, index: int, clip: int) -> Quantizer:
        info = self.input_info[index]
        return Quantizer(info[1], info[2], info[3], clip)

    def _fill(self, interp) -> None:
        for i in range(len(self.inputs)):
            buf = self.inputs[i]
            tensor = interp.getInputTensor(i)
            set_value = tensor.setValue
            for k in range(len(buf)):
                set_value(k, buf[k])

    def _read(self, interp) -> None:
        tensor = interp.getOutputTensor(0)
        out = self.output
        for k in range(len(out)):
            out[k] = tensor.getValue(k)

    def invoke(self) -> int:
        """Run the model on `inputs`; returns the index of the largest output."""
        self._interp.invoke()
        self.invocations += 1
        return self.argmax()

    def argmax(self) -> int:
        out = self.output
        best = 0
        for k in range(1, len(out)):
            if out[k] > out[best]:
                best = k
        return best

    def probability_pct(self, k: int) -> int:
        """Softmax of the dequantized outputs, class k, in whole percent."""
        import math

        m = self.output_info[1]
        e = self.output_info[2]
        out = self.output
        scale = m / (1 << e)
        top = out[self.argmax()]
        total = 0.0
        for v in out:
            total += math.exp((v - top) * scale)
        return int(100.0 * math.exp((out[k] - top) * scale) / total + 0.5)


# --- the beat classifier on the signal path --------------------------------------------------------


def _ignore_label(k: int, label: int) -> None:
    pass


class BeatClassifier:
    """Every beat the signal path finds through the beat model, as its inputs complete.

    Feed each band-passed 250 Hz sample to `push` (the path's on_model_sample, model_fs = fs); each
    beat k's class index goes to `on_label(k, class_index)` once beat k + 1 is detected.
    """

    def __init__(self, path, lsb_nv: int, binding, model, arena_size: int) -> None:
        from firmware.beat_input import CHANNELS, CLIP, RR_FEATURES, SAMPLES, BeatInput

        m = Model(binding, model, arena_size)
        self.model = m
        b = m.find_input((1, SAMPLES, CHANNELS))
        r = m.find_input((1, RR_FEATURES))
        self.input = BeatInput(path, lsb_nv, m.inputs[b], m.quantizer(b, CLIP), m.inputs[r], m.quantizer(r, CLIP))
        self.input.on_ready = self._run
        self.on_label = _ignore_label  # on_label(k, class_index)
        self.push = self.input.push

    def _run(self, k: int) -> None:
        label = self.model.invoke()
        self.on_label(k, label)
