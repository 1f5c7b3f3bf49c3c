"""Stream tar members (ustar, GNU long names, PAX) with their data offsets and bounded readers."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Final, cast

from ..errors import TarError
from ..streams import CHUNK_SIZE, LimitedReader, Readable, read_exact
from .header import (
    BLOCK,
    TarHeader,
    checksum_ok,
    decode_number,
    padding,
    parse_block,
    parse_pax,
)

__all__ = ["MAX_META_BYTES", "MemberData", "TarMember", "iter_members", "iter_verified"]

#: Largest PAX header or GNU long name accepted; real ones are a few hundred bytes.
MAX_META_BYTES: Final = 1 << 20

_PAX_KEYS_INT: Final = {"uid", "gid", "size", "mtime"}

# PAX numbers as Go's archive/tar accepts them: ASCII decimal digits, times with an optional
# sign and fraction. Python's int() would also take "+5", " 5", "1_000" and float() "inf",
# "1e30" and "nan": values other readers refuse or read differently.
_PAX_INT: Final = re.compile(rb"[0-9]{1,40}")
_PAX_TIME: Final = re.compile(rb"(-?)([0-9]{1,40})(?:\.([0-9]*))?")


def _pax_number(key: str, raw: bytes, what: str) -> int:
    if key != "mtime":
        if _PAX_INT.fullmatch(raw) is None:
            raise TarError(f"{what}: PAX {key}={raw[:40]!r} is not a decimal number")
        return int(raw)
    match = _PAX_TIME.fullmatch(raw)
    if match is None:
        raise TarError(f"{what}: PAX mtime={raw[:40]!r} is not a decimal time")
    sign, seconds, fraction = match.groups()
    value = int(seconds)
    if sign:
        # Times round down, as Go's time.Unix(-5, -5e8).Unix() gives -6.
        value = -value - (1 if fraction and fraction.strip(b"0") else 0)
    return value


@dataclass(frozen=True, slots=True)
class TarMember:
    """A member's header with where its data sits in the stream."""

    header: TarHeader
    offset: int
    data_offset: int


class MemberData(LimitedReader):
    """The data of the current member; reading past its end is impossible."""

    def __init__(self, stream: Readable, size: int, what: str) -> None:
        super().__init__(
            stream, size, lambda: TarError(f"{what}: truncated (data of a member is cut short)")
        )


def _read_exact(stream: Readable, n: int, what: str) -> bytes:
    data = read_exact(stream, n)
    if len(data) < n:
        raise TarError(f"{what}: truncated")
    return data


def _skip(stream: Readable, n: int, what: str, seekable: bool) -> None:
    if n <= 0:
        return
    if seekable:
        stream.seek(n, io.SEEK_CUR)  # type: ignore[attr-defined]
        return
    while n:
        chunk = stream.read(min(n, 1 << 20))
        if not chunk:
            raise TarError(f"{what}: truncated (data of a member is cut short)")
        n -= len(chunk)


def _apply_pax(header: TarHeader, records: dict[str, bytes], what: str) -> TarHeader:
    changes: dict[str, object] = {}
    xattrs: dict[str, bytes] = dict(header.xattrs)
    extra: dict[str, str] = dict(header.pax)
    for key, raw in records.items():
        if key in ("path", "linkpath", "uname", "gname"):
            changes[{"path": "name", "linkpath": "linkname"}.get(key, key)] = raw.decode(
                "utf-8", "surrogateescape"
            )
        elif key in _PAX_KEYS_INT:
            changes[key] = _pax_number(key, raw, what)
        elif key.startswith("SCHILY.xattr."):
            xattrs[key[len("SCHILY.xattr.") :]] = raw
        elif key in ("hdrcharset", "atime", "ctime", "comment", "charset"):
            continue
        elif key.startswith("GNU.sparse."):
            raise TarError(f"{what}: sparse files are not supported")
        else:
            extra[key] = raw.decode("utf-8", "surrogateescape")
    try:
        return header.evolve(**changes, xattrs=xattrs, pax=extra)
    except TarError as exc:
        raise TarError(f"{what}: {exc}") from None


def iter_members(
    stream: IO[bytes] | Readable,
    *,
    what: str = "tar stream",
    seekable: bool = False,
    require_end: bool = False,
    total_size: int | None = None,
) -> Iterator[tuple[TarMember, MemberData]]:
    """Yield each member with a reader of its data.

    Extended headers follow Go's archive/tar: only the last PAX ``x`` header before a member
    applies, and PAX global (``g``) headers are checked for form but never applied (a global
    ``path`` would otherwise rename every member). Sizes and ids are range-checked by
    :class:`~ociforge.tar.header.TarHeader`, so a negative base-256 size cannot move the reader
    out of step with the stream.

    Whatever the consumer leaves unread is skipped before the next member. ``seekable``
    skips data with ``seek`` (archive indexing never reads blob bytes). With ``total_size``
    a member whose data would run past the end is reported as truncation immediately.
    ``require_end`` insists on the end-of-archive marker, so a cut archive is an error even
    when it ends on a member boundary.
    """
    pos = 0
    pending: dict[str, bytes] = {}
    long_name: str | None = None
    long_link: str | None = None
    start = 0
    while True:
        block = stream.read(BLOCK)
        if not block:
            if require_end:
                raise TarError(f"{what}: truncated (no end-of-archive marker)")
            return
        if len(block) < BLOCK:
            block += _read_exact(stream, BLOCK - len(block), what)
        if not pending and long_name is None and long_link is None:
            start = pos
        pos += BLOCK
        if block == b"\0" * BLOCK:
            return
        typeflag = block[156:157]
        if typeflag in (b"x", b"g", b"L", b"K"):
            if not checksum_ok(block):
                raise TarError(f"{what}: tar header checksum mismatch at offset {pos - BLOCK}")
            size = decode_number(block[124:136], "size")
            if size < 0:
                raise TarError(f"{what}: extended header at offset {pos - BLOCK}: negative size")
            if size > MAX_META_BYTES:
                raise TarError(f"{what}: extended header of {size} bytes is too large")
            data = _read_exact(stream, size, what)
            _skip(stream, padding(size), what, seekable)
            pos += size + padding(size)
            if typeflag == b"x":
                pending = parse_pax(data, what=f"{what}: PAX header")
            elif typeflag == b"g":
                parse_pax(data, what=f"{what}: PAX global header")
            else:
                text = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
                if typeflag == b"L":
                    long_name = text
                else:
                    long_link = text
            continue
        try:
            header = parse_block(block)
        except TarError as exc:
            raise TarError(f"{what}: at offset {pos - BLOCK}: {exc}") from None
        if long_name is not None:
            header = header.evolve(name=long_name)
        if long_link is not None:
            header = header.evolve(linkname=long_link)
        if pending:
            header = _apply_pax(header, pending, what)
        pending, long_name, long_link = {}, None, None
        # As in Go's archive/tar and CPython's tarfile: only regular files carry data.
        size = header.size if header.is_file else 0
        if total_size is not None and pos + size > total_size:
            raise TarError(f"{what}: truncated (member {header.name!r} runs past the end)")
        member = TarMember(header=header, offset=start, data_offset=pos)
        reader = MemberData(stream, size, what)
        yield member, reader
        _skip(stream, reader.remaining, what, seekable)
        pos += size + padding(size)
        _skip(stream, padding(size), what, seekable)


def iter_verified(
    stream: IO[bytes], *, what: str = "tar stream"
) -> Iterator[tuple[TarMember, MemberData]]:
    """Like :func:`iter_members` over a layer reader, then read on to its end.

    A tar ends at its zero blocks, before the stream does; reading the rest lets a verifying
    reader (digest, diff_id) check the whole blob before the caller is done.
    """
    buffered = io.BufferedReader(cast(io.RawIOBase, stream), CHUNK_SIZE)
    yield from iter_members(buffered, what=what)
    while buffered.read(CHUNK_SIZE):
        pass
