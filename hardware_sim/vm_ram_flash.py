"""NOR flash in RAM for firmware runs inside the MicroPython VM (loaded there as `ram_flash`).

The block-device protocol of MicroPython's `vfs` (ioctl 4/5/6, readblocks, writeblocks with an
offset) that firmware/store.py drives, with NOR semantics: erase sets bytes to 0xFF, a write can
only clear bits. hardware_sim/flash.py is the CPython model with torn writes; this one is for
timing and byte-for-byte runs in the VM, where it has to be plain MicroPython.
"""


class RamFlash:
    def __init__(self, blocks, size):
        self.blocks = blocks
        self.size = size
        self.mem = bytearray(b"\xff" * (blocks * size))

    def ioctl(self, op, arg):
        if op == 4:
            return self.blocks
        if op == 5:
            return self.size
        if op == 6:
            self.mem[arg * self.size : (arg + 1) * self.size] = b"\xff" * self.size
        return 0

    def readblocks(self, n, buf, off=0):
        start = n * self.size + off
        buf[:] = self.mem[start : start + len(buf)]

    def writeblocks(self, n, buf, off=0):
        start = n * self.size + off
        mem = self.mem
        for i in range(len(buf)):
            mem[start + i] &= buf[i]
