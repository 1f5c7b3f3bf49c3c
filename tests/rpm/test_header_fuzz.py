"""Hostile headers: any corruption of a real package ends in one of our errors, never a crash."""

from __future__ import annotations

import contextlib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ociforge.errors import OciforgeError
from ociforge.rpm.header import parse_header
from ociforge.rpm.package import read_package
from tests.support.rpmread import read_everything


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(st.integers(0, 7000), st.integers(1, 255)), min_size=1, max_size=4))
def test_corrupted_headers_fail_cleanly(
    tiny_rpms: dict[str, Path], flips: list[tuple[int, int]]
) -> None:
    data = bytearray(tiny_rpms["gzip"].read_bytes())
    for offset, mask in flips:
        data[offset % len(data)] ^= mask
    with contextlib.suppress(OciforgeError):
        read_everything(bytes(data))


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=0, max_size=400))
def test_random_blobs_fail_cleanly(blob: bytes) -> None:
    with contextlib.suppress(OciforgeError):
        parse_header(blob, magic=False, dribbles=True)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(1, 255)), min_size=1, max_size=3))
def test_corrupted_main_header_parses_or_refuses(
    tiny_rpms: dict[str, Path], flips: list[tuple[int, int]]
) -> None:
    # Past the digest check: the parser and the file-list decoder see the damage themselves.
    from ociforge.rpm.files import file_list

    with tiny_rpms["zstd"].open("rb") as fh:
        package = read_package(fh)
    raw = bytearray(package.header.raw)
    for offset, mask in flips:
        raw[offset % len(raw)] ^= mask
    try:
        header = parse_header(bytes(raw))
        file_list(header)
        for tag in header.entries:
            entry = header.entries[tag]
            header.raw_value(tag)
            if entry.type.name in ("STRING", "STRING_ARRAY", "I18NSTRING"):
                header.strings(tag)
            elif entry.type.name == "BIN":
                header.binary(tag)
            else:
                header.integers(tag)
    except OciforgeError:
        pass
