"""Named regressions: hostile tar headers are refused with one clear error, never a traceback.

Values a header can carry but no Linux file system can hold (ids past 32 bits, times past
``time_t``, device numbers past 12/20 bits), sizes that are negative or overflow, and the PAX
rules (globals never rename members, the last extended header wins) as Go and GNU tar read them.
"""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path

import pytest

from ociforge.errors import TarError
from ociforge.tar.header import CHR, TarHeader, end_of_archive
from ociforge.tar.reader import iter_members
from ociforge.tar.unpack import TreeWriter
from tests.support import images
from tests.support.cli import assert_clean_error, ociforge
from tests.support.rawtar import base256, checksummed, pax, ustar


def read_all(raw: bytes) -> list[TarHeader]:
    return [m.header for m, _ in iter_members(io.BytesIO(raw + end_of_archive()))]


# -- item 1: values no file system can hold -------------------------------------------------


@pytest.mark.parametrize("key", ["uid", "gid"])
@pytest.mark.parametrize("value", [2**32, 2**32 + 5, 2**64, 2**32 - 1])
def test_pax_ids_beyond_32_bits_are_refused(key: str, value: int) -> None:
    with pytest.raises(TarError, match=f"{key} {value} is out of range"):
        read_all(pax({key: str(value)}) + ustar("f", data=b"x"))


def test_base256_ids_beyond_32_bits_are_refused() -> None:
    with pytest.raises(TarError, match=r"uid .* is out of range"):
        read_all(ustar("f", uid=base256(2**40, 8)))


def test_largest_real_id_is_kept() -> None:
    (header,) = read_all(pax({"uid": str(2**32 - 2), "gid": "4000000000"}) + ustar("f"))
    assert (header.uid, header.gid) == (2**32 - 2, 4000000000)


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "NaN", "1e30", "1e3", "0x10", "1_000"])
def test_pax_mtime_that_is_not_a_decimal_time_is_refused(value: str) -> None:
    with pytest.raises(TarError, match="PAX mtime"):
        read_all(pax({"mtime": value}) + ustar("f"))


def test_pax_mtime_beyond_time_t_is_refused() -> None:
    with pytest.raises(TarError, match=r"mtime .* is out of range"):
        read_all(pax({"mtime": "1" + "0" * 30}) + ustar("f"))


@pytest.mark.parametrize(
    ("value", "expected"), [("1700000000.123456789", 1700000000), ("-5.5", -6)]
)
def test_pax_fractional_mtimes_round_down(value: str, expected: int) -> None:
    (header,) = read_all(pax({"mtime": value}) + ustar("f"))
    assert header.mtime == expected


@pytest.mark.parametrize(("major", "minor"), [(4096, 0), (0, 2**20), (2**33, 1), (1, 2**40)])
def test_device_numbers_too_large_for_linux_are_refused(major: int, minor: int) -> None:
    raw = ustar("dev/x", type=CHR, devmajor=base256(major, 8), devminor=base256(minor, 8))
    with pytest.raises(TarError, match=r"device number .* is out of range"):
        read_all(raw)


def test_largest_linux_device_numbers_are_kept() -> None:
    (header,) = read_all(ustar("dev/x", type=CHR, devmajor=b"0007777 ", devminor=b"3777777 "))
    assert (header.devmajor, header.devminor) == (4095, 2**20 - 1)


def test_headers_built_in_code_are_checked_too() -> None:
    with pytest.raises(TarError, match="uid 4294967296 is out of range"):
        TarHeader("f", uid=2**32)
    with pytest.raises(TarError, match="negative size"):
        TarHeader("f", size=-1)


def _layer_image(raw_tar: bytes) -> images.BuiltImage:
    blob = gzip.compress(raw_tar + end_of_archive(), mtime=0)
    return images.image([images.BuiltLayer(blob, images.sha256(raw_tar + end_of_archive()))])


@pytest.mark.parametrize(
    ("name", "raw", "fragment"),
    [
        ("uid", pax({"uid": str(2**40)}) + ustar("big-uid", data=b"x"), "uid"),
        ("mtime-inf", pax({"mtime": "inf"}) + ustar("t"), "mtime"),
        ("mtime-1e30", pax({"mtime": "1e30"}) + ustar("t"), "mtime"),
        ("device", ustar("d", type=CHR, devmajor=base256(2**33, 8)), "device number"),
    ],
)
def test_unpack_of_hostile_headers_is_one_error_line(
    tmp_path: Path, name: str, raw: bytes, fragment: str
) -> None:
    src = images.write_archive(str(tmp_path / "in.ociarchive"), [(_layer_image(raw), "")])
    for extra in ([], ["--rootless"]):
        result = ociforge("unpack", f"oci-archive:{src}", str(tmp_path / "b"), *extra)
        assert_clean_error(result, fragment)
        assert not (tmp_path / "b").exists()


# -- item 2: sizes, PAX globals, consecutive headers ---------------------------------------


@pytest.mark.parametrize("value", [-1, -512, -(2**62)])
def test_negative_base256_sizes_are_refused(value: int) -> None:
    with pytest.raises(TarError, match="negative size"):
        read_all(ustar("f", size=base256(value, 12)) + ustar("g"))


def test_base256_size_beyond_63_bits_is_refused() -> None:
    with pytest.raises(TarError, match=r"size .* is out of range"):
        read_all(ustar("f", size=base256(2**70, 12)))


@pytest.mark.parametrize("value", ["-1", "-0x10", "1_000", "+5", " 5", "5 ", "1e3", ""])
def test_pax_sizes_that_are_not_plain_decimals_are_refused(value: str) -> None:
    with pytest.raises(TarError, match="PAX size"):
        read_all(pax({"size": value}) + ustar("f"))


@pytest.mark.parametrize("kind", [b"x", b"g"])
def test_negative_extended_header_sizes_are_refused(kind: bytes) -> None:
    block = bytearray(pax({"comment": "x"}, kind)[:512])
    block[124:136] = base256(-512, 12)
    with pytest.raises(TarError, match="negative size"):
        read_all(checksummed(block) + ustar("f"))


def test_pax_global_path_never_renames_members() -> None:
    raw = pax({"path": "etc/shadow", "linkpath": "x"}, b"g") + ustar("a") + ustar("b")
    assert [h.name for h in read_all(raw)] == ["a", "b"]


def test_pax_global_empty_path_is_harmless() -> None:
    assert [h.name for h in read_all(pax({"path": ""}, b"g") + ustar("a"))] == ["a"]


def test_pax_global_does_not_change_sizes_or_owners() -> None:
    raw = pax({"size": "1024", "uid": "7"}, b"g") + ustar("a", data=b"hi") + ustar("b")
    headers = read_all(raw)
    assert [(h.name, h.size, h.uid) for h in headers] == [("a", 2, 0), ("b", 0, 0)]


def test_consecutive_pax_headers_last_one_wins() -> None:
    # Go's archive/tar and GNU tar keep only the last extended header before a member.
    raw = pax({"path": "first", "uid": "5"}) + pax({"path": "second"}) + ustar("plain")
    (header,) = read_all(raw)
    assert (header.name, header.uid) == ("second", 0)


def test_rootless_unpack_of_large_ids_records_them(tmp_path: Path) -> None:
    # The largest real id still unpacks: it is recorded (and would be chowned as root).
    writer = TreeWriter(str(tmp_path), rootless=True)
    try:
        writer.apply(io.BytesIO(pax({"uid": str(2**32 - 2)}) + ustar("f") + end_of_archive()))
        states = writer.finish()
    finally:
        writer.close()
    assert states["f"].uid == 2**32 - 2
    assert os.path.exists(tmp_path / "f")
