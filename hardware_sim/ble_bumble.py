"""MicroPython's `bluetooth` module on bumble: the patch's radio on a PC.

`SimBluetooth` stands where firmware on the ESP32-S3 has the `bluetooth` module: `BLE()` (one
object per device, as on MicroPython), `UUID`, the `FLAG_*` constants. Its `SimBLE` implements
the part of `bluetooth.BLE` that firmware/ble_service.py uses on top of a real BLE host stack
(bumble: ATT/GATT, MTU exchange, notifications, indications, writes, disconnections) over a
virtual controller. Controllers share a `VirtualAir` (bumble's LocalLink); hardware_sim/
ble_central.py puts the gateway's side on the same air.

Synchronous API on asyncio
--------------------------
Everything runs on one asyncio event loop, in one thread: bumble's stacks, the central, and
the patch firmware. The firmware's calls are synchronous as on MicroPython: a notification or
indication goes into bumble's host queue at once (ATT PDU -> L2CAP -> ACL packets) and leaves
when the loop runs; what needs waiting (advertising commands, indication confirmations,
disconnection) runs as tasks the call schedules. Radio events reach the IRQ handler from the
loop's callbacks, between two steps of the firmware, the way MicroPython schedules its
Bluetooth IRQs between bytecodes of the main loop. `PatchLoop` is the patch's main loop: it
calls the firmware's `poll()` again while it reports work, else sleeps until an IRQ, a freed
transmit buffer or `idle_s` wakes it. The firmware thus never runs concurrently with the stack
(no locks, runs are deterministic), and `SimBLE.wake()` is the only coupling.

What is imitated (NimBLE, as MicroPython's ESP32 port uses it)
-------------------------------------------------------------
- `gatts_notify` / `gatts_indicate` send whether or not the client subscribed (MicroPython's
  documented behaviour); a bumble client without a subscription drops the value.
  `gatts_write(..., send_update=True)` notifies (or indicates) only subscribed clients.
- Values longer than ATT MTU - 3: `oversize="raise"` (default) raises OSError(EINVAL); with
  "truncate" they are cut as NimBLE does. The stricter default makes a firmware bug loud.
- Transmit buffers: at most `tx_buffers` notifications/indications not yet taken by the
  controller; one more raises OSError(ENOMEM), as NimBLE does when its mbuf pool is empty.
- One indication in flight per connection (another raises OSError(EALREADY));
  _IRQ_GATTS_INDICATE_DONE with status 0 on the confirmation, ENOTCONN when the link goes,
  ETIMEDOUT after 30 s.
- A client's write lands in a value buffer of 20 bytes (gatts_set_buffer changes it); longer
  writes are truncated; with append=True writes append and gatts_read empties the buffer.
  Writes to characteristics without a write flag get ATT "write not permitted", reads
  without FLAG_READ "read not permitted".
- Advertising stops when a central connects (the firmware restarts it); interval in µs,
  rounded down to 625 µs. The server's MTU is the one given to config(mtu=...).
- Not connected, not active, unknown handle: OSError(ENOTCONN, EPERM, EINVAL).
Exceptions raised by the IRQ handler are logged and kept in `irq_errors` (MicroPython prints
them and goes on); failures of scheduled tasks in `errors`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from bumble import att, gatt
from bumble.controller import Controller
from bumble.core import UUID as BumbleUUID
from bumble.device import AdvertisingType, Connection, Device
from bumble.hci import Address, Role
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

logger = logging.getLogger(__name__)

FLAG_BROADCAST = 0x0001
FLAG_READ = 0x0002
FLAG_WRITE_NO_RESPONSE = 0x0004
FLAG_WRITE = 0x0008
FLAG_NOTIFY = 0x0010
FLAG_INDICATE = 0x0020

IRQ_CENTRAL_CONNECT = 1
IRQ_CENTRAL_DISCONNECT = 2
IRQ_GATTS_WRITE = 3
IRQ_GATTS_INDICATE_DONE = 20
IRQ_MTU_EXCHANGED = 21

DEFAULT_VALUE_BUFFER = 20  # MicroPython's default for a characteristic's value
INDICATE_TIMEOUT_S = 30.0  # ATT transaction timeout
_PROPERTY_FLAGS = (
    FLAG_BROADCAST | FLAG_READ | FLAG_WRITE_NO_RESPONSE | FLAG_WRITE | FLAG_NOTIFY | FLAG_INDICATE
)


def _resolve(future: asyncio.Future[None], error: BaseException | None) -> None:
    if not future.done():
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


class UUID:
    """bluetooth.UUID: a 16-bit integer or a 128-bit UUID string."""

    def __init__(self, value: int | str | UUID) -> None:
        if isinstance(value, UUID):
            self.bumble: BumbleUUID = value.bumble
        elif isinstance(value, int):
            if not 0 <= value <= 0xFFFF:
                raise ValueError(f"16-bit UUID out of range: {value:#x}")
            self.bumble = BumbleUUID.from_16_bits(value)
        elif isinstance(value, str):
            self.bumble = BumbleUUID(value)
        else:
            raise TypeError(f"UUID takes an int or a str, got {type(value).__name__}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UUID) and self.bumble == other.bumble

    def __hash__(self) -> int:
        return hash(self.bumble.uuid_bytes)

    def __repr__(self) -> str:
        return f"UUID({self.bumble.to_hex_str('-')!r})"


class VirtualAir:
    """The air between virtual controllers (one bumble LocalLink); make devices on it inside
    a running event loop."""

    def __init__(self) -> None:
        self.link = LocalLink()
        self._count = 0

    async def device(self, name: str, address: str | None = None) -> Device:
        """A powered-on bumble Device with its own virtual controller on this air."""
        self._count += 1
        if address is None:
            address = f"F0:00:00:00:00:{self._count:02X}"  # static random: top bits 11
        controller = Controller(name, link=self.link, public_address=address)
        device = Device(name=name, address=Address(address), host=Host(controller, AsyncPipeSink(controller)))
        await device.power_on()
        return device


@dataclass
class _Value:
    """One characteristic value as MicroPython's gatts database keeps it."""

    uuid: UUID
    flags: int
    handle: int = 0
    data: bytes = b""
    size: int = DEFAULT_VALUE_BUFFER
    append: bool = False


@dataclass
class _Link:
    connection: Connection
    in_flight: deque[int] = field(default_factory=deque)  # ACL queue marks of sent values
    indicating: asyncio.Future[None] | None = None  # confirmation of the indication in flight


class SimBLE:
    """bluetooth.BLE on a bumble Device (see the module docstring)."""

    def __init__(self, device: Device, tx_buffers: int = 12, oversize: str = "raise") -> None:
        if oversize not in ("raise", "truncate"):
            raise ValueError("oversize is 'raise' or 'truncate'")
        self.device = device
        self.tx_buffers = tx_buffers
        self.oversize = oversize
        self._woken = False  # an IRQ or freed transmit buffers since clear_wake()
        self._waiter: asyncio.Future[None] | None = None
        self.irq_errors: list[BaseException] = []
        self.errors: list[BaseException] = []
        self.sent_notifications = 0
        self.sent_bytes = 0
        self.refused_enomem = 0
        self._active = False
        self._handler: Callable[[int, tuple], Any] | None = None
        self._values: dict[int, _Value] = {}
        self._links: dict[int, _Link] = {}
        self._registered = False
        self._adv: tuple[bytes, bytes] = (b"", b"")
        self._adv_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task] = set()
        self._flow_queues: set[int] = set()
        self._mtu = device.gatt_server.max_mtu
        device.on(Device.EVENT_CONNECTION, self._on_connection)

    # ---------------------------------------------------------------- plumbing

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            assert exc is not None
            logger.error("sim BLE task failed: %r", exc)
            self.errors.append(exc)

    def wake(self) -> None:
        """Wakes the patch's main loop (PatchLoop): the radio has news or room."""
        self._woken = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def clear_wake(self) -> None:
        self._woken = False

    async def wait_wake(self, timeout_s: float) -> None:
        """Returns at the next wake() (at once if one came since clear_wake()), or after
        timeout_s. A future and a timer, not asyncio.wait_for, whose cancellation can get
        lost on Python 3.11."""
        if self._woken:
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiter = waiter
        timer = loop.call_later(timeout_s, _resolve, waiter, None)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None

    def _fire(self, event: int, data: tuple) -> None:
        self.wake()
        handler = self._handler
        if handler is None or not self._active:
            return
        try:
            handler(event, data)
        except Exception as exc:  # MicroPython prints it and carries on
            logger.exception("exception in the BLE IRQ handler (event %d)", event)
            self.irq_errors.append(exc)

    def _check_active(self) -> None:
        if not self._active:
            raise OSError(errno.EPERM)

    def _link(self, conn_handle: int) -> _Link:
        link = self._links.get(conn_handle)
        if link is None:
            raise OSError(errno.ENOTCONN)
        return link

    # ---------------------------------------------------------------- connections

    def _on_connection(self, connection: Connection) -> None:
        if connection.role != Role.PERIPHERAL:
            return
        handle = connection.handle
        self._links[handle] = _Link(connection)
        queue = self.device.host.get_data_packet_queue(handle)
        if queue is not None and id(queue) not in self._flow_queues:
            self._flow_queues.add(id(queue))
            queue.on("flow", self.wake)
        connection.on(
            Connection.EVENT_CONNECTION_ATT_MTU_UPDATE,
            lambda: self._fire(IRQ_MTU_EXCHANGED, (handle, connection.att_mtu)),
        )
        connection.on(Connection.EVENT_DISCONNECTION, lambda reason: self._on_disconnection(connection))
        address = connection.peer_address
        self._fire(IRQ_CENTRAL_CONNECT, (handle, address.address_type, bytes(address)))

    def _on_disconnection(self, connection: Connection) -> None:
        handle = connection.handle
        link = self._links.pop(handle, None)
        if link is None:
            return
        if link.indicating is not None and not link.indicating.done():
            link.indicating.set_exception(ConnectionError())  # reported as ENOTCONN
        address = connection.peer_address
        self._fire(IRQ_CENTRAL_DISCONNECT, (handle, address.address_type, bytes(address)))

    # ---------------------------------------------------------------- BLE API: radio

    def active(self, state: bool | None = None) -> bool | None:
        if state is None:
            return self._active
        if state:
            self._active = True
        elif self._active:
            for link in list(self._links.values()):
                self._spawn(link.connection.disconnect())
            self.gap_advertise(None)
            self._active = False
        return None

    def config(self, *param: str, **settings: Any) -> Any:
        if param:
            if len(param) != 1 or settings:
                raise TypeError("config() takes one name to read, or settings as keywords")
            name = param[0]
            if name == "mac":
                address = self.device.random_address
                return (address.address_type, bytes(address))
            if name == "gap_name":
                return self.device.name.encode()
            if name == "mtu":
                return self._mtu
            raise ValueError("unknown config param")
        for key, value in settings.items():
            if key == "gap_name":
                self._set_name(str(value))
            elif key == "mtu":
                if not 23 <= int(value) <= 517:
                    raise ValueError("mtu must be 23..517")
                self._mtu = int(value)
                self.device.gatt_server.max_mtu = self._mtu
            else:
                raise ValueError(f"unknown config param {key!r}")
        return None

    def _set_name(self, name: str) -> None:
        self.device.name = name
        for attribute in self.device.gatt_server.attributes:
            if attribute.type == gatt.GATT_DEVICE_NAME_CHARACTERISTIC:
                attribute.value = name.encode()

    def irq(self, handler: Callable[[int, tuple], Any]) -> None:
        self._handler = handler

    def gap_advertise(
        self,
        interval_us: int | None,
        adv_data: bytes | None = None,
        *,
        resp_data: bytes | None = None,
        connectable: bool = True,
    ) -> None:
        self._check_active()
        if interval_us is None:
            self._spawn(self._advertise(None, b"", b"", connectable))
            return
        if adv_data is not None:
            self._adv = (bytes(adv_data), self._adv[1])
        if resp_data is not None:
            self._adv = (self._adv[0], bytes(resp_data))
        if len(self._adv[0]) > 31 or len(self._adv[1]) > 31:
            raise OSError(errno.EINVAL)
        interval_ms = (interval_us // 625) * 0.625
        self._spawn(self._advertise(interval_ms, *self._adv, connectable))

    async def _advertise(self, interval_ms: float | None, adv: bytes, resp: bytes, connectable: bool) -> None:
        async with self._adv_lock:
            device = self.device
            if device.is_advertising:
                await device.stop_advertising()
            if interval_ms is None:
                return
            kind = (
                AdvertisingType.UNDIRECTED_CONNECTABLE_SCANNABLE
                if connectable
                else AdvertisingType.UNDIRECTED_SCANNABLE
            )
            await device.start_advertising(
                advertising_type=kind,
                advertising_data=adv,
                scan_response_data=resp,
                advertising_interval_min=interval_ms,
                advertising_interval_max=interval_ms,
            )

    def gap_disconnect(self, conn_handle: int) -> bool:
        self._check_active()
        link = self._links.get(conn_handle)
        if link is None:
            return False
        self._spawn(link.connection.disconnect())
        return True

    @property
    def advertising(self) -> bool:
        return bool(self.device.is_advertising)

    # ---------------------------------------------------------------- BLE API: GATT server

    def gatts_register_services(self, services: tuple) -> tuple[tuple[int, ...], ...]:
        self._check_active()
        if self._registered:
            raise NotImplementedError("the simulation registers services once per device")
        if self.device.is_advertising:
            raise OSError(errno.EBUSY)  # MicroPython: stop advertising first
        result = []
        for service_uuid, characteristics in services:
            chars = []
            values = []
            for definition in characteristics:
                uuid, flags = definition[0], definition[1]
                if len(definition) > 2 and definition[2]:
                    raise NotImplementedError("descriptors are not simulated")
                value = _Value(UUID(uuid), flags)
                characteristic = gatt.Characteristic(
                    value.uuid.bumble,
                    gatt.Characteristic.Properties(flags & _PROPERTY_FLAGS),
                    att.Attribute.READABLE | att.Attribute.WRITEABLE,
                    att.AttributeValue(
                        read=lambda connection, v=value: self._on_read(v),
                        write=lambda connection, data, v=value: self._on_write(connection, v, data),
                    ),
                )
                chars.append(characteristic)
                values.append(value)
            self.device.add_service(gatt.Service(UUID(service_uuid).bumble, chars))
            for value, characteristic in zip(values, chars, strict=True):
                value.handle = characteristic.handle
                self._values[value.handle] = value
            result.append(tuple(value.handle for value in values))
        self._registered = True
        return tuple(result)

    def _on_read(self, value: _Value) -> bytes:
        if not value.flags & FLAG_READ:
            raise att.ATT_Error(att.ATT_READ_NOT_PERMITTED_ERROR, value.handle)
        return value.data

    def _on_write(self, connection: Connection, value: _Value, data: bytes) -> None:
        if not value.flags & (FLAG_WRITE | FLAG_WRITE_NO_RESPONSE):
            raise att.ATT_Error(att.ATT_WRITE_NOT_PERMITTED_ERROR, value.handle)
        data = bytes(data)
        if value.append:
            value.data = (value.data + data)[: value.size]
        else:
            value.data = data[: value.size]
        self._fire(IRQ_GATTS_WRITE, (connection.handle, value.handle))

    def _value(self, handle: int) -> _Value:
        value = self._values.get(handle)
        if value is None:
            raise OSError(errno.EINVAL)
        return value

    def gatts_read(self, value_handle: int) -> bytes:
        self._check_active()
        value = self._value(value_handle)
        data = value.data
        if value.append:
            value.data = b""
        return data

    def gatts_write(self, value_handle: int, data: bytes, send_update: bool = False) -> None:
        self._check_active()
        value = self._value(value_handle)
        value.data = bytes(data)
        value.size = max(value.size, len(value.data))
        if not send_update:
            return
        subscribers = self.device.gatt_server.subscribers
        for handle, link in list(self._links.items()):
            cccd = subscribers.get(link.connection, {}).get(value_handle, b"\x00\x00")
            limit = link.connection.att_mtu - 3
            if cccd[0] & 0x01 and value.flags & FLAG_NOTIFY:
                self._notify(link, value_handle, value.data[:limit])
            elif cccd[0] & 0x02 and value.flags & FLAG_INDICATE and link.indicating is None:
                self._indicate(link, handle, value_handle, value.data[:limit])

    def gatts_set_buffer(self, value_handle: int, size: int, append: bool = False) -> None:
        self._check_active()
        value = self._value(value_handle)
        value.size = size
        value.append = bool(append)
        value.data = b""

    def _outgoing(self, conn_handle: int, value_handle: int, data: Any) -> tuple[_Link, bytes]:
        self._check_active()
        link = self._link(conn_handle)
        value = self._value(value_handle)
        payload = value.data if data is None else bytes(data)
        limit = link.connection.att_mtu - 3
        if len(payload) > limit:
            if self.oversize == "raise":
                raise OSError(errno.EINVAL)
            payload = payload[:limit]
        self._release(link)
        if len(link.in_flight) >= self.tx_buffers:
            self.refused_enomem += 1
            raise OSError(errno.ENOMEM)
        return link, payload

    def _release(self, link: _Link) -> None:
        queue = self.device.host.get_data_packet_queue(link.connection.handle)
        done = queue.completed if queue is not None else 1 << 62
        while link.in_flight and link.in_flight[0] <= done:
            link.in_flight.popleft()

    def _send_pdu(self, link: _Link, pdu: att.ATT_PDU) -> None:
        connection = link.connection
        self.device.gatt_server.send_gatt_pdu(connection, bytes(pdu))
        queue = self.device.host.get_data_packet_queue(connection.handle)
        if queue is not None:
            link.in_flight.append(queue.queued)

    def _notify(self, link: _Link, value_handle: int, payload: bytes) -> None:
        self._send_pdu(
            link, att.ATT_Handle_Value_Notification(attribute_handle=value_handle, attribute_value=payload)
        )
        self.sent_notifications += 1
        self.sent_bytes += len(payload)

    def gatts_notify(self, conn_handle: int, value_handle: int, data: Any = None) -> None:
        link, payload = self._outgoing(conn_handle, value_handle, data)
        self._notify(link, value_handle, payload)

    def gatts_indicate(self, conn_handle: int, value_handle: int, data: Any = None) -> None:
        link, payload = self._outgoing(conn_handle, value_handle, data)
        if link.indicating is not None:
            raise OSError(errno.EALREADY)
        self._indicate(link, conn_handle, value_handle, payload)

    def _indicate(self, link: _Link, conn_handle: int, value_handle: int, payload: bytes) -> None:
        server = self.device.gatt_server
        loop = asyncio.get_running_loop()
        confirmed: asyncio.Future[None] = loop.create_future()
        server.pending_confirmations[link.connection] = confirmed
        link.indicating = confirmed
        self._send_pdu(
            link, att.ATT_Handle_Value_Indication(attribute_handle=value_handle, attribute_value=payload)
        )
        timer = loop.call_later(INDICATE_TIMEOUT_S, _resolve, confirmed, TimeoutError())

        async def wait() -> None:
            status = 0
            try:
                await confirmed
            except ConnectionError:
                status = errno.ENOTCONN
            except TimeoutError:
                status = errno.ETIMEDOUT
            finally:
                timer.cancel()
                link.indicating = None
                if server.pending_confirmations.get(link.connection) is confirmed:
                    server.pending_confirmations[link.connection] = None
            self._fire(IRQ_GATTS_INDICATE_DONE, (conn_handle, value_handle, status))

        self._spawn(wait())

    # ---------------------------------------------------------------- simulation only

    def connection(self, conn_handle: int) -> Connection:
        return self._link(conn_handle).connection

    @property
    def conn_handles(self) -> list[int]:
        return list(self._links)

    async def close(self, grace_s: float = 0.5) -> None:
        """Lets the tasks in progress (advertising commands) finish, then cancels the rest
        (cancelling one in the middle of an HCI command upsets bumble's host)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace_s)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


class SimBluetooth:
    """The `bluetooth` module of one simulated patch: `BLE()`, `UUID`, `FLAG_*`."""

    UUID = UUID
    FLAG_BROADCAST = FLAG_BROADCAST
    FLAG_READ = FLAG_READ
    FLAG_WRITE_NO_RESPONSE = FLAG_WRITE_NO_RESPONSE
    FLAG_WRITE = FLAG_WRITE
    FLAG_NOTIFY = FLAG_NOTIFY
    FLAG_INDICATE = FLAG_INDICATE

    def __init__(self, device: Device, tx_buffers: int = 12, oversize: str = "raise") -> None:
        self.device = device
        self._ble = SimBLE(device, tx_buffers=tx_buffers, oversize=oversize)

    @classmethod
    async def create(
        cls,
        air: VirtualAir,
        name: str = "patch",
        address: str | None = None,
        tx_buffers: int = 12,
        oversize: str = "raise",
    ) -> SimBluetooth:
        return cls(await air.device(name, address), tx_buffers=tx_buffers, oversize=oversize)

    def BLE(self) -> SimBLE:  # MicroPython's name
        return self._ble

    @property
    def address(self) -> Address:
        return self.device.random_address


class PatchLoop:
    """The patch's main loop in the simulation: calls `poll()` (the firmware's) while it says
    it has more to send, else waits for the radio (`SimBLE.wake`) or `idle_s`. An async
    context manager; `extra` runs after each poll (e.g. feeding samples)."""

    def __init__(
        self,
        ble: SimBLE,
        poll: Callable[[], object],
        idle_s: float = 0.002,
        extra: Callable[[], object] | None = None,
    ) -> None:
        self.ble = ble
        self.poll = poll
        self.idle_s = idle_s
        self.extra = extra
        self.polls = 0
        self._task: asyncio.Task | None = None

    async def run(self) -> None:
        ble = self.ble
        while True:
            ble.clear_wake()
            busy = self.poll()
            self.polls += 1
            if self.extra is not None:
                self.extra()
            if busy:
                await asyncio.sleep(0)
            else:
                await ble.wait_wake(self.idle_s)

    async def __aenter__(self) -> PatchLoop:
        self._task = asyncio.get_running_loop().create_task(self.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        task = self._task
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self._task = None
