"""The wire format on the real MicroPython VM: the golden bytes, and a fuzz run that must not crash it.

The same committed golden file as the CPython tests; the fuzz frames are made here in CPython
(random, truncated, bit-flipped, with forged lengths, and garbage bodies behind a valid CRC),
decoded in the VM by `wire._decode` (no last-resort conversion of stray exceptions), and
each outcome compared with CPython's: the VM accepts exactly the frames CPython accepts, and
decodes them to the same message.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from firmware import crc, wire
from firmware.wire import WireError
from hardware_sim.micropython_vm import (
    firmware_modules,
    run_micropython,
)

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "wire_vectors.json"
FUZZ_FRAMES = 4000


pytestmark = pytest.mark.usefixtures("micropython_vm")


_GOLDEN_SCRIPT = """
import json
from binascii import unhexlify
from firmware import crc, wire

doc = json.load(open("/data/golden.json"))
bad = []
count = 0
for e in doc["frames"]:
    frame = unhexlify(e["hex"])
    msg = wire.from_json(e["json"])
    if wire.encode(msg) != frame:
        bad.append("encode " + e["name"] + " " + wire.encode(msg).hex())
    if wire.decode(frame) != msg:
        bad.append("decode " + e["name"] + " " + repr(wire.decode(frame)))
    if wire.to_json(wire.decode(frame)) != e["json"]:
        bad.append("to_json " + e["name"])
    count += 1
for e in doc["characteristics"]:
    value = unhexlify(e["hex"])
    msg = wire.from_json(e["json"])
    if msg["kind"] == "heart_rate":
        ok = wire.encode_heart_rate(msg["bpm"], msg["rr"], msg["energy_kj"], msg["contact"]) == value
        ok = ok and wire.decode_heart_rate(value) == msg
    else:
        ok = wire.encode_battery_level(msg["percent"]) == value and wire.decode_battery_level(value) == msg
    if not ok:
        bad.append("characteristic " + e["name"])
    count += 1
for e in doc["delta8"]:
    samples = unhexlify(e["samples_hex"])
    out = bytearray(len(samples))
    n = wire.delta_encode_into(samples, e["lead_count"], out)
    if bytes(out[:n]) != unhexlify(e["payload_hex"]):
        bad.append("delta8 encode " + e["name"])
    if wire.delta_decode(unhexlify(e["payload_hex"]), e["lead_count"], e["total_samples"]) != samples:
        bad.append("delta8 decode " + e["name"])
    count += 1
for e in doc["crc"]:
    data = unhexlify(e["data_hex"])
    if (crc.crc16_ccitt(data), crc.crc32_py(data), crc.crc32(data)) != (e["crc16"], e["crc32"], e["crc32"]):
        bad.append("crc " + e["data_hex"][:16])
    count += 1
if crc.crc16_ccitt(b"123456789") != 0x29B1 or crc.crc32_py(b"123456789") != 0xCBF43926:
    bad.append("check values")
tables = doc["tables"]
for name, table in (("event_types", wire.EVENT_TYPES), ("frame_types", wire.FRAME_TYPES),
                    ("config_keys", wire.CONFIG_KEYS), ("statuses", wire.STATUSES)):
    if tables[name] != table:
        bad.append("table " + name)
print(count)
for line in bad:
    print("BAD", line)
"""


def test_golden_vectors_on_micropython() -> None:
    result = run_micropython(_GOLDEN_SCRIPT, firmware_modules(), {"/data/golden.json": GOLDEN}, timeout_s=120)
    lines = result.stdout.splitlines()
    doc = json.loads(GOLDEN.read_text())
    expected = sum(len(doc[k]) for k in ("frames", "characteristics", "delta8", "crc"))
    assert lines[0] == str(expected)
    assert [ln for ln in lines if ln.startswith("BAD")] == []


def _seal(head_and_body: bytes) -> bytes:
    return head_and_body + crc.crc16_ccitt(head_and_body).to_bytes(2, "little")


def fuzz_frames(count: int, seed: int = 2025) -> list[bytes]:
    """Frames of every sort of damage, deterministic."""
    rng = random.Random(seed)
    doc = json.loads(GOLDEN.read_text())
    valid = [bytes.fromhex(e["hex"]) for e in doc["frames"]]
    sizes = sorted({len(f) - 4 for f in valid} | set(range(13)))
    frames: list[bytes] = []
    while len(frames) < count:
        base = rng.choice(valid)
        how = rng.randrange(8)
        if how == 0:
            frame = rng.randbytes(rng.randrange(0, 300))
        elif how == 1:
            frame = base[: rng.randrange(len(base))]
        elif how == 2:
            flipped = bytearray(base)
            for _ in range(rng.randrange(1, 4)):
                flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
            frame = bytes(flipped)
        elif how == 3:  # garbage body behind a valid header and CRC
            ftype = rng.choice([*wire.FRAME_TYPES.values(), rng.randrange(32)])
            body = rng.randbytes(rng.choice(sizes))
            frame = _seal(bytes([0x20 | ftype, len(body)]) + body)
        elif how == 4:  # valid frame, a few body bytes changed, CRC recomputed
            changed = bytearray(base[:-2])
            for _ in range(rng.randrange(1, 3)):
                changed[rng.randrange(2, len(changed))] = rng.randrange(256)
            frame = _seal(bytes(changed))
        elif how == 5:  # forged length byte, CRC recomputed
            frame = _seal(bytes([base[0], rng.randrange(256)]) + base[2:-2] + rng.randbytes(rng.randrange(3)))
        elif how == 6:  # oversized, or a wrong version
            frame = (
                base + bytes(rng.randrange(1, 300))
                if rng.random() < 0.5
                else bytes([base[0] ^ 0xE0]) + base[1:]
            )
        else:
            frame = base
        frames.append(frame)
    return frames


def _cpython_outcome(frame: bytes) -> dict[str, Any] | None:
    try:
        return wire.to_json(wire._decode(frame))
    except WireError:
        return None


_FUZZ_SCRIPT = """
import json
from firmware import wire

data = open("/data/fuzz.bin", "rb").read()
out = open("/out/outcomes.jsonl", "w")
pos = 0
while pos < len(data):
    n = data[pos] | (data[pos + 1] << 8)
    frame = data[pos + 2 : pos + 2 + n]
    pos += 2 + n
    try:
        line = json.dumps(wire.to_json(wire._decode(frame)))
    except wire.WireError:
        line = "E"
    out.write(line + "\\n")
    # The public decode and the joiner take the same bytes without crashing either.
    try:
        wire.decode(memoryview(frame))
    except wire.WireError:
        pass
    joiner = wire.FrameJoiner()
    try:
        for i in range(0, len(frame), 20):
            joiner.feed(frame[i : i + 20])
    except wire.WireError:
        pass
out.close()
print("done")
"""


def test_fuzzed_frames_on_micropython_raise_only_wire_error() -> None:
    frames = fuzz_frames(FUZZ_FRAMES)
    blob = b"".join(len(f).to_bytes(2, "little") + f for f in frames)
    # Any exception but WireError inside the VM fails here with MicroPython's traceback.
    result = run_micropython(_FUZZ_SCRIPT, firmware_modules(), {"/data/fuzz.bin": blob}, timeout_s=300)
    assert result.stdout.strip().endswith("done")
    lines = result.files["outcomes.jsonl"].decode().splitlines()
    assert len(lines) == len(frames)
    accepted = 0
    for frame, line in zip(frames, lines, strict=True):
        expected = _cpython_outcome(frame)
        got = None if line == "E" else json.loads(line)
        assert got == expected, frame.hex()
        accepted += got is not None
    # Both outcomes occur in bulk: the run exercised the decoders, not only the CRC check.
    assert 500 < accepted < len(frames) - 1500


_PARTS_SCRIPT = """
from firmware import wire
from firmware.wire import WireError

def must_fail(what, fn, *args):
    try:
        fn(*args)
    except WireError as e:
        return
    print("NOT REJECTED", what)

T0 = 1735689600000
# MicroPython's struct.pack wraps out-of-range values silently: the encoders must not.
must_fail("confidence 256", wire.encode_event, 1, "VT", T0, T0, 256)
must_fail("negative id", wire.encode_event, -1, "VT", T0, T0, 5)
must_fail("event id 2**32", wire.encode_event, 2 ** 32, "VT", T0, T0, 5)
must_fail("onset 2**64", wire.encode_event, 1, "VT", 2 ** 64, 2 ** 64, 5)
must_fail("seq 256", wire.encode_ack, 256, "event", 1)
must_fail("config 2**31", wire.encode_config, 1, "TACHY_BPM", 2 ** 31)
must_fail("unknown type", wire.encode_event, 1, "VF", T0, T0, 5)
must_fail("not bytes", wire.decode, "abc")
must_fail("bad json", wire.from_json, {"v": 1, "kind": "snippet_fragment", "snippet_tag": 1, "index": 0,
                                        "payload": "@@"})

# A whole snippet at MTU 23, fragments in reverse with a duplicate, resumed, CRC checked.
samples = bytearray(2 * 600)
for i in range(600):
    v = (i % 40) * 9 - 180
    samples[2 * i] = v & 0xFF
    samples[2 * i + 1] = (v >> 8) & 0xFF
encoding, payload = wire.compress_samples(samples, 1)
header = wire.snippet_header_for(0x10005, 3, T0, 250, 305, 1, payload, wire.fragment_size_for_mtu(23),
                                 encoding, 0, 600)
frames = []
buf = bytearray(20)
view = memoryview(payload)
for i in range(header["total_fragments"]):
    start, end = wire.fragment_bounds(header, i)
    n = wire.encode_snippet_fragment_into(buf, 0x10005, i, view[start:end])
    frames.append(bytes(buf[:n]))
r = wire.SnippetReassembler(max_payload_bytes=4096)
r.start(wire.decode(wire.encode(header)))
for f in reversed(frames[3:]):
    r.add(wire.decode(f))
dup = r.add(wire.decode(frames[10]))
ranges = r.resume_ranges()
for first, count in ranges:
    for i in range(first, first + count):
        r.add(wire.decode(frames[i]))
ok = wire.snippet_samples(header, r.payload()) == bytes(samples)
print("|".join(str(x) for x in (encoding, len(payload), header["total_fragments"], dup, ranges, ok,
                                max(len(f) for f in frames))))

# An event over 20-byte notifications, joined.
frame = wire.encode_event(9, "NSVT", T0, T0 + 2100, 200, 171, 6, "HIGH")
j = wire.FrameJoiner()
got = [j.feed(frame[i : i + 20]) for i in range(0, len(frame), 20)]
print(got[-1] == frame, wire.decode(got[-1])["event_type"])
"""


def test_encoders_snippets_and_joiner_on_micropython() -> None:
    result = run_micropython(_PARTS_SCRIPT, firmware_modules(), timeout_s=120)
    lines = result.stdout.splitlines()
    assert [ln for ln in lines if ln.startswith("NOT REJECTED")] == []
    encoding, size, fragments, dup, ranges, ok, biggest = lines[0].split("|")
    assert (encoding, ok, biggest, dup, ranges) == ("delta8", "True", "20", "False", "[(0, 3)]")
    # The VM's result is CPython's.
    samples = b"".join(((i % 40) * 9 - 180).to_bytes(2, "little", signed=True) for i in range(600))
    assert wire.compress_samples(samples, 1)[0] == "delta8"
    payload = wire.compress_samples(samples, 1)[1]
    assert int(size) == len(payload) and int(fragments) == -(-len(payload) // 12)
    assert lines[1] == "True NSVT"
