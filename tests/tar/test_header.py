"""The tar header codec against the stdlib's tarfile and the ustar/PAX/GNU rules themselves."""

from __future__ import annotations

import io
import tarfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ociforge.errors import TarError
from ociforge.tar.header import (
    BLK,
    BLOCK,
    CHR,
    DIR,
    FIFO,
    LNK,
    MAX_DEVMAJOR,
    MAX_DEVMINOR,
    MAX_ID,
    REG,
    SYM,
    TarHeader,
    checksum_ok,
    decode_number,
    encode_header,
    end_of_archive,
    padding,
    parse_block,
    parse_pax,
)
from ociforge.tar.reader import iter_members

_TYPES = {
    REG: tarfile.REGTYPE,
    DIR: tarfile.DIRTYPE,
    SYM: tarfile.SYMTYPE,
    LNK: tarfile.LNKTYPE,
    CHR: tarfile.CHRTYPE,
    BLK: tarfile.BLKTYPE,
    FIFO: tarfile.FIFOTYPE,
}

# Components mixing ASCII, multi-byte UTF-8 and bytes that are not UTF-8 at all (surrogates).
_component = st.text(
    st.sampled_from([*"abcxyz019._-", "é", "日", "\udcff", "\udc80"]), min_size=1, max_size=40
).filter(lambda c: c not in (".", ".."))
_names = st.lists(_component, min_size=1, max_size=8).map("/".join)
_owner_names = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz_-0123456789"), max_size=40)
_xattr_names = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz."), min_size=1, max_size=20)


@st.composite
def headers(draw: st.DrawFn) -> tuple[TarHeader, bytes]:
    """A header (any type, ids and times past ustar's fields, long names) and its data."""
    kind = draw(st.sampled_from(sorted(_TYPES)))
    data = draw(st.binary(max_size=1100)) if kind == REG else b""
    header = TarHeader(
        name=draw(_names),
        type=kind,
        mode=draw(st.integers(0, 0o7777)),
        uid=draw(st.integers(0, MAX_ID)),
        gid=draw(st.integers(0, MAX_ID)),
        size=len(data),
        mtime=draw(st.integers(-(2**33), 2**40)),
        linkname=draw(_names) if kind in (SYM, LNK) else "",
        uname=draw(_owner_names),
        gname=draw(_owner_names),
        devmajor=draw(st.integers(0, MAX_DEVMAJOR)) if kind in (CHR, BLK) else 0,
        devminor=draw(st.integers(0, MAX_DEVMINOR)) if kind in (CHR, BLK) else 0,
        xattrs=draw(
            st.dictionaries(_xattr_names.map("user.".__add__), st.binary(max_size=40), max_size=3)
        ),
    )
    return header, data


def archive(*members: tuple[TarHeader, bytes]) -> bytes:
    out = bytearray()
    for header, data in members:
        out += encode_header(header) + data + b"\0" * padding(len(data))
    return bytes(out + end_of_archive())


def fsencode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


@settings(max_examples=150, deadline=None)
@given(headers())
def test_tarfile_reads_what_encode_header_writes(member: tuple[TarHeader, bytes]) -> None:
    header, data = member
    with tarfile.open(fileobj=io.BytesIO(archive(member)), mode="r:") as tf:
        (info,) = tf.getmembers()
        got = tf.extractfile(info).read() if info.isreg() else b""  # type: ignore[union-attr]
    assert fsencode(info.name) == fsencode(header.name)
    assert info.type == _TYPES[header.type]
    assert (info.mode, info.uid, info.gid) == (header.mode, header.uid, header.gid)
    assert int(info.mtime) == header.mtime
    assert fsencode(info.linkname) == fsencode(header.linkname)
    assert (info.uname, info.gname) == (header.uname, header.gname)
    assert (info.devmajor, info.devminor) == (header.devmajor, header.devminor)
    assert got == data
    xattrs = {
        k.removeprefix("SCHILY.xattr."): fsencode(v)
        for k, v in info.pax_headers.items()
        if k.startswith("SCHILY.xattr.")
    }
    assert xattrs == dict(header.xattrs)


@settings(max_examples=150, deadline=None)
@given(headers())
def test_encode_then_decode_is_the_identity(member: tuple[TarHeader, bytes]) -> None:
    header, data = member
    ((decoded, content),) = [
        (m.header, r.read()) for m, r in iter_members(io.BytesIO(archive(member)))
    ]
    assert decoded == header
    assert content == data


_FORMATS = [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT]


@st.composite
def tarinfos(draw: st.DrawFn, tar_format: int) -> tuple[tarfile.TarInfo, bytes]:
    """An entry tarfile can write in ``tar_format`` (ustar: 8-digit ids, 255-byte names)."""
    ascii_component = st.text(st.sampled_from("abcxyz019._-"), min_size=1, max_size=30)
    limit = 0o7777777 if tar_format == tarfile.USTAR_FORMAT else MAX_ID
    name = "/".join(draw(st.lists(ascii_component, min_size=1, max_size=4)))
    kind = draw(st.sampled_from([tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE]))
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = draw(st.integers(0, 0o7777))
    info.uid = draw(st.integers(0, limit))
    info.gid = draw(st.integers(0, limit))
    info.mtime = draw(st.integers(0, 0o77777777777))
    info.uname = draw(st.text(st.sampled_from("abc_"), max_size=31))
    if kind == tarfile.SYMTYPE:
        info.linkname = draw(st.text(st.sampled_from("abc/"), min_size=1, max_size=90))
    data = draw(st.binary(max_size=700)) if kind == tarfile.REGTYPE else b""
    info.size = len(data)
    return info, data


@pytest.mark.parametrize("tar_format", _FORMATS, ids=["ustar", "gnu", "pax"])
@settings(max_examples=60, deadline=None)
@given(st.data())
def test_decodes_what_tarfile_writes(tar_format: int, data: st.DataObject) -> None:
    entries = data.draw(st.lists(tarinfos(tar_format), min_size=1, max_size=4))
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tar_format) as tf:
        for info, content in entries:
            tf.addfile(info, io.BytesIO(content))
    decoded = [(m.header, r.read()) for m, r in iter_members(io.BytesIO(out.getvalue()))]
    assert len(decoded) == len(entries)
    for (header, content), (info, expected) in zip(decoded, entries, strict=True):
        assert header.name.rstrip("/") == info.name
        assert header.type == info.type.decode()
        assert (header.mode, header.uid, header.gid) == (info.mode, info.uid, info.gid)
        assert (header.mtime, header.uname) == (info.mtime, info.uname)
        assert header.linkname == info.linkname
        assert (header.size, content) == (len(expected), expected)


@settings(max_examples=200, deadline=None)
@given(st.integers(-(2**55), 2**55), st.sampled_from([8, 12]))
def test_base256_numbers_decode_as_tarfile_reads_them(value: int, width: int) -> None:
    raw = tarfile.itn(value, width, tarfile.GNU_FORMAT)
    assert decode_number(raw) == tarfile.nti(raw) == value


def test_base256_by_hand() -> None:
    # GNU: the first byte 0x80 says "binary, positive"; 0xff a two's complement negative.
    assert decode_number(b"\x80" + (0o10000000).to_bytes(7, "big")) == 0o10000000
    assert decode_number(b"\x80" + b"\0" * 6 + b"\x01") == 1
    assert decode_number(b"\xff" * 8) == -1
    assert decode_number(b"\xff" * 11 + b"\xfe") == -2
    assert decode_number(b"0000755\0") == 0o755
    assert decode_number(b"  755 \0\0") == 0o755  # historic tars pad with spaces
    assert decode_number(b"\0" * 8) == 0


def test_invalid_octal_names_the_field() -> None:
    with pytest.raises(TarError, match=r"invalid numeric uid b'00x7'"):
        decode_number(b"00x7", "uid")


def test_large_values_go_to_pax_records() -> None:
    header = TarHeader("f", uid=0o10000000, gid=7, size=0, mtime=-1, uname="u" * 33)
    raw = encode_header(header)
    assert raw[156:157] == b"x"  # a PAX header first
    records = parse_pax(raw[BLOCK : BLOCK + decode_number(raw[124:136])])
    assert records == {"uid": b"2097152", "mtime": b"-1", "uname": b"u" * 33}
    ustar = raw[-BLOCK:]
    assert ustar[108:116] == b"0000000\0"  # the ustar field is zeroed, not truncated
    assert ustar[116:124] == b"0000007\0"


def test_short_headers_are_plain_ustar() -> None:
    raw = encode_header(TarHeader("usr/bin/ls", mode=0o755, uid=1, gid=2, size=3, mtime=4))
    assert len(raw) == BLOCK
    assert raw[257:265] == b"ustar\x0000"
    assert raw[100:108] == b"0000755\0"
    assert raw[124:136] == b"00000000003\0"


@pytest.mark.parametrize("length", range(88, 112))
def test_pax_record_lengths_count_themselves(length: int) -> None:
    # Around 100 bytes a record's length prefix grows a digit, which changes the length.
    name = "n" * length + "/" + "x" * 100
    raw = encode_header(TarHeader(name))
    size = decode_number(raw[124:136])
    record = raw[BLOCK : BLOCK + size]
    prefix, _, _ = record.partition(b" ")
    assert int(prefix) == len(record)
    with tarfile.open(fileobj=io.BytesIO(raw + end_of_archive())) as tf:
        assert tf.getnames() == [name]


def test_non_utf8_long_names_are_marked_binary() -> None:
    name = "\udcff" * 120
    raw = encode_header(TarHeader(name))
    records = parse_pax(raw[BLOCK : BLOCK + decode_number(raw[124:136])])
    assert records["hdrcharset"] == b"BINARY"
    assert records["path"] == b"\xff" * 120
    with tarfile.open(fileobj=io.BytesIO(raw + end_of_archive())) as tf:
        assert fsencode(tf.getnames()[0]) == b"\xff" * 120


def test_negative_ids_are_refused_with_the_name() -> None:
    with pytest.raises(TarError, match=r"'etc/passwd': negative uid"):
        encode_header(TarHeader("etc/passwd", uid=-1))
    with pytest.raises(TarError, match=r"'etc/group': negative gid"):
        encode_header(TarHeader("etc/group", gid=-3))


def test_unknown_types_are_refused_with_the_name() -> None:
    with pytest.raises(TarError, match=r"'sparse': unsupported type 'S'"):
        TarHeader("sparse", type="S")
    block = bytearray(encode_header(TarHeader("odd")))
    block[156:157] = b"S"
    block[148:156] = b"%06o\0 " % (sum(block[:148]) + 256 + sum(block[156:]))
    with pytest.raises(TarError, match=r"'odd': unsupported type 'S'"):
        parse_block(bytes(block))


def test_checksum_errors() -> None:
    block = bytearray(encode_header(TarHeader("etc/hosts", size=0)))
    assert checksum_ok(bytes(block))
    block[0] ^= 1  # one bit of the name
    assert not checksum_ok(bytes(block))
    with pytest.raises(TarError, match="checksum mismatch"):
        parse_block(bytes(block))
    stream = io.BytesIO(archive((TarHeader("ok"), b""))[:BLOCK] + bytes(block) + end_of_archive())
    with pytest.raises(TarError, match="at offset 512: tar header checksum mismatch"):
        list(iter_members(stream, what="layer 3"))


def test_historic_signed_checksum_is_accepted() -> None:
    # Old tars summed the header as signed chars; bytes >= 0x80 then count negative.
    block = bytearray(encode_header(TarHeader("caf\udce9")))  # name byte 0xe9
    signed = sum(b - 256 if b > 127 else b for b in block[:148]) + 8 * 32
    signed += sum(b - 256 if b > 127 else b for b in block[156:])
    assert signed != sum(block[:148]) + 256 + sum(block[156:])
    block[148:156] = b"%06o\0 " % signed
    assert checksum_ok(bytes(block))
    assert parse_block(bytes(block)).name == "caf\udce9"


def test_end_of_archive_and_padding() -> None:
    assert end_of_archive() == b"\0" * 1024
    assert [padding(n) for n in (0, 1, 511, 512, 513, 1024)] == [0, 511, 1, 0, 511, 0]
    # tarfile stops at the two zero blocks and ignores whatever follows.
    data = archive((TarHeader("a", size=3), b"abc")) + b"garbage" * 100
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        assert tf.getnames() == ["a"]
    assert [m.header.name for m, _ in iter_members(io.BytesIO(data))] == ["a"]


@given(st.integers(0, 10**7))
def test_padding_fills_the_last_block(size: int) -> None:
    assert 0 <= padding(size) < BLOCK
    assert (size + padding(size)) % BLOCK == 0


def test_old_style_directory_is_a_directory() -> None:
    # A v7 archive marks a directory with a trailing slash on a regular-file ("\0") type.
    info = tarfile.TarInfo("olddir/")
    info.type = tarfile.AREGTYPE
    raw = info.tobuf(tarfile.USTAR_FORMAT)
    with tarfile.open(fileobj=io.BytesIO(raw + end_of_archive())) as tf:
        assert tf.getmembers()[0].isdir()
    assert parse_block(raw).type == DIR


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"12path=x\n", "record without length"),
        (b"1x path=x\n", "bad record length"),
        (b"99 path=x\n", "record overruns the header"),
        (b"5 path=x\n", "record overruns the header"),
        (b"8 pathx\n", "record without '='"),
        (b"ab", "record without length"),
    ],
)
def test_malformed_pax_records(data: bytes, message: str) -> None:
    with pytest.raises(TarError, match=f"malformed PAX header of m: {message}"):
        parse_pax(data, what="PAX header of m")


def test_pax_records_by_hand() -> None:
    assert parse_pax(b"11 path=ab\n16 uid=12345678\n\0\0\0") == {
        "path": b"ab",
        "uid": b"12345678",
    }
    assert parse_pax(b"11 k=a=b\nc\n") == {"k": b"a=b\nc"}  # values may hold '=' and newlines
