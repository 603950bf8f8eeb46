"""Fuzzing the wire format's decoders (CPython, hypothesis): WireError or a valid message, nothing else.

The properties call `wire._decode`, the decoder without `decode`'s last-resort conversion of
unexpected exceptions, so any other exception here is a real bug. A frame that does decode
must be canonical: encoding the message gives the very same bytes.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware import crc, wire
from firmware.wire import WireError

U16 = 0xFFFF
U32 = 0xFFFFFFFF
U64 = 0xFFFFFFFFFFFFFFFF
FUZZ = settings(max_examples=300, deadline=None)


def _seal(head_and_body: bytes) -> bytes:
    return head_and_body + crc.crc16_ccitt(head_and_body).to_bytes(2, "little")


def _decoded_or_error(frame: bytes) -> dict[str, Any] | None:
    """None for WireError; else the message, which must re-encode to the same frame."""
    try:
        msg = wire._decode(frame)
    except WireError:
        return None
    assert wire.encode(msg) == bytes(frame), msg
    return msg


def _name(table: dict[str, int]) -> st.SearchStrategy[str]:
    return st.sampled_from(sorted(table))


@st.composite
def messages(draw: st.DrawFn) -> dict[str, Any]:
    """Any valid message of any frame kind (counts within 16 bits, so round trips are exact)."""
    kind = draw(st.sampled_from(sorted(wire.FRAME_TYPES)))
    i = st.integers
    seq = i(0, 255)
    if kind == "event":
        onset = draw(i(0, U64 - U32))
        snippet_id = draw(i(0, U32))
        return {
            "kind": kind,
            "event_id": draw(i(1, U32)),
            "event_type": draw(_name(wire.EVENT_TYPES)),
            "severity": draw(_name(wire.SEVERITIES)),
            "flags": draw(i(0, 255)),
            "confidence": draw(i(0, 255)),
            "onset_ms": onset,
            "end_ms": onset + draw(i(0, U32)),
            "heart_rate": draw(i(0, U16)),
            "beat_count": draw(i(0, U16)),
            "snippet_id": snippet_id,
            "snippet_samples": draw(i(0, U32)) if snippet_id else 0,
        }
    if kind == "summary":
        names = ["heart_rate", "heart_rate_min", "heart_rate_max", "beat_count", "veb_count", "sveb_count"]
        msg = {
            "kind": kind,
            "time_ms": draw(i(0, U64)),
            "period_s": draw(i(0, U16)),
            "flags": draw(i(0, 255)),
        }
        msg.update({name: draw(i(0, U16)) for name in names})
        msg["signal_quality"] = draw(i(0, 255))
        msg["battery_percent"] = draw(i(0, 100))
        return msg
    if kind == "snippet_header":
        leads = draw(i(1, wire.MAX_LEADS))
        total = draw(i(1, 100_000))
        encoding = draw(_name(wire.ENCODINGS))
        n = leads * total
        size = 2 * n if encoding == "int16" else draw(i(n, 3 * n))
        fragment_size = draw(i(max(1, -(-size // U16)), wire.MAX_FRAGMENT_PAYLOAD))
        return {
            "kind": kind,
            "snippet_id": draw(i(1, U32)),
            "event_id": draw(i(0, U32)),
            "start_ms": draw(i(0, U64)),
            "fs_hz": draw(i(1, U16)),
            "lsb_nv": draw(i(1, U32)),
            "lead_count": leads,
            "encoding": encoding,
            "flags": draw(i(0, 255)),
            "total_samples": total,
            "payload_bytes": size,
            "fragment_size": fragment_size,
            "total_fragments": -(-size // fragment_size),
            "crc32": draw(i(0, U32)),
        }
    if kind == "snippet_fragment":
        payload = draw(st.binary(min_size=1, max_size=wire.MAX_FRAGMENT_PAYLOAD))
        return {"kind": kind, "snippet_tag": draw(i(0, U16)), "index": draw(i(0, U16)), "payload": payload}
    if kind == "live_data":
        samples = draw(st.binary(min_size=1, max_size=wire.MAX_LIVE_SAMPLES))
        return {"kind": kind, "sample_index": draw(i(0, U32)), "samples": samples * 2}
    if kind == "ack":
        return {
            "kind": kind,
            "seq": draw(seq),
            "target": draw(_name(wire.ACK_TARGETS)),
            "up_to_id": draw(i(0, U32)),
        }
    if kind == "resume":
        return {"kind": kind, "seq": draw(seq), "snippet_id": draw(i(1, U32)), "first": draw(i(0, U16)),
                "count": draw(i(0, U16))}  # fmt: skip
    if kind == "time_sync":
        return {"kind": kind, "seq": draw(seq), "gateway_ms": draw(i(0, U64))}
    if kind == "config":
        return {"kind": kind, "seq": draw(seq), "key": draw(_name(wire.CONFIG_KEYS)),
                "value": draw(i(-(2**31), 2**31 - 1))}  # fmt: skip
    if kind == "live":
        return {"kind": kind, "seq": draw(seq), "enable": draw(st.booleans()), "seconds": draw(i(0, U16))}
    request = draw(st.sampled_from(["ack", "resume", "time_sync", "config", "live"]))
    msg = {"kind": "response", "seq": draw(seq), "request": request, "status": draw(_name(wire.STATUSES))}
    if request == "time_sync":
        msg["patch_ms"] = draw(i(0, U64))
    elif request == "config":
        msg["key"] = draw(_name(wire.CONFIG_KEYS))
        msg["value"] = draw(i(-(2**31), 2**31 - 1))
    elif request == "live":
        msg.update(fs_hz=draw(i(0, U16)), lsb_nv=draw(i(0, U32)), lead_count=draw(i(0, wire.MAX_LEADS)))
    return msg


@FUZZ
@given(messages())
def test_round_trip_of_valid_messages(msg: dict[str, Any]) -> None:
    frame = wire.encode(msg)
    assert len(frame) <= wire.MAX_FRAME and frame[1] == len(frame) - 4
    assert wire._decode(frame) == msg
    as_json = json.loads(json.dumps(wire.to_json(msg)))
    assert wire.from_json(as_json) == msg


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(data: bytes) -> None:
    _decoded_or_error(data)


# Every body size a valid frame has (and 0..12 for the variable ones), so fixed-size bodies get garbage too.
BODY_SIZES = [*range(13), 14, 25, 31, 32, 33, 39, 40, 41]
bodies = st.binary(max_size=255) | st.sampled_from(BODY_SIZES).flatmap(
    lambda n: st.binary(min_size=n, max_size=n)
)
frame_types = st.integers(0, 31) | st.sampled_from(sorted(wire.FRAME_TYPES.values()))


@FUZZ
@given(frame_types, bodies)
def test_random_bodies_behind_a_valid_header_and_crc(ftype: int, body: bytes) -> None:
    """Past the CRC check: every body parser meets garbage of every length."""
    _decoded_or_error(_seal(bytes([0x20 | ftype, len(body)]) + body))


@FUZZ
@given(messages(), st.data())
def test_truncations_and_bit_flips_of_valid_frames(msg: dict[str, Any], data: st.DataObject) -> None:
    frame = wire.encode(msg)
    cut = data.draw(st.integers(0, len(frame) - 1))
    assert _decoded_or_error(frame[:cut]) is None  # every truncation is caught
    bit = data.draw(st.integers(0, 8 * len(frame) - 1))
    flipped = bytearray(frame)
    flipped[bit >> 3] ^= 1 << (bit & 7)
    assert _decoded_or_error(bytes(flipped)) is None  # CRC-16 catches every single-bit error
    # Several flipped bytes: caught, or (rarely) a valid frame that is canonical.
    for _ in range(data.draw(st.integers(1, 4))):
        flipped[data.draw(st.integers(0, len(frame) - 1))] ^= data.draw(st.integers(1, 255))
    _decoded_or_error(bytes(flipped))


@FUZZ
@given(messages(), st.data())
def test_mutated_bodies_with_recomputed_crc(msg: dict[str, Any], data: st.DataObject) -> None:
    frame = bytearray(wire.encode(msg)[:-2])
    for _ in range(data.draw(st.integers(1, 3))):
        frame[data.draw(st.integers(2, len(frame) - 1))] = data.draw(st.integers(0, 255))
    _decoded_or_error(_seal(bytes(frame)))


@FUZZ
@given(messages(), st.integers(0, 255), st.binary(max_size=8))
def test_wrong_length_fields(msg: dict[str, Any], length: int, extra: bytes) -> None:
    frame = wire.encode(msg)
    forged = _seal(bytes([frame[0], length]) + frame[2:-2] + extra)
    result = _decoded_or_error(forged)
    if length != len(frame) - 4 + len(extra):
        assert result is None
    with_oversized_tail = frame + extra + bytes(wire.MAX_FRAME)
    assert _decoded_or_error(with_oversized_tail) is None


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@FUZZ
@given(messages(), st.sampled_from(["drop", "replace", "add"]), st.data())
def test_from_json_of_damaged_objects(msg: dict[str, Any], how: str, data: st.DataObject) -> None:
    obj = wire.to_json(msg)
    key = data.draw(st.sampled_from(sorted(obj)))
    if how == "drop":
        del obj[key]
    elif how == "replace":
        obj[key] = data.draw(json_values)
    else:
        obj[data.draw(st.text(max_size=8))] = data.draw(json_values)
    try:
        out = wire.from_json(obj)
    except WireError:
        return
    assert wire.from_json(wire.to_json(out)) == out


@FUZZ
@given(json_values)
def test_from_json_of_anything(obj: Any) -> None:
    with contextlib.suppress(WireError):
        wire.from_json(obj)


@FUZZ
@given(st.binary(max_size=40))
def test_standard_characteristics(value: bytes) -> None:
    try:
        msg = wire.decode_heart_rate(value)
        assert (
            wire.decode_heart_rate(
                wire.encode_heart_rate(msg["bpm"], msg["rr"], msg["energy_kj"], msg["contact"])
            )
            == msg
        )
    except WireError:
        pass
    with contextlib.suppress(WireError):
        wire.decode_battery_level(value)


@FUZZ
@given(st.binary(max_size=64), st.integers(1, 3), st.integers(1, 40))
def test_delta_decode_of_anything(data: bytes, leads: int, total: int) -> None:
    try:
        out = wire.delta_decode(data, leads, total)
    except WireError:
        return
    assert len(out) == 2 * leads * total


@FUZZ
@given(st.lists(st.binary(max_size=60), max_size=8))
def test_joiner_with_anything(pieces: list[bytes]) -> None:
    joiner = wire.FrameJoiner()
    for piece in pieces:
        try:
            frame = joiner.feed(piece)
        except WireError:
            continue
        if frame is not None:
            assert frame[1] + 4 == len(frame) <= wire.MAX_FRAME


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 18), st.binary(min_size=1, max_size=14)), max_size=25
    )
)
def test_reassembler_with_stray_fragments(fragments: list[tuple[int, int, bytes]]) -> None:
    payload = bytes(range(200))
    header = wire.snippet_header_for(2, 1, 0, 250, 305, 1, payload, 12)
    r = wire.SnippetReassembler(max_payload_bytes=1000)
    r.start(header)
    for tag, index, chunk in fragments:
        with contextlib.suppress(WireError):
            r.add(wire._decode(wire.encode_snippet_fragment(tag, index, chunk)))
    assert r.received + len(r.missing()) == header["total_fragments"]
    with contextlib.suppress(WireError):
        assert r.payload() == payload
