"""The patch <-> gateway wire format (firmware/wire.py) on CPython: golden bytes, errors, parts.

The golden vectors in tests/golden/wire_vectors.json were generated once by this file
(`.venv/bin/python tests/test_firmware_wire.py --write`) and are committed: every test here
reads the committed file, so a change to the format fails until the file is rewritten on
purpose (and VERSION is bumped).
"""

from __future__ import annotations

import binascii
import json
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from firmware import crc, wire  # noqa: E402
from firmware.wire import WireError  # noqa: E402

GOLDEN = ROOT / "tests" / "golden" / "wire_vectors.json"
T0 = 1_735_689_600_000  # 2025-01-01T00:00:00Z in ms


def _ramp(n: int, start: int = 0) -> bytes:
    return bytes((start + i * 37) & 0xFF for i in range(n))


def _golden_messages() -> list[tuple[str, dict[str, Any]]]:
    """Every frame kind and variant the golden file pins."""
    one_lead = bytes(range(256)) * 19 + bytes(range(16))  # 4880 bytes: 2440 samples
    delta = bytes(range(200))
    return [
        (
            "event VT with snippet",
            {
                "kind": "event",
                "event_id": 4242,
                "event_type": "VT",
                "severity": "CRITICAL",
                "flags": 0,
                "confidence": 242,
                "onset_ms": T0 + 1234,
                "end_ms": T0 + 1234 + 14_800,
                "heart_rate": 188,
                "beat_count": 46,
                "snippet_id": 77,
                "snippet_samples": 7500,
            },
        ),
        (
            "event NSVT ongoing",
            {
                "kind": "event",
                "event_id": 4243,
                "event_type": "NSVT",
                "severity": "HIGH",
                "flags": wire.FLAG_ONGOING,
                "confidence": 200,
                "onset_ms": T0 + 60_000,
                "end_ms": T0 + 62_100,
                "heart_rate": 171,
                "beat_count": 6,
                "snippet_id": 0,
                "snippet_samples": 0,
            },
        ),
        (
            "event SYMPTOM before time sync, from backlog",
            {
                "kind": "event",
                "event_id": 1,
                "event_type": "SYMPTOM",
                "severity": "MEDIUM",
                "flags": wire.FLAG_UNSYNCED | wire.FLAG_BACKLOG,
                "confidence": 255,
                "onset_ms": 93_000,
                "end_ms": 93_000,
                "heart_rate": 0,
                "beat_count": 0,
                "snippet_id": 78,
                "snippet_samples": 15_000,
            },
        ),
        (
            "summary",
            {
                "kind": "summary",
                "time_ms": T0 + 300_000,
                "period_s": 300,
                "flags": 0,
                "heart_rate": 74,
                "heart_rate_min": 58,
                "heart_rate_max": 131,
                "beat_count": 371,
                "veb_count": 12,
                "sveb_count": 3,
                "signal_quality": 229,
                "battery_percent": 86,
            },
        ),
        (
            "snippet_header int16 one lead, MTU 247",
            wire.snippet_header_for(
                77, 4242, T0 - 10_000, 250, 305, 1, one_lead, wire.fragment_size_for_mtu(247)
            ),
        ),
        (
            "snippet_header delta8 two leads, MTU 23",
            wire.snippet_header_for(
                78,
                1,
                83_000,
                500,
                1200,
                2,
                delta,
                wire.fragment_size_for_mtu(23),
                "delta8",
                wire.FLAG_UNSYNCED,
                80,
            ),
        ),
        (
            "snippet_fragment MTU 23",
            {"kind": "snippet_fragment", "snippet_tag": 78, "index": 3, "payload": _ramp(12, 3)},
        ),
        (
            "snippet_fragment MTU 247 full",
            {"kind": "snippet_fragment", "snippet_tag": 77, "index": 0, "payload": one_lead[:236]},
        ),
        (
            "snippet_fragment last, short, tag of a large id",
            {"kind": "snippet_fragment", "snippet_tag": 0x0001, "index": 20, "payload": one_lead[-160:]},
        ),
        (
            "live_data",
            {
                "kind": "live_data",
                "sample_index": 1000,
                "samples": b"".join(
                    v.to_bytes(2, "little", signed=True) for v in (-3, 0, 17, 1200, -32768, 32767)
                ),
            },
        ),
        ("ack events", {"kind": "ack", "seq": 1, "target": "event", "up_to_id": 4243}),
        ("ack snippets", {"kind": "ack", "seq": 2, "target": "snippet", "up_to_id": 77}),
        ("resume gap", {"kind": "resume", "seq": 3, "snippet_id": 77, "first": 5, "count": 2}),
        ("resume to the end", {"kind": "resume", "seq": 4, "snippet_id": 0x12345678, "first": 9, "count": 0}),
        ("time_sync", {"kind": "time_sync", "seq": 5, "gateway_ms": T0 + 123_456}),
        ("config write", {"kind": "config", "seq": 6, "key": "TACHY_BPM", "value": 150}),
        ("config read", {"kind": "config", "seq": 7, "key": "SUMMARY_PERIOD_S", "value": wire.CONFIG_READ}),
        ("live start", {"kind": "live", "seq": 8, "enable": True, "seconds": 120}),
        ("live stop", {"kind": "live", "seq": 9, "enable": False, "seconds": 0}),
        ("response ack", {"kind": "response", "seq": 1, "request": "ack", "status": "OK"}),
        (
            "response resume unknown",
            {"kind": "response", "seq": 4, "request": "resume", "status": "UNKNOWN_ID"},
        ),
        (
            "response time_sync",
            {"kind": "response", "seq": 5, "request": "time_sync", "status": "OK", "patch_ms": 93_512},
        ),
        (
            "response config",
            {
                "kind": "response",
                "seq": 7,
                "request": "config",
                "status": "OK",
                "key": "SUMMARY_PERIOD_S",
                "value": 300,
            },
        ),
        (
            "response live",
            {
                "kind": "response",
                "seq": 8,
                "request": "live",
                "status": "OK",
                "fs_hz": 250,
                "lsb_nv": 305,
                "lead_count": 1,
            },
        ),
        (
            "response config bad value",
            {
                "kind": "response",
                "seq": 6,
                "request": "config",
                "status": "BAD_VALUE",
                "key": "TACHY_BPM",
                "value": 0,
            },
        ),
    ]


def _golden_characteristics() -> list[tuple[str, dict[str, Any]]]:
    return [
        ("heart rate uint8", {"kind": "heart_rate", "bpm": 72, "contact": None, "energy_kj": None, "rr": []}),
        (
            "heart rate uint8, contact, RR",
            {"kind": "heart_rate", "bpm": 75, "contact": True, "energy_kj": None, "rr": [819, 768]},
        ),
        (
            "heart rate uint16, no contact, energy, RR",
            {"kind": "heart_rate", "bpm": 260, "contact": False, "energy_kj": 513, "rr": [236]},
        ),
        ("battery level", {"kind": "battery_level", "percent": 86}),
    ]


def _characteristic_bytes(msg: dict[str, Any]) -> bytes:
    if msg["kind"] == "heart_rate":
        return wire.encode_heart_rate(msg["bpm"], msg["rr"], msg["energy_kj"], msg["contact"])
    return wire.encode_battery_level(msg["percent"])


def _characteristic_msg(kind: str, value: bytes) -> dict[str, Any]:
    return wire.decode_heart_rate(value) if kind == "heart_rate" else wire.decode_battery_level(value)


def _delta_cases() -> list[tuple[str, int, bytes]]:
    def pack(values: list[int]) -> bytes:
        return b"".join(v.to_bytes(2, "little", signed=True) for v in values)

    return [
        (
            "one lead: small steps, a jump, int16 extremes",
            1,
            pack([0, 5, -122, 5, 132, 32767, 32640, -32768, -32641, 7]),
        ),
        ("two leads interleaved", 2, pack([100, -100, 101, -101, 300, -300, 299, 30000, 172, 29873])),
    ]


def golden_document() -> dict[str, Any]:
    frames = [
        {"name": name, "json": wire.to_json(msg), "hex": wire.encode(msg).hex()}
        for name, msg in _golden_messages()
    ]
    characteristics = [
        {"name": name, "json": wire.to_json(msg), "hex": _characteristic_bytes(msg).hex()}
        for name, msg in _golden_characteristics()
    ]
    delta8 = []
    for name, leads, samples in _delta_cases():
        out = bytearray(3 * len(samples))
        n = wire.delta_encode_into(samples, leads, out)
        delta8.append(
            {
                "name": name,
                "lead_count": leads,
                "total_samples": len(samples) // (2 * leads),
                "samples_hex": samples.hex(),
                "payload_hex": bytes(out[:n]).hex(),
            }
        )
    crcs = [
        {"data_hex": data.hex(), "crc16": crc.crc16_ccitt(data), "crc32": crc.crc32_py(data)}
        for data in (b"123456789", b"", b"\x00", bytes(range(256)))
    ]
    tables = {
        "version": wire.VERSION,
        "frame_types": wire.FRAME_TYPES,
        "event_types": wire.EVENT_TYPES,
        "severities": wire.SEVERITIES,
        "encodings": wire.ENCODINGS,
        "ack_targets": wire.ACK_TARGETS,
        "statuses": wire.STATUSES,
        "config_keys": wire.CONFIG_KEYS,
        "flags": {"ONGOING": wire.FLAG_ONGOING, "UNSYNCED": wire.FLAG_UNSYNCED, "BACKLOG": wire.FLAG_BACKLOG},
    }
    return {
        "about": "Wire format golden vectors (firmware/wire.py). Generated once by "
        "`.venv/bin/python tests/test_firmware_wire.py --write`; a change is a wire-format change.",
        "tables": tables,
        "frames": frames,
        "characteristics": characteristics,
        "delta8": delta8,
        "crc": crcs,
    }


def _load_golden() -> dict[str, Any]:
    return json.loads(GOLDEN.read_text())


GOLDEN_DOC = _load_golden() if GOLDEN.exists() else {"frames": [], "characteristics": [], "tables": {}}


# ---------------------------------------------------------------- golden vectors


def test_golden_file_is_what_this_code_generates() -> None:
    assert GOLDEN.exists(), f"missing {GOLDEN}: run .venv/bin/python tests/test_firmware_wire.py --write"
    assert golden_document() == _load_golden(), (
        "wire format changed: bump VERSION and rewrite the golden file"
    )


def test_golden_tables_are_the_modules() -> None:
    tables = GOLDEN_DOC["tables"]
    assert tables["version"] == wire.VERSION
    assert tables["event_types"] == wire.EVENT_TYPES
    assert tables["frame_types"] == wire.FRAME_TYPES
    assert tables["config_keys"] == wire.CONFIG_KEYS
    assert set(wire.EVENT_TYPES) == {
        "VT",
        "NSVT",
        "AF",
        "OTHER",
        "BRADY",
        "TACHY",
        "PAUSE",
        "NOISE",
        "LEAD_OFF",
        "SYMPTOM",
        "SUMMARY",
    }
    # Names <-> codes one to one.
    for table in (
        wire.EVENT_TYPES,
        wire.SEVERITIES,
        wire.ENCODINGS,
        wire.STATUSES,
        wire.CONFIG_KEYS,
        wire.FRAME_TYPES,
    ):
        assert len(set(table.values())) == len(table)
    assert {wire.EVENT_TYPE_NAMES[c]: c for c in wire.EVENT_TYPE_NAMES} == wire.EVENT_TYPES


def test_golden_covers_every_frame_kind() -> None:
    kinds = {entry["json"]["kind"] for entry in GOLDEN_DOC["frames"]}
    assert kinds == set(wire.FRAME_TYPES)
    requests = {e["json"]["request"] for e in GOLDEN_DOC["frames"] if e["json"]["kind"] == "response"}
    assert requests == {k for k, t in wire.FRAME_TYPES.items() if t >= 0x10}


@pytest.mark.parametrize("entry", GOLDEN_DOC["frames"], ids=lambda e: e["name"])
def test_golden_frame(entry: dict[str, Any]) -> None:
    frame = bytes.fromhex(entry["hex"])
    msg = wire.from_json(entry["json"])
    assert wire.encode(msg) == frame
    assert wire.decode(frame) == msg
    assert wire.to_json(wire.decode(frame)) == entry["json"]
    assert json.loads(json.dumps(wire.to_json(msg))) == entry["json"]
    # The frame's own CRC, checked with the reference implementation.
    assert int.from_bytes(frame[-2:], "little") == binascii.crc_hqx(frame[:-2], 0xFFFF)
    assert frame[0] >> 5 == wire.VERSION and frame[1] == len(frame) - 4


@pytest.mark.parametrize("entry", GOLDEN_DOC["characteristics"], ids=lambda e: e["name"])
def test_golden_characteristic(entry: dict[str, Any]) -> None:
    value = bytes.fromhex(entry["hex"])
    msg = wire.from_json(entry["json"])
    assert _characteristic_bytes(msg) == value
    assert _characteristic_msg(msg["kind"], value) == msg


def test_golden_delta8_and_crc() -> None:
    for case in GOLDEN_DOC["delta8"]:
        samples = bytes.fromhex(case["samples_hex"])
        payload = bytes.fromhex(case["payload_hex"])
        out = bytearray(len(samples))
        n = wire.delta_encode_into(samples, case["lead_count"], out)
        assert bytes(out[:n]) == payload
        assert wire.delta_decode(payload, case["lead_count"], case["total_samples"]) == samples
    for case in GOLDEN_DOC["crc"]:
        data = bytes.fromhex(case["data_hex"])
        assert case["crc16"] == binascii.crc_hqx(data, 0xFFFF) == crc.crc16_ccitt(data)
        assert case["crc32"] == zlib.crc32(data) == crc.crc32_py(data) == crc.crc32(data)


# ---------------------------------------------------------------- CRCs


def test_crc_check_values() -> None:
    assert crc.crc16_ccitt(b"123456789") == 0x29B1
    assert crc.crc32_py(b"123456789") == 0xCBF43926
    assert crc.crc32(b"123456789") == 0xCBF43926


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600), st.integers(0, 600))
def test_crcs_match_reference(data: bytes, cut: int) -> None:
    assert crc.crc16_ccitt(data) == binascii.crc_hqx(data, 0xFFFF)
    assert crc.crc32_py(data) == zlib.crc32(data)
    # Continued over two pieces, as over fragments.
    assert crc.crc32_py(data[cut:], crc.crc32_py(data[:cut])) == zlib.crc32(data)
    assert crc.crc16_ccitt(data[cut:], crc.crc16_ccitt(data[:cut])) == binascii.crc_hqx(data, 0xFFFF)
    assert crc.crc32_py(memoryview(bytearray(data))) == zlib.crc32(data)


# ---------------------------------------------------------------- sizes


def test_frame_sizes() -> None:
    sizes = {e["name"]: len(e["hex"]) // 2 for e in GOLDEN_DOC["frames"]}
    by_kind: dict[str, set[int]] = {}
    for e in GOLDEN_DOC["frames"]:
        by_kind.setdefault(e["json"]["kind"], set()).add(len(e["hex"]) // 2)
    assert by_kind["event"] == {36}
    assert by_kind["summary"] == {29}
    assert by_kind["snippet_header"] == {44}
    for kind in ("ack", "resume", "time_sync", "config", "live", "response"):
        assert max(by_kind[kind]) <= 20, kind  # one write / indication at the default MTU 23
    assert sizes["snippet_fragment MTU 23"] == 20
    assert sizes["snippet_fragment MTU 247 full"] == 244
    assert wire.fragment_size_for_mtu(23) == 12
    assert wire.fragment_size_for_mtu(247) == 236
    assert wire.fragment_size_for_mtu(517) == wire.MAX_FRAGMENT_PAYLOAD == 251
    assert len(wire.encode_snippet_fragment(1, 0, bytes(251))) == wire.MAX_FRAME
    assert len(wire.encode_live_data(0, bytes(2 * wire.MAX_LIVE_SAMPLES))) == 258


# ---------------------------------------------------------------- decode errors


def _seal(body_and_header: bytes) -> bytes:
    """A frame with a correct CRC: errors past the CRC check reach the body decoders."""
    return body_and_header + crc.crc16_ccitt(body_and_header).to_bytes(2, "little")


EVENT = wire.encode(_golden_messages()[0][1])
HEADER = wire.encode(_golden_messages()[4][1])

BAD_FRAMES = [
    (b"", "truncated frame: 0 bytes"),
    (b"\x21\x00\x00", "truncated frame: 3 bytes"),
    (bytes(260), "oversized frame: 260 bytes"),
    (bytes(4), "wrong version 0"),
    (b"\x41" + EVENT[1:], "wrong version 2"),
    (EVENT[:-1], "truncated frame: 35 bytes, its header says 36"),
    (EVENT[:10], "truncated frame"),
    (EVENT + b"\x00", "1 bytes after the end of a 36-byte frame"),
    (EVENT[:-1] + bytes([EVENT[-1] ^ 1]), "CRC mismatch"),
    (EVENT[:20] + bytes([EVENT[20] ^ 0x10]) + EVENT[21:], "CRC mismatch"),
    (_seal(b"\x2f\x00"), "unknown frame type 0x0f"),
    (_seal(b"\x3f\x01\x00"), "unknown frame type 0x1f"),
    (_seal(b"\x21\x00"), "event body is 0 bytes, must be 32"),
    (_seal(b"\x21\x21" + EVENT[2:-2] + b"\x00"), "event body is 33 bytes, must be 32"),
    (_seal(EVENT[:6] + b"\x00" + EVENT[7:-2]), "unknown event type code 0"),
    (_seal(EVENT[:6] + b"\x0c" + EVENT[7:-2]), "unknown event type code 12"),
    (_seal(EVENT[:7] + b"\x09" + EVENT[8:-2]), "unknown severity code 9"),
    (_seal(EVENT[:2] + bytes(4) + EVENT[6:-2]), "event_id 0"),
    (_seal(HEADER[:36] + b"\x05\x00" + HEADER[38:-2]), "total_fragments must be"),
    (_seal(HEADER[:25] + b"\x02" + HEADER[26:-2]), "unknown encoding code 2"),
    (_seal(b"\x24\x04\x01\x00\x02\x00"), "snippet_fragment body is 4 bytes, must be at least 5"),
    (_seal(b"\x25\x07\x00\x00\x00\x00\x01\x02\x03"), "live_data body is 7 bytes"),
    (_seal(b"\x26\x03\x01\x01\x00"), "response to event, which is no command"),
    (_seal(b"\x26\x03\x01\x10\x09"), "unknown status code 9"),
    (_seal(b"\x26\x04\x01\x10\x00\x00"), "ack response body is 4 bytes, must be 3"),
    (_seal(b"\x26\x03\x01\x12\x00"), "time_sync response extra body is 0 bytes, must be 8"),
    (_seal(b"\x34\x04\x01\x02\x00\x00"), "live enable must be 0 or 1"),
    (_seal(b"\x30\x06\x01\x03\x00\x00\x00\x00"), "unknown ack target code 3"),
    (_seal(b"\x33\x06\x01\x63\x00\x00\x00\x00"), "unknown config key code 99"),
    (_seal(b"\x22\x19" + bytes(24) + b"\x65"), "battery_percent 101"),
]


@pytest.mark.parametrize(("frame", "message"), BAD_FRAMES, ids=[m for _, m in BAD_FRAMES])
def test_decode_rejects_with_a_clear_message(frame: bytes, message: str) -> None:
    with pytest.raises(WireError, match=message.replace("(", r"\(").replace(")", r"\)")):
        wire._decode(frame)
    with pytest.raises(WireError):
        wire.decode(frame)
    with pytest.raises(WireError):
        wire.decode(bytearray(frame))


@pytest.mark.parametrize("thing", [None, "abc", 12, [0x21, 0], {"kind": "event"}, 3.5])
def test_decode_rejects_non_bytes(thing: Any) -> None:
    with pytest.raises(WireError, match="a frame is bytes"):
        wire.decode(thing)


def test_wire_error_is_a_value_error() -> None:
    assert issubclass(WireError, ValueError)


def test_decode_turns_an_unexpected_exception_into_wire_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(body: Any) -> dict[str, Any]:
        raise KeyError("bug")

    monkeypatch.setitem(wire._DECODERS, 0x01, broken)
    with pytest.raises(WireError, match="malformed frame"):
        wire.decode(EVENT)
    with pytest.raises(KeyError):
        wire._decode(EVENT)  # the fuzz tests call this one: such a bug would show there


def test_decode_takes_memoryview_and_bytearray() -> None:
    assert wire.decode(memoryview(EVENT)) == wire.decode(bytearray(EVENT)) == wire.decode(EVENT)


# ---------------------------------------------------------------- encode errors (MicroPython's struct would wrap)

GOOD_EVENT: dict[str, Any] = dict(_golden_messages()[0][1])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"confidence": 256}, "confidence must be an integer in 0..255"),
        ({"confidence": -1}, "confidence"),
        ({"confidence": 0.5}, "confidence"),
        ({"confidence": True}, "confidence"),
        ({"event_id": 0}, "event_id"),
        ({"event_id": 2**32}, "event_id"),
        ({"event_type": "VF"}, "event_type must be one of"),
        ({"event_type": 1}, "event_type must be one of"),
        ({"severity": "URGENT"}, "severity"),
        ({"end_ms": T0}, "end_ms"),
        ({"end_ms": T0 + 1234 + 2**32}, "end_ms"),
        ({"onset_ms": 2**64}, "onset_ms"),
        ({"heart_rate": 65536}, "heart_rate"),
        ({"snippet_id": 0}, "snippet_samples"),
        ({"flags": 256}, "flags"),
        ({"colour": "red"}, "bad fields for a event"),
        ({"kind": "eventt"}, "unknown message kind"),
    ],
)
def test_encode_rejects_bad_values(change: dict[str, Any], message: str) -> None:
    msg = dict(GOOD_EVENT, **change)
    with pytest.raises(WireError, match=message):
        wire.encode(msg)


def test_encode_rejects_other_bad_messages() -> None:
    with pytest.raises(WireError, match="bad fields"):
        wire.encode({"kind": "ack", "seq": 1})
    with pytest.raises(WireError, match="seq"):
        wire.encode_ack(256, "event", 1)
    with pytest.raises(WireError, match="payload length"):
        wire.encode_snippet_fragment(1, 0, bytes(252))
    with pytest.raises(WireError, match="payload length"):
        wire.encode_snippet_fragment(1, 0, b"")
    with pytest.raises(WireError, match="live samples"):
        wire.encode_live_data(0, b"\x01\x02\x03")
    with pytest.raises(WireError, match="has no field patch_ms"):
        wire.encode_response(1, "ack", "OK", patch_ms=5)
    with pytest.raises(WireError, match="patch_ms"):
        wire.encode_response(1, "time_sync", "OK")
    with pytest.raises(WireError, match="request must be a command"):
        wire.encode_response(1, "event", "OK")
    with pytest.raises(WireError, match="value"):
        wire.encode_config(1, "TACHY_BPM", 2**31)
    with pytest.raises(WireError, match="enable"):
        wire.encode_live(1, "yes")
    with pytest.raises(WireError, match="int16 payload"):
        wire.encode_snippet_header(1, 0, 0, 250, 305, 1, 10, 21, 12, 2, 0)
    with pytest.raises(WireError, match="too small"):
        wire.encode_snippet_fragment_into(bytearray(10), 1, 0, bytes(5))


def test_counts_saturate() -> None:
    msg = dict(_golden_messages()[3][1], beat_count=70_000, veb_count=65_536, sveb_count=65_535)
    out = wire.decode(wire.encode(msg))
    assert (out["beat_count"], out["veb_count"], out["sveb_count"]) == (65535, 65535, 65535)
    assert wire.decode(wire.encode(dict(GOOD_EVENT, beat_count=10**6)))["beat_count"] == 65535


def test_fragment_tag_is_the_low_16_bits_of_the_id() -> None:
    frame = wire.encode_snippet_fragment(0x12345678, 7, b"abc")
    assert wire.decode(frame) == {
        "kind": "snippet_fragment",
        "snippet_tag": 0x5678,
        "index": 7,
        "payload": b"abc",
    }
    buf = bytearray(64)
    n = wire.encode_snippet_fragment_into(buf, 0x12345678, 7, memoryview(b"xxabcxx")[2:5])
    assert bytes(buf[:n]) == frame


# ---------------------------------------------------------------- snippets end to end


def _snippet(payload_len: int = 5000, fragment_size: int = 236, snippet_id: int = 0x10077):
    payload = bytes((i * 7919 + (i >> 3)) & 0xFF for i in range(payload_len))
    header = wire.snippet_header_for(snippet_id, 9, T0, 250, 305, 1, payload, fragment_size)
    frames = []
    for i in range(header["total_fragments"]):
        start, end = wire.fragment_bounds(header, i)
        frames.append(wire.encode_snippet_fragment(snippet_id, i, payload[start:end]))
    return payload, header, frames


def test_reassembler_any_order_duplicates_missing_resume() -> None:
    payload, header, frames = _snippet()
    assert header["total_fragments"] == 22 and header["crc32"] == zlib.crc32(payload)
    r = wire.SnippetReassembler(max_payload_bytes=10_000)
    r.start(wire.decode(wire.encode(header)))
    order = list(range(22))[::-1]
    lost = {0, 5, 6, 7, 21}
    for i in order:
        if i not in lost:
            assert r.add(wire.decode(frames[i])) is True
    assert r.add(wire.decode(frames[10])) is False  # duplicate
    assert not r.complete
    assert r.missing() == [0, 5, 6, 7, 21]
    assert r.resume_ranges() == [(0, 1), (5, 3), (21, 1)]
    r.start(dict(header))  # the patch sends the header again on RESUME: progress is kept
    assert r.missing() == [0, 5, 6, 7, 21]
    with pytest.raises(WireError, match="5 fragments missing"):
        r.payload()
    for first, count in r.resume_ranges():
        for i in range(first, first + count):
            r.add(wire.decode(frames[i]))
    assert r.complete and r.missing() == []
    assert r.payload() == payload


def test_reassembler_rejects() -> None:
    payload, header, frames = _snippet()
    r = wire.SnippetReassembler(max_payload_bytes=4999)
    with pytest.raises(WireError, match="fragment before its snippet_header"):
        r.add(wire.decode(frames[0]))
    with pytest.raises(WireError, match="above the limit of 4999"):
        r.start(header)
    r = wire.SnippetReassembler(max_payload_bytes=5000)
    r.start(header)
    other = wire.decode(wire.encode_snippet_fragment(0x10078, 0, payload[:236]))
    with pytest.raises(WireError, match="snippet tag 120"):
        r.add(other)
    with pytest.raises(WireError, match=r"index 22 outside 0\.\.21"):
        r.add(wire.decode(wire.encode_snippet_fragment(0x10077, 22, b"x")))
    with pytest.raises(WireError, match="fragment 3 has 235 bytes, must have 236"):
        r.add(wire.decode(wire.encode_snippet_fragment(0x10077, 3, payload[:235])))
    with pytest.raises(WireError, match="fragment 21 has 236 bytes, must have 44"):
        r.add(wire.decode(wire.encode_snippet_fragment(0x10077, 21, payload[:236])))
    r.add(wire.decode(frames[4]))
    with pytest.raises(WireError, match="fragment 4 sent twice with different bytes"):
        r.add(wire.decode(wire.encode_snippet_fragment(0x10077, 4, bytes(236))))
    # A fragment whose frame is intact but whose bytes are not the patch's: the CRC-32 catches it.
    for i, frame in enumerate(frames):
        if i == 7:
            frame = wire.encode_snippet_fragment(0x10077, 7, bytes(236))
        r.add(wire.decode(frame))
    assert r.complete
    with pytest.raises(WireError, match="snippet CRC-32 mismatch"):
        r.payload()
    with pytest.raises(WireError, match="decoded snippet_header"):
        r.start({"kind": "event"})


def test_snippet_at_mtu_23_and_delta8() -> None:
    samples = b"".join((12 * ((i % 50) - 25)).to_bytes(2, "little", signed=True) for i in range(2000))
    encoding, payload = wire.compress_samples(samples, 1)
    assert encoding == "delta8" and len(payload) == 1960 + 40 * 3  # a 3-byte escape at each step
    header = wire.snippet_header_for(
        5, 1, T0, 250, 305, 1, payload, wire.fragment_size_for_mtu(23), encoding, total_samples=2000
    )
    r = wire.SnippetReassembler()
    r.start(wire.decode(wire.encode(header)))
    for i in range(header["total_fragments"]):
        start, end = wire.fragment_bounds(header, i)
        frame = wire.encode_snippet_fragment(5, i, payload[start:end])
        assert len(frame) <= 20
        r.add(wire.decode(frame))
    assert wire.snippet_samples(header, r.payload()) == samples
    msg = wire.snippet_message(header, r.payload())
    as_json = json.loads(json.dumps(wire.to_json(msg)))
    assert isinstance(as_json["samples"], str)
    assert binascii.a2b_base64(as_json["samples"]) == samples
    assert wire.from_json(as_json) == msg
    with pytest.raises(WireError, match="int16 payload"):
        wire.from_json(dict(as_json, total_samples=1999))


def test_delta8_on_real_ecg() -> None:
    """MIT-BIH 119 (bigeminy) through the front end: 16-bit ADC, 305 nV, 250 Hz."""
    from ecg_data.paths import data_root
    from ecg_data.wfdb_records import read_wfdb
    from hardware_sim.ecg_source import EcgSource
    from hardware_sim.front_end import FrontEndConfig

    path = data_root() / "mitdb" / "119"
    assert path.with_suffix(".hea").exists(), f"missing test record {path}"
    codes = EcgSource(read_wfdb(path), 0, FrontEndConfig(), duration_s=60.0, start_s=60.0).codes()
    samples = codes.astype("<i2").tobytes()
    encoding, payload = wire.compress_samples(samples, 1)
    assert encoding == "delta8" and len(payload) < 0.7 * len(samples)  # 0.66 measured
    assert wire.delta_decode(payload, 1, len(codes)) == samples


def test_compress_keeps_int16_when_delta8_is_no_smaller() -> None:
    noise = bytes((i * 104729 + 7) & 0xFF for i in range(2000))
    assert wire.compress_samples(noise, 1) == ("int16", noise)
    out = bytearray(len(noise))
    assert wire.delta_encode_into(noise, 1, out) == -1


def test_delta_decode_rejects() -> None:
    with pytest.raises(WireError, match="leaves the int16 range"):
        wire.delta_decode(b"\x80\xff\x7f\x01", 1, 2)
    with pytest.raises(WireError, match="ends inside sample 1"):
        wire.delta_decode(b"\x01\x80\x00", 1, 2)
    with pytest.raises(WireError, match="left over"):
        wire.delta_decode(b"\x01\x02\x03", 1, 2)
    with pytest.raises(WireError, match="cannot be"):
        wire.delta_decode(b"\x01", 1, 2)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 3), st.lists(st.integers(-32768, 32767), min_size=1, max_size=300))
def test_delta8_round_trip(leads: int, values: list[int]) -> None:
    values = values[: len(values) // leads * leads] or [0] * leads
    samples = b"".join(v.to_bytes(2, "little", signed=True) for v in values)
    out = bytearray(3 * len(values))
    n = wire.delta_encode_into(samples, leads, out)
    assert len(values) <= n <= 3 * len(values)
    assert wire.delta_decode(bytes(out[:n]), leads, len(values) // leads) == samples


# ---------------------------------------------------------------- frames over several notifications


def test_joiner_rebuilds_frames_split_at_mtu_23() -> None:
    joiner = wire.FrameJoiner()
    for frame in (EVENT, HEADER, wire.encode_ack(1, "event", 5)):
        pieces = [frame[i : i + 20] for i in range(0, len(frame), 20)]
        got = [joiner.feed(p) for p in pieces]
        assert got[:-1] == [None] * (len(pieces) - 1)
        assert got[-1] == frame
        assert wire.decode(got[-1]) == wire.decode(frame)


def test_joiner_rejects_and_recovers() -> None:
    joiner = wire.FrameJoiner()
    with pytest.raises(WireError, match="does not start"):
        joiner.feed(b"\x00\x01\x02")
    assert joiner.feed(EVENT[:20]) is None
    with pytest.raises(WireError, match="runs 4 bytes past"):
        joiner.feed(EVENT[20:] + b"\x21\x00\x00\x00")
    assert joiner.feed(EVENT) == EVENT  # afresh after the error
    assert joiner.feed(b"") is None
    assert joiner.feed(EVENT[:1]) is None and joiner.feed(EVENT[1:]) == EVENT


# ---------------------------------------------------------------- Heart Rate Measurement 0x2A37, Battery 0x2A19


def test_heart_rate_measurement_per_spec() -> None:
    # Flags bit 0: value format; bits 1-2: sensor contact; bit 3: energy; bit 4: RR.
    assert wire.encode_heart_rate(72) == bytes([0x00, 72])
    assert wire.encode_heart_rate(72, contact=False) == bytes([0x04, 72])
    assert wire.encode_heart_rate(72, contact=True) == bytes([0x06, 72])
    assert wire.encode_heart_rate(300) == bytes([0x01, 0x2C, 0x01])
    assert wire.encode_heart_rate(60, energy_kj=0x1234) == bytes([0x08, 60, 0x34, 0x12])
    assert wire.encode_heart_rate(60, [1024, 0x0302]) == bytes([0x10, 60, 0x00, 0x04, 0x02, 0x03])
    assert wire.encode_heart_rate(256, [1], 2, True) == bytes([0x1F, 0x00, 0x01, 0x02, 0x00, 0x01, 0x00])
    # RR in 1/1024 s.
    assert wire.rr_ms_to_1024(1000) == 1024 and wire.rr_ms_to_1024(800) == 819
    assert wire.rr_1024_to_ms(1024) == 1000 and wire.rr_1024_to_ms(819) == 800
    # Nine RR intervals fit a 20-byte notification (MTU 23) with a uint8 rate.
    assert len(wire.encode_heart_rate(72, [833] * 9)) == 20
    # Reserved bits 5-7 are ignored by receivers; a uint16 rate below 256 is legal too.
    assert wire.decode_heart_rate(bytes([0xE1, 72, 0]))["bpm"] == 72
    decoded = wire.decode_heart_rate(bytes([0x1E, 75, 0x10, 0x00, 0x33, 0x03]))
    assert decoded == {"kind": "heart_rate", "bpm": 75, "contact": True, "energy_kj": 16, "rr": [819]}
    for bad in (b"", b"\x00", b"\x01\x48", b"\x08\x48\x01", b"\x10\x48\x01", b"\x00\x48\x00"):
        with pytest.raises(WireError):
            wire.decode_heart_rate(bad)
    with pytest.raises(WireError):
        wire.encode_heart_rate(70000)


def test_battery_level() -> None:
    assert wire.encode_battery_level(86) == b"\x56"
    assert wire.decode_battery_level(b"\x56") == {"kind": "battery_level", "percent": 86}
    for bad in (b"", b"\x65", b"\x01\x02", "x"):
        with pytest.raises(WireError):
            wire.decode_battery_level(bad)
    with pytest.raises(WireError):
        wire.encode_battery_level(101)


# ---------------------------------------------------------------- JSON form


def test_json_form_is_strict() -> None:
    entry = next(e for e in GOLDEN_DOC["frames"] if e["json"]["kind"] == "snippet_fragment")
    good = entry["json"]
    assert isinstance(good["payload"], str) and good["v"] == wire.VERSION
    bad_cases = [
        ({k: v for k, v in good.items() if k != "index"}, "has the fields"),
        (dict(good, extra=1), "bad fields"),
        (dict(good, v=2), "version 2"),
        ({k: v for k, v in good.items() if k != "v"}, "version None"),
        (dict(good, payload=list(b"abc")), "base64 string"),
        (dict(good, payload=good["payload"] + "\n"), "not canonical"),
        (dict(good, payload="@@@@"), "base64"),
        (dict(good, index="3"), "index"),
        (dict(good, kind="snipet_fragment"), "unknown message kind"),
        ([good], "is an object"),
    ]
    for obj, message in bad_cases:
        with pytest.raises(WireError, match=message):
            wire.from_json(obj)
    event = next(e for e in GOLDEN_DOC["frames"] if e["json"]["kind"] == "event")["json"]
    with pytest.raises(WireError, match="has the fields"):
        wire.from_json({k: v for k, v in event.items() if k != "severity"})


def main(argv: list[str]) -> int:
    if argv != ["--write"]:
        print("usage: .venv/bin/python tests/test_firmware_wire.py --write   (rewrites the golden vectors)")
        return 2
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(json.dumps(golden_document(), indent=1) + "\n")
    print(f"wrote {GOLDEN}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
