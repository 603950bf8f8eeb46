"""CRCs of the wire format (firmware/wire.py), in code that runs the same on MicroPython.

CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, not reflected, no final XOR; check value 0x29B1
for b"123456789") guards every frame. It is computed byte by byte without a table.

CRC-32/ISO-HDLC, the IEEE one of zlib, Ethernet and PNG (poly 0x04C11DB7 reflected, init and
final XOR 0xFFFFFFFF; check value 0xCBF43926) guards a whole snippet. `crc32(data, crc)`
continues from `crc` the way `zlib.crc32` does, so a snippet can be checked fragment by
fragment. The pure-Python version keeps the register in two 16-bit halves and reads two
256-entry tables of 16-bit halves (1 KiB, built once at import): on a 32-bit MicroPython port
every value then stays a small int and the loop allocates nothing (a 32-bit register would
be a heap-allocated long int above 2**30). `crc32` uses the port's `binascii.crc32` where it has
one (in C on the ESP32 port and CPython) and `crc32_py` elsewhere; both are tested against zlib.
"""

from array import array


def crc16_ccitt(data, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE of `data` (bytes, bytearray or memoryview), continued from `crc`."""
    for byte in data:
        x = ((crc >> 8) ^ byte) & 0xFF
        x ^= x >> 4
        crc = ((crc << 8) ^ (x << 12) ^ (x << 5) ^ x) & 0xFFFF
    return crc


def _tables():
    lo_table = array("H", [0] * 256)
    hi_table = array("H", [0] * 256)
    for i in range(256):
        lo = i
        hi = 0
        for _ in range(8):
            carry = lo & 1
            lo = (lo >> 1) | ((hi & 1) << 15)
            hi >>= 1
            if carry:
                lo ^= 0x8320
                hi ^= 0xEDB8
        lo_table[i] = lo
        hi_table[i] = hi
    return lo_table, hi_table


_LO, _HI = _tables()


def crc32_py(data, crc: int = 0) -> int:
    """CRC-32 (IEEE) of `data`, continued from `crc` (0 to start), as zlib.crc32 gives it."""
    lo = (crc & 0xFFFF) ^ 0xFFFF
    hi = ((crc >> 16) & 0xFFFF) ^ 0xFFFF
    lo_table = _LO
    hi_table = _HI
    for byte in data:
        i = (lo ^ byte) & 0xFF
        lo = ((lo >> 8) | ((hi & 0xFF) << 8)) ^ lo_table[i]
        hi = (hi >> 8) ^ hi_table[i]
    return ((hi ^ 0xFFFF) << 16) | (lo ^ 0xFFFF)


try:
    from binascii import crc32 as _native_crc32

    _NATIVE = _native_crc32(b"123456789") == 0xCBF43926
except ImportError:  # a port built without it
    _NATIVE = False


def crc32(data, crc: int = 0) -> int:
    """CRC-32 (IEEE) of `data`, continued from `crc`: binascii's where the port has it."""
    if _NATIVE:
        return _native_crc32(data, crc) & 0xFFFFFFFF
    return crc32_py(data, crc)
