"""The wire format between patch and gateway: every frame, defined once, for both sides.

The patch (MicroPython), the gateway (CPython) and the cloud (CPython) all import this module;
golden byte vectors in tests/golden/wire_vectors.json pin it, on CPython and on the MicroPython
VM. Any change to a layout below is a format change: bump VERSION and regenerate the vectors.

Transport
---------
Frames travel in GATT notifications/indications (patch -> gateway) and writes to the control
point (gateway -> patch) of the patch's ECG service. A frame always starts a notification, and
a notification never holds bytes of two frames. Every frame fits one notification at ATT MTU
247 (244-byte values). At the default MTU 23 (20-byte values), commands, responses, snippet
fragments and live data (built for that size) still fit one; EVENT (36 B), SUMMARY (29 B) and
SNIPPET_HEADER (44 B) then span 2-3 consecutive notifications, joined by `FrameJoiner` with
the frame's own length byte (ATT delivers notifications of one connection in order).

Frame (little-endian throughout, CRC included)
-----------------------------------------------
| offset | size | field                                                               |
|--------|------|---------------------------------------------------------------------|
| 0      | 1    | header: bits 7-5 version (VERSION = 1), bits 4-0 frame type          |
| 1      | 1    | L, body length in bytes (0..255)                                     |
| 2      | L    | body, by frame type (tables below)                                   |
| 2+L    | 2    | CRC-16/CCITT-FALSE (firmware/crc.py) of bytes 0..1+L, little-endian  |
A frame is L + 4 bytes, at most 259 (MAX_FRAME). Version 0 is never valid: zeroed memory is no
frame. Frame types 0x01-0x0F go patch -> gateway, 0x10-0x1F gateway -> patch (bit 4):

| type | first byte | kind             | body bytes | frame bytes                  |
|------|------------|------------------|------------|------------------------------|
| 0x01 | 0x21       | event            | 32         | 36                           |
| 0x02 | 0x22       | summary          | 25         | 29                           |
| 0x03 | 0x23       | snippet_header   | 40         | 44                           |
| 0x04 | 0x24       | snippet_fragment | 4 + n      | 8 + n (n = 1..251 bytes)     |
| 0x05 | 0x25       | live_data        | 4 + 2k     | 8 + 2k (k = 1..125 samples)  |
| 0x06 | 0x26       | response         | 3 (+extra) | 7, 15 (time_sync), 12 (config), 14 (live) |
| 0x10 | 0x30       | ack              | 6          | 10                           |
| 0x11 | 0x31       | resume           | 9          | 13                           |
| 0x12 | 0x32       | time_sync        | 9          | 13                           |
| 0x13 | 0x33       | config           | 6          | 10                           |
| 0x14 | 0x34       | live             | 4          | 8                            |

Times: uint64 ms since the Unix epoch (UTC) on the patch clock, which is its tick counter
plus the offset set by the gateway's last TIME_SYNC. Chosen over a uint32 tick + offset because
each time is then absolute on its own: valid after any resync, reconnection or reboot, for
frames stored in flash while out of range and sent hours later, and in the cloud without the
gateway having to remember which offset applied when (uint32 ms ticks would also wrap after
49.7 days). It costs 4 bytes per time field, a few bytes per (rare) event. Until the first
TIME_SYNC after boot the patch sets FLAG_UNSYNCED and its times are ms since boot; the
TIME_SYNC response carries the patch's clock before the sync (patch_ms), so the gateway can
move such frames of the same boot onto the epoch: t + gateway_ms - patch_ms.

Flags byte (event, summary, snippet_header): bit 0 FLAG_ONGOING (event still going on: end_ms is
"so far"; a later EVENT with the same event_id supersedes it), bit 1 FLAG_UNSYNCED (times are ms
since boot), bit 2 FLAG_BACKLOG (stored while disconnected, sent late). Others reserved (0).

EVENT body (0x01), 32 bytes
| off | size | field           | meaning                                                        |
|-----|------|-----------------|----------------------------------------------------------------|
| 0   | u32  | event_id        | patch's event counter, increasing, never 0                     |
| 4   | u8   | event_type      | EVENT_TYPES code (VT=1 ... SUMMARY=11)                         |
| 5   | u8   | severity        | SEVERITIES code (INFO=0 ... CRITICAL=4)                        |
| 6   | u8   | flags           | FLAG_* bits                                                    |
| 7   | u8   | confidence      | 0..255 <-> 0..1                                                |
| 8   | u64  | onset_ms        | onset, ms (see Times)                                          |
| 16  | u32  | duration        | end_ms - onset_ms (dict field end_ms; at most 49.7 days)       |
| 20  | u16  | heart_rate      | bpm during the event (0 = unknown)                             |
| 22  | u16  | beat_count      | beats in the run (NSVT, VT), saturating at 65535; else 0       |
| 24  | u32  | snippet_id      | snippet that follows (0 = none)                                |
| 28  | u32  | snippet_samples | its samples per lead (0 when snippet_id is 0)                  |

SUMMARY body (0x02), 25 bytes: periodic
| off | size | field                                                                     |
|-----|------|---------------------------------------------------------------------------|
| 0   | u64  | time_ms: end of the period                                                |
| 8   | u16  | period_s: length of the period                                            |
| 10  | u8   | flags                                                                     |
| 11  | u16  | heart_rate (mean bpm, 0 = unknown)                                        |
| 13  | u16  | heart_rate_min                                                            |
| 15  | u16  | heart_rate_max                                                            |
| 17  | u16  | beat_count (saturating)                                                   |
| 19  | u16  | veb_count: ventricular ectopic beats (saturating)                         |
| 21  | u16  | sveb_count: supraventricular ectopic beats (saturating)                   |
| 23  | u8   | signal_quality: analysable fraction of the period, 0..255 <-> 0..1        |
| 24  | u8   | battery_percent 0..100 (as Battery Level 0x2A19)                          |

SNIPPET_HEADER body (0x03), 40 bytes: sent before a snippet's fragments (and again on request)
| off | size | field           | meaning                                                        |
|-----|------|-----------------|----------------------------------------------------------------|
| 0   | u32  | snippet_id      | never 0                                                        |
| 4   | u32  | event_id        | event it documents (0 = none, e.g. on demand)                  |
| 8   | u64  | start_ms        | time of the first sample                                       |
| 16  | u16  | fs_hz           | sampling rate                                                  |
| 18  | u32  | lsb_nv          | one ADC code in nV                                             |
| 22  | u8   | lead_count      | 1..8; samples interleaved lead by lead                         |
| 23  | u8   | encoding        | ENCODINGS: 0 int16 (int16 LE ADC codes), 1 delta8 (below)      |
| 24  | u8   | flags           | FLAG_* bits                                                    |
| 25  | u32  | total_samples   | samples per lead                                               |
| 29  | u32  | payload_bytes   | bytes of the (encoded) payload                                 |
| 33  | u8   | fragment_size   | payload bytes in each fragment but the last (1..251)           |
| 34  | u16  | total_fragments | ceil(payload_bytes / fragment_size)                            |
| 36  | u32  | crc32           | CRC-32 (IEEE, zlib's) of the whole payload                     |

SNIPPET_FRAGMENT body (0x04), 4 + n bytes
| off | size | field       | meaning                                                         |
|-----|------|-------------|-----------------------------------------------------------------|
| 0   | u16  | snippet_tag | snippet_id & 0xFFFF                                             |
| 2   | u16  | index       | 0 .. total_fragments - 1; payload[index * fragment_size ...]    |
| 4   | n    | payload     | n = fragment_size, less in the last fragment                    |
Fragment payload at most mtu - 3 - 8 bytes (`fragment_size_for_mtu`): 12 at MTU 23, 236 at 247.

LIVE_DATA body (0x05), 4 + 2k bytes: streamed after LIVE start
| 0   | u32  | sample_index | index (per lead) of the first sample since the stream started  |
| 4   | 2k   | samples      | int16 LE ADC codes, leads interleaved                          |

Commands (0x10-0x14, gateway writes them to the control point). seq is the gateway's
counter, echoed in the RESPONSE that the patch indicates on the control point.
| kind      | off: field                                                                      |
|-----------|---------------------------------------------------------------------------------|
| ack       | 0 seq u8, 1 target u8 (ACK_TARGETS: event 1, snippet 2), 2 up_to_id u32         |
| resume    | 0 seq u8, 1 snippet_id u32, 5 first u16, 7 count u16 (0 = through the last)     |
| time_sync | 0 seq u8, 1 gateway_ms u64 (the gateway's epoch ms; the patch takes it)         |
| config    | 0 seq u8, 1 key u8 (CONFIG_KEYS), 2 value i32 (CONFIG_READ = read only)         |
| live      | 0 seq u8, 1 enable u8 (1 start, 0 stop), 2 seconds u16 (auto-stop; 0 = never)   |
ack: every event (snippet) id <= up_to_id is stored upstream; until then the patch keeps it and
sends it again after a reconnection (FLAG_BACKLOG; the gateway de-duplicates by id). resume:
send the snippet's header again, then fragments first .. first+count-1 (the reassembler's
`resume_ranges()`); status UNKNOWN_ID when the patch no longer holds the snippet.

RESPONSE body (0x06): 0 seq u8, 1 request u8 (the command's frame type), 2 status u8
(STATUSES: OK 0 ...), then by request: time_sync: 3 patch_ms u64 (the patch clock just before
the sync); config: 3 key u8, 4 value i32 (the value in force); live: 3 fs_hz u16, 5 lsb_nv u32,
9 lead_count u8 (the stream's format); ack and resume: nothing more.

delta8 snippet encoding: per sample (leads interleaved), d = sample - previous sample of the same
lead (0 before the first). -127 <= d <= 127: one byte, d as int8; else 0x80 then the sample as
int16 LE. Lossless, at most 3 bytes a sample; `compress_samples` keeps int16 unless delta8 is
smaller, so a payload never exceeds the int16 size.

Sizes and airtime (ATT values; add 3 bytes of ATT header per notification)
| message                              | bytes   | payload / total                     |
|--------------------------------------|---------|-------------------------------------|
| EVENT                                | 36      | 1 notification at MTU 247, 2 at 23  |
| snippet fragment at MTU 247          | 244     | 236 / 244 = 96.7 %                  |
| snippet fragment at MTU 23           | 20      | 12 / 20 = 60 %                      |
| 10 s, 1 lead, 250 Hz int16 (5000 B)  | 44 + 22 fragments = 5220 B at MTU 247 (95.8 %); 44 + 417 fragments = 8380 B at MTU 23 (59.7 %) |
delta8 brings MIT-BIH ECG through the front end (16-bit ADC, 305 nV, 250 Hz) to about 0.69 of
the int16 bytes (0.62-0.81 by record).

Python API: decode(frame) -> dict with "kind" and the fields named above; encode(msg) and
encode_<kind>(...) -> bytes (call them with keywords); WireError (a ValueError) for every bad
frame or value, never another exception: MicroPython's struct would wrap out-of-range values
silently, so every encoder checks its ranges. Dict fields hold names for coded bytes
(event_type "VT", severity, encoding, target, key, status, request) and bytes for
payload/samples. to_json/from_json: the JSON form ("v": 1, bytes fields as base64 strings of
the same bytes, never lists; ms times stay below 2**53, exact in JavaScript too). Patch side:
encode_snippet_fragment_into / encode_live_data_into write into a buffer allocated once,
snippet_header_for, compress_samples. Gateway side: FrameJoiner, SnippetReassembler,
snippet_samples, snippet_message (a whole snippet as one JSON-able message). Standard GATT
characteristics: Heart Rate Measurement 0x2A37 (encode_heart_rate/decode_heart_rate) and
Battery Level 0x2A19 (encode_battery_level/decode_battery_level).

On the patch, ship this module compiled (.mpy) or frozen: imported from .py its compilation takes
about 63 KB of heap, from .mpy about 40 KB (MicroPython VM, 32-bit), frozen bytecode stays in flash.
"""

import struct
from array import array

from firmware.crc import crc16_ccitt
from firmware.crc import crc32 as _crc32

try:
    from micropython import const
except ImportError:  # CPython
    const = lambda expr: expr  # noqa: E731

VERSION = const(1)
MAX_BODY = const(255)
FRAME_OVERHEAD = const(4)
MAX_FRAME = const(259)
FRAGMENT_OVERHEAD = const(8)
MAX_FRAGMENT_PAYLOAD = const(251)
MAX_LIVE_SAMPLES = const(125)
MAX_LEADS = const(8)

FLAG_ONGOING = const(0x01)
FLAG_UNSYNCED = const(0x02)
FLAG_BACKLOG = const(0x04)

# A CONFIG value that reads the setting instead of writing it.
CONFIG_READ = -0x80000000

_HDR = const(VERSION << 5)
_T_EVENT = const(0x01)
_T_SUMMARY = const(0x02)
_T_SNIPPET_HEADER = const(0x03)
_T_SNIPPET_FRAGMENT = const(0x04)
_T_LIVE_DATA = const(0x05)
_T_RESPONSE = const(0x06)
_T_ACK = const(0x10)
_T_RESUME = const(0x11)
_T_TIME_SYNC = const(0x12)
_T_CONFIG = const(0x13)
_T_LIVE = const(0x14)

_U8 = const(0xFF)
_U16 = const(0xFFFF)
_U32 = 0xFFFFFFFF
_U64 = 0xFFFFFFFFFFFFFFFF
_I32_MIN = -0x80000000
_I32_MAX = 0x7FFFFFFF

FRAME_TYPES = {
    "event": _T_EVENT,
    "summary": _T_SUMMARY,
    "snippet_header": _T_SNIPPET_HEADER,
    "snippet_fragment": _T_SNIPPET_FRAGMENT,
    "live_data": _T_LIVE_DATA,
    "response": _T_RESPONSE,
    "ack": _T_ACK,
    "resume": _T_RESUME,
    "time_sync": _T_TIME_SYNC,
    "config": _T_CONFIG,
    "live": _T_LIVE,
}
EVENT_TYPES = {
    "VT": 1,
    "NSVT": 2,
    "AF": 3,
    "OTHER": 4,
    "BRADY": 5,
    "TACHY": 6,
    "PAUSE": 7,
    "NOISE": 8,
    "LEAD_OFF": 9,
    "SYMPTOM": 10,  # the patient pressed the button
    "SUMMARY": 11,  # a routine strip (e.g. daily), sent as an event so that it carries a snippet
}
SEVERITIES = {"INFO": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3, "CRITICAL": 4}
ENCODINGS = {"int16": 0, "delta8": 1}
ACK_TARGETS = {"event": 1, "snippet": 2}
STATUSES = {"OK": 0, "UNKNOWN_ID": 1, "BAD_VALUE": 2, "BUSY": 3, "UNSUPPORTED": 4, "ERROR": 5}
CONFIG_KEYS = {
    "SUMMARY_PERIOD_S": 1,  # seconds between SUMMARY frames
    "SNIPPET_PRE_S": 2,  # seconds of ECG before an event's onset in its snippet
    "SNIPPET_POST_S": 3,  # seconds after its end
    "BRADY_BPM": 4,  # bradycardia below this rate
    "TACHY_BPM": 5,  # tachycardia above this rate
    "PAUSE_MS": 6,  # a pause: an RR interval longer than this
    "SNIPPET_ENCODING": 7,  # ENCODINGS code the patch may use
}


def _names(table: dict) -> dict:
    return {code: name for name, code in table.items()}


FRAME_KINDS = _names(FRAME_TYPES)
EVENT_TYPE_NAMES = _names(EVENT_TYPES)
SEVERITY_NAMES = _names(SEVERITIES)
ENCODING_NAMES = _names(ENCODINGS)
ACK_TARGET_NAMES = _names(ACK_TARGETS)
STATUS_NAMES = _names(STATUSES)
CONFIG_KEY_NAMES = _names(CONFIG_KEYS)

_EVENT = "<IBBBBQIHHII"
_SUMMARY = "<QHBHHHHHHBB"
_SNIPPET_HEADER = "<IIQHIBBBIIBHI"
_ACK = "<BBI"
_RESUME = "<BIHH"
_TIME_SYNC = "<BQ"
_CONFIG = "<BBi"
_LIVE = "<BBH"
_RESPONSE_EXTRA = {"time_sync": "<Q", "config": "<Bi", "live": "<HIB"}


class WireError(ValueError):
    """A frame or message that is not valid in this wire format; the message says why."""


# ---------------------------------------------------------------- checks shared by encoders


def _int(name: str, value, lo: int, hi: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < lo or value > hi:
        raise WireError(f"{name} must be an integer in {lo}..{hi}, got {value!r}")
    return value


def _count(name: str, value) -> int:
    """A count on 16 bits: saturates at 65535 instead of failing."""
    _int(name, value, 0, _U64)
    return value if value < _U16 else _U16


def _code(name: str, value, table: dict) -> int:
    code = table.get(value) if isinstance(value, str) else None
    if code is None:
        raise WireError("{} must be one of {}, got {!r}".format(name, ", ".join(sorted(table)), value))
    return code


def _name(name: str, code: int, names: dict) -> str:
    found = names.get(code)
    if found is None:
        raise WireError(f"unknown {name} code {code}")
    return found


def _buffer(name: str, value):
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise WireError(f"{name} must be bytes, got {type(value).__name__}")
    return value


# ---------------------------------------------------------------- framing


def _seal(buf, ftype: int, body_len: int) -> int:
    buf[0] = _HDR | ftype
    buf[1] = body_len
    end = body_len + 2
    crc = crc16_ccitt(memoryview(buf)[0:end])
    buf[end] = crc & 0xFF
    buf[end + 1] = crc >> 8
    return end + 2


def _frame(ftype: int, fmt: str, values: tuple) -> bytes:
    body_len = struct.calcsize(fmt)
    buf = bytearray(body_len + FRAME_OVERHEAD)
    struct.pack_into(fmt, buf, 2, *values)
    _seal(buf, ftype, body_len)
    return bytes(buf)


def _frame_with_tail(buf, ftype: int, fmt: str, values: tuple, tail) -> int:
    head = struct.calcsize(fmt)
    body_len = head + len(tail)
    if len(buf) < body_len + FRAME_OVERHEAD:
        raise WireError(f"buffer of {len(buf)} bytes is too small for a {body_len + 4}-byte frame")
    struct.pack_into(fmt, buf, 2, *values)
    buf[2 + head : 2 + body_len] = tail
    return _seal(buf, ftype, body_len)


def fragment_size_for_mtu(mtu: int) -> int:
    """Snippet payload bytes per fragment so that one fragment fills one notification."""
    _int("mtu", mtu, 23, 517)
    return min(MAX_FRAGMENT_PAYLOAD, mtu - 3 - FRAGMENT_OVERHEAD)


# ---------------------------------------------------------------- encoders


def encode_event(
    event_id,
    event_type,
    onset_ms,
    end_ms,
    confidence,
    heart_rate=0,
    beat_count=0,
    severity="INFO",
    flags=0,
    snippet_id=0,
    snippet_samples=0,
) -> bytes:
    _int("event_id", event_id, 1, _U32)
    _int("onset_ms", onset_ms, 0, _U64)
    _int("end_ms", end_ms, onset_ms, onset_ms + _U32)
    _int("snippet_id", snippet_id, 0, _U32)
    _int("snippet_samples", snippet_samples, 0, _U32 if snippet_id else 0)
    values = (
        event_id,
        _code("event_type", event_type, EVENT_TYPES),
        _code("severity", severity, SEVERITIES),
        _int("flags", flags, 0, _U8),
        _int("confidence", confidence, 0, _U8),
        onset_ms,
        end_ms - onset_ms,
        _int("heart_rate", heart_rate, 0, _U16),
        _count("beat_count", beat_count),
        snippet_id,
        snippet_samples,
    )
    return _frame(_T_EVENT, _EVENT, values)


def encode_summary(
    time_ms,
    period_s,
    heart_rate,
    heart_rate_min,
    heart_rate_max,
    beat_count,
    veb_count,
    sveb_count,
    signal_quality,
    battery_percent,
    flags=0,
) -> bytes:
    values = (
        _int("time_ms", time_ms, 0, _U64),
        _int("period_s", period_s, 0, _U16),
        _int("flags", flags, 0, _U8),
        _int("heart_rate", heart_rate, 0, _U16),
        _int("heart_rate_min", heart_rate_min, 0, _U16),
        _int("heart_rate_max", heart_rate_max, 0, _U16),
        _count("beat_count", beat_count),
        _count("veb_count", veb_count),
        _count("sveb_count", sveb_count),
        _int("signal_quality", signal_quality, 0, _U8),
        _int("battery_percent", battery_percent, 0, 100),
    )
    return _frame(_T_SUMMARY, _SUMMARY, values)


def fragment_count(payload_bytes: int, fragment_size: int) -> int:
    return (payload_bytes + fragment_size - 1) // fragment_size


def _check_samples(encoding: str, lead_count: int, total_samples: int, payload_bytes: int) -> None:
    n = lead_count * total_samples
    if encoding == "int16":
        if payload_bytes != 2 * n:
            raise WireError(
                f"int16 payload of {lead_count} leads x {total_samples} samples is {2 * n} bytes, not {payload_bytes}"
            )
    elif payload_bytes < n or payload_bytes > 3 * n:
        raise WireError(f"delta8 payload of {n} samples cannot be {payload_bytes} bytes")


def encode_snippet_header(
    snippet_id,
    event_id,
    start_ms,
    fs_hz,
    lsb_nv,
    lead_count,
    total_samples,
    payload_bytes,
    fragment_size,
    total_fragments,
    crc32,
    encoding="int16",
    flags=0,
) -> bytes:
    _int("snippet_id", snippet_id, 1, _U32)
    _int("lead_count", lead_count, 1, MAX_LEADS)
    _int("total_samples", total_samples, 1, _U32)
    _int("payload_bytes", payload_bytes, 1, _U32)
    _int("fragment_size", fragment_size, 1, MAX_FRAGMENT_PAYLOAD)
    code = _code("encoding", encoding, ENCODINGS)
    _check_samples(encoding, lead_count, total_samples, payload_bytes)
    expected = fragment_count(payload_bytes, fragment_size)
    if total_fragments != expected or expected > _U16:
        raise WireError(
            f"total_fragments must be ceil({payload_bytes} / {fragment_size}) = {expected} (at most 65535), got {total_fragments!r}"
        )
    values = (
        snippet_id,
        _int("event_id", event_id, 0, _U32),
        _int("start_ms", start_ms, 0, _U64),
        _int("fs_hz", fs_hz, 1, _U16),
        _int("lsb_nv", lsb_nv, 1, _U32),
        lead_count,
        code,
        _int("flags", flags, 0, _U8),
        total_samples,
        payload_bytes,
        fragment_size,
        total_fragments,
        _int("crc32", crc32, 0, _U32),
    )
    return _frame(_T_SNIPPET_HEADER, _SNIPPET_HEADER, values)


def encode_snippet_fragment_into(buf, snippet_id, index, payload) -> int:
    """Writes a fragment frame at the start of `buf` (allocated once); returns its length.

    `payload` may be a memoryview slice of the snippet: nothing is copied but into `buf`, and
    `memoryview(buf)[:n]` can go to the notification as it is.
    """
    _buffer("payload", payload)
    _int("payload length", len(payload), 1, MAX_FRAGMENT_PAYLOAD)
    values = (_int("snippet_id", snippet_id, 0, _U32) & _U16, _int("index", index, 0, _U16))
    return _frame_with_tail(buf, _T_SNIPPET_FRAGMENT, "<HH", values, payload)


def encode_snippet_fragment(snippet_id=None, index=0, payload=b"", snippet_tag=None) -> bytes:
    """A fragment of snippet `snippet_id` (or, from a decoded dict, of `snippet_tag`)."""
    if (snippet_id is None) == (snippet_tag is None):
        raise WireError("give snippet_id or snippet_tag, one of them")
    if snippet_tag is not None:
        snippet_id = _int("snippet_tag", snippet_tag, 0, _U16)
    buf = bytearray(len(_buffer("payload", payload)) + FRAGMENT_OVERHEAD)
    encode_snippet_fragment_into(buf, snippet_id, index, payload)
    return bytes(buf)


def encode_live_data_into(buf, sample_index, samples) -> int:
    """Writes a LIVE_DATA frame (int16 LE samples) at the start of `buf`; returns its length."""
    _buffer("samples", samples)
    n = len(samples)
    if n < 2 or n > 2 * MAX_LIVE_SAMPLES or n & 1:
        raise WireError(f"live samples must be 1..{MAX_LIVE_SAMPLES} int16 values, got {n} bytes")
    values = (_int("sample_index", sample_index, 0, _U32),)
    return _frame_with_tail(buf, _T_LIVE_DATA, "<I", values, samples)


def encode_live_data(sample_index, samples) -> bytes:
    buf = bytearray(len(_buffer("samples", samples)) + FRAGMENT_OVERHEAD)
    encode_live_data_into(buf, sample_index, samples)
    return bytes(buf)


def encode_ack(seq, target, up_to_id) -> bytes:
    values = (
        _int("seq", seq, 0, _U8),
        _code("target", target, ACK_TARGETS),
        _int("up_to_id", up_to_id, 0, _U32),
    )
    return _frame(_T_ACK, _ACK, values)


def encode_resume(seq, snippet_id, first, count=0) -> bytes:
    values = (
        _int("seq", seq, 0, _U8),
        _int("snippet_id", snippet_id, 1, _U32),
        _int("first", first, 0, _U16),
        _int("count", count, 0, _U16),
    )
    return _frame(_T_RESUME, _RESUME, values)


def encode_time_sync(seq, gateway_ms) -> bytes:
    values = (_int("seq", seq, 0, _U8), _int("gateway_ms", gateway_ms, 0, _U64))
    return _frame(_T_TIME_SYNC, _TIME_SYNC, values)


def encode_config(seq, key, value=CONFIG_READ) -> bytes:
    values = (
        _int("seq", seq, 0, _U8),
        _code("key", key, CONFIG_KEYS),
        _int("value", value, _I32_MIN, _I32_MAX),
    )
    return _frame(_T_CONFIG, _CONFIG, values)


def encode_live(seq, enable, seconds=0) -> bytes:
    if enable not in (True, False):  # 1 and 0 compare equal to them
        raise WireError(f"enable must be True or False, got {enable!r}")
    values = (_int("seq", seq, 0, _U8), 1 if enable else 0, _int("seconds", seconds, 0, _U16))
    return _frame(_T_LIVE, _LIVE, values)


def encode_response(
    seq, request, status="OK", patch_ms=None, key=None, value=None, fs_hz=None, lsb_nv=None, lead_count=None
) -> bytes:
    code = _code("request", request, FRAME_TYPES)
    if code < _T_ACK:
        raise WireError(f"request must be a command (ack, resume, time_sync, config, live), got {request!r}")
    given = {
        "patch_ms": patch_ms,
        "key": key,
        "value": value,
        "fs_hz": fs_hz,
        "lsb_nv": lsb_nv,
        "lead_count": lead_count,
    }
    extra: tuple
    wanted: tuple
    if request == "time_sync":
        extra = (_int("patch_ms", patch_ms, 0, _U64),)
        wanted = ("patch_ms",)
    elif request == "config":
        extra = (_code("key", key, CONFIG_KEYS), _int("value", value, _I32_MIN, _I32_MAX))
        wanted = ("key", "value")
    elif request == "live":
        extra = (
            _int("fs_hz", fs_hz, 0, _U16),
            _int("lsb_nv", lsb_nv, 0, _U32),
            _int("lead_count", lead_count, 0, MAX_LEADS),
        )
        wanted = ("fs_hz", "lsb_nv", "lead_count")
    else:
        extra = ()
        wanted = ()
    for name in given:
        if name not in wanted and given[name] is not None:
            raise WireError(f"a {request} response has no field {name}")
    head = (_int("seq", seq, 0, _U8), code, _code("status", status, STATUSES))
    fmt = "<BBB" + (_RESPONSE_EXTRA[request][1:] if request in _RESPONSE_EXTRA else "")
    return _frame(_T_RESPONSE, fmt, head + extra)


_ENCODERS: dict = {
    "event": encode_event,
    "summary": encode_summary,
    "snippet_header": encode_snippet_header,
    "snippet_fragment": encode_snippet_fragment,
    "live_data": encode_live_data,
    "response": encode_response,
    "ack": encode_ack,
    "resume": encode_resume,
    "time_sync": encode_time_sync,
    "config": encode_config,
    "live": encode_live,
}


def encode(msg: dict) -> bytes:
    """The frame of a message dict as `decode` gives it (fields left out take their defaults)."""
    if not isinstance(msg, dict):
        raise WireError(f"a message is a dict, got {type(msg).__name__}")
    kind = msg.get("kind")
    encoder = _ENCODERS.get(kind) if isinstance(kind, str) else None
    if encoder is None:
        raise WireError(f"unknown message kind {kind!r}")
    fields = {}
    for name in msg:
        if name != "kind":
            if not isinstance(name, str):
                raise WireError(f"field names are strings, got {name!r}")
            fields[name] = msg[name]
    try:
        return encoder(**fields)
    except TypeError as exc:  # a field the kind does not have, or a missing one
        raise WireError(f"bad fields for a {kind}: {exc}") from exc


# ---------------------------------------------------------------- decoders


def _fixed(body, fmt: str, kind: str) -> tuple:
    size = struct.calcsize(fmt)
    if len(body) != size:
        raise WireError(f"{kind} body is {len(body)} bytes, must be {size}")
    return struct.unpack_from(fmt, body, 0)


def _decode_event(body) -> dict:
    v = _fixed(body, _EVENT, "event")
    if v[0] == 0:
        raise WireError("event_id 0 is not an event")
    if v[9] == 0 and v[10] != 0:
        raise WireError(f"event without snippet_id has snippet_samples {v[10]}")
    return {
        "kind": "event",
        "event_id": v[0],
        "event_type": _name("event type", v[1], EVENT_TYPE_NAMES),
        "severity": _name("severity", v[2], SEVERITY_NAMES),
        "flags": v[3],
        "confidence": v[4],
        "onset_ms": v[5],
        "end_ms": v[5] + v[6],
        "heart_rate": v[7],
        "beat_count": v[8],
        "snippet_id": v[9],
        "snippet_samples": v[10],
    }


def _decode_summary(body) -> dict:
    v = _fixed(body, _SUMMARY, "summary")
    if v[10] > 100:
        raise WireError(f"battery_percent {v[10]} is above 100")
    return {
        "kind": "summary",
        "time_ms": v[0],
        "period_s": v[1],
        "flags": v[2],
        "heart_rate": v[3],
        "heart_rate_min": v[4],
        "heart_rate_max": v[5],
        "beat_count": v[6],
        "veb_count": v[7],
        "sveb_count": v[8],
        "signal_quality": v[9],
        "battery_percent": v[10],
    }


def _decode_snippet_header(body) -> dict:
    v = _fixed(body, _SNIPPET_HEADER, "snippet_header")
    msg = {
        "kind": "snippet_header",
        "snippet_id": v[0],
        "event_id": v[1],
        "start_ms": v[2],
        "fs_hz": v[3],
        "lsb_nv": v[4],
        "lead_count": v[5],
        "encoding": _name("encoding", v[6], ENCODING_NAMES),
        "flags": v[7],
        "total_samples": v[8],
        "payload_bytes": v[9],
        "fragment_size": v[10],
        "total_fragments": v[11],
        "crc32": v[12],
    }
    # The encoder's checks are the decoder's: one definition of a valid header.
    encode_snippet_header(**{k: msg[k] for k in msg if k != "kind"})
    return msg


def _decode_snippet_fragment(body) -> dict:
    if len(body) < 5:
        raise WireError(f"snippet_fragment body is {len(body)} bytes, must be at least 5")
    tag, index = struct.unpack_from("<HH", body, 0)
    return {"kind": "snippet_fragment", "snippet_tag": tag, "index": index, "payload": bytes(body[4:])}


def _decode_live_data(body) -> dict:
    n = len(body)
    if n < 6 or n & 1:
        raise WireError(f"live_data body is {n} bytes, must be 4 + 2k (k >= 1)")
    return {
        "kind": "live_data",
        "sample_index": struct.unpack_from("<I", body, 0)[0],
        "samples": bytes(body[4:]),
    }


def _decode_response(body) -> dict:
    if len(body) < 3:
        raise WireError(f"response body is {len(body)} bytes, must be at least 3")
    request = _name("request", body[1], FRAME_KINDS)
    if body[1] < _T_ACK:
        raise WireError(f"response to {request}, which is no command")
    msg = {
        "kind": "response",
        "seq": body[0],
        "request": request,
        "status": _name("status", body[2], STATUS_NAMES),
    }
    fmt = _RESPONSE_EXTRA.get(request)
    if fmt is None:
        if len(body) != 3:
            raise WireError(f"{request} response body is {len(body)} bytes, must be 3")
        return msg
    v = _fixed(memoryview(body)[3:], fmt, request + " response extra")
    if request == "time_sync":
        msg["patch_ms"] = v[0]
    elif request == "config":
        msg["key"] = _name("config key", v[0], CONFIG_KEY_NAMES)
        msg["value"] = v[1]
    else:
        if v[2] > MAX_LEADS:
            raise WireError(f"lead_count {v[2]} is above {MAX_LEADS}")
        msg["fs_hz"] = v[0]
        msg["lsb_nv"] = v[1]
        msg["lead_count"] = v[2]
    return msg


def _decode_ack(body) -> dict:
    v = _fixed(body, _ACK, "ack")
    return {
        "kind": "ack",
        "seq": v[0],
        "target": _name("ack target", v[1], ACK_TARGET_NAMES),
        "up_to_id": v[2],
    }


def _decode_resume(body) -> dict:
    v = _fixed(body, _RESUME, "resume")
    if v[1] == 0:
        raise WireError("resume of snippet_id 0")
    return {"kind": "resume", "seq": v[0], "snippet_id": v[1], "first": v[2], "count": v[3]}


def _decode_time_sync(body) -> dict:
    v = _fixed(body, _TIME_SYNC, "time_sync")
    return {"kind": "time_sync", "seq": v[0], "gateway_ms": v[1]}


def _decode_config(body) -> dict:
    v = _fixed(body, _CONFIG, "config")
    return {"kind": "config", "seq": v[0], "key": _name("config key", v[1], CONFIG_KEY_NAMES), "value": v[2]}


def _decode_live(body) -> dict:
    v = _fixed(body, _LIVE, "live")
    if v[1] > 1:
        raise WireError(f"live enable must be 0 or 1, got {v[1]}")
    return {"kind": "live", "seq": v[0], "enable": v[1] == 1, "seconds": v[2]}


_DECODERS = {
    _T_EVENT: _decode_event,
    _T_SUMMARY: _decode_summary,
    _T_SNIPPET_HEADER: _decode_snippet_header,
    _T_SNIPPET_FRAGMENT: _decode_snippet_fragment,
    _T_LIVE_DATA: _decode_live_data,
    _T_RESPONSE: _decode_response,
    _T_ACK: _decode_ack,
    _T_RESUME: _decode_resume,
    _T_TIME_SYNC: _decode_time_sync,
    _T_CONFIG: _decode_config,
    _T_LIVE: _decode_live,
}


def check_frame(frame) -> int:
    """Checks a frame's size, version, length byte and CRC; returns its frame type."""
    if not isinstance(frame, (bytes, bytearray, memoryview)):
        raise WireError(f"a frame is bytes, got {type(frame).__name__}")
    n = len(frame)
    if n > MAX_FRAME:
        raise WireError(f"oversized frame: {n} bytes, at most {MAX_FRAME}")
    if n < FRAME_OVERHEAD:
        raise WireError(f"truncated frame: {n} bytes, at least {FRAME_OVERHEAD}")
    version = frame[0] >> 5
    if version != VERSION:
        raise WireError(f"wrong version {version} (this is version {VERSION})")
    size = frame[1] + FRAME_OVERHEAD
    if n < size:
        raise WireError(f"truncated frame: {n} bytes, its header says {size}")
    if n > size:
        raise WireError(f"{n - size} bytes after the end of a {size}-byte frame")
    crc = frame[n - 2] | (frame[n - 1] << 8)
    computed = crc16_ccitt(memoryview(frame)[0 : n - 2])
    if crc != computed:
        raise WireError(f"CRC mismatch: frame says 0x{crc:04x}, bytes give 0x{computed:04x}")
    return frame[0] & 0x1F


def _decode(frame) -> dict:
    ftype = check_frame(frame)
    decoder = _DECODERS.get(ftype)
    if decoder is None:
        raise WireError(f"unknown frame type 0x{ftype:02x}")
    return decoder(memoryview(frame)[2 : len(frame) - 2])


def decode(frame) -> dict:
    """The message in one frame, as a dict with "kind"; WireError for anything else."""
    try:
        return _decode(frame)
    except WireError:
        raise
    except Exception as exc:  # the contract is WireError only; the fuzz tests call _decode
        raise WireError(f"malformed frame ({type(exc).__name__}: {exc})") from exc


# ---------------------------------------------------------------- frames split over notifications


class FrameJoiner:
    """Joins a frame sent over several notifications (ATT MTU below the frame's size).

    One joiner per characteristic. `feed(value)` returns the frame's bytes once complete,
    else None; it raises WireError (and starts afresh) for bytes that cannot be a frame.
    Memory: one MAX_FRAME buffer, allocated here.
    """

    def __init__(self) -> None:
        self._buf = bytearray(MAX_FRAME)
        self._have = 0

    def reset(self) -> None:
        self._have = 0

    def feed(self, value):
        _buffer("notification", value)
        have = self._have
        n = len(value)
        if n == 0:
            return None
        if have == 0 and value[0] >> 5 != VERSION:
            raise WireError(f"notification does not start a version {VERSION} frame")
        if have + n > MAX_FRAME:
            self._have = 0
            raise WireError("notifications add up to more than a frame")
        buf = self._buf
        buf[have : have + n] = value
        have += n
        if have < 2:
            self._have = have
            return None
        size = buf[1] + FRAME_OVERHEAD
        if have < size:
            self._have = have
            return None
        self._have = 0
        if have > size:
            raise WireError(f"notification runs {have - size} bytes past the end of its frame")
        return bytes(buf[:size])


# ---------------------------------------------------------------- snippets


def fragment_bounds(header: dict, index: int) -> tuple:
    """(start, end) of fragment `index` in the snippet's payload."""
    start = index * header["fragment_size"]
    return start, min(start + header["fragment_size"], header["payload_bytes"])


def snippet_header_for(
    snippet_id,
    event_id,
    start_ms,
    fs_hz,
    lsb_nv,
    lead_count,
    payload,
    fragment_size,
    encoding="int16",
    flags=0,
    total_samples=None,
) -> dict:
    """The SNIPPET_HEADER message of `payload` (sizes and CRC computed here); encode() it."""
    _buffer("payload", payload)
    _int("lead_count", lead_count, 1, MAX_LEADS)
    if total_samples is None:
        if encoding != "int16":
            raise WireError(f"total_samples is needed for encoding {encoding!r}")
        total_samples = len(payload) // (2 * lead_count)
    _int("fragment_size", fragment_size, 1, MAX_FRAGMENT_PAYLOAD)
    msg = {
        "kind": "snippet_header",
        "snippet_id": snippet_id,
        "event_id": event_id,
        "start_ms": start_ms,
        "fs_hz": fs_hz,
        "lsb_nv": lsb_nv,
        "lead_count": lead_count,
        "encoding": encoding,
        "flags": flags,
        "total_samples": total_samples,
        "payload_bytes": len(payload),
        "fragment_size": fragment_size,
        "total_fragments": fragment_count(len(payload), fragment_size),
        "crc32": _crc32(payload),
    }
    encode(msg)  # checks every field
    return msg


class SnippetReassembler:
    """Gathers one snippet's fragments, in any order, into its payload.

    start(header) -> add(fragment)... -> payload(); start() with the same header again keeps
    what came in, another header starts afresh. `add` returns True for a new fragment and
    False for a duplicate; `missing()` lists the fragments still wanted and `resume_ranges()`
    the RESUME commands (first, count) that ask for them. Memory: the payload and one byte per
    fragment, allocated in start(); snippets above `max_payload_bytes` are refused.
    """

    def __init__(self, max_payload_bytes: int = 262144) -> None:
        self.max_payload_bytes = max_payload_bytes
        self.header = None  # type: dict | None
        self._data = bytearray(0)
        self._seen = bytearray(0)
        self.received = 0

    def start(self, header: dict) -> None:
        if not isinstance(header, dict) or header.get("kind") != "snippet_header":
            raise WireError("start() takes a decoded snippet_header")
        encode(header)  # a valid header, or WireError
        if header == self.header:
            return  # sent again (RESUME does): keep the fragments already in
        size = header["payload_bytes"]
        if size > self.max_payload_bytes:
            raise WireError(f"snippet of {size} bytes is above the limit of {self.max_payload_bytes}")
        self.header = header
        self._data = bytearray(size)
        self._seen = bytearray(header["total_fragments"])
        self.received = 0

    @property
    def complete(self) -> bool:
        return self.header is not None and self.received == len(self._seen)

    def add(self, fragment: dict) -> bool:
        header = self.header
        if header is None:
            raise WireError("fragment before its snippet_header")
        if not isinstance(fragment, dict) or fragment.get("kind") != "snippet_fragment":
            raise WireError("add() takes a decoded snippet_fragment")
        if fragment["snippet_tag"] != header["snippet_id"] & _U16:
            raise WireError(
                f"fragment of snippet tag {fragment['snippet_tag']}, expecting {header['snippet_id'] & _U16}"
            )
        index = fragment["index"]
        total = len(self._seen)
        if not 0 <= index < total:
            raise WireError(f"fragment index {index} outside 0..{total - 1}")
        start, end = fragment_bounds(header, index)
        payload = fragment["payload"]
        if len(payload) != end - start:
            raise WireError(f"fragment {index} has {len(payload)} bytes, must have {end - start}")
        if self._seen[index]:
            if self._data[start:end] != payload:
                raise WireError(f"fragment {index} sent twice with different bytes")
            return False
        self._data[start:end] = payload
        self._seen[index] = 1
        self.received += 1
        return True

    def missing(self) -> list:
        seen = self._seen
        return [i for i in range(len(seen)) if not seen[i]]

    def resume_ranges(self) -> list:
        """[(first, count), ...]: one RESUME per run of missing fragments."""
        ranges: list = []
        for i in self.missing():
            if ranges and ranges[-1][0] + ranges[-1][1] == i:
                ranges[-1] = (ranges[-1][0], ranges[-1][1] + 1)
            else:
                ranges.append((i, 1))
        return ranges

    def payload(self) -> bytes:
        """The whole payload once every fragment is in and its CRC-32 matches the header's."""
        header = self.header
        if header is None or not self.complete:
            raise WireError(f"snippet incomplete: {len(self._seen) - self.received} fragments missing")
        crc = _crc32(self._data)
        if crc != header["crc32"]:
            raise WireError(
                "snippet CRC-32 mismatch: header says 0x{:08x}, payload gives 0x{:08x}".format(
                    header["crc32"], crc
                )
            )
        return bytes(self._data)


def delta_encode_into(samples, lead_count: int, out) -> int:
    """delta8 of int16 LE `samples` (leads interleaved) into `out`; its length, or -1 when
    it would not fit in `out` (pass a buffer of the int16 size: -1 then means keep int16)."""
    _buffer("samples", samples)
    _int("lead_count", lead_count, 1, MAX_LEADS)
    if len(samples) % (2 * lead_count):
        raise WireError(f"{len(samples)} bytes are not whole int16 samples of {lead_count} leads")
    values = array("h", samples if isinstance(samples, (bytes, bytearray)) else bytes(samples))
    prev = [0] * lead_count
    limit = len(out)
    pos = 0
    lead = 0
    for s in values:
        d = s - prev[lead]
        prev[lead] = s
        if -127 <= d <= 127:
            if pos >= limit:
                return -1
            out[pos] = d & 0xFF
            pos += 1
        else:
            if pos + 3 > limit:
                return -1
            out[pos] = 0x80
            out[pos + 1] = s & 0xFF
            out[pos + 2] = (s >> 8) & 0xFF
            pos += 3
        lead += 1
        if lead == lead_count:
            lead = 0
    return pos


def compress_samples(samples, lead_count: int) -> tuple:
    """(encoding, payload): delta8 when it is smaller than the int16 samples, else int16."""
    out = bytearray(len(_buffer("samples", samples)))
    n = delta_encode_into(samples, lead_count, out)
    if n < 0 or n >= len(samples):
        return "int16", bytes(samples)
    return "delta8", bytes(memoryview(out)[0:n])


def delta_decode(data, lead_count: int, total_samples: int) -> bytes:
    """int16 LE samples of a delta8 payload; WireError unless it holds exactly that many."""
    _buffer("data", data)
    _int("lead_count", lead_count, 1, MAX_LEADS)
    _int("total_samples", total_samples, 1, _U32)
    n = lead_count * total_samples
    size = len(data)
    if size < n or size > 3 * n:
        raise WireError(f"delta8 payload of {n} samples cannot be {size} bytes")
    out = array("h", bytes(2 * n))
    prev = [0] * lead_count
    pos = 0
    lead = 0
    for i in range(n):
        if pos >= size:
            raise WireError(f"delta8 payload ends after {i} of {n} samples")
        b = data[pos]
        if b == 0x80:
            if pos + 3 > size:
                raise WireError(f"delta8 payload ends inside sample {i}")
            s = data[pos + 1] | (data[pos + 2] << 8)
            if s > 0x7FFF:
                s -= 0x10000
            pos += 3
        else:
            s = prev[lead] + (b - 256 if b > 127 else b)
            if s < -0x8000 or s > 0x7FFF:
                raise WireError(f"delta8 sample {i} leaves the int16 range")
            pos += 1
        out[i] = s
        prev[lead] = s
        lead += 1
        if lead == lead_count:
            lead = 0
    if pos != size:
        raise WireError(f"{size - pos} bytes left over after {n} delta8 samples")
    return bytes(out)


def snippet_samples(header: dict, payload) -> bytes:
    """The snippet's int16 LE samples (leads interleaved) from its reassembled payload."""
    if header.get("encoding") == "delta8":
        return delta_decode(payload, header["lead_count"], header["total_samples"])
    return bytes(payload)


def snippet_message(header: dict, payload) -> dict:
    """A whole snippet as one message (kind "snippet", samples as int16 LE bytes): what the
    gateway uploads in JSON."""
    msg = {"kind": "snippet", "samples": snippet_samples(header, payload)}
    for name in _SNIPPET_FIELDS:
        msg[name] = header[name]
    _check_snippet(msg)
    return msg


_SNIPPET_FIELDS = (
    "snippet_id",
    "event_id",
    "start_ms",
    "fs_hz",
    "lsb_nv",
    "lead_count",
    "total_samples",
    "flags",
)


def _check_snippet(msg: dict) -> dict:
    names = set(_SNIPPET_FIELDS)
    names.add("kind")
    names.add("samples")
    if set(msg) != names:
        raise WireError("a snippet has exactly the fields {}".format(", ".join(sorted(names))))
    _int("snippet_id", msg["snippet_id"], 1, _U32)
    _int("event_id", msg["event_id"], 0, _U32)
    _int("start_ms", msg["start_ms"], 0, _U64)
    _int("fs_hz", msg["fs_hz"], 1, _U16)
    _int("lsb_nv", msg["lsb_nv"], 1, _U32)
    _int("lead_count", msg["lead_count"], 1, MAX_LEADS)
    _int("total_samples", msg["total_samples"], 1, _U32)
    _int("flags", msg["flags"], 0, _U8)
    _check_samples("int16", msg["lead_count"], msg["total_samples"], len(_buffer("samples", msg["samples"])))
    return msg


# ---------------------------------------------------------------- standard GATT characteristics

_HR_UINT16 = const(0x01)
_HR_CONTACT_DETECTED = const(0x02)
_HR_CONTACT_SUPPORTED = const(0x04)
_HR_ENERGY = const(0x08)
_HR_RR = const(0x10)


def rr_ms_to_1024(rr_ms: int) -> int:
    """An RR interval in ms as the Heart Rate Measurement carries it (1/1024 s, rounded)."""
    return (rr_ms * 1024 + 500) // 1000


def rr_1024_to_ms(rr: int) -> int:
    return (rr * 1000 + 512) // 1024


def encode_heart_rate(bpm, rr=(), energy_kj=None, contact=None) -> bytes:
    """Heart Rate Measurement (0x2A37) per the Heart Rate Service spec.

    bpm goes as uint8 when it fits, else uint16 (flag bit 0); contact None = sensor contact
    not supported (bits 1-2), True/False = supported and (not) detected; energy_kj (uint16,
    bit 3) when given; rr: RR intervals in 1/1024 s (uint16 each, bit 4 when any). At MTU 23
    (20 bytes) 9 RR intervals fit (8 with energy or a uint16 bpm).
    """
    _int("bpm", bpm, 0, _U16)
    flags = 0 if bpm <= _U8 else _HR_UINT16
    if contact is not None:
        if contact not in (True, False):
            raise WireError(f"contact must be None, True or False, got {contact!r}")
        flags |= _HR_CONTACT_SUPPORTED | (_HR_CONTACT_DETECTED if contact else 0)
    if energy_kj is not None:
        _int("energy_kj", energy_kj, 0, _U16)
        flags |= _HR_ENERGY
    if not isinstance(rr, (list, tuple)):
        raise WireError(f"rr must be a list of RR intervals, got {type(rr).__name__}")
    if rr:
        flags |= _HR_RR
    out = bytearray(5 + 2 * len(rr))
    out[0] = flags
    pos = 1
    if flags & _HR_UINT16:
        struct.pack_into("<H", out, 1, bpm)
        pos = 3
    else:
        out[1] = bpm
        pos = 2
    if energy_kj is not None:
        struct.pack_into("<H", out, pos, energy_kj)
        pos += 2
    for value in rr:
        struct.pack_into("<H", out, pos, _int("rr", value, 0, _U16))
        pos += 2
    return bytes(out[:pos])


def decode_heart_rate(value) -> dict:
    """A Heart Rate Measurement (0x2A37) value; reserved flag bits 5-7 are ignored."""
    try:
        _buffer("heart rate measurement", value)
        n = len(value)
        if n < 2:
            raise WireError(f"heart rate measurement of {n} bytes is truncated")
        flags = value[0]
        if flags & _HR_UINT16:
            if n < 3:
                raise WireError("heart rate measurement with uint16 bpm is truncated")
            bpm = value[1] | (value[2] << 8)
            pos = 3
        else:
            bpm = value[1]
            pos = 2
        energy = None
        if flags & _HR_ENERGY:
            if n < pos + 2:
                raise WireError("heart rate measurement with energy expended is truncated")
            energy = value[pos] | (value[pos + 1] << 8)
            pos += 2
        rr = []
        if flags & _HR_RR:
            if (n - pos) & 1:
                raise WireError("RR intervals of heart rate measurement end in half a value")
            while pos < n:
                rr.append(value[pos] | (value[pos + 1] << 8))
                pos += 2
        elif pos != n:
            raise WireError(f"{n - pos} bytes after the heart rate measurement")
        contact = None
        if flags & _HR_CONTACT_SUPPORTED:
            contact = bool(flags & _HR_CONTACT_DETECTED)
        return {"kind": "heart_rate", "bpm": bpm, "contact": contact, "energy_kj": energy, "rr": rr}
    except WireError:
        raise
    except Exception as exc:
        raise WireError(f"malformed heart rate measurement ({type(exc).__name__}: {exc})") from exc


def encode_battery_level(percent) -> bytes:
    """Battery Level (0x2A19): one uint8, 0..100 %."""
    return bytes((_int("battery level", percent, 0, 100),))


def decode_battery_level(value) -> dict:
    if not isinstance(value, (bytes, bytearray, memoryview)) or len(value) != 1 or value[0] > 100:
        raise WireError(f"battery level is one byte 0..100, got {value!r}")
    return {"kind": "battery_level", "percent": value[0]}


# ---------------------------------------------------------------- JSON form

_BYTES_FIELDS = ("payload", "samples")


def _b64encode(data) -> str:
    from binascii import b2a_base64

    return b2a_base64(bytes(data)).decode().strip()


def _b64decode(name: str, text) -> bytes:
    from binascii import a2b_base64

    if not isinstance(text, str):
        raise WireError(f"{name} must be a base64 string in JSON, got {type(text).__name__}")
    try:
        data = a2b_base64(text.encode())
    except Exception as exc:  # binascii.Error on CPython, others elsewhere
        raise WireError(f"{name} is not base64 ({exc})") from exc
    if _b64encode(data) != text:  # one spelling per value: no whitespace, padding as required
        raise WireError(f"{name} is not canonical base64")
    return data


def _json_checked(msg: dict) -> dict:
    """The message, checked: WireError unless it is valid and has all its fields."""
    kind = msg.get("kind")
    if kind in _ENCODERS:
        canonical = decode(encode(msg))
    elif kind == "heart_rate":
        fields = dict(msg)
        del fields["kind"]
        try:
            canonical = decode_heart_rate(encode_heart_rate(**fields))
        except TypeError as exc:
            raise WireError(f"bad fields for a heart_rate: {exc}") from exc
        if canonical["rr"] != list(fields.get("rr", ())):
            raise WireError("rr must be a list")
    elif kind == "battery_level":
        canonical = decode_battery_level(encode_battery_level(msg.get("percent")))
    elif kind == "snippet":
        return _check_snippet(msg)
    else:
        raise WireError(f"unknown message kind {kind!r}")
    if set(canonical) != set(msg):
        raise WireError(
            "a {} has the fields {}, got {}".format(
                kind, ", ".join(sorted(canonical)), ", ".join(sorted(msg))
            )
        )
    return canonical


def to_json(msg: dict) -> dict:
    """The JSON-serialisable form of a message: "v" added, bytes fields as base64 strings."""
    if not isinstance(msg, dict):
        raise WireError(f"a message is a dict, got {type(msg).__name__}")
    checked = _json_checked(msg)
    out = {"v": VERSION}
    for name in checked:
        value = checked[name]
        if name in _BYTES_FIELDS:
            value = _b64encode(value)
        elif name == "rr":
            value = list(value)
        out[name] = value
    return out


def from_json(obj) -> dict:
    """The message of a JSON form (as json.loads gives it); WireError for anything invalid."""
    try:
        if not isinstance(obj, dict):
            raise WireError(f"a JSON message is an object, got {type(obj).__name__}")
        if obj.get("v") != VERSION or isinstance(obj.get("v"), bool):
            raise WireError(f"JSON message version {obj.get('v')!r}, this is version {VERSION}")
        msg = {}
        for name in obj:
            if name != "v":
                value = obj[name]
                msg[name] = _b64decode(name, value) if name in _BYTES_FIELDS else value
        return _json_checked(msg)
    except WireError:
        raise
    except Exception as exc:
        raise WireError(f"malformed JSON message ({type(exc).__name__}: {exc})") from exc
