"""A `bluetooth` stand-in for firmware runs inside the MicroPython VM (loaded there as `fake_bluetooth`).

The VM has no radio. FakeBLE records what the firmware registers, writes and sends, and refuses a
notification as NimBLE does: to a central that is not connected (ENOTCONN), longer than the MTU
allows (EINVAL), and, when `busy_every` is set, every n-th one (ENOMEM: its buffers are full).
The test script plays the stack's IRQs through `handler` and sets `conn`, `mtu` and `session`
as its central connects. Plain MicroPython: it runs in the VM and under CPython alike.
"""


class UUID:
    def __init__(self, value):
        self.value = value


class FakeBLE:
    def __init__(self):
        self.handler = None
        self.settings = {}
        self.values = {}
        self.append = {}
        self.table = []  # [service uuid, characteristic uuid, flags, handle]
        self.next = 10
        self.adverts = 0
        self.conn = -1  # the connected central, -1: none
        self.mtu = 23
        self.session = 0  # which connection a notification went out on
        self.sent = []  # (session, value) of each notification
        self.updates = []  # [handle, hex] of values written with send_update while connected
        self.indications = []
        self.calls = 0
        self.busy_every = 0

    def active(self, state=None):
        return True

    def config(self, **kw):
        self.settings = kw

    def irq(self, handler):
        self.handler = handler

    def gap_advertise(self, interval_us, adv_data=None, resp_data=None, connectable=True):
        self.adverts += 1

    def gatts_register_services(self, services):
        out = []
        for service in services:
            handles = []
            for char in service[1]:
                handles.append(self.next)
                self.table.append([service[0].value, char[0].value, char[1], self.next])
                self.next += 2
            out.append(tuple(handles))
        return tuple(out)

    def gatts_set_buffer(self, handle, size, append=False):
        self.append[handle] = append

    def gatts_write(self, handle, data, send_update=False):
        self.values[handle] = bytes(data)
        if send_update and self.conn >= 0:
            self.updates.append([handle, bytes(data).hex()])

    def gatts_read(self, handle):
        data = self.values.get(handle, b"")
        if self.append.get(handle):
            self.values[handle] = b""
        return data

    def gatts_notify(self, conn, handle, data=None):
        if conn != self.conn:
            raise OSError(107)  # ENOTCONN
        self.calls += 1
        if self.busy_every and self.calls % self.busy_every == 0:
            raise OSError(12)  # ENOMEM
        if len(data) > self.mtu - 3:
            raise OSError(22)  # EINVAL
        self.sent.append((self.session, bytes(data)))

    def gatts_indicate(self, conn, handle, data=None):
        self.indications.append(bytes(data))


class FakeBluetooth:
    UUID = UUID

    def __init__(self):
        self.ble = FakeBLE()

    def BLE(self):
        return self.ble
