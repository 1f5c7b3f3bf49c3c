"""The per-path state file and umoci's rootless owner xattr (rootlesscontainers-proto)."""

from __future__ import annotations

import base64
import io
import json
import os
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ociforge.errors import FormatError, TarError
from ociforge.tar.state import (
    ROOTLESS_XATTR,
    STATE_FORMAT,
    PathState,
    crc32,
    decode_rootless_owner,
    dump_states,
    encode_rootless_owner,
    load_states,
)
from tests.support import images
from tests.support.tools import need, run

_ints = st.integers(0, 2**63)
_states = st.builds(
    PathState,
    type=st.sampled_from(["0", "1", "2", "3", "4", "5", "6"]),
    mode=st.integers(0, 0o7777),
    uid=_ints,
    gid=_ints,
    size=_ints,
    mtime=st.integers(-(2**40), 2**40),
    link=st.text(max_size=20),
    xattrs=st.dictionaries(st.text(min_size=1, max_size=10), st.binary(max_size=20), max_size=3),
    crc32=st.integers(0, 2**32 - 1),
    devmajor=st.integers(0, 4095),
    devminor=st.integers(0, 2**20),
    present=st.booleans(),
    ino=_ints,
    ctime_ns=_ints,
)


def dumped(states: list[tuple[str, PathState]]) -> str:
    out = io.StringIO()
    dump_states(states, out)
    return out.getvalue()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=30), _states), max_size=6))
def test_dump_then_load_is_the_identity(states: list[tuple[str, PathState]]) -> None:
    text = dumped(states)
    assert list(load_states(io.StringIO(text))) == states
    lines = text.splitlines()
    assert len(lines) == len(states) + 1
    assert json.loads(lines[0]) == {"format": STATE_FORMAT}
    for line, (path, state) in zip(lines[1:], states, strict=True):
        obj = json.loads(line)  # one JSON object per line, whatever the path holds
        assert (obj["p"], obj["t"], obj["m"]) == (path, state.type, state.mode)


def test_format_line_and_compact_records() -> None:
    xattrs = {"user.b": b"\x00\xff", "security.capability": b"\x01"}
    states = [
        ("", PathState("5", 0o755)),
        (
            "usr/bin/tool",
            PathState("0", 0o4755, uid=5, size=3, mtime=7, crc32=zlib.crc32(b"abc"), xattrs=xattrs),
        ),
        ("dev/null", PathState("3", 0o666, devmajor=1, devminor=3, present=False)),
        ("usr/bin/alias", PathState("2", 0o777, link="tool", ino=12, ctime_ns=34)),
    ]
    lines = dumped(states).splitlines()
    assert lines[0] == '{"format": "ociforge-state/2"}'
    assert [json.loads(line) for line in lines[1:]] == [
        {"p": "", "t": "5", "m": 0o755},  # defaults are left out
        {
            "p": "usr/bin/tool",
            "t": "0",
            "m": 0o4755,
            "u": 5,
            "s": 3,
            "mt": 7,
            "crc": zlib.crc32(b"abc"),
            "x": {  # sorted by name, values in standard base64
                "security.capability": base64.b64encode(b"\x01").decode(),
                "user.b": base64.b64encode(b"\x00\xff").decode(),
            },
        },
        {"p": "dev/null", "t": "3", "m": 0o666, "ma": 1, "mi": 3, "absent": True},
        {"p": "usr/bin/alias", "t": "2", "m": 0o777, "l": "tool", "i": 12, "c": 34},
    ]
    assert all(": " not in line and ", " not in line for line in lines[1:])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "state of r: empty or not a state file"),
        ("not json\n", "state of r: empty or not a state file"),
        ('["ociforge-state/2"]\n', r"state of r: unsupported format \(expected ociforge-state/2\)"),
        ('{"format": "ociforge-state/1"}\n', "unsupported format"),
        ('{"format": "ociforge-state/2"}\n{"p": "a", "t": "0"\n', "state of r: line 2: "),
        ('{"format": "ociforge-state/2"}\n{"p": "a", "t": "0", "m": 1}\n{"p": "b"}\n', "line 3"),
        ('{"format": "ociforge-state/2"}\n{"p": "a", "t": "9", "m": 1}\n', "unknown path type '9'"),
        ('{"format": "ociforge-state/2"}\n{"p": "a", "t": "0", "m": "rw"}\n', "line 2"),
        (
            '{"format": "ociforge-state/2"}\n{"p": "a", "t": "0", "m": 1, "x": {"k": "abc"}}\n',
            "padding",
        ),
        # Valid JSON that is not an object (these once escaped as AttributeError).
        ('{"format": "ociforge-state/2"}\n[1, 2]\n', "line 2"),
        ('{"format": "ociforge-state/2"}\nnull\n', "line 2"),
        ('{"format": "ociforge-state/2"}\n5\n', "line 2"),
        ('{"format": "ociforge-state/2"}\n{"p": "a", "t": "0", "m": 1, "x": ["k"]}\n', "line 2"),
    ],
)
def test_corrupt_state_files_are_refused(text: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        list(load_states(io.StringIO(text), what="state of r"))


def test_good_lines_before_a_bad_one_are_read() -> None:
    text = dumped([("a", PathState("0", 0o644))]) + "garbage\n"
    states = load_states(io.StringIO(text))
    assert next(states) == ("a", PathState("0", 0o644))
    with pytest.raises(FormatError, match="line 3"):
        next(states)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=3000), st.integers(0, 2**32 - 1))
def test_crc32_is_zlibs(data: bytes, start: int) -> None:
    assert crc32(data, start) == zlib.crc32(data, start)


# -- the rootless owner codec ------------------------------------------------------------
# protobuf: field 1 (uid) is key 0x08, field 2 (gid) key 0x10, values as base-128 varints.


def test_owner_encoding_by_hand() -> None:
    assert encode_rootless_owner(0, 0) == b""  # root:root stores nothing
    assert encode_rootless_owner(1, 2) == b"\x08\x01\x10\x02"
    assert encode_rootless_owner(127, 128) == b"\x08\x7f\x10\x80\x01"
    assert encode_rootless_owner(1000, 1000) == b"\x08\xe8\x07\x10\xe8\x07"
    assert encode_rootless_owner(16384, 1) == b"\x08\x80\x80\x01\x10\x01"
    # A root id is rootlesscontainers' no-op id 2**32-1, "the unpacking user".
    assert encode_rootless_owner(0, 5) == b"\x08\xff\xff\xff\xff\x0f\x10\x05"
    assert encode_rootless_owner(7, 0) == b"\x08\x07\x10\xff\xff\xff\xff\x0f"


def test_owner_decoding_by_hand() -> None:
    assert decode_rootless_owner(b"") == (0, 0)
    assert decode_rootless_owner(b"\x10\x05") == (0, 5)  # absent uid is root
    assert decode_rootless_owner(b"\x08\xff\xff\xff\xff\x0f\x10\x05") == (0, 5)  # no-op id
    assert decode_rootless_owner(b"\x10\x02\x08\x01") == (1, 2)  # any field order
    assert decode_rootless_owner(b"\x08\x01\x08\x09\x10\x02") == (9, 2)  # last one wins
    assert decode_rootless_owner(b"\x18\x63\x08\x01") == (1, 0)  # unknown field 3 skipped
    assert decode_rootless_owner(b"\x08\x80\x00") == (0, 0)  # non-minimal varint for 0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (b"\x0a\x01x", "unsupported protobuf wire type 2"),  # field 1 as a length-delimited
        (b"\x0d\x00\x00\x00\x00", "unsupported protobuf wire type 5"),
        (b"\x08", "truncated protobuf varint"),
        (b"\x08\x80", "truncated protobuf varint"),
        (b"\x88", "truncated protobuf varint"),
        (b"\x08" + b"\x80" * 10 + b"\x01", "truncated protobuf varint"),  # over 64 bits
    ],
)
def test_bad_owner_values_are_refused(value: bytes, message: str) -> None:
    with pytest.raises(TarError, match=f"{ROOTLESS_XATTR}: {message}"):
        decode_rootless_owner(value)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32 - 2), st.integers(0, 2**32 - 2))
def test_owner_round_trip(uid: int, gid: int) -> None:
    encoded = encode_rootless_owner(uid, gid)
    assert decode_rootless_owner(encoded) == (uid, gid)
    assert (encoded == b"") == (uid == gid == 0)


def test_umoci_writes_the_same_owner_xattr(tmp_path: Path) -> None:
    need("umoci")
    owners = [(1000, 1001), (0, 5), (7, 0), (0, 0), (127, 128), (65534, 65534), (2**31, 3)]
    entries = [images.file(f"f{i}", "x", uid=u, gid=g) for i, (u, g) in enumerate(owners)]
    built = images.image([images.layer(entries)])
    images.write_layout(str(tmp_path / "layout"), [(built, "v1")])
    bundle = tmp_path / "bundle"
    run(["umoci", "unpack", "--rootless", "--image", f"{tmp_path / 'layout'}:v1", str(bundle)])
    for i, (uid, gid) in enumerate(owners):
        path = bundle / "rootfs" / f"f{i}"
        stored = os.getxattr(path, ROOTLESS_XATTR) if ROOTLESS_XATTR in os.listxattr(path) else b""
        assert encode_rootless_owner(uid, gid) == stored, (uid, gid)
        assert decode_rootless_owner(stored) == (uid, gid)
