"""Power cuts at every step of every kind of store write, and random operations against a model.

A step is one programmed byte or one block erase (hardware_sim.flash). For each operation
the flash is restored to the same image, cut after 0, 1, 2, ... steps, rebooted (a new
Store on the same flash), and checked: every record whose write had completed is there
with its exact bytes, no torn or foreign record is ever returned, the interrupted record
is either absent or whole, and the store goes on working (append, reboot, read back).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs
from test_firmware_store import ALL_KINDS, contents, event, summary

from firmware.store import KIND_CHUNK, KIND_EVENT, KIND_RAW, KIND_SNIPPET, KIND_SUMMARY, Store
from hardware_sim.flash import NorFlash, PowerLoss

Key = tuple[int, int, int]  # kind, ident, seq


def _flash(blocks: int, block_size: int = 512, seed: int = 0) -> NorFlash:
    return NorFlash(blocks, block_size, page_size=256, strict=True, seed=seed)


def _by_key(store: Store) -> dict[Key, list[bytes]]:
    found: dict[Key, list[bytes]] = {}
    for kind, ident, seq, _, _, payload in contents(store):
        found.setdefault((kind, ident, seq), []).append(payload)
    return found


def _every_cut(
    flash: NorFlash,
    op: Callable[[Store], object],
    check: Callable[[Store, int], None],
    stride: int = 1,
) -> int:
    """Runs `op` on a store booted from the flash's current image, cut at every step."""
    image = flash.image()
    before = flash.steps
    op(Store(flash))
    total = flash.steps - before
    assert total > 0
    for cut in range(0, total, stride):
        flash.load_image(image)
        store = Store(flash)
        flash.arm_power_loss(cut)
        with pytest.raises(PowerLoss):
            op(store)
        flash.power_on()
        check(Store(flash), cut)
    return total


def _goes_on(store: Store, flash: NorFlash, must_keep: dict[Key, bytes], critical: bool = False) -> None:
    """After the reboot: a new record can be written, and everything is there after another."""
    payload = b"after the cut" + bytes(store.seq & 0xFF for _ in range(3))
    ident = store.last_ident(KIND_RAW) + 1
    seq = store.append(KIND_RAW, payload, ident, critical)
    assert seq > 0
    found = _by_key(Store(flash))
    assert found[(KIND_RAW, ident, seq)] == [payload]
    for key, value in must_keep.items():
        assert value in found[key], key


def _fill(store: Store, count: int, first_id: int = 1, critical_every: int = 0) -> dict[Key, bytes]:
    written = {}
    for i in range(first_id, first_id + count):
        vt = critical_every and i % critical_every == 0
        frame = event(i, "VT" if vt else "AF")
        seq = store.append(KIND_EVENT, frame, i, critical=bool(vt))
        written[(KIND_EVENT, i, seq)] = frame
    return written


def test_cut_at_every_step_of_an_event_append() -> None:
    flash = _flash(8)
    old = _fill(Store(flash), 4)
    frame = event(99, "VT")
    next_seq = Store(flash).seq
    outcomes = set()

    def check(store: Store, cut: int) -> None:
        found = _by_key(store)
        for key, value in old.items():
            assert found[key] == [value]
        new = found.pop((KIND_EVENT, 99, next_seq), None)
        assert new in (None, [frame])  # absent or whole, never torn
        assert set(found) == set(old)  # nothing else appeared
        outcomes.add(new is not None)
        _goes_on(store, flash, old)

    total = _every_cut(flash, lambda s: s.append(KIND_EVENT, frame, 99, critical=True), check)
    assert total == 60  # 36-byte frame + 24-byte header, programmed, no erase
    assert False in outcomes


def test_cut_at_every_step_of_an_append_that_opens_a_block() -> None:
    flash = _flash(8)
    store = Store(flash)
    old = _fill(store, 7)  # 7 events of 60 bytes fill a 512-byte block's 420
    assert store.stats()["used_blocks"] == 1
    frame = summary(5)

    def check(store: Store, cut: int) -> None:
        found = _by_key(store)
        for key, value in old.items():
            assert found[key] == [value]
        extra = {k: v for k, v in found.items() if k not in old}
        assert extra in ({}, {(KIND_SUMMARY, 5, 8): [frame]})
        _goes_on(store, flash, old)

    # An erase, the 92-byte block header, then the record (padding is left erased).
    assert _every_cut(flash, lambda s: s.append(KIND_SUMMARY, frame, 5), check) == 1 + 92 + 24 + 29


def test_cut_at_every_step_of_a_snippet_spanning_blocks() -> None:
    flash = _flash(8)
    old = _fill(Store(flash), 3)
    payload = random.Random(7).randbytes(700)
    header = b"snippet header frame"
    committed = []

    def check(store: Store, cut: int) -> None:
        found = _by_key(store)
        for key, value in old.items():
            assert found[key] == [value]
        for kind, ident, _ in found:
            if kind == KIND_CHUNK:
                assert ident == 4
        chunks = [r for r in contents(store, 1 << KIND_CHUNK)]
        for _, _, _, _, aux, data in chunks:
            assert data == payload[aux : aux + len(data)]  # every chunk there is whole
        heads = [r for r in contents(store, 1 << KIND_SNIPPET)]
        if heads:  # committed: its whole payload is readable
            assert [(r[1], r[4], r[5]) for r in heads] == [(4, 700, header)]
            buf = bytearray(700)
            assert store.read_snippet(4, 0, buf) == 700 and buf == payload
            committed.append(cut)
        else:
            assert not any(r[0] == KIND_SNIPPET for r in store.unacknowledged())
        _goes_on(store, flash, old)

    total = _every_cut(flash, lambda s: s.append_snippet(4, header, payload, critical=True), check)
    assert total > 700 + 92
    assert committed == []  # a cut before the last step never commits it


def test_cut_at_every_step_of_an_ack() -> None:
    flash = _flash(8)
    old = _fill(Store(flash), 5)
    states = set()

    def check(store: Store, cut: int) -> None:
        assert {k: v[0] for k, v in _by_key(store).items()} == old
        unacked = [r[1] for r in store.unacknowledged()]
        assert unacked in ([1, 2, 3, 4, 5], [4, 5])  # the ACK took effect or did not
        states.add(len(unacked))
        _goes_on(store, flash, old)

    assert _every_cut(flash, lambda s: s.ack(KIND_EVENT, 3), check) == 96
    assert states == {5}


def test_cut_at_every_step_of_a_reclaim_that_moves_critical_records() -> None:
    flash = _flash(6)
    store = Store(flash)
    written = _fill(store, 35, critical_every=3)  # 5 usable blocks of 7: the flash is full
    assert store.stats()["free_blocks"] == 1 and store.head_off + 60 > 512
    critical = {k: v for k, v in written.items() if k[1] % 3 == 0}
    frame = event(36, "VT")
    reserve = (store.head + 1) % 6
    retired = set()

    def check(store: Store, cut: int) -> None:
        found = _by_key(store)
        for key, values in found.items():  # nothing foreign, nothing torn, no duplicate
            assert values == [written.get(key, frame)]
        for key, value in critical.items():  # no critical record lost
            assert value in found[key], (cut, key)
        assert store.used == 5
        if flash.image()[reserve * 512 + 4] == 0:  # boot retired the reserve holding copies
            retired.add(cut)
        _goes_on(store, flash, critical)

    total = _every_cut(flash, lambda s: s.append(KIND_EVENT, frame, 36, critical=True), check)
    # The head is full: erase + header of the reserve block (1 + 92), the tail's 2 VT events
    # moved there (2 x 60), the tail retired (1), a state record with the 5 drops (96), the
    # record (60).
    assert total == 1 + 92 + 2 * 60 + 1 + 96 + 60
    # Cut after the reserve's header and before the tail's retirement: the reserve held only
    # copies, and boot gave it back. (A cut in the header's last byte may still leave the
    # right bits; one in the retiring byte retires the tail.)
    window = set(range(1 + 92, 1 + 92 + 120))
    assert window <= retired <= window | {92}


def test_cuts_while_the_flash_is_full_of_critical_data() -> None:
    flash = _flash(5)
    store = Store(flash)
    written = _fill(store, 28, critical_every=1)
    assert store.dropped()[5] == 0
    frame = event(29, "VT")

    def check(store: Store, cut: int) -> None:
        found = _by_key(store)
        for key, values in found.items():
            assert set(values) <= {written.get(key, frame)}
        survivors = sorted(k[1] for k in found)
        assert survivors == list(range(survivors[0], survivors[-1] + 1))  # the oldest went
        _goes_on(store, flash, {}, critical=True)

    _every_cut(flash, lambda s: s.append(KIND_EVENT, frame, 29, critical=True), check)


# ---------------------------------------------------------------- random operations vs a model

GROUP = {KIND_EVENT: 0, KIND_SUMMARY: 1, KIND_SNIPPET: 2, KIND_CHUNK: 2, KIND_RAW: 3}


@dataclass
class Model:
    """What must be in the store: completed appends, and the ACK states it may be in."""

    records: dict[Key, tuple[bytes, bool]] = field(default_factory=dict)  # payload, critical
    maybe: dict[tuple[int, int], bytes] = field(default_factory=dict)  # interrupted appends, by kind, ident
    snippets: dict[int, bytes] = field(default_factory=dict)  # ident -> payload (any state)
    # Per group, the (up_to, ack_seq) states the store may be in after interrupted ACKs.
    acks: list[set[tuple[int, int]]] = field(default_factory=lambda: [{(0, 0)} for _ in range(4)])
    cuts: int = 0

    def acked(self, key: Key) -> bool | None:
        """True/False, or None when interrupted ACKs leave it open."""
        kind, ident, seq = key
        verdicts = {ident <= up and seq < aseq for up, aseq in self.acks[GROUP[kind]]}
        return verdicts.pop() if len(verdicts) == 1 else None


def _apply_ack(state: tuple[int, int], up_to: int, seq: int) -> tuple[int, int]:
    return state if up_to < state[0] else (up_to, seq)


def random_ops(seed: int, count: int) -> list[tuple[str, bool, int, int | None]]:
    """A random session: (operation, critical, size or ACK lag, power cut after N steps)."""
    rng = random.Random(seed)
    names = ["event"] * 6 + ["summary"] * 3 + ["raw"] * 4 + ["snippet"] * 2 + ["ack"] * 4 + ["reboot"]
    return [
        (
            rng.choice(names),
            rng.random() < 0.3,
            rng.randrange(1, 500),
            rng.randrange(800) if rng.random() < 0.25 else None,
        )
        for _ in range(count)
    ]


def _run(ops: list[tuple[str, bool, int, int | None]], blocks: int, pressure: bool) -> None:
    flash = _flash(blocks, seed=len(ops))
    store = Store(flash)
    model = Model()
    rng = random.Random(len(ops))
    for name, critical, size, cut in ops:
        critical = critical and (not pressure or rng.random() < 0.4)  # less critical data under pressure
        if name == "reboot":
            store = Store(flash)
            continue
        kind = {"event": KIND_EVENT, "summary": KIND_SUMMARY, "raw": KIND_RAW, "snippet": KIND_SNIPPET}.get(
            name
        )
        seq0 = store.seq
        if cut is not None:
            flash.arm_power_loss(cut)
        try:
            if name == "ack":
                g_kind = rng.choice([KIND_EVENT, KIND_SUMMARY, KIND_SNIPPET, KIND_RAW])
                up_to = max(0, store.last_ident(g_kind) - size % 5)
                g = GROUP[g_kind]
                pending = {_apply_ack(s, up_to, seq0) for s in model.acks[g]}
                before = model.acks[g]
                model.acks[g] = before | pending  # while it runs, either may end up on flash
                store.ack(g_kind, up_to)
                model.acks[g] = pending
            else:
                assert kind is not None
                ident = store.last_ident(kind) + 1
                if kind == KIND_SNIPPET:
                    payload = bytes(rng.randrange(256) for _ in range(size))
                    model.snippets[ident] = payload
                    seq = store.append_snippet(ident, b"hdr%d" % ident, payload, critical)
                    if seq:
                        model.records[(KIND_SNIPPET, ident, seq)] = (b"hdr%d" % ident, critical)
                else:
                    payload = bytes([kind, ident & 0xFF]) + bytes(
                        rng.randrange(256) for _ in range(size % 120)
                    )
                    model.maybe[(kind, ident)] = payload
                    seq = store.append(kind, payload, ident, critical)
                    del model.maybe[(kind, ident)]
                    if seq:
                        assert seq >= seq0  # a state record with drop counts may go first
                        model.records[(kind, ident, seq)] = (payload, critical)
            flash.disarm()
        except PowerLoss:
            flash.power_on()
            model.cuts += 1
            store = Store(flash)
        _check(store, model, pressure)
    _check(Store(flash), model, pressure)


def _check(store: Store, model: Model, pressure: bool) -> None:
    found = _by_key(store)
    for (kind, ident, seq), values in found.items():
        if kind == KIND_CHUNK:
            assert ident in model.snippets
            continue
        if kind == KIND_SNIPPET and (kind, ident, seq) not in model.records:
            assert values == [b"hdr%d" % ident]  # an interrupted snippet committed at the last step
            continue
        expected = model.records.get((kind, ident, seq))
        want = expected[0] if expected else model.maybe.get((kind, ident))
        assert want is not None, f"foreign record {(kind, ident, seq)}"
        assert set(values) == {want}
        assert pressure or len(values) == 1
    for _, ident, _, _, aux, data in contents(store, 1 << KIND_CHUNK):
        assert data == model.snippets[ident][aux : aux + len(data)]
    unacked = {(r[0], r[1], r[2]) for r in store.records(ALL_KINDS & ~(1 << KIND_CHUNK), True)}
    # Critical data are kept "until nothing else is left": while they fill at most half of it.
    critical_bytes = sum(
        len(payload) + 28 + (len(model.snippets[k[1]]) + 28 * 3 if k[0] == KIND_SNIPPET else 0)
        for k, (payload, critical) in model.records.items()
        if critical and model.acked(k) is not True
    )
    keeps_critical = critical_bytes <= store.stats()["capacity_bytes"] // 2
    for key, (_, critical) in model.records.items():
        acked = model.acked(key)
        if not pressure:
            assert key in found, key
            if acked is not None:
                assert (key in unacked) == (not acked), key
        elif critical and acked is False and keeps_critical:
            assert key in found, key  # critical data outlive any amount of non-critical data
        if (
            key[0] == KIND_SNIPPET
            and key in found
            and (not pressure or (critical and acked is False and keeps_critical))
        ):
            payload = model.snippets[key[1]]
            buf = bytearray(len(payload))
            assert store.read_snippet(key[1], 0, buf) == len(payload) and buf == payload
    if not pressure:
        assert store.dropped() == (0, 0, 0, 0, 0, 0)
    for kind in (KIND_EVENT, KIND_SUMMARY, KIND_SNIPPET, KIND_RAW):
        done = [k[1] for k in model.records if GROUP[k[0]] == GROUP[kind]]
        assert store.last_ident(kind) >= max(done, default=0)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hs.integers(0, 2**32 - 1), hs.integers(1, 60))
def test_random_operations_and_cuts_without_pressure(seed: int, count: int) -> None:
    """A flash large enough for everything: exactly the completed records, acked as modelled."""
    _run(random_ops(seed, count), blocks=96, pressure=False)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hs.integers(0, 2**32 - 1), hs.integers(1, 80))
def test_random_operations_and_cuts_under_pressure(seed: int, count: int) -> None:
    """A flash of 6 small blocks, far too small: unacked critical data are never lost."""
    _run(random_ops(seed, count), blocks=6, pressure=True)
