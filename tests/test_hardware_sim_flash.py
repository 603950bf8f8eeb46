"""The NOR flash model: block protocol, erase-before-write, page programs, wear, power cuts, file image."""

from __future__ import annotations

from array import array
from pathlib import Path

import pytest

from hardware_sim.flash import NorFlash, PowerLoss, ProgramError


def test_geometry_through_ioctl() -> None:
    flash = NorFlash(16, 4096)
    assert flash.ioctl(4, 0) == 16
    assert flash.ioctl(5, 0) == 4096
    assert [flash.ioctl(op, 0) for op in (1, 2, 3)] == [0, 0, 0]
    with pytest.raises(ValueError):
        flash.ioctl(99, 0)
    with pytest.raises(ValueError):
        NorFlash(4, 1000, page_size=256)  # not whole pages


def test_erase_sets_one_whole_block_to_ff_and_counts_wear() -> None:
    flash = NorFlash(4, 512, fill=0x00)
    assert flash.ioctl(6, 2) == 0
    image = flash.image()
    assert image[1024:1536] == b"\xff" * 512
    assert image[:1024] == bytes(1024) and image[1536:] == bytes(512)
    flash.ioctl(6, 2)
    assert flash.erase_counts == [0, 0, 2, 0]
    with pytest.raises(ValueError):
        flash.ioctl(6, 4)


def test_programming_only_clears_bits() -> None:
    flash = NorFlash(2, 512)
    flash.writeblocks(0, bytes([0b1010_1010, 0x0F]), 10)
    flash.writeblocks(0, bytes([0b1100_1100, 0xF0]), 10)  # old AND new
    buf = bytearray(2)
    flash.readblocks(0, buf, 10)
    assert list(buf) == [0b1000_1000, 0x00]
    flash.ioctl(6, 0)  # only an erase sets bits again
    flash.readblocks(0, buf, 10)
    assert buf == b"\xff\xff"


def test_strict_mode_refuses_writes_that_need_an_erase() -> None:
    flash = NorFlash(2, 512, strict=True)
    flash.writeblocks(1, b"\x0f", 7)
    flash.writeblocks(1, b"\x05", 7)  # clears more bits: allowed
    with pytest.raises(ProgramError, match="needs an erase"):
        flash.writeblocks(1, b"\xaa\x18", 6)  # byte 7 would need bit 3... set again
    buf = bytearray(2)
    flash.readblocks(1, buf, 6)
    assert buf == b"\xff\x05"  # nothing of the refused write was programmed


def test_offsets_reads_across_blocks_and_bounds() -> None:
    flash = NorFlash(4, 512)
    flash.writeblocks(0, b"abcd", 510)  # runs on into block 1, as esp32.Partition allows
    buf = bytearray(4)
    flash.readblocks(1, memoryview(buf)[0:2], 0)
    assert buf[:2] == b"cd"
    flash.readblocks(0, buf, 510)
    assert buf == b"abcd"
    with pytest.raises(ValueError):
        flash.readblocks(3, bytearray(2), 511)
    with pytest.raises(ValueError):
        flash.writeblocks(4, b"x", 0)
    samples = array("h", [1, -1])
    flash.writeblocks(2, samples, 0)
    flash.readblocks(2, buf, 0)
    assert bytes(buf) == samples.tobytes()


def test_simple_protocol_write_erases_whole_blocks_first() -> None:
    flash = NorFlash(4, 512, fill=0x00)
    flash.writeblocks(1, b"\x5a" * 1024)  # no offset: erase + program two blocks
    assert flash.image()[512:1536] == b"\x5a" * 1024
    assert flash.erase_counts == [0, 1, 1, 0]
    whole = bytearray(512)
    flash.readblocks(2, whole)
    assert whole == b"\x5a" * 512
    with pytest.raises(ValueError):
        flash.writeblocks(0, b"short")


def test_writes_are_split_into_page_programs() -> None:
    flash = NorFlash(2, 1024, page_size=256)
    flash.writeblocks(0, bytes(400), 200)  # pages 0, 1 and 2 of block 0
    assert flash.page_programs == 3
    assert flash.bytes_programmed == 400 and flash.steps == 400
    flash.ioctl(6, 1)
    assert flash.steps == 401  # an erase is one step


@pytest.mark.parametrize("torn_bits", [True, False])
def test_power_cut_at_every_byte_of_a_write(torn_bits: bool) -> None:
    data = bytes((i * 37 + 5) & 0xFF for i in range(40))
    old = bytes(((i * 11) | 0x81) & 0xFF for i in range(40))
    for cut in range(len(data)):
        flash = NorFlash(2, 512, page_size=16, torn_bits=torn_bits, seed=cut)
        flash.writeblocks(1, old, 3)
        flash.arm_power_loss(cut)
        with pytest.raises(PowerLoss):
            flash.writeblocks(1, data, 3)
        with pytest.raises(PowerLoss):  # no power until the reboot
            flash.readblocks(1, bytearray(1), 0)
        flash.power_on()
        got = bytearray(40)
        flash.readblocks(1, got, 3)
        assert got[:cut] == bytes(a & b for a, b in zip(old[:cut], data[:cut], strict=True))
        assert got[cut + 1 :] == old[cut + 1 :]
        torn = got[cut]
        assert torn & (old[cut] & data[cut]) == old[cut] & data[cut]  # the bits it had to keep
        assert torn | old[cut] == old[cut]  # never a bit set
        if not torn_bits:
            assert torn == old[cut]
        assert flash.power_losses == 1


def test_power_cut_timing_counts_steps_across_calls() -> None:
    flash = NorFlash(4, 512)
    flash.arm_power_loss(10)
    flash.writeblocks(0, bytes(6), 0)
    flash.writeblocks(0, bytes(4), 6)  # exactly used up: the next step is cut
    with pytest.raises(PowerLoss):
        flash.writeblocks(0, b"\x00", 10)
    flash.power_on()
    assert flash.image()[:10] == bytes(10)  # byte 10 was torn
    flash.arm_power_loss(1)
    flash.writeblocks(0, b"\x00", 20)
    with pytest.raises(PowerLoss, match="erase"):
        flash.ioctl(6, 0)


def test_power_cut_during_erase_leaves_a_mix() -> None:
    flash = NorFlash(2, 4096, fill=0x00, seed=3)
    flash.arm_power_loss(0)
    with pytest.raises(PowerLoss):
        flash.ioctl(6, 1)
    flash.power_on()
    block = flash.image()[4096:]
    assert 0 < block.count(0xFF) < 4096 and block.count(0) + block.count(0xFF) == 4096
    flash.ioctl(6, 1)  # erasing again finishes the job
    assert flash.image()[4096:] == b"\xff" * 4096
    assert flash.erase_counts == [0, 2]


def test_file_backed_image_survives_a_new_process(tmp_path: Path) -> None:
    path = tmp_path / "patch" / "flash.bin"
    with NorFlash(4, 512, path=path) as flash:
        flash.writeblocks(2, b"kept", 100)
        flash.ioctl(3, 0)
    assert path.stat().st_size == 2048
    with NorFlash(4, 512, path=path) as again:
        buf = bytearray(4)
        again.readblocks(2, buf, 100)
        assert buf == b"kept"
        assert again.image()[:512] == b"\xff" * 512
    with pytest.raises(ValueError, match="not"):
        NorFlash(8, 512, path=path)


def test_snapshot_and_restore() -> None:
    flash = NorFlash(2, 512)
    flash.writeblocks(0, b"\x00" * 8, 0)
    snap = flash.image()
    flash.ioctl(6, 0)
    flash.load_image(snap)
    assert flash.image() == snap
    with pytest.raises(ValueError):
        flash.load_image(b"")
