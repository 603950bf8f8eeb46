"""The binary form of a gateway batch: the patch's own wire frames (firmware/wire.py), as received.

Body of `POST /ingest/batches` with Content-Type application/octet-stream, little-endian:

| size | field                                                                           |
|------|---------------------------------------------------------------------------------|
| 4    | magic b"ECGB"                                                                   |
| 1    | container version, 1                                                            |
| 1+n  | n, then the batch id (ASCII, as in the JSON form)                               |
| 1+m  | m, then the patch's serial number (ASCII): one patch per binary batch           |
| rest | whole frames back to back (EVENT, SUMMARY, SNIPPET_HEADER, SNIPPET_FRAGMENT)    |

Each frame carries its own length byte and CRC, so the frames need no further framing. A snippet
is its SNIPPET_HEADER and then its fragments, and belongs to the event its header names. Frames
with times still on the patch's boot clock (FLAG_UNSYNCED) are refused: the gateway moves them onto
UTC first. The result is the same BatchIn the JSON form gives, so both forms are stored alike.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from cloud.ingest_schema import BatchDecodeError, BatchIn, EventIn, SnippetIn
from firmware import wire

MAGIC = b"ECGB"
CONTAINER_VERSION = 1


def encode_wire_batch(batch_id: str, patch_serial: str, frames: list[bytes]) -> bytes:
    head = bytearray(MAGIC)
    head.append(CONTAINER_VERSION)
    for text in (batch_id, patch_serial):
        raw = text.encode("ascii")
        if not 0 < len(raw) < 256:
            raise ValueError(f"{text!r} must be 1 to 255 ASCII characters")
        head.append(len(raw))
        head += raw
    return bytes(head) + b"".join(frames)


def decode_wire_batch(body: bytes) -> BatchIn:
    try:
        batch_id, serial, frames = _split(body)
        events, snippets = _messages(frames)
        return _batch(batch_id, serial, events, snippets)
    except wire.WireError as exc:
        raise BatchDecodeError(f"bad frame: {exc}") from None
    except ValidationError as exc:
        raise BatchDecodeError(f"invalid event: {exc.errors()[0]['msg']}") from None


def _split(body: bytes) -> tuple[str, str, list[bytes]]:
    if body[:4] != MAGIC:
        raise BatchDecodeError("not a binary batch: it must start with b'ECGB'")
    if len(body) < 7 or body[4] != CONTAINER_VERSION:
        raise BatchDecodeError(f"binary batch version must be {CONTAINER_VERSION}")
    fields = []
    at = 5
    for name in ("batch id", "patch serial"):
        size = body[at] if at < len(body) else 0
        text = body[at + 1 : at + 1 + size]
        if size == 0 or len(text) != size:
            raise BatchDecodeError(f"binary batch: {name} missing or cut short")
        try:
            fields.append(text.decode("ascii"))
        except UnicodeDecodeError:
            raise BatchDecodeError(f"binary batch: {name} is not ASCII") from None
        at += 1 + size
    frames = []
    while at < len(body):
        if at + 2 > len(body):
            raise BatchDecodeError(f"binary batch: {len(body) - at} stray bytes at the end")
        size = body[at + 1] + wire.FRAME_OVERHEAD
        frames.append(body[at : at + size])
        at += size
    return fields[0], fields[1], frames


def _messages(frames: list[bytes]) -> tuple[list[dict[str, Any]], dict[int, dict[str, Any]]]:
    """Events and summaries in order, and each finished snippet by the event id it documents."""
    events: list[dict[str, Any]] = []
    snippets: dict[int, dict[str, Any]] = {}
    assembler: Any = None
    for frame in frames:
        msg = wire.decode(frame)
        kind = msg["kind"]
        if kind in ("event", "summary", "snippet_header") and msg["flags"] & wire.FLAG_UNSYNCED:
            raise BatchDecodeError(f"{kind} with times on the patch's boot clock: sync them to UTC first")
        if kind in ("event", "summary"):
            events.append(msg)
        elif kind == "snippet_header":
            _finish(assembler, snippets)
            assembler = wire.SnippetReassembler()
            assembler.start(msg)
        elif kind == "snippet_fragment":
            if assembler is None:
                raise BatchDecodeError("snippet fragment before any snippet header")
            assembler.add(msg)
        else:
            raise BatchDecodeError(f"a {kind} frame does not belong in a batch")
    _finish(assembler, snippets)
    return events, snippets


def _finish(assembler: Any, snippets: dict[int, dict[str, Any]]) -> None:
    if assembler is None:
        return
    header = assembler.header
    if header["lead_count"] != 1:
        raise BatchDecodeError(f"snippet {header['snippet_id']} has {header['lead_count']} leads; one is taken")
    snippets[header["event_id"]] = {"header": header, "samples": wire.snippet_samples(header, assembler.payload())}


def _time(ms: int) -> datetime:
    try:
        return datetime.fromtimestamp(ms / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        raise BatchDecodeError(f"time {ms} ms since 1970 is out of range") from None


def _batch(batch_id: str, serial: str, events: list[dict[str, Any]], snippets: dict[int, dict[str, Any]]) -> BatchIn:
    items = []
    for msg in events:
        if msg["kind"] == "summary":
            fields = {
                "patch_event_id": 0,
                "type": "SUMMARY",
                "onset": _time(msg["time_ms"] - 1000 * msg["period_s"]),
                "end": _time(msg["time_ms"]),
                "confidence": msg["signal_quality"] / 255,
                "heart_rate": msg["heart_rate"] or None,
            }
        else:
            fields = {
                "patch_event_id": msg["event_id"],
                "type": msg["event_type"],
                "onset": _time(msg["onset_ms"]),
                "end": _time(msg["end_ms"]),
                "confidence": msg["confidence"] / 255,
                "heart_rate": msg["heart_rate"] or None,
                "patch_verdict": f"{msg['event_type']} {msg['severity']}",
            }
        event = EventIn.model_validate({"patch_serial": serial, **fields})
        snippet = snippets.pop(msg.get("event_id", -1), None) if msg["kind"] == "event" else None
        if snippet is not None:
            event.snippet = _snippet(snippet)
        items.append(event)
    if snippets:
        raise BatchDecodeError(f"snippets for events not in the batch: {sorted(snippets)}")
    return BatchIn.model_validate({"batch_id": batch_id, "events": items})


def _snippet(snippet: dict[str, Any]) -> SnippetIn:
    header = snippet["header"]
    samples = snippet["samples"]
    if not samples or header["fs_hz"] <= 0 or header["lsb_nv"] <= 0:
        raise BatchDecodeError(f"snippet {header['snippet_id']} has no samples, rate or resolution")
    # The samples are already bytes: built without the base64 round trip of the JSON form.
    return SnippetIn.model_construct(
        fs=float(header["fs_hz"]),
        lsb_uv=header["lsb_nv"] / 1000.0,
        start=_time(header["start_ms"]),
        lead="ECG",
        samples_b64=bytes(samples),
    )
