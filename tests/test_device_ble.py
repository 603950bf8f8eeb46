"""firmware/device.py: the whole patch (Patch, Store, BleService) talking to a gateway over BLE.

The patch runs on bumble's host stack (hardware_sim/ble_bumble.py), fed with mitdb/223 through
the front end from 480 s (it turns into a ventricular rhythm at about 577 s), with the shipped
beat classifier and a constant VT model (test_firmware_patch.constant_vt_model) so a VT event
happens without the trained SCNN; two button presses make symptom events. The gateway is
hardware_sim/ble_central.py, driven by the test:

| patch clock | link                                                                          |
|-------------|-------------------------------------------------------------------------------|
| 0 s         | session 1: time sync, a config write (summaries every 10 s), battery 87 %      |
| 0-60 s      | away; a press at 20 s                                                          |
| 60 s        | session 2: time sync, the backlog, then live frames and heart rate while fed   |
|             | to 150 s; events acknowledged; the first symptom's and the NSVT's snippets     |
|             | fetched; the VT snippet cut after 40 of its fragments (the link drops)         |
| 150-200 s   | away; the VT ends; a long press at 185 s (a symptom even under the alarm)      |
| 200 s       | session 3: the VT snippet resumed; the backlog, critical first; the second     |
|             | symptom's snippet BUSY until written (fed to 222 s), then fetched; all acked   |

Then what the gateway got is held against what the Patch stored.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from test_firmware_patch import LSB, codes_of, models_folder

from firmware import wire
from firmware.ble_service import BleService
from firmware.device import Device
from firmware.model_plan import VT_MODEL
from firmware.patch import Patch
from firmware.signal_path import BEAT_RING, SignalPath
from firmware.store import KIND_EVENT, KIND_SUMMARY, Store
from hardware_sim.alert_devices import SimAlertDevices
from hardware_sim.ble_bumble import PatchLoop, SimBluetooth, VirtualAir
from hardware_sim.ble_central import GatewayCentral, PatchLink
from hardware_sim.flash import NorFlash
from hardware_sim.tflm_binding import TflmBinding

FS = 250
FIFO = 25
EPOCH = 1_712_000_000_000  # the gateway's clock at the patch's boot
CUT_AFTER = 40  # fragments of the VT snippet before the link drops
FLASH_BLOCKS = 24  # 96 kB: the four snippets fit only if acknowledged ones are reclaimed


@dataclass
class Gateway:
    """What arrived, per session (data frames that passed the cut, heart rate, battery)."""

    session: int = 0
    frames: list[tuple[int, dict]] = field(default_factory=list)  # events and summaries
    headers: list[dict] = field(default_factory=list)
    snippets: dict[int, wire.SnippetReassembler] = field(default_factory=dict)
    fragments: Counter[tuple[int, int]] = field(default_factory=Counter)
    rr_ms: dict[int, list[int]] = field(default_factory=dict)
    battery: list[int] = field(default_factory=list)

    def take(self, msg: dict) -> None:
        kind = msg["kind"]
        if kind in ("event", "summary"):
            self.frames.append((self.session, msg))
        elif kind == "snippet_header":
            self.headers.append(msg)
            self.snippets.setdefault(msg["snippet_id"], wire.SnippetReassembler()).start(msg)
        elif kind == "snippet_fragment":
            self.fragments[(msg["snippet_tag"], msg["index"])] += 1
            self.snippets[msg["snippet_tag"]].add(msg)  # ids stay below 2**16 here
        else:
            raise AssertionError(f"unexpected frame {kind}")

    def collect(self, link: PatchLink) -> None:
        """Heart rate and battery notifications queued so far."""
        while not link.heart_rates.empty():
            hr = link.heart_rates.get_nowait()
            self.rr_ms.setdefault(self.session, []).extend(wire.rr_1024_to_ms(x) for x in hr["rr"])
        while not link.battery.empty():
            self.battery.append(link.battery.get_nowait())

    async def drain(self, link: PatchLink, quiet_s: float = 0.25) -> None:
        """Every frame until the link has been quiet for quiet_s."""
        while True:
            try:
                self.take(await link.next_frame(quiet_s))
            except TimeoutError:
                return

    async def fetch(self, link: PatchLink, snippet_id: int, first: int = 0, count: int = 0) -> str:
        status = (await link.resume(snippet_id, first, count))["status"]
        while status == "OK" and not (snippet_id in self.snippets and self.snippets[snippet_id].complete):
            self.take(await link.next_frame(5.0))
        return str(status)

    async def ack_events(self, link: PatchLink) -> None:
        ids = [m["event_id"] for _, m in self.frames if m["kind"] == "event"]
        if ids:
            assert (await link.ack("event", max(ids)))["status"] == "OK"

    def events(self) -> list[dict]:
        return [m for _, m in self.frames if m["kind"] == "event"]


@dataclass
class World:
    bt: SimBluetooth
    central: GatewayCentral
    device: Device
    codes: list[int]
    fed: int = 0  # samples pushed

    async def feed_to(self, seconds: float) -> None:
        """Pushes FIFO reads up to `seconds` on the patch clock, letting the radio run between."""
        end = int(seconds * FS)
        while self.fed < end:
            self.device.push_block(self.codes[self.fed : self.fed + FIFO], False)
            self.fed += FIFO
            if self.fed % FS == 0:
                await asyncio.sleep(0.001)

    async def connect(self) -> PatchLink:
        return await self.central.connect(self.bt.address, mtu=247)


class RecordingStore(Store):
    """The store, keeping a copy of every event, summary and snippet the Patch stores in it
    (acknowledged records are reclaimed from flash before the end)."""

    def __init__(self, dev: NorFlash) -> None:
        self.messages: list[tuple[int, bool, dict]] = []  # (seq, critical, decoded frame)
        self.snippets: dict[int, tuple[dict, bytes]] = {}  # snippet_id: (header, payload)
        super().__init__(dev)

    def append(self, kind: int, payload: Any, ident: int, critical: bool = False, aux: int = 0) -> int:
        seq = super().append(kind, payload, ident, critical, aux)
        if seq and kind in (KIND_EVENT, KIND_SUMMARY):
            self.messages.append((seq, critical, wire.decode(bytes(payload))))
        return seq

    def append_snippet(self, snippet_id: int, header_frame: Any, payload: Any, critical: bool = False) -> int:
        seq = super().append_snippet(snippet_id, header_frame, payload, critical)
        if seq:
            self.snippets[snippet_id] = (wire.decode(bytes(header_frame)), bytes(payload))
        return seq


def as_synced(msg: dict) -> dict:
    """A stored frame as the device sends it once synced (FLAG_BACKLOG aside)."""
    msg = dict(msg)
    assert msg["flags"] & wire.FLAG_UNSYNCED
    msg["flags"] &= ~wire.FLAG_UNSYNCED
    for key in ("onset_ms", "end_ms", "time_ms"):
        if key in msg:
            msg[key] += EPOCH
    return msg


def key(msg: dict) -> tuple:
    return tuple(sorted((k, v) for k, v in msg.items() if k != "seq"))


def reference_rr(codes: list[int]) -> tuple[list[int], list[int]]:
    """(sample index, RR ms) of every beat the signal path detects, as the patch's does."""
    path = SignalPath(FS, LSB, VT_MODEL[1])
    index: list[int] = []
    rr: list[int] = []
    for i in range(0, len(codes), FIFO):
        path.push_block(codes[i : i + FIFO])
        while len(rr) < path.beat_total:
            k = len(rr) % BEAT_RING
            index.append(path.beat_index[k])
            rr.append(path.rr_ms[k])
    return index, rr


def contiguous_in(part: list[int], whole: list[int]) -> bool:
    n = len(part)
    return any(whole[i : i + n] == part for i in range(len(whole) - n + 1))


def run(coro: Any) -> Any:
    async def main() -> Any:
        return await asyncio.wait_for(coro, 50.0)

    return asyncio.run(main())


def test_patch_to_gateway_with_a_link_drop_loses_nothing(tmp_path: Path) -> None:
    codes = codes_of("223", 480, 222)
    models = models_folder(tmp_path / "models", 0.9)
    gw = Gateway()

    async def body() -> None:
        air = VirtualAir()
        bt = await SimBluetooth.create(air, "patch")
        service = BleService(bt, name="ECG-0042", serial="0042", adv_interval_us=20000)
        store = RecordingStore(NorFlash(block_count=FLASH_BLOCKS, block_size=4096))
        holder: list[Device] = []
        devices = SimAlertDevices(clock=lambda: holder[0].now_ms() if holder else 0)
        patch = Patch(LSB, TflmBinding(), str(models), store, devices)
        device = Device(patch, service)
        holder.append(device)
        world = World(bt, await GatewayCentral.create(air), device, codes)
        devices.press(20_000)
        devices.press(185_000, long=True)  # a long press is a symptom even while the VT alarm sounds
        session_seq: dict[int, int] = {}  # store seq when each session opened
        async with PatchLoop(bt.BLE(), device.poll):
            # ---- session 1: settings
            gw.session = 1
            link = await world.connect()
            session_seq[1] = store.seq
            sync = await link.time_sync(EPOCH)
            assert (sync["status"], sync["patch_ms"]) == ("OK", 0)  # unsynced: ms since boot
            set_period = await link.config("SUMMARY_PERIOD_S", 10)
            assert (set_period["status"], set_period["value"]) == ("OK", 10)
            assert patch.detector.config.summary_period_s == 10  # reached the rules
            refused = await link.config("BRADY_BPM", 130)  # not below TACHY_BPM (120)
            assert (refused["status"], refused["value"]) == ("BAD_VALUE", 40)
            assert (await link.config("SNIPPET_ENCODING", 1))["status"] == "UNSUPPORTED"
            device.set_battery(87)
            await asyncio.sleep(0.05)
            gw.collect(link)
            assert gw.battery == [87]
            await link.disconnect()

            # ---- away, then session 2
            await world.feed_to(60)
            gw.session = 2
            link = await world.connect()
            session_seq[2] = store.seq
            sync = await link.time_sync(EPOCH + 60_000 + 7)  # the gateway's clock 7 ms ahead now
            assert sync["patch_ms"] == EPOCH + 60_000  # the patch clock: drift visible, offset kept
            assert device.offset_ms == EPOCH
            assert link.mtu == service.mtu() == 247  # the session's MTU, exchanged at connection
            await gw.drain(link)
            backlog = [m for _, m in gw.frames]
            assert backlog and all(m["flags"] & wire.FLAG_BACKLOG for m in backlog)
            await gw.ack_events(link)
            await world.feed_to(150)
            await gw.drain(link)
            gw.collect(link)
            await gw.ack_events(link)
            assert not list(store.records(1 << KIND_EVENT))  # every event marked acknowledged
            types = [m["event_type"] for m in gw.events()]
            assert types[0] == "SYMPTOM" and "VT" in types
            symptom, vt = gw.events()[0], next(m for m in gw.events() if m["event_type"] == "VT")
            assert symptom["snippet_samples"] and vt["snippet_samples"] and vt["severity"] == "CRITICAL"
            assert await gw.fetch(link, symptom["snippet_id"]) == "OK"
            assert (await link.ack("snippet", symptom["snippet_id"]))["status"] == "OK"
            # the V run that came just before the VT opened (NSVT), fetched the same way
            runs = sorted({m["snippet_id"] for m in gw.events() if m["event_type"] == "NSVT"})
            assert runs
            for sid in runs:
                assert await gw.fetch(link, sid) == "OK"
                assert (await link.ack("snippet", sid))["status"] == "OK"

            # the VT snippet: the link drops after CUT_AFTER fragments
            cut: list[bool] = []
            passed = [0]

            def cut_hook(msg: dict) -> bool:
                if msg["kind"] == "snippet_fragment" and not cut:
                    passed[0] += 1
                    if passed[0] == CUT_AFTER:
                        cut.append(service.sending_snippet)
                        asyncio.get_running_loop().create_task(link.connection.disconnect())
                    return True
                return not cut  # after the cut: lost with the link

            link.frame_hook = cut_hook
            assert (await link.resume(vt["snippet_id"], 0))["status"] == "OK"
            while not cut or not link.frames.empty():
                gw.take(await link.next_frame(5.0))
            assert cut == [True]  # the patch was still sending
            await asyncio.wait_for(link.disconnected.wait(), 1.0)
            partial = gw.snippets[vt["snippet_id"]]
            assert partial.received == CUT_AFTER and not partial.complete

            # ---- away, then session 3
            await world.feed_to(200)
            gw.session = 3
            link = await world.connect()
            session_seq[3] = store.seq
            assert (await link.time_sync(EPOCH + 200_000 - 3))["patch_ms"] == EPOCH + 200_000
            headers_before = len(gw.headers)
            for first, count in partial.resume_ranges():
                assert await gw.fetch(link, vt["snippet_id"], first, count) == "OK"
            assert gw.headers[headers_before] == gw.headers[headers_before - 1]  # same bytes: kept
            await gw.drain(link)
            await gw.ack_events(link)
            assert (await link.ack("snippet", vt["snippet_id"]))["status"] == "OK"
            second = next(
                m for m in gw.events() if m["event_type"] == "SYMPTOM" and m["event_id"] > vt["event_id"]
            )
            assert patch.snippets is not None and patch.snippets.waiting(second["snippet_id"])
            assert (await link.resume(second["snippet_id"], 0))["status"] == "BUSY"  # not written yet
            assert (await link.resume(999, 0))["status"] == "UNKNOWN_ID"
            await world.feed_to(222)
            assert await gw.fetch(link, second["snippet_id"]) == "OK"
            await gw.drain(link)
            await gw.ack_events(link)
            assert (await link.ack("snippet", second["snippet_id"]))["status"] == "OK"
            gw.collect(link)
            await link.disconnect()
        ble = bt.BLE()
        assert ble.irq_errors == [] and ble.errors == [] and service.last_error is None
        await ble.close()

        # ---- every event and summary the Patch stored arrived exactly once, nothing else did
        stored = store.messages
        assert len(stored) == patch.stored and patch.store_refused == 0
        expected = Counter(key(as_synced(m)) for _, _, m in stored)
        got = Counter(key({**m, "flags": m["flags"] & ~wire.FLAG_BACKLOG}) for _, m in gw.frames)
        assert got == expected
        assert sum(m["kind"] == "summary" for _, _, m in stored) >= 19  # every 10 s
        assert all(m["battery_percent"] == 87 for _, _, m in stored if m["kind"] == "summary")
        # FLAG_BACKLOG exactly on the records stored before the session that sent them
        seq_of = {key(as_synced(m)): (seq, critical) for seq, critical, m in stored}
        for session, m in gw.frames:
            seq, _ = seq_of[key({**m, "flags": m["flags"] & ~wire.FLAG_BACKLOG})]
            assert bool(m["flags"] & wire.FLAG_BACKLOG) == (seq < session_seq[session])
        # session 3's backlog: the VT's critical records first
        backlog3 = [seq_of[key({**m, "flags": m["flags"] & ~wire.FLAG_BACKLOG})][1] for s, m in gw.frames
                    if s == 3 and m["flags"] & wire.FLAG_BACKLOG]  # fmt: skip
        assert backlog3.count(True) >= 1 and backlog3 == sorted(backlog3, reverse=True)

        # ---- every snippet byte once: each fragment once, payloads as stored and as sampled
        assert len(store.snippets) == 4
        for sid, (header, payload) in store.snippets.items():
            got_header = next(h for h in gw.headers if h["snippet_id"] == sid)
            assert got_header["start_ms"] == header["start_ms"] + EPOCH
            assert not got_header["flags"] & wire.FLAG_UNSYNCED
            assert gw.snippets[sid].payload() == bytes(payload)
            k0 = header["start_ms"] * FS // 1000
            np.testing.assert_array_equal(
                np.frombuffer(payload, "<i2"), codes[k0 : k0 + header["total_samples"]]
            )
            total = got_header["total_fragments"]
            assert got_header["fragment_size"] == 236  # MTU 247
            assert [gw.fragments[(sid, i)] for i in range(total)] == [1] * total
        assert {sid for sid, _ in gw.fragments} == set(store.snippets)

        # ---- acknowledged: nothing left to send
        assert list(store.unacknowledged()) == []
        assert store.dropped() == (0, 0, 0, 0, 0, 0)
        assert store.reclaims > 0  # the last snippet went where acknowledged records were

        # ---- heart rate: every RR of the beats detected while connected, in order
        index, rr = reference_rr(codes[: world.fed])
        for session, start_s, stop_s in ((2, 60, 150), (3, 200, 222)):
            part = gw.rr_ms[session]
            assert contiguous_in(part, rr), session
            beats = sum(start_s * FS + FS < i < stop_s * FS - FS for i in index)
            assert len(part) >= beats > 0

    run(body())
