"""The gateway's side of the patch's BLE link, as a bumble central on a `VirtualAir`.

For tests and simulations, and for the gateway issue to build on (its bleak code will need the
same steps): connect, exchange MTU, discover, subscribe, send control-point commands and wait
for their RESPONSE, collect the frames of the data characteristic (joined with
wire.FrameJoiner, decoded with wire.decode), heart rate and battery notifications, and
reassemble snippets (wire.SnippetReassembler).

    air = VirtualAir()
    central = await GatewayCentral.create(air)
    link = await central.connect(patch_address, mtu=247)     # discovers and subscribes
    await link.time_sync(gateway_ms)                          # opens the patch's session
    frame = await link.next_frame()
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bumble.core import UUID as BumbleUUID
from bumble.device import Connection, Device, Peer
from bumble.gatt_client import CharacteristicProxy, ServiceProxy
from bumble.hci import Address

from firmware import wire
from firmware.ble_service import (
    BATTERY_LEVEL,
    ECG_CONTROL_UUID,
    ECG_DATA_UUID,
    HEART_RATE_MEASUREMENT,
)
from hardware_sim.ble_bumble import VirtualAir


def _uuid(value: int | str) -> BumbleUUID:
    return BumbleUUID.from_16_bits(value) if isinstance(value, int) else BumbleUUID(value)


class CommandTimeout(TimeoutError):
    """No RESPONSE to a command in time."""


@dataclass
class Throughput:
    """Notifications on the data characteristic: how many, how many value bytes, when."""

    notifications: int = 0
    value_bytes: int = 0
    first_s: float = 0.0
    last_s: float = 0.0

    def add(self, size: int) -> None:
        now = time.perf_counter()
        if not self.notifications:
            self.first_s = now
        self.last_s = now
        self.notifications += 1
        self.value_bytes += size


@dataclass
class PatchLink:
    """One connection to a patch: its GATT proxies and what arrived on them."""

    connection: Connection
    peer: Peer
    frames: asyncio.Queue[dict] = field(default_factory=asyncio.Queue)
    responses: dict[int, asyncio.Future[dict]] = field(default_factory=dict)
    unexpected_responses: list[dict] = field(default_factory=list)
    heart_rates: asyncio.Queue[dict] = field(default_factory=asyncio.Queue)
    battery: asyncio.Queue[int] = field(default_factory=asyncio.Queue)
    wire_errors: list[str] = field(default_factory=list)
    data_rate: Throughput = field(default_factory=Throughput)
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)
    seq: int = 0
    # Called with each decoded data frame before it is queued; returning False drops it
    # (tests use it to cut the link at an exact point of a transfer).
    frame_hook: Callable[[dict], bool] | None = None

    def __post_init__(self) -> None:
        self._data_joiner = wire.FrameJoiner()
        self._control_joiner = wire.FrameJoiner()
        self.connection.on(Connection.EVENT_DISCONNECTION, lambda reason: self.disconnected.set())

    @property
    def mtu(self) -> int:
        return self.connection.att_mtu

    @property
    def services(self) -> list[ServiceProxy]:
        return list(self.peer.services)

    def characteristic(self, uuid: int | str) -> CharacteristicProxy:
        found = self.peer.get_characteristics_by_uuid(_uuid(uuid))
        if not found:
            raise LookupError(f"the patch has no characteristic {uuid}")
        return found[0]

    # ---------------------------------------------------------------- setup

    async def discover(self) -> None:
        await self.peer.discover_services()
        for service in self.peer.services:
            await service.discover_characteristics()

    async def subscribe(
        self, data: bool = True, control: bool = True, heart_rate: bool = True, battery: bool = True
    ) -> None:
        if data:
            await self.characteristic(ECG_DATA_UUID).subscribe(self._on_data)
        if control:
            await self.characteristic(ECG_CONTROL_UUID).subscribe(self._on_control, prefer_notify=False)
        if heart_rate:
            await self.characteristic(HEART_RATE_MEASUREMENT).subscribe(self._on_heart_rate)
        if battery:
            await self.characteristic(BATTERY_LEVEL).subscribe(self._on_battery)

    # ---------------------------------------------------------------- incoming

    def _on_data(self, value: bytes) -> None:
        self.data_rate.add(len(value))
        try:
            frame = self._data_joiner.feed(bytes(value))
            if frame is not None:
                msg = wire.decode(frame)
                if self.frame_hook is None or self.frame_hook(msg):
                    self.frames.put_nowait(msg)
        except wire.WireError as exc:
            self.wire_errors.append(f"data: {exc}")

    def _on_control(self, value: bytes) -> None:
        try:
            frame = self._control_joiner.feed(bytes(value))
            if frame is None:
                return
            msg = wire.decode(frame)
        except wire.WireError as exc:
            self.wire_errors.append(f"control: {exc}")
            return
        waiter = self.responses.pop(msg.get("seq", -1), None) if msg["kind"] == "response" else None
        if waiter is None or waiter.done():
            self.unexpected_responses.append(msg)
        else:
            waiter.set_result(msg)

    def _on_heart_rate(self, value: bytes) -> None:
        try:
            self.heart_rates.put_nowait(wire.decode_heart_rate(bytes(value)))
        except wire.WireError as exc:
            self.wire_errors.append(f"heart rate: {exc}")

    def _on_battery(self, value: bytes) -> None:
        try:
            self.battery.put_nowait(wire.decode_battery_level(bytes(value))["percent"])
        except wire.WireError as exc:
            self.wire_errors.append(f"battery: {exc}")

    async def next_frame(self, timeout: float = 2.0) -> dict:
        return await asyncio.wait_for(self.frames.get(), timeout)

    # ---------------------------------------------------------------- commands

    def next_seq(self) -> int:
        self.seq = (self.seq + 1) & 0xFF
        return self.seq

    async def write_control(self, data: bytes, with_response: bool = True) -> None:
        """Raw bytes to the control point (commands, or garbage in tests)."""
        await self.characteristic(ECG_CONTROL_UUID).write_value(bytes(data), with_response=with_response)

    async def command(self, msg: dict, timeout: float = 2.0, with_response: bool = True) -> dict:
        """Sends a command message (seq filled in when absent) and returns its RESPONSE."""
        msg = dict(msg)
        msg.setdefault("seq", self.next_seq())
        frame = wire.encode(msg)
        return await self.command_frame(frame, msg["seq"], timeout, with_response)

    async def command_frame(
        self, frame: bytes, seq: int, timeout: float = 2.0, with_response: bool = True
    ) -> dict:
        waiter: asyncio.Future[dict] = asyncio.get_running_loop().create_future()
        self.responses[seq] = waiter
        await self.write_control(frame, with_response)
        try:
            return await asyncio.wait_for(waiter, timeout)
        except TimeoutError as exc:
            raise CommandTimeout(f"no response to seq {seq} in {timeout} s") from exc
        finally:
            self.responses.pop(seq, None)

    async def time_sync(self, gateway_ms: int | None = None, **kw: Any) -> dict:
        if gateway_ms is None:
            gateway_ms = int(time.time() * 1000)
        return await self.command({"kind": "time_sync", "gateway_ms": gateway_ms}, **kw)

    async def ack(self, target: str, up_to_id: int, **kw: Any) -> dict:
        return await self.command({"kind": "ack", "target": target, "up_to_id": up_to_id}, **kw)

    async def resume(self, snippet_id: int, first: int, count: int = 0, **kw: Any) -> dict:
        msg = {"kind": "resume", "snippet_id": snippet_id, "first": first, "count": count}
        return await self.command(msg, **kw)

    async def config(self, key: str, value: int = wire.CONFIG_READ, **kw: Any) -> dict:
        return await self.command({"kind": "config", "key": key, "value": value}, **kw)

    async def live(self, enable: bool, seconds: int = 0, **kw: Any) -> dict:
        return await self.command({"kind": "live", "enable": enable, "seconds": seconds}, **kw)

    async def read(self, uuid: int | str) -> bytes:
        return bytes(await self.characteristic(uuid).read_value())

    # ---------------------------------------------------------------- snippets

    async def collect_snippet(
        self,
        reassembler: wire.SnippetReassembler,
        timeout: float = 5.0,
        stop_after: int | None = None,
        others: list[dict] | None = None,
    ) -> wire.SnippetReassembler:
        """Feeds frames to `reassembler` until its snippet is complete (or `stop_after`
        fragments have come in this call). Other frames go to `others` when given."""
        added = 0
        deadline = time.perf_counter() + timeout
        while not reassembler.complete and (stop_after is None or added < stop_after):
            frame = await self.next_frame(max(0.001, deadline - time.perf_counter()))
            if frame["kind"] == "snippet_header":
                reassembler.start(frame)
            elif frame["kind"] == "snippet_fragment":
                if reassembler.add(frame):
                    added += 1
            elif others is not None:
                others.append(frame)
        return reassembler

    async def disconnect(self) -> None:
        if not self.disconnected.is_set():
            await self.connection.disconnect()
            await self.disconnected.wait()


class GatewayCentral:
    """A bumble Device in the central role."""

    def __init__(self, device: Device) -> None:
        self.device = device

    @classmethod
    async def create(
        cls, air: VirtualAir, name: str = "gateway", address: str | None = None
    ) -> GatewayCentral:
        return cls(await air.device(name, address))

    async def connect(
        self,
        address: Address | str,
        mtu: int | None = 247,
        discover: bool = True,
        subscribe: bool = True,
        timeout: float = 5.0,
    ) -> PatchLink:
        """Connects (waiting for an advertisement), exchanges the MTU unless `mtu` is None
        (then it stays 23), discovers the GATT table and subscribes to the patch's
        characteristics."""
        connection = await self.device.connect(address, timeout=timeout)
        link = PatchLink(connection, Peer(connection))
        if mtu is not None:
            await link.peer.request_mtu(mtu)
        if discover:
            await link.discover()
            if subscribe:
                await link.subscribe()
        return link
