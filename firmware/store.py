"""The patch's flash log: events, snippets, summaries (and raw ECG) kept until the gateway has them.

The store talks to flash through MicroPython's extended block-device protocol only:
`readblocks(n, buf, offset)`, `writeblocks(n, buf, offset)` (program, no erase) and
`ioctl(4|5|6, arg)` (block count, block size, erase block). On the patch pass it an
`esp32.Partition` (a data partition, not encrypted: records are byte-programmed); on a PC,
hardware_sim.flash.NorFlash. It assumes NOR rules: erase sets a block to 0xFF, programming
only clears bits, a power cut can tear the write under way.

Layout
------
The partition is a ring of erase blocks; the log is the arc of live blocks from the tail
(oldest) to the head (being filled); records never span blocks. Every block starts with:

| off | size | block header field                                                       |
|-----|------|--------------------------------------------------------------------------|
| 0   | u32  | magic 0x53474345 ("ECGS" little-endian)                                  |
| 4   | u8   | state: 0xFF live; any other value retired (programmed in place, 1 -> 0)  |
| 5   | u8   | format version (1)                                                       |
| 6   | u16  | 0xFFFF (reserved)                                                        |
| 8   | u32  | block_seq: +1 for each block opened; the arc's blocks are consecutive    |
| 12  | u32  | seq: the next record sequence number when the block was opened           |
| 16  | 72   | STATE: the store's state when the block was opened (below)               |
| 88  | u32  | CRC-32 of bytes 0..87 (state byte as 0xFF)                                |

then records from offset 92, each starting on a 4-byte boundary:

| off | size | record header field                                                      |
|-----|------|--------------------------------------------------------------------------|
| 0   | u8   | magic 0xE5 (0xFF is erased flash: the end of the block's records)        |
| 1   | u8   | bits 0-3 kind (KIND_*), bit 4 FLAG_CRITICAL                              |
| 2   | u16  | n, payload length                                                        |
| 4   | u32  | seq: store-wide sequence number (kept when a record is moved)            |
| 8   | u32  | ident: event_id, snippet_id (snippet and its chunks), caller's counter   |
| 12  | u32  | aux: CHUNK: byte offset in the snippet payload; SNIPPET: payload bytes   |
| 16  | u32  | CRC-32 of the payload                                                    |
| 20  | u32  | CRC-32 of bytes 0..19                                                    |
| 24  | n    | payload: the wire frame (EVENT, SUMMARY, SNIPPET = snippet_header frame), |
|     |      | snippet payload bytes (CHUNK), raw samples (RAW), STATE (internal)       |

STATE (72 bytes, 18 x u32): for each ack group (event, summary, snippet, raw) the ack
watermark `up_to` and `ack_seq`; for each group the highest ident appended (so counters
such as event_id go on after a reboot); records dropped per kind (event, summary, snippet,
chunk, raw) and critical records dropped.

Writes and torn writes
----------------------
A record's payload is programmed first and its header last: a valid header (magic, CRC)
proves the whole record was written, so scans read headers only. A cut leaves either no
header (0xFF) or a header whose CRC fails; both end that block's records. On boot the store
reads every block header (N reads), takes the live block with the highest block_seq as head
and walks back over live blocks with consecutive block_seq to the tail, then scans the head
block's records. If anything but 0xFF follows its last valid record (a torn write), that
block is sealed (its free rest is given up until the block is reclaimed) and the next record
goes to a new block: nothing is ever programmed over bytes a cut may have half-written. A
block is (re)used only after an erase, so a cut erase is simply redone. Every record whose
write returned survives any later cut.

Acknowledgement: ack marker records, not flags cleared in place
---------------------------------------------------------------
The gateway's ACK is cumulative ("every event/snippet id <= up_to_id is stored upstream",
firmware/wire.py), so the store keeps, per group, a watermark: `ack(kind, up_to)` appends a
STATE record with up_to and ack_seq = that record's seq. A record is acknowledged when
ident <= up_to and seq < ack_seq: acknowledged by an ACK that came after it was written, so
a later EVENT that supersedes an ongoing one under the same event_id is sent again. Chosen
over clearing an "acked" bit in each record's header because an ACK then costs one 96-byte
append instead of a scan of the log and one in-place program per record; it needs no
second program of already-programmed bytes (which some NOR parts limit per page and flash
encryption forbids); and a torn ack record only means a resend, which the gateway
de-duplicates by id. Every block header repeats the state, so reclaiming the block that held
the last ack record loses nothing; boot finds the latest state in the head block alone.

Space: nothing is overwritten before it is acknowledged, unless the flash is full
---------------------------------------------------------------------------------
Acknowledged records stay readable until their space is needed. One block is kept erased
in reserve. When a record needs room and no other block is free, the tail block is
reclaimed: its STATE records and acknowledged records are dropped freely; unacknowledged
non-critical records (summaries, raw ECG, events and snippets not flagged critical) are
dropped, oldest first since the tail is the oldest block, and counted; unacknowledged
critical records (VT events and their snippets) are copied to the head, byte for byte with
their seq, and the block is retired (state byte programmed to 0x00), to be erased when it
is next opened. A moved record whose payload CRC fails is not carried on (its copy becomes
a dead filler; counted as dropped and critical).

Critical data are dropped only when nothing else is left: when the tail block holds nothing
droppable and the whole log holds less than half a block of droppable data, a critical
record being appended drops the oldest critical records, the tail block's (counted in
dropped_critical too), and a non-critical record being appended is refused instead
(`append` returns 0, counted as dropped). Drop counters are persisted with the next state
record or block header, so a cut can lose the last few counts, never data.

A cut during a move leaves both copies (a duplicate, which the gateway de-duplicates),
never none. If the moves had already opened the reserve block, boot finds no block free:
that head block holds only copies of records still in the tail, so boot retires it, and the
next reclaim finds its reserve again.

Snippets: a snippet is its payload in CHUNK records (ident = snippet_id, aux = byte offset),
written first, then its SNIPPET record (the snippet_header frame, aux = payload bytes),
which commits it; `unacknowledged()` yields SNIPPET records, never chunks, and
`read_snippet` fetches payload bytes for any fragment range (resume included). Chunks
dropped under pressure leave a SNIPPET whose `read_snippet` comes back short: the sender
then drops that snippet (the header's CRC-32 guards the payload end to end anyway).

API: `Store(dev)` recovers; `append(kind, payload, ident, critical, aux)` -> seq (0:
refused); `append_snippet(snippet_id, header_frame, payload, critical)`, or CHUNK appends
then the SNIPPET append when the payload is streamed; `unacknowledged()` / `records(kinds,
unacked)` yield (kind, ident, seq, flags, aux, length, loc) in log order, except that moved
critical records come in their new place; `read(loc, buf, seq)`; `read_snippet(snippet_id,
offset, buf)`; `ack(kind, up_to)`; `last_ident(kind)`; `dropped()`; `stats()`.

Costs: a record takes 24 header bytes + its payload, rounded up to 4; a block 92 bytes; an
ACK 96 bytes. RAM: three buffers allocated once (24 + 92 + 128 bytes), five small arrays (112
bytes), scalars: constructing a Store allocates about 1.1 KB in the MicroPython VM, and
nothing grows with the flash. Boot: N block-header reads plus one block's record headers.
"""

import struct
from array import array

from firmware.crc import crc32

try:
    from micropython import const
except ImportError:  # CPython
    const = lambda expr: expr  # noqa: E731

KIND_EVENT = const(1)
KIND_SUMMARY = const(2)
KIND_SNIPPET = const(3)
KIND_CHUNK = const(4)
KIND_RAW = const(5)
_KIND_STATE = const(6)
FLAG_CRITICAL = const(0x10)

# Bit masks of kinds for records(): what unacknowledged() yields by default.
MESSAGES = const((1 << KIND_EVENT) | (1 << KIND_SUMMARY) | (1 << KIND_SNIPPET))

BLOCK_HEADER = const(92)
RECORD_HEADER = const(24)
STATE_BYTES = const(72)
STATE_RECORD = const(96)  # RECORD_HEADER + STATE_BYTES

_BLOCK_MAGIC = const(0x53474345)
_VERSION = const(1)
_RECORD_MAGIC = const(0xE5)
_LIVE = const(0xFF)
_COPY = const(128)
_MIN_CHUNK = const(32)
_BLOCK_FMT = "<IBBHII"
_STATE_FMT = "<18I"
_ERASED = b"\xff" * 128
# Ack group of each kind (0xFF: none): event 0, summary 1, snippet and chunk 2, raw 3.
_GROUP = b"\xff\x00\x01\x02\x02\x03\xff"
_DROPPED_CRITICAL = const(5)


def _align(n: int) -> int:
    return (n + 3) & ~3


class Store:
    """The log on a block device `dev`; recovers its state from flash in the constructor.

    `head`, `tail` (block numbers), `used` (live blocks), `head_seq` (block_seq of the head),
    `head_off` (next record offset in the head), `seq` (next record seq) describe the log.
    """

    def __init__(self, dev) -> None:
        self.dev = dev
        self.blocks = dev.ioctl(4, 0)
        self.block_size = bs = dev.ioctl(5, 0)
        if self.blocks < 3 or bs % 4 or bs < BLOCK_HEADER + RECORD_HEADER + STATE_RECORD + 64:
            raise ValueError("store needs 3 blocks or more, of 4-byte multiples >= 276 bytes")
        self.max_payload = min(bs - BLOCK_HEADER - RECORD_HEADER, 0xFFFF)
        self._hdr = bytearray(RECORD_HEADER)
        self._hdr_crc = memoryview(self._hdr)[0:20]  # the part the header CRC covers
        self._bhdr = bytearray(BLOCK_HEADER)
        self._bhdr_crc = memoryview(self._bhdr)[0:88]
        self._buf = bytearray(_COPY)
        # STATE: acks[2g], acks[2g+1] = up_to, ack_seq; last[g]; dropped[kind-1], dropped[5].
        self._acks = array("I", bytes(32))
        self._last = array("I", bytes(16))
        self._dropped = array("I", bytes(24))
        self._appended = array("I", bytes(16))  # seq of each group's last append (RAM only)
        # read_snippet's cache: snippet_id (0: none), aux, length, block_seq, offset, reclaims.
        self._chunk = array("I", bytes(24))
        self._dirty = False
        self.head = -1
        self.tail = 0
        self.used = 0
        self.head_seq = 0
        self.head_off = bs
        self.seq = 1
        self.reclaims = 0
        self.moved = 0
        # Parsed record header: kind, flags, seq, ident, aux, payload CRC.
        self._rk = 0
        self._rf = 0
        self._rs = 0
        self._ri = 0
        self._ra = 0
        self._rc = 0
        self._recover()

    # ---------------------------------------------------------------- reading flash

    def _block_live(self, blk: int) -> int:
        """Reads block `blk`'s header into _bhdr; returns its block_seq, or -1 if not live."""
        h = self._bhdr
        self.dev.readblocks(blk, h, 0)
        if h[0] != 0x45 or h[4] != _LIVE or h[5] != _VERSION:  # "E" of the magic
            return -1
        magic, bseq, crc = struct.unpack_from("<I4xI76xI", h, 0)
        if magic != _BLOCK_MAGIC or crc32(self._bhdr_crc) != crc:
            return -1
        return bseq

    def _parse(self, blk: int, off: int) -> int:
        """Reads the record header at (blk, off); returns its payload length, -1 if none."""
        if off + RECORD_HEADER > self.block_size:
            return -1
        h = self._hdr
        self.dev.readblocks(blk, h, off)
        if h[0] != _RECORD_MAGIC:
            return -1
        kind = h[1] & 0x0F
        n = h[2] | (h[3] << 8)
        if kind < KIND_EVENT or kind > _KIND_STATE or off + RECORD_HEADER + n > self.block_size:
            return -1
        seq, ident, aux, pcrc, hcrc = struct.unpack_from("<4x5I", h, 0)
        if crc32(self._hdr_crc) != hcrc:
            return -1
        self._rk = kind
        self._rf = h[1] & 0xF0
        self._rs = seq
        self._ri = ident
        self._ra = aux
        self._rc = pcrc
        return n

    def _erased_from(self, blk: int, off: int) -> bool:
        buf = self._buf
        bs = self.block_size
        while off < bs:
            k = min(_COPY, bs - off)
            mv = memoryview(buf)[0:k]
            self.dev.readblocks(blk, mv, off)
            if k == _COPY:
                if buf != _ERASED:
                    return False
            else:
                for x in mv:
                    if x != 0xFF:
                        return False
            off += k
        return True

    def _acked(self) -> bool:
        """Whether the record just parsed is acknowledged (STATE records count as such)."""
        g = _GROUP[self._rk]
        if g == 0xFF:
            return True
        return self._ri <= self._acks[2 * g] and self._rs < self._acks[2 * g + 1]

    def _load_state(self, buf, at: int) -> None:
        values = struct.unpack_from(_STATE_FMT, buf, at)
        for i in range(8):
            self._acks[i] = values[i]
        for i in range(4):
            self._last[i] = values[8 + i]
        for i in range(6):
            self._dropped[i] = values[12 + i]

    def _pack_state(self, buf, at: int) -> None:
        a = self._acks
        last = self._last
        d = self._dropped
        struct.pack_into(
            _STATE_FMT, buf, at, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7],
            last[0], last[1], last[2], last[3], d[0], d[1], d[2], d[3], d[4], d[5],
        )  # fmt: skip

    # ---------------------------------------------------------------- boot

    def _recover(self) -> None:
        n = self.blocks
        head = -1
        head_seq = 0
        for blk in range(n):
            bseq = self._block_live(blk)
            if bseq >= 0 and (head < 0 or bseq > head_seq):
                head = blk
                head_seq = bseq
        if head < 0:
            return  # blank or foreign flash: every block is free
        used = 1
        blk = head
        while used < n:
            prev = (blk - 1) % n
            if self._block_live(prev) != head_seq - used:
                break
            blk = prev
            used += 1
        if used == n:
            # Only a cut in the middle of a reclaim leaves no block free: the head is the
            # reserve block, opened for the moves, and holds nothing but copies of records
            # still in the tail block. Retire it; the next reclaim starts over.
            self._buf[0] = 0
            self.dev.writeblocks(head, memoryview(self._buf)[0:1], 4)
            self._recover()
            return
        self.tail = blk
        self.used = used
        self.head = head
        self.head_seq = head_seq
        self._block_live(head)
        self.seq = struct.unpack_from("<I", self._bhdr, 12)[0]
        self._load_state(self._bhdr, 16)
        off = BLOCK_HEADER
        while True:
            size = self._parse(head, off)
            if size < 0:
                break
            if self._rs >= self.seq:
                self.seq = self._rs + 1
            g = _GROUP[self._rk]
            if g != 0xFF:
                if self._ri > self._last[g]:
                    self._last[g] = self._ri
            elif size == STATE_BYTES:
                mv = memoryview(self._buf)[0:STATE_BYTES]
                self.dev.readblocks(head, mv, off + RECORD_HEADER)
                if crc32(mv) == self._rc:
                    self._load_state(self._buf, 0)
            off += _align(RECORD_HEADER + size)
        self.head_off = off if self._erased_from(head, off) else self.block_size
        for g in range(4):
            self._appended[g] = self.seq

    # ---------------------------------------------------------------- writing flash

    def _open_next(self) -> None:
        if self.used >= self.blocks:
            raise OSError("store: no free block")
        blk = (self.head + 1) % self.blocks
        self.dev.ioctl(6, blk)
        h = self._bhdr
        struct.pack_into(_BLOCK_FMT, h, 0, _BLOCK_MAGIC, _LIVE, _VERSION, 0xFFFF, self.head_seq + 1, self.seq)
        self._pack_state(h, 16)
        struct.pack_into("<I", h, 88, crc32(self._bhdr_crc))
        self.dev.writeblocks(blk, h, 0)
        if self.used == 0:
            self.tail = blk
        self.head = blk
        self.head_seq += 1
        self.used += 1
        self.head_off = BLOCK_HEADER
        self._dirty = False

    def _write(self, kind: int, flags: int, payload, ident: int, aux: int) -> int:
        """Writes one record at the head (room already made); returns its seq."""
        n = len(payload)
        seq = self.seq
        h = self._hdr
        struct.pack_into("<BBHIIII", h, 0, _RECORD_MAGIC, kind | flags, n, seq, ident, aux, crc32(payload))
        struct.pack_into("<I", h, 20, crc32(self._hdr_crc))
        off = self.head_off
        if n:
            self.dev.writeblocks(self.head, payload, off + RECORD_HEADER)
        self.dev.writeblocks(self.head, h, off)  # the header last: it commits the record
        self.head_off = off + _align(RECORD_HEADER + n)
        self.seq = seq + 1
        g = _GROUP[kind]
        if g != 0xFF:
            if ident > self._last[g]:
                self._last[g] = ident
            self._appended[g] = seq
        return seq

    def _write_state(self) -> int:
        mv = memoryview(self._buf)[0:STATE_BYTES]
        self._pack_state(mv, 0)
        seq = self._write(_KIND_STATE, 0, mv, 0, 0)
        self._dirty = False
        return seq

    def _room(self) -> int:
        """Bytes free in the head block (0 when there is no head)."""
        return self.block_size - self.head_off if self.head >= 0 else 0

    def _make_room(self, total: int, critical: bool) -> bool:
        """Makes `total` bytes free at the head, reclaiming under the full-flash policy.

        False when the flash holds only critical data and the record is not critical.
        """
        droppable = -1  # bytes droppable in the whole log, counted once when needed
        while self._room() < total:
            if self.blocks - self.used > 1:  # one block stays free: the reserve for moves
                self._open_next()
                continue
            force = False
            if self._survey(self.tail) == 0:
                if droppable < 0:
                    droppable = 0
                    for i in range(self.used):
                        droppable += self._survey((self.tail + i) % self.blocks)
                if droppable < (self.block_size - BLOCK_HEADER) // 2:
                    if not critical:
                        return False
                    force = True
            freed = self._reclaim(force)
            if droppable >= 0:
                droppable -= freed
        return True

    def _survey(self, blk: int) -> int:
        """Bytes of block `blk` that reclaiming it would drop (without dropping critical data)."""
        off = BLOCK_HEADER
        total = 0
        while True:
            size = self._parse(blk, off)
            if size < 0:
                return total
            size = _align(RECORD_HEADER + size)
            if not (self._rf & FLAG_CRITICAL) or self._acked():
                total += size
            off += size

    def _reclaim(self, force: bool) -> int:
        """Retires the tail block; moves its unacknowledged critical records to the head
        (unless `force`) and counts what it drops. Returns the bytes freed."""
        blk = self.tail
        off = BLOCK_HEADER
        freed = 0
        while True:
            size = self._parse(blk, off)
            if size < 0:
                break
            step = _align(RECORD_HEADER + size)
            if not self._acked():
                critical = self._rf & FLAG_CRITICAL
                if critical and not force:
                    self._move(blk, off, size)
                    off += step
                    continue
                self._dropped[self._rk - 1] += 1
                if critical:
                    self._dropped[_DROPPED_CRITICAL] += 1
                self._dirty = True
            freed += step
            off += step
        self._buf[0] = 0
        self.dev.writeblocks(blk, memoryview(self._buf)[0:1], 4)  # retired
        self.tail = (blk + 1) % self.blocks
        self.used -= 1
        self.reclaims += 1
        return freed

    def _move(self, blk: int, off: int, size: int) -> None:
        """Copies the record just parsed at (blk, off) to the head, header last."""
        step = _align(RECORD_HEADER + size)
        if self._room() < step:
            self._open_next()  # the reserve block
        dst = self.head
        doff = self.head_off
        buf = self._buf
        crc = 0
        pos = 0
        while pos < size:
            k = min(_COPY, size - pos)
            mv = memoryview(buf)[0:k]
            self.dev.readblocks(blk, mv, off + RECORD_HEADER + pos)
            crc = crc32(mv, crc)
            self.dev.writeblocks(dst, mv, doff + RECORD_HEADER + pos)
            pos += k
        self.head_off = doff + step
        h = self._hdr
        if crc == self._rc:
            self.moved += 1
        else:
            # Damaged in flash: not carried on. Its header still goes down, as a dead
            # filler (kind STATE, whose payload CRC fails), so the block's records still chain.
            self._dropped[self._rk - 1] += 1
            self._dropped[_DROPPED_CRITICAL] += 1  # only critical records are moved
            self._dirty = True
            h[1] = _KIND_STATE
            struct.pack_into("<I", h, 20, crc32(self._hdr_crc))
        self.dev.writeblocks(dst, h, doff)

    # ---------------------------------------------------------------- public API

    def append(self, kind: int, payload, ident: int, critical: bool = False, aux: int = 0) -> int:
        """Appends a record; returns its seq, or 0 if refused (flash full of critical data).

        kind: KIND_EVENT / KIND_SUMMARY / KIND_SNIPPET (payload: the wire frame), KIND_CHUNK
        (snippet payload bytes at offset aux), KIND_RAW. ident: event_id, snippet_id, or the
        caller's own increasing counter (summaries, raw chunks); 0 < ident < 2**32.
        """
        if kind < KIND_EVENT or kind > KIND_RAW:
            raise ValueError("unknown record kind")
        if len(payload) > self.max_payload:
            raise ValueError("payload larger than a block")
        if not 0 <= ident <= 0xFFFFFFFF or not 0 <= aux <= 0xFFFFFFFF:
            raise ValueError("ident and aux are uint32")
        total = _align(RECORD_HEADER + len(payload))
        if not self._make_room(total, critical):
            self._dropped[kind - 1] += 1
            self._dirty = True
            return 0
        if self._dirty and self._room() >= total + STATE_RECORD:
            self._write_state()
        return self._write(kind, FLAG_CRITICAL if critical else 0, payload, ident, aux)

    def append_snippet(self, snippet_id: int, header_frame, payload, critical: bool = False) -> int:
        """Stores a whole snippet: its payload as CHUNK records, then the header frame as the
        SNIPPET record that commits it. Returns the SNIPPET record's seq, 0 if refused."""
        n = len(payload)
        mv = memoryview(payload)
        pos = 0
        while pos < n:
            room = self._room() - RECORD_HEADER
            take = min(n - pos, room if room >= _MIN_CHUNK else self.max_payload)
            take = min(take, self.max_payload)
            if not self.append(KIND_CHUNK, mv[pos : pos + take], snippet_id, critical, pos):
                return 0
            pos += take
        return self.append(KIND_SNIPPET, header_frame, snippet_id, critical, n)

    def ack(self, kind: int, up_to: int) -> bool:
        """The gateway's ACK: every record of kind's group with ident <= up_to, written before
        now, is acknowledged (KIND_SNIPPET covers the chunks). Returns False if nothing new."""
        g = _GROUP[kind]
        if g == 0xFF:
            raise ValueError("kind cannot be acknowledged")
        if up_to < self._acks[2 * g]:
            return False
        if up_to == self._acks[2 * g] and self._appended[g] < self._acks[2 * g + 1]:
            return False
        self._acks[2 * g] = up_to
        self._acks[2 * g + 1] = self.seq  # the seq the state record below takes
        # Made room with the new watermark, so the records it acknowledges can go first. If
        # only critical data are left the state waits for the next block header.
        if self._make_room(STATE_RECORD, False):
            self._write_state()
        else:
            self._dirty = True
        return True

    def _walk(self, bseq: int, off: int, bound: int = 0):
        """Yields (blk, bseq, off, length) of each record from position (bseq, off) to the
        head, or to the end of block `bound` (a block_seq), with the record's fields parsed
        into self._r*. If a reclaim retires the block under way, goes on at the new tail and
        moves `bound` to the head, where that block's critical records went (at most `blocks`
        times: a walk overtaken again and again by reclaims still ends)."""
        laps = self.blocks
        while self.used:
            first = self.head_seq - self.used + 1
            if bseq < first:
                if bseq and bound and laps:
                    bound = self.head_seq
                    laps -= 1
                bseq = first
                off = BLOCK_HEADER
            if bseq > self.head_seq or (bound and bseq > bound):
                return
            blk = (self.head - (self.head_seq - bseq)) % self.blocks
            end = self.head_off if bseq == self.head_seq else self.block_size
            size = self._parse(blk, off) if off < end else -1
            if size < 0:
                bseq += 1
                off = BLOCK_HEADER
                continue
            here = off
            off += _align(RECORD_HEADER + size)
            yield blk, bseq, here, size

    def records(self, kinds: int = MESSAGES, unacked: bool = True, since: int = 0):
        """Yields (kind, ident, seq, flags, aux, length, loc) in log order, oldest first, of
        the records there when the iteration started.

        kinds: a bit mask of (1 << KIND_*). Safe to interleave with appends and acks: a
        reclaim while iterating moves on to the new tail, and critical records it moves come
        again at the head (the gateway de-duplicates). `loc` is for `read`. since: only
        records with seq >= since, the walk starting at the block that holds that seq (a
        reader that has seen the log up to there reads the new records without a full walk).
        """
        bs = self.block_size
        stop = self.seq
        start = self._block_of(since) if since else 0
        for blk, _, off, size in self._walk(start, BLOCK_HEADER, self.head_seq):
            kind = self._rk
            if self._rs >= stop or self._rs < since:
                continue
            if (kinds >> kind) & 1 and not (unacked and self._acked()):
                yield (kind, self._ri, self._rs, self._rf, self._ra, size, blk * bs + off)

    def _block_of(self, seq: int) -> int:
        """block_seq of the newest live block opened before record `seq` (0: the tail): its
        records and the later blocks' hold every record from seq on (blocks open in seq order)."""
        h = self._bhdr
        for i in range(self.used):
            self.dev.readblocks((self.head - i) % self.blocks, h, 0)
            if struct.unpack_from("<I", h, 12)[0] <= seq:
                return self.head_seq - i
        return 0

    def unacknowledged(self):
        """Events, summaries and snippets (SNIPPET records) not yet acknowledged, in log order."""
        return self.records(MESSAGES, True)

    def read(self, loc: int, buf, seq: int = 0) -> int:
        """Copies the payload of the record at `loc` into `buf`; returns its length, or -1 if
        no intact record (with this seq, if given) is there or `buf` is too small."""
        blk = loc // self.block_size
        off = loc % self.block_size
        if blk >= self.blocks:
            return -1
        n = self._parse(blk, off)
        if n < 0 or n > len(buf) or (seq and self._rs != seq):
            return -1
        mv = memoryview(buf)[0:n]
        self.dev.readblocks(blk, mv, off + RECORD_HEADER)
        return n if crc32(mv) == self._rc else -1

    def _find_chunk(self, snippet_id: int, at: int) -> bool:
        """Points the chunk cache at the CHUNK of `snippet_id` that holds byte `at`."""
        c = self._chunk
        if c[5] != self.reclaims:
            c[0] = 0  # a reclaim may have moved or retired the cached chunk
            c[5] = self.reclaims
        if c[0] == snippet_id and c[1] <= at < c[1] + c[2]:
            return True
        # From the last chunk found (the next one usually follows it), round to it again.
        start_bseq = c[3] if c[0] else 0
        start_off = c[4] if c[0] else BLOCK_HEADER
        for lap in range(2):
            for _, bseq, off, size in self._walk(start_bseq if lap == 0 else 0, start_off):
                if lap and (bseq > start_bseq or (bseq == start_bseq and off >= start_off)):
                    break
                if self._rk == KIND_CHUNK and self._ri == snippet_id and self._ra <= at < self._ra + size:
                    c[0] = snippet_id
                    c[1] = self._ra
                    c[2] = size
                    c[3] = bseq
                    c[4] = off
                    return True
            if not c[0]:
                break
        return False

    def read_snippet(self, snippet_id: int, offset: int, buf) -> int:
        """Copies snippet payload bytes from `offset` into `buf`; returns how many were found
        in a row (fewer than len(buf) at the payload's end or where chunks are missing)."""
        want = len(buf)
        got = 0
        out = memoryview(buf)
        c = self._chunk
        while got < want:
            at = offset + got
            if not self._find_chunk(snippet_id, at):
                break
            k = min(want - got, c[1] + c[2] - at)
            blk = (self.head - (self.head_seq - c[3])) % self.blocks
            self.dev.readblocks(blk, out[got : got + k], c[4] + RECORD_HEADER + at - c[1])
            got += k
        return got

    def last_ident(self, kind: int) -> int:
        """The highest ident ever appended to kind's group (restores counters after a reboot)."""
        return self._last[_GROUP[kind]]

    def dropped(self) -> tuple:
        """(events, summaries, snippets, chunks, raw, critical): records dropped unacknowledged."""
        return tuple(self._dropped)

    def stats(self) -> dict:
        usable = self.block_size - BLOCK_HEADER
        free = (self.blocks - self.used) * usable + self._room()
        return {
            "blocks": self.blocks,
            "block_size": self.block_size,
            "used_blocks": self.used,
            "free_blocks": self.blocks - self.used,
            "free_bytes": free,
            "capacity_bytes": (self.blocks - 1) * usable,
            "seq": self.seq,
            "reclaims": self.reclaims,
            "moved": self.moved,
            "dropped": self.dropped(),
        }
