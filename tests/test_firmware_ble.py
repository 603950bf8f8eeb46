"""The patch's BLE service (firmware/ble_service.py) over a real host stack: bumble's virtual link.

Each test builds the air, the patch (the firmware's BleService on hardware_sim/ble_bumble.py,
its main loop a PatchLoop) and a gateway central (hardware_sim/ble_central.py), and talks to
the patch as the gateway will: MTU exchange, discovery, subscriptions, control-point commands,
frames decoded with firmware/wire.py.
"""

from __future__ import annotations

import asyncio
import errno
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from firmware import wire
from firmware.ble_service import (
    BATTERY_LEVEL,
    BODY_SENSOR_LOCATION,
    ECG_CONTROL_UUID,
    ECG_DATA_UUID,
    ECG_SERVICE_UUID,
    FIRMWARE_REVISION,
    HEART_RATE_MEASUREMENT,
    MANUFACTURER_NAME,
    MODEL_NUMBER,
    SERIAL_NUMBER,
    BleService,
    Snippet,
    advertising_payload,
)
from hardware_sim.ble_bumble import PatchLoop, SimBluetooth, VirtualAir
from hardware_sim.ble_central import GatewayCentral, PatchLink

FS = 250
LSB_NV = 305


def run(coro: Awaitable[Any]) -> Any:
    async def main() -> Any:
        return await asyncio.wait_for(coro, 30.0)

    return asyncio.run(main())


@dataclass
class Patch:
    bt: SimBluetooth
    service: BleService
    central: GatewayCentral
    acks: list[tuple[str, int]] = field(default_factory=list)
    syncs: list[int] = field(default_factory=list)
    sessions: list[bool] = field(default_factory=list)

    async def connect(self, mtu: int | None = 247, **kw: Any) -> PatchLink:
        return await self.central.connect(self.bt.address, mtu=mtu, **kw)

    def check_clean(self) -> None:
        ble = self.bt.BLE()
        assert ble.irq_errors == []
        assert ble.errors == []
        assert self.service.last_error is None


@asynccontextmanager
async def patch_world(tx_buffers: int = 12) -> AsyncIterator[Patch]:
    air = VirtualAir()
    bt = await SimBluetooth.create(air, "patch", tx_buffers=tx_buffers)
    service = BleService(bt, name="ECG-0042", serial="0042", adv_interval_us=20000)
    patch = Patch(bt, service, await GatewayCentral.create(air))
    service.on_ack = lambda target, up_to: patch.acks.append((target, up_to))

    def time_sync(gateway_ms: int) -> int:
        patch.syncs.append(gateway_ms)
        return 123_456

    service.on_time_sync = time_sync
    service.on_session = patch.sessions.append
    async with PatchLoop(bt.BLE(), service.poll):
        yield patch
    await bt.BLE().close()


def ecg_codes(seconds: float, seed: int = 0) -> np.ndarray:
    """ECG-like int16 ADC codes: a QRS spike a second on a wandering baseline, with noise."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    t = np.arange(n) / FS
    signal = 300 * np.sin(2 * np.pi * 0.3 * t) + rng.normal(0, 8, n)
    signal[(np.arange(n) % FS) < 5] += 3000
    return np.clip(signal, -32768, 32767).astype("<i2")


def snippet_of(snippet_id: int, seconds: float, encoding: str = "int16", seed: int = 0) -> Snippet:
    samples = ecg_codes(seconds, seed).tobytes()
    if encoding == "int16":
        payload = samples
    else:
        encoding, payload = wire.compress_samples(samples, 1)
        assert encoding == "delta8"
    return Snippet(
        snippet_id, 9, 1_700_000_000_000, FS, LSB_NV, 1, payload, encoding, total_samples=len(samples) // 2
    )


def _ad_structures(data: bytes) -> dict[int, bytes]:
    out = {}
    pos = 0
    while pos < len(data):
        size = data[pos]
        out[data[pos + 1]] = data[pos + 2 : pos + 1 + size]
        pos += size + 1
    return out


# ---------------------------------------------------------------- connection and GATT table


def test_advertising_finds_the_patch_by_ecg_and_heart_rate_uuids() -> None:
    adv, resp = advertising_payload("ECG-0042")
    assert len(adv) <= 31 and len(resp) <= 31
    fields = _ad_structures(adv)
    assert fields[0x01] == b"\x06"
    assert fields[0x07] == bytes(reversed(bytes.fromhex(ECG_SERVICE_UUID.replace("-", ""))))
    assert fields[0x03] == b"\x0d\x18"
    assert _ad_structures(resp)[0x09] == b"ECG-0042"

    async def scan() -> None:
        async with patch_world() as patch:
            seen: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

            def on_advertisement(advertisement: Any) -> None:
                if advertisement.address == patch.bt.address and not seen.done():
                    seen.set_result(advertisement)

            patch.central.device.on("advertisement", on_advertisement)
            await patch.central.device.start_scanning()
            found = await asyncio.wait_for(seen, 2.0)
            await patch.central.device.stop_scanning()
            # bumble's virtual controller sends no scan responses: the name is checked by
            # reading the GAP device name in the discovery test
            assert bytes(found.data).startswith(adv)

    run(scan())


def test_discovery_shows_the_four_services_and_their_characteristics() -> None:
    async def body() -> None:
        async with patch_world() as patch:
            link = await patch.connect()
            uuids = {str(s.uuid.to_hex_str("-")).lower() for s in link.services}
            for expected in (ECG_SERVICE_UUID, "180d", "180f", "180a"):
                assert expected in uuids
            props = {
                ECG_DATA_UUID: {"NOTIFY"},
                ECG_CONTROL_UUID: {"WRITE", "WRITE_WITHOUT_RESPONSE", "INDICATE"},
                HEART_RATE_MEASUREMENT: {"NOTIFY"},
                BODY_SENSOR_LOCATION: {"READ"},
                BATTERY_LEVEL: {"READ", "NOTIFY"},
                MANUFACTURER_NAME: {"READ"},
            }
            for uuid, names in props.items():
                got = link.characteristic(uuid).properties
                assert {p.name for p in type(got) if p in got} == names, uuid
            assert await link.read(BODY_SENSOR_LOCATION) == b"\x01"  # chest
            assert wire.decode_battery_level(await link.read(BATTERY_LEVEL))["percent"] == 100
            assert await link.read(SERIAL_NUMBER) == b"0042"
            assert await link.read(MODEL_NUMBER) == b"ECG-1"
            assert await link.read(FIRMWARE_REVISION) == b"0.1.0"
            assert await link.read(0x2A00) == b"ECG-0042"  # GAP device name from config(gap_name=)
            patch.check_clean()

    run(body())


@pytest.mark.parametrize("mtu", [247, None])
def test_mtu_exchange_reaches_the_firmware(mtu: int | None) -> None:
    async def body() -> None:
        async with patch_world() as patch:
            link = await patch.connect(mtu=mtu)
            assert link.mtu == (mtu or 23)
            assert (await link.time_sync(1))["status"] == "OK"
            assert patch.service.mtu() == link.mtu
            assert patch.service.connections == 1

    run(body())


# ---------------------------------------------------------------- standard services


def test_heart_rate_notifications_carry_the_rr_intervals_sent() -> None:
    async def body() -> None:
        async with patch_world() as patch:
            link = await patch.connect(mtu=None)  # 20-byte values: the tightest case
            patch.service.set_heart_rate(72, [830, 845, 812], contact=True)
            hr = await asyncio.wait_for(link.heart_rates.get(), 1.0)
            assert hr["bpm"] == 72 and hr["contact"] is True
            assert [wire.rr_1024_to_ms(rr) for rr in hr["rr"]] == [830, 845, 812]
            many = list(range(600, 1200, 50))  # 12 intervals: the last 8 fit and are sent
            patch.service.set_heart_rate(300, many)
            hr = await asyncio.wait_for(link.heart_rates.get(), 1.0)
            assert hr["bpm"] == 300 and [wire.rr_1024_to_ms(rr) for rr in hr["rr"]] == many[-8:]
            patch.service.set_battery(57)
            assert await asyncio.wait_for(link.battery.get(), 1.0) == 57
            patch.check_clean()

    run(body())


def test_heart_rate_goes_only_to_subscribed_clients_and_a_second_central_can_listen() -> None:
    async def body() -> None:
        air = VirtualAir()
        bt = await SimBluetooth.create(air, "patch")
        service = BleService(bt, adv_interval_us=20000)
        service.on_ack = lambda target, up_to: None
        service.on_time_sync = lambda gateway_ms: 0
        async with PatchLoop(bt.BLE(), service.poll):
            gateway = await (await GatewayCentral.create(air, "gateway")).connect(bt.address)
            assert (await gateway.time_sync(5))["status"] == "OK"
            phone = await (await GatewayCentral.create(air, "phone")).connect(bt.address, subscribe=False)
            await phone.characteristic(HEART_RATE_MEASUREMENT).subscribe(phone._on_heart_rate)
            assert service.connections == 2
            service.set_heart_rate(64, [937])
            for link in (gateway, phone):
                hr = await asyncio.wait_for(link.heart_rates.get(), 1.0)
                assert hr["bpm"] == 64 and [wire.rr_1024_to_ms(rr) for rr in hr["rr"]] == [937]
            # The phone did not subscribe to the battery level: nothing reaches it
            service.set_battery(80)
            assert await asyncio.wait_for(gateway.battery.get(), 1.0) == 80
            await asyncio.sleep(0.05)
            assert phone.battery.empty()
            # The ECG session belongs to the gateway: the phone's command is BUSY
            await phone.characteristic(ECG_CONTROL_UUID).subscribe(phone._on_control, prefer_notify=False)
            assert (await phone.time_sync(6))["status"] == "BUSY"
            assert (await gateway.ack("event", 3))["status"] == "OK"
            assert bt.BLE().irq_errors == [] and bt.BLE().errors == []
        await bt.BLE().close()

    run(body())


# ---------------------------------------------------------------- ECG service frames


@pytest.mark.parametrize("mtu", [247, None])
def test_event_frame_is_notified_and_decoded(mtu: int | None) -> None:
    event = {
        "kind": "event",
        "event_id": 17,
        "event_type": "VT",
        "severity": "CRITICAL",
        "flags": wire.FLAG_ONGOING,
        "confidence": 230,
        "onset_ms": 1_700_000_000_000,
        "end_ms": 1_700_000_004_500,
        "heart_rate": 182,
        "beat_count": 14,
        "snippet_id": 5,
        "snippet_samples": 15000,
    }

    async def body() -> None:
        async with patch_world() as patch:
            link = await patch.connect(mtu=mtu)
            frame = wire.encode(event)
            assert not patch.service.send_frame(frame)  # no session before the first command
            assert (await link.time_sync(1_700_000_000_000))["status"] == "OK"
            assert patch.service.send_frame(frame)
            assert await link.next_frame() == event
            # at MTU 23 the 36-byte frame took two notifications
            assert link.data_rate.notifications == (1 if mtu else 2)
            assert link.wire_errors == []
            patch.check_clean()

    run(body())


def test_notifications_without_subscription_are_sent_but_dropped_by_the_client() -> None:
    """As on NimBLE: gatts_notify sends regardless of the CCCD; the client drops the value."""

    async def body() -> None:
        async with patch_world() as patch:
            link = await patch.connect(subscribe=False)
            await link.subscribe(data=False)
            assert (await link.time_sync(2))["status"] == "OK"
            before = patch.bt.BLE().sent_notifications
            assert patch.service.send_frame(wire.encode_summary(1000, 60, 70, 60, 80, 70, 0, 0, 255, 90))
            for _ in range(50):
                await asyncio.sleep(0.002)
                if patch.bt.BLE().sent_notifications > before:
                    break
            assert patch.bt.BLE().sent_notifications == before + 1
            await asyncio.sleep(0.02)
            assert link.frames.empty() and link.data_rate.notifications == 0

    run(body())


@pytest.mark.parametrize(
    ("mtu", "encoding", "fragments"), [(247, "int16", 22), (None, "int16", 417), (None, "delta8", 0)]
)
def test_snippet_transfer_in_fragments(mtu: int | None, encoding: str, fragments: int) -> None:
    snippet = snippet_of(5, 10.0, encoding)  # 10 s at 250 Hz

    async def body() -> None:
        async with patch_world() as patch:
            link = await patch.connect(mtu=mtu)
            await link.time_sync(3)
            assert patch.service.send_snippet(snippet)
            reassembler = await link.collect_snippet(wire.SnippetReassembler(), timeout=10.0)
            header = reassembler.header
            assert header is not None
            size = wire.fragment_size_for_mtu(mtu or 23)
            assert header["fragment_size"] == size
            assert header["total_fragments"] == fragments or (
                fragments == 0 and header["encoding"] == "delta8"
            )
            payload = reassembler.payload()  # CRC-32 checked against the header
            assert payload == bytes(snippet.payload)
            samples = wire.snippet_samples(header, payload)
            assert samples == ecg_codes(10.0).tobytes()
            assert link.data_rate.notifications == header["total_fragments"] + (1 if mtu else 3)
            assert link.wire_errors == []
            patch.check_clean()

    run(body())


@pytest.mark.parametrize("reconnect_mtu", [247, None])
def test_disconnect_mid_snippet_then_resume(reconnect_mtu: int | None) -> None:
    """Link lost after 40 of 128 fragments; the gateway reconnects and RESUMEs. At the same MTU
    the patch sends only the missing fragments; at MTU 23 (fragments of 236 bytes no longer
    fit) it sends the whole snippet again at 12 bytes a fragment."""
    snippet = snippet_of(77, 60.0)  # 30,000 bytes

    async def body() -> None:
        async with patch_world() as patch:
            link = await patch.connect(mtu=247)
            await link.time_sync(4)
            assert patch.service.send_snippet(snippet)
            fragments = 0
            sending_at_cut: list[bool] = []

            def cut_after_40(frame: dict) -> bool:  # the link drops right after fragment 40
                nonlocal fragments
                if frame["kind"] == "snippet_fragment":
                    fragments += 1
                    if fragments == 40:
                        sending_at_cut.append(patch.service.sending_snippet)
                        asyncio.get_running_loop().create_task(link.connection.disconnect())
                return fragments <= 40

            link.frame_hook = cut_after_40
            reassembler = wire.SnippetReassembler()
            await link.collect_snippet(reassembler, stop_after=40)
            assert sending_at_cut == [True]  # the patch was still sending
            await asyncio.wait_for(link.disconnected.wait(), 1.0)
            for _ in range(100):
                if patch.sessions == [True, False]:
                    break
                await asyncio.sleep(0.002)
            assert patch.sessions == [True, False]
            assert patch.service.session < 0 and not patch.service.sending_snippet
            got = reassembler.received
            assert got == 40

            link = await patch.connect(mtu=reconnect_mtu)
            await link.time_sync(5)
            ranges = reassembler.resume_ranges()
            assert ranges == [(got, 128 - got)]
            for first, count in ranges:
                assert (await link.resume(77, first, count))["status"] == "OK"
            await link.collect_snippet(reassembler, timeout=15.0)
            assert reassembler.payload() == bytes(snippet.payload)
            expected = 128 - got + 1 if reconnect_mtu else wire.fragment_count(30000, 12) + 3
            assert link.data_rate.notifications == expected
            assert (await link.resume(999, 0))["status"] == "UNKNOWN_ID"
            assert (await link.resume(77, 60000))["status"] == "BAD_VALUE"
            patch.check_clean()

    run(body())


def test_resume_of_a_snippet_the_store_holds_and_busy_when_the_line_is_full() -> None:
    old = snippet_of(11, 10.0, seed=1)
    held = {11: old}

    async def body() -> None:
        async with patch_world() as patch:
            patch.service.get_snippet = held.get
            link = await patch.connect()
            await link.time_sync(6)
            # a snippet sent before a reboot: cut for this MTU, only the fragments asked for
            assert (await link.resume(11, 5, 3))["status"] == "OK"
            header = await link.next_frame()
            assert header["kind"] == "snippet_header" and header["snippet_id"] == 11
            indices = [(await link.next_frame())["index"] for _ in range(3)]
            assert indices == [5, 6, 7]
            # four transfers may wait in line; a fifth request is BUSY until they are done
            big = [snippet_of(20 + i, 60.0) for i in range(5)]
            accepted = [patch.service.send_snippet(s) for s in big]
            assert accepted == [True] * 4 + [False]
            statuses = [(await link.resume(11, 0, 1))["status"] for _ in range(8)]
            assert "BUSY" in statuses and set(statuses) <= {"OK", "BUSY"}
            patch.check_clean()

    run(body())


# ---------------------------------------------------------------- control point


def test_ack_reaches_the_store_callback() -> None:
    async def body() -> None:
        async with patch_world() as patch:
            link = await patch.connect()
            response = await link.ack("event", 42)
            assert response == {"kind": "response", "seq": response["seq"], "request": "ack", "status": "OK"}
            assert (await link.ack("snippet", 7, with_response=False))["status"] == "OK"
            assert patch.acks == [("event", 42), ("snippet", 7)]
            patch.check_clean()

    run(body())


def test_time_sync_response_carries_the_patch_clock() -> None:
    async def body() -> None:
        async with patch_world() as patch:
            link = await patch.connect()
            response = await link.time_sync(1_712_345_678_901)
            assert response["request"] == "time_sync" and response["status"] == "OK"
            assert response["patch_ms"] == 123_456
            assert patch.syncs == [1_712_345_678_901]
            patch.service.on_time_sync = None
            assert (await link.time_sync(1))["status"] == "UNSUPPORTED"

    run(body())


def test_config_goes_to_the_callback() -> None:
    async def body() -> None:
        async with patch_world() as patch:
            settings = {"TACHY_BPM": 150}

            def config(key: str, value: int) -> tuple[str, int]:
                if value != wire.CONFIG_READ:
                    if not 60 <= value <= 250:
                        return "BAD_VALUE", settings[key]
                    settings[key] = value
                return "OK", settings[key]

            patch.service.on_config = config
            link = await patch.connect()
            assert (await link.config("TACHY_BPM"))["value"] == 150
            assert (await link.config("TACHY_BPM", 170))["value"] == 170
            response = await link.config("TACHY_BPM", 999)
            assert (response["status"], response["value"]) == ("BAD_VALUE", 170)

    run(body())


def test_live_streaming_on_request() -> None:
    async def body() -> None:
        async with patch_world() as patch:
            link = await patch.connect()
            assert (await link.live(True))["status"] == "UNSUPPORTED"
            patch.service.live_format(FS, LSB_NV, 1)
            response = await link.live(True, seconds=2)
            assert (response["fs_hz"], response["lsb_nv"], response["lead_count"]) == (FS, LSB_NV, 1)
            codes = ecg_codes(3.0)
            for code in codes:  # 3 s of samples; the stream stops by itself after 2 s
                patch.service.live_push(int(code))
            assert not patch.service.live
            got = bytearray()
            index = 0
            while len(got) < 2 * 2 * FS:
                frame = await link.next_frame()
                assert frame["kind"] == "live_data" and frame["sample_index"] == index
                got += frame["samples"]
                index += len(frame["samples"]) // 2
            assert bytes(got) == codes[: 2 * FS].tobytes()
            assert patch.service.live_dropped == 0
            assert (await link.live(False))["status"] == "OK"
            patch.check_clean()

    run(body())


def test_garbage_on_the_control_point_gets_error_responses_and_the_service_goes_on() -> None:
    rng = random.Random(7)
    good = wire.encode_time_sync(200, 99)
    bad_crc = bytearray(good)
    bad_crc[5] ^= 0x40
    bad_value = bytearray(wire.encode_live(201, True, 5))
    bad_value[3] = 7  # enable must be 0 or 1: the CRC is made right again below
    crc = wire.crc16_ccitt(bytes(bad_value[:-2]))
    bad_value[-2:] = bytes((crc & 0xFF, crc >> 8))
    expected = {200: "ERROR", 201: "BAD_VALUE", 202: "ERROR"}
    truncated = wire.encode_ack(202, "event", 5)[:7]

    async def body() -> None:
        async with patch_world() as patch:
            link = await patch.connect()
            for seq, frame in ((200, bytes(bad_crc)), (201, bytes(bad_value)), (202, truncated)):
                response = await link.command_frame(frame, seq)
                assert response["status"] == expected[seq], (seq, response)
            garbage = [b"", b"\x00", b"\xff" * 300, wire.encode_summary(1, 1, 1, 1, 1, 1, 0, 0, 0, 0)]
            garbage += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))) for _ in range(150)]
            for data in garbage:
                await link.write_control(data, with_response=rng.random() < 0.5)
            await asyncio.sleep(0.05)
            for response in link.unexpected_responses:  # whatever looked like a command
                assert response["kind"] == "response" and response["status"] in ("ERROR", "BAD_VALUE")
            assert patch.service.rx_errors >= len(garbage) // 2
            # still working: a command, and a frame on the data characteristic
            assert (await link.time_sync(8))["status"] == "OK"
            assert patch.service.send_frame(wire.encode_summary(2, 60, 70, 60, 80, 70, 0, 0, 255, 90))
            assert (await link.next_frame())["kind"] == "summary"
            assert link.wire_errors == []
            patch.check_clean()

    run(body())


# ---------------------------------------------------------------- the simulated radio itself


def test_sim_radio_faults_imitate_micropython() -> None:
    async def body() -> None:
        air = VirtualAir()
        bt = await SimBluetooth.create(air, "patch", tx_buffers=4)
        ble = bt.BLE()
        with pytest.raises(OSError) as info:
            ble.gatts_write(1, b"x")
        assert info.value.args[0] == errno.EPERM  # not active
        ble.active(True)
        ((data, control),) = ble.gatts_register_services(
            (
                (
                    bt.UUID(ECG_SERVICE_UUID),
                    ((bt.UUID(ECG_DATA_UUID), bt.FLAG_NOTIFY), (bt.UUID(ECG_CONTROL_UUID), bt.FLAG_WRITE)),
                ),
            )
        )
        with pytest.raises(OSError) as info:
            ble.gatts_notify(0, data, b"x")
        assert info.value.args[0] == errno.ENOTCONN
        ble.gap_advertise(20000, b"\x02\x01\x06")
        link = await (await GatewayCentral.create(air)).connect(bt.address, mtu=None, subscribe=False)
        conn = ble.conn_handles[0]
        with pytest.raises(OSError) as info:
            ble.gatts_notify(conn, data, bytes(21))  # 20 bytes at most at MTU 23
        assert info.value.args[0] == errno.EINVAL
        for _ in range(4):
            ble.gatts_notify(conn, data, bytes(20))
        with pytest.raises(OSError) as info:  # the loop has not run: the 4 buffers are taken
            ble.gatts_notify(conn, data, bytes(20))
        assert info.value.args[0] == errno.ENOMEM
        await asyncio.sleep(0.01)
        ble.gatts_notify(conn, data, bytes(20))  # freed again
        ble.oversize = "truncate"
        ble.gatts_notify(conn, data, bytes(30))
        # writes land in a 20-byte buffer unless gatts_set_buffer says otherwise
        await link.characteristic(ECG_CONTROL_UUID).write_value(bytes(range(30)), with_response=True)
        assert ble.gatts_read(control) == bytes(range(20))
        ble.gatts_set_buffer(control, 64, True)
        for part in (b"ab", b"cd"):
            await link.characteristic(ECG_CONTROL_UUID).write_value(part, with_response=True)
        assert ble.gatts_read(control) == b"abcd" and ble.gatts_read(control) == b""
        with pytest.raises(Exception, match="WRITE_NOT_PERMITTED"):
            await link.characteristic(ECG_DATA_UUID).write_value(b"x", with_response=True)
        assert ble.gap_disconnect(conn)
        await asyncio.wait_for(link.disconnected.wait(), 1.0)
        assert ble.conn_handles == [] and not ble.gap_disconnect(conn)
        await ble.close()

    run(body())


# ---------------------------------------------------------------- throughput


def test_snippet_throughput_at_mtu_247(record_property: Callable[[str, object], None]) -> None:
    """Notifications/s and bytes/s of a 200-s snippet (100 kB, 424 fragments) over the
    virtual link: CPU-bound (both stacks and the firmware in one Python thread), no airtime.
    On air, one 244-byte notification per LE data PDU (DLE, 251 bytes) takes about 2.5 ms
    on the 1M PHY with its empty acknowledgement, 1.4 ms on 2M: 400 and 700 notifications/s,
    94 and 165 kB/s of payload, at most, if the connection event lets the patch send back
    to back."""
    snippet = snippet_of(3, 200.0)

    async def body() -> tuple[float, float, float]:
        async with patch_world() as patch:
            link = await patch.connect()
            await link.time_sync(1)
            loop = asyncio.get_running_loop()
            start = loop.time()
            assert patch.service.send_snippet(snippet)
            reassembler = await link.collect_snippet(wire.SnippetReassembler(), timeout=20.0)
            elapsed = loop.time() - start
            assert reassembler.payload() == bytes(snippet.payload)
            rate = link.data_rate
            return rate.notifications / elapsed, rate.value_bytes / elapsed, len(snippet.payload) / elapsed

    notifications_s, bytes_s, payload_s = run(body())
    record_property("notifications_per_s", round(notifications_s))
    record_property("value_bytes_per_s", round(bytes_s))
    print(
        f"\nMTU 247 snippet: {notifications_s:.0f} notifications/s, {bytes_s / 1000:.0f} kB/s of ATT values, "
        f"{payload_s / 1000:.0f} kB/s of snippet payload"
    )
    assert notifications_s > 200
