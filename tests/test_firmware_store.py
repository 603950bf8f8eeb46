"""firmware/store.py on the NOR flash model: round trip, acks, wrap-around, reboots, the full-flash policy.

Every flash here is strict: a write that would need a 0 bit turned back into 1 raises, so
these tests also prove the store never programs over programmed bytes.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from firmware import store as st
from firmware import wire
from firmware.store import (
    BLOCK_HEADER,
    KIND_CHUNK,
    KIND_EVENT,
    KIND_RAW,
    KIND_SNIPPET,
    KIND_SUMMARY,
    RECORD_HEADER,
    Store,
)
from hardware_sim.flash import NorFlash

ALL_KINDS = sum(1 << k for k in (KIND_EVENT, KIND_SUMMARY, KIND_SNIPPET, KIND_CHUNK, KIND_RAW))
T0 = 1_735_689_600_000

Record = tuple[int, int, int, int, int, bytes]  # kind, ident, seq, flags, aux, payload


def make(blocks: int = 8, block_size: int = 512, **kw: object) -> tuple[NorFlash, Store]:
    flash = NorFlash(blocks, block_size, page_size=256, strict=True, **kw)  # type: ignore[arg-type]
    return flash, Store(flash)


def contents(store: Store, kinds: int = ALL_KINDS, unacked: bool = False) -> list[Record]:
    """Every record the store yields, with its payload read back and CRC-checked."""
    out: list[Record] = []
    buf = bytearray(store.max_payload)
    for kind, ident, seq, flags, aux, length, loc in store.records(kinds, unacked):
        n = store.read(loc, buf, seq)
        assert n == length, (kind, ident, seq)
        out.append((kind, ident, seq, flags, aux, bytes(buf[:n])))
    return out


def idents(store: Store, kinds: int = 1 << KIND_EVENT, unacked: bool = True) -> list[int]:
    return [r[1] for r in store.records(kinds, unacked)]


def event(event_id: int, kind: str = "AF", snippet_id: int = 0) -> bytes:
    return wire.encode_event(
        event_id=event_id,
        event_type=kind,
        onset_ms=T0 + 1000 * event_id,
        end_ms=T0 + 1000 * event_id + 5000,
        confidence=200,
        severity="CRITICAL" if kind == "VT" else "MEDIUM",
        snippet_id=snippet_id,
        snippet_samples=2500 if snippet_id else 0,
    )


def summary(n: int) -> bytes:
    return wire.encode_summary(T0 + 60_000 * n, 60, 70, 60, 80, 70, 1, 0, 250, 90)


def test_empty_store_on_blank_and_on_foreign_flash() -> None:
    flash, store = make()
    assert list(store.unacknowledged()) == []
    assert store.stats()["used_blocks"] == 0 and store.seq == 1
    assert flash.erase_counts == [0] * 8  # booting writes nothing
    noise = random.Random(1).randbytes(flash.size)
    flash.load_image(noise)
    store = Store(flash)  # random bytes hold no valid header
    assert list(store.records(ALL_KINDS, False)) == []
    assert store.append(KIND_EVENT, event(1), 1) == 1
    assert idents(Store(flash)) == [1]


def test_round_trip_of_every_kind() -> None:
    flash, store = make()
    frames = {
        KIND_EVENT: event(7, "VT"),
        KIND_SUMMARY: summary(1),
        KIND_RAW: bytes(range(200)),
        KIND_CHUNK: b"\x01\x02\x03",
        KIND_SNIPPET: b"header",
    }
    seqs = {
        kind: store.append(kind, payload, 40 + kind, critical=kind == KIND_EVENT, aux=kind)
        for kind, payload in frames.items()
    }
    assert sorted(seqs.values()) == [1, 2, 3, 4, 5]
    for reboot in (False, True):
        if reboot:
            store = Store(flash)
        got = {r[0]: r for r in contents(store)}
        for kind, payload in frames.items():
            assert got[kind] == (
                kind,
                40 + kind,
                seqs[kind],
                st.FLAG_CRITICAL if kind == KIND_EVENT else 0,
                kind,
                payload,
            )
    assert wire.decode(got[KIND_EVENT][5])["event_type"] == "VT"
    # A record takes its header plus its payload, rounded up to 4 bytes.
    assert store.head_off == BLOCK_HEADER + sum(
        (RECORD_HEADER + len(p) + 3) // 4 * 4 for p in frames.values()
    )


def test_read_checks_the_payload_crc_and_the_seq() -> None:
    flash, store = make()
    store.append(KIND_EVENT, event(1), 1)
    (_, _, seq, _, _, _, loc) = next(store.unacknowledged())
    buf = bytearray(64)
    assert store.read(loc, buf, seq) == 36
    assert store.read(loc, buf, seq + 1) == -1  # another record than the one asked for
    assert store.read(loc, bytearray(10)) == -1  # too small
    image = bytearray(flash.image())
    image[loc + RECORD_HEADER + 5] ^= 0x01  # one bit rots in the payload
    flash.load_image(bytes(image))
    assert store.read(loc, buf) == -1


def test_append_rejects_bad_arguments() -> None:
    _, store = make()
    with pytest.raises(ValueError):
        store.append(6, b"x", 1)  # the internal state kind
    with pytest.raises(ValueError):
        store.append(KIND_EVENT, bytes(store.max_payload + 1), 1)
    with pytest.raises(ValueError):
        store.append(KIND_EVENT, b"x", 2**32)
    with pytest.raises(ValueError):
        Store(NorFlash(2, 512))  # no room for a reserve block
    with pytest.raises(ValueError):
        Store(NorFlash(8, 256))  # blocks too small for a state record
    assert store.append(KIND_RAW, bytes(store.max_payload), 1) > 0  # exactly a block's worth


def test_ack_is_cumulative_per_group_and_persists() -> None:
    flash, store = make(16)
    for i in range(1, 11):
        store.append(KIND_EVENT, event(i), i)
        store.append(KIND_SUMMARY, summary(i), i)
    assert store.ack(KIND_EVENT, 4)
    assert idents(store) == list(range(5, 11))
    assert idents(store, 1 << KIND_SUMMARY) == list(range(1, 11))  # other groups untouched
    assert not store.ack(KIND_EVENT, 4)  # nothing new: no flash write
    assert not store.ack(KIND_EVENT, 3)  # an older ACK changes nothing
    store.ack(KIND_SUMMARY, 10)
    store = Store(flash)
    assert idents(store) == list(range(5, 11))
    assert idents(store, 1 << KIND_SUMMARY) == []
    assert idents(store, 1 << KIND_EVENT, unacked=False) == list(range(1, 11))  # kept until room is needed
    with pytest.raises(ValueError):
        store.ack(KIND_EVENT + 5, 1)


def test_an_ack_covers_only_records_written_before_it() -> None:
    """An ongoing event is acked, then stored again finished under the same id: sent again."""
    flash, store = make()
    ongoing = wire.encode_event(3, "VT", T0, T0 + 4000, 200, flags=wire.FLAG_ONGOING)
    store.append(KIND_EVENT, ongoing, 3, critical=True)
    store.ack(KIND_EVENT, 3)
    assert idents(store) == []
    final = wire.encode_event(3, "VT", T0, T0 + 9000, 220)
    store.append(KIND_EVENT, final, 3, critical=True)
    assert [r[5] for r in contents(Store(flash), 1 << KIND_EVENT, unacked=True)] == [final]
    store = Store(flash)
    assert store.ack(KIND_EVENT, 3)  # the same watermark, but new records under it
    assert idents(store) == []


def test_snippet_ack_covers_its_chunks() -> None:
    _, store = make(16)
    payload = bytes(random.Random(2).randbytes(1500))
    header = b"snippet-header-frame"
    store.append_snippet(9, header, payload)
    store.append(KIND_EVENT, event(1, snippet_id=9), 1)
    assert [(r[0], r[1]) for r in store.unacknowledged()] == [(KIND_SNIPPET, 9), (KIND_EVENT, 1)]
    chunks = [r for r in contents(store, 1 << KIND_CHUNK)]
    assert b"".join(r[5] for r in sorted(chunks, key=lambda r: r[4])) == payload
    store.ack(KIND_SNIPPET, 9)
    assert [r[0] for r in store.unacknowledged()] == [KIND_EVENT]
    assert contents(store, 1 << KIND_CHUNK, unacked=True) == []


def test_read_snippet_serves_any_fragment_range() -> None:
    _, store = make(16)
    payload = bytes(random.Random(3).randbytes(2000))
    store.append(KIND_EVENT, event(1), 1)  # chunks start mid-block
    seq = store.append_snippet(5, b"hdr", payload, critical=True)
    snippet = [r for r in store.unacknowledged() if r[0] == KIND_SNIPPET]
    assert snippet == [(KIND_SNIPPET, 5, seq, st.FLAG_CRITICAL, 2000, 3, snippet[0][6])]
    for size in (236, 12, 1):
        fragments = []
        for index in range(0, 2000, size):
            buf = bytearray(min(size, 2000 - index))
            assert store.read_snippet(5, index, buf) == len(buf)
            fragments.append(bytes(buf))
        assert b"".join(fragments) == payload
    buf = bytearray(100)
    assert store.read_snippet(5, 1950, buf) == 50  # short at the payload's end
    assert store.read_snippet(5, 2000, buf) == 0
    assert store.read_snippet(6, 0, buf) == 0  # unknown snippet
    whole = bytearray(2000)
    assert store.read_snippet(5, 0, whole) == 2000 and whole == payload
    # Resume-style: fragments out of order, after the cache pointed further on.
    for index in (1800, 0, 1000, 236):
        part = bytearray(236)
        n = store.read_snippet(5, index, part)
        assert part[:n] == payload[index : index + n]


def test_counters_and_state_survive_reboots() -> None:
    flash, store = make(6)
    for i in range(1, 200):
        store.append(KIND_EVENT, event(i), i)
        store.append(KIND_SUMMARY, summary(i), 1000 + i)
    store.ack(KIND_EVENT, 190)  # its state record may need room too
    dropped = store.dropped()
    assert dropped[0] > 0 and dropped[1] > 0 and dropped[5] == 0  # non-critical data went
    seq = store.seq
    again = Store(flash)
    assert again.dropped() == dropped
    assert again.last_ident(KIND_EVENT) == 199 and again.last_ident(KIND_SUMMARY) == 1199
    assert again.seq == seq
    assert idents(again) == list(range(191, 200))
    assert again.last_ident(KIND_SNIPPET) == 0


def test_wrap_around_with_acks_drops_nothing_and_spreads_wear() -> None:
    flash, store = make(8)
    event_id = 0
    for _ in range(40):
        for _ in range(20):
            event_id += 1
            store.append(KIND_EVENT, event(event_id), event_id, critical=event_id % 7 == 0)
        store.ack(KIND_EVENT, event_id - 5)  # the gateway lags by five events
    assert store.dropped() == (0, 0, 0, 0, 0, 0)
    assert store.moved == 0  # acked in time: nothing had to be moved
    assert idents(store) == list(range(event_id - 4, event_id + 1))
    assert store.stats()["used_blocks"] <= 7
    wear = flash.erase_counts
    assert max(wear) - min(wear) <= 1 and sum(wear) > 8 * 10  # many laps, every block alike
    store = Store(flash)
    assert idents(store) == list(range(event_id - 4, event_id + 1))


def test_full_flash_drops_oldest_non_critical_and_keeps_critical() -> None:
    flash, store = make(8)
    critical = []
    for i in range(1, 301):
        is_vt = i % 10 == 0
        assert store.append(KIND_EVENT, event(i, "VT" if is_vt else "AF"), i, critical=is_vt) > 0
        if is_vt:
            critical.append(i)
    kept = idents(store)
    assert sorted(i for i in kept if i % 10 == 0) == critical  # every VT event is still there
    lost = sorted(set(range(1, 301)) - set(kept))
    assert lost and all(i % 10 for i in lost)
    survivors = [i for i in kept if i % 10]
    assert min(survivors) > max(lost)  # the oldest non-critical went first
    assert survivors == sorted(survivors)  # in order (moved VT events come in their new place)
    dropped = store.dropped()
    assert dropped[0] == len(lost) and dropped[5] == 0
    assert store.moved > 0
    again = Store(flash)  # the same after a reboot
    assert idents(again) == kept and again.dropped() == dropped


def test_acked_data_go_before_unacked_data() -> None:
    _, store = make(8)
    for i in range(1, 41):
        store.append(KIND_EVENT, event(i), i)
    store.ack(KIND_EVENT, 40)
    for i in range(41, 86):  # 7 blocks of 7 events: room for 45 more once 1-40 are acked
        store.append(KIND_EVENT, event(i), i)
    assert store.dropped() == (0, 0, 0, 0, 0, 0)
    assert idents(store) == list(range(41, 86))
    assert idents(store, unacked=False)[0] > 1  # acked ones made the room


def test_flash_full_of_critical_refuses_non_critical_and_drops_oldest_critical() -> None:
    _, store = make(6)
    i = 0
    while store.dropped()[5] == 0:
        i += 1
        assert i < 500
        store.append(KIND_EVENT, event(i, "VT"), i, critical=True)
    # The oldest block of critical records had to go, and only it.
    n = store.dropped()[0]
    assert store.dropped() == (n, 0, 0, 0, 0, n) and 0 < n <= 7
    assert idents(store) == list(range(n + 1, i + 1))
    while store.stats()["free_bytes"] >= (512 - BLOCK_HEADER) + 60:  # to the brim again
        i += 1
        store.append(KIND_EVENT, event(i, "VT"), i, critical=True)
    n = store.dropped()[0]
    before = idents(store)
    assert before == list(range(n + 1, i + 1))
    assert store.append(KIND_SUMMARY, summary(1), 1) == 0  # refused: only critical data left
    assert store.dropped() == (n, 1, 0, 0, 0, n)
    assert idents(store) == before
    store.ack(KIND_EVENT, i - 3)  # now there is room again
    assert store.append(KIND_SUMMARY, summary(2), 2) > 0
    assert idents(store) == [i - 2, i - 1, i]


def test_critical_snippet_survives_pressure_and_moves() -> None:
    flash, store = make(10)
    payload = bytes(random.Random(4).randbytes(1200))
    store.append(KIND_EVENT, event(1, "VT", snippet_id=1), 1, critical=True)
    store.append_snippet(1, b"vt-snippet", payload, critical=True)
    for i in range(2, 400):
        store.append(KIND_RAW, bytes([i & 0xFF]) * 100, i)  # the full recording, non-critical
    assert store.moved >= 4  # the snippet's chunks went round the ring
    assert store.dropped()[4] > 0 and store.dropped()[5] == 0
    for s in (store, Store(flash)):
        buf = bytearray(1200)
        assert s.read_snippet(1, 0, buf) == 1200 and buf == payload
        assert [(r[0], r[1]) for r in s.unacknowledged()] == [(KIND_EVENT, 1), (KIND_SNIPPET, 1)] or [
            (r[0], r[1]) for r in s.unacknowledged()
        ] == [(KIND_SNIPPET, 1), (KIND_EVENT, 1)]


def test_non_critical_snippet_with_dropped_chunks_reads_short() -> None:
    _, store = make(6)
    payload = bytes(900)
    store.append_snippet(2, b"af-snippet", payload)
    for i in range(1, 40):  # pressure from critical events pushes the chunks out first
        store.append(KIND_EVENT, event(i, "VT"), i, critical=True)
    buf = bytearray(900)
    remaining = [r for r in store.unacknowledged() if r[0] == KIND_SNIPPET]
    if remaining:  # its header may still be there: the sender sees the hole
        assert store.read_snippet(2, 0, buf) < 900
    assert store.dropped()[3] > 0


def test_iterating_while_appending_through_reclaims() -> None:
    _, store = make(6)
    for i in range(1, 40):
        store.append(KIND_EVENT, event(i, "VT" if i % 3 == 0 else "AF"), i, critical=i % 3 == 0)
    vt = {i for i in idents(store) if i % 3 == 0}
    seen = []
    next_id = 40
    for _, ident, seq, _, _, _, loc in store.unacknowledged():
        seen.append(ident)
        buf = bytearray(64)
        assert store.read(loc, buf, seq) == 36
        store.append(KIND_EVENT, event(next_id), next_id)  # the patch keeps recording meanwhile
        next_id += 1
        if len(seen) > 400:
            break
    # A producer this fast (one record per record sent, on a tiny flash) overtakes the
    # iteration with reclaims again and again: it still ends, and only moved critical
    # records came more than once. Records moved after its last lap come in the next pass.
    assert store.reclaims > 6
    assert len(seen) < 400
    assert vt <= set(seen) | set(idents(store))
    assert all(c == 1 or i % 3 == 0 for i, c in Counter(seen).items())
    assert all(i < 40 for i in seen)  # records appended meanwhile wait for the next pass


def test_torn_tail_seals_the_head_block() -> None:
    flash, store = make()
    for i in range(1, 4):
        store.append(KIND_EVENT, event(i), i)
    head, off = store.head, store.head_off
    flash.writeblocks(head, b"\x12\x34", off + 30)  # bytes a cut write left behind
    again = Store(flash)
    assert idents(again) == [1, 2, 3]
    assert again.head_off == again.block_size  # sealed: nothing is written there again
    again.append(KIND_EVENT, event(4), 4)
    assert again.head != head
    assert idents(Store(flash)) == [1, 2, 3, 4]


def test_stats_report_space() -> None:
    _, store = make(8)
    s = store.stats()
    assert s["capacity_bytes"] == 7 * (512 - BLOCK_HEADER) and s["free_blocks"] == 8
    store.append(KIND_EVENT, event(1), 1)
    s = store.stats()
    assert s["used_blocks"] == 1 and s["free_bytes"] == 8 * (512 - BLOCK_HEADER) - 60
    assert s["dropped"] == (0, 0, 0, 0, 0, 0)


def test_real_geometry_4k_blocks() -> None:
    """The ESP32 partition's 4096-byte sectors: a 60-s snippet and a day of summaries."""
    flash, store = make(32, 4096)
    payload = bytes(random.Random(5).randbytes(30_000))
    store.append_snippet(1, b"h" * 44, payload, critical=True)
    for i in range(1, 1441):
        store.append(KIND_SUMMARY, summary(i), i)
    store = Store(flash)
    buf = bytearray(30_000)
    assert store.read_snippet(1, 0, buf) == 30_000 and buf == payload
    assert store.dropped() == (0, 0, 0, 0, 0, 0)
    per_block = (4096 - BLOCK_HEADER) // (RECORD_HEADER + 32)  # summaries are 29 B -> 32
    assert store.stats()["used_blocks"] <= 8 + 1440 // per_block + 2


def test_a_record_damaged_in_flash_is_dropped_when_moved_and_the_block_still_chains() -> None:
    flash, store = make(6)
    store.append(KIND_EVENT, event(1, "VT"), 1, critical=True)
    loc = next(store.unacknowledged())[6]
    image = bytearray(flash.image())
    image[loc + RECORD_HEADER] &= 0x01  # bits lost in the payload (the frame header 0x21)
    flash.load_image(bytes(image))
    i = 1
    while store.reclaims == 0:  # non-critical events until the block holding it is reclaimed
        i += 1
        store.append(KIND_EVENT, event(i), i)
    for j in range(i + 1, i + 4):  # critical records after the dead filler in the same block
        store.append(KIND_EVENT, event(j, "VT"), j, critical=True)
    again = Store(flash)
    kept = idents(again)
    assert 1 not in kept and kept[-3:] == [i + 1, i + 2, i + 3]
    assert again.dropped()[5] == 1  # the damaged VT event counts as a lost critical record
    assert again.dropped()[0] == 1 + (i - 1) - len([k for k in kept if k <= i])


def test_the_simulated_patch_keeps_its_log_across_processes(tmp_path: Path) -> None:
    image = tmp_path / "patch-flash.bin"
    with NorFlash(8, 512, path=image, strict=True) as flash:
        store = Store(flash)
        store.append(KIND_EVENT, event(1, "VT"), 1, critical=True)
        store.append_snippet(1, b"hdr", bytes(range(200)), critical=True)
    with NorFlash(8, 512, path=image, strict=True) as flash:  # a new process, the same file
        store = Store(flash)
        assert [(r[0], r[1]) for r in store.unacknowledged()] == [(KIND_EVENT, 1), (KIND_SNIPPET, 1)]
        buf = bytearray(200)
        assert store.read_snippet(1, 0, buf) == 200 and buf == bytes(range(200))
