"""Streaming reader of RPM cpio payloads: newc (``070701``/``070702``) and stripped (``07070X``).

rpm takes all file metadata from the header and uses the archive only for names (newc) or
file indexes (stripped) and data (``lib/cpio.cc``), so entries carry little beyond that.
Names are checked here: absolute names and ``..`` components are errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

from ..errors import RpmError
from ..streams import LimitedReader, Readable, read_exact

__all__ = ["CpioEntry", "iter_cpio", "safe_name"]

_NEWC: Final = (b"070701", b"070702")
_STRIPPED: Final = b"07070X"
_TRAILER: Final = "TRAILER!!!"
_NEWC_SIZE: Final = 110
#: PATH_MAX: rpm refuses longer names too.
_MAX_NAME: Final = 4096


@dataclass(frozen=True, slots=True)
class CpioEntry:
    """One archive member: ``path`` (``/usr/bin/x``) for newc, ``index`` for stripped."""

    path: str
    index: int
    mode: int
    nlink: int
    size: int
    inode: int


def _truncated(what: str) -> RpmError:
    return RpmError(f"{what}: payload truncated (cpio archive cut short)")


def _read_exact(stream: Readable, n: int, what: str) -> bytes:
    data = read_exact(stream, n)
    if len(data) < n:
        raise _truncated(what)
    return data


def _skip(stream: Readable, n: int, what: str) -> None:
    while n > 0:
        chunk = stream.read(min(n, 1 << 20))
        if not chunk:
            raise _truncated(what)
        n -= len(chunk)


def safe_name(name: str, *, what: str) -> str:
    """``./usr/bin/x`` → ``/usr/bin/x``; refuses absolute names and ``..`` components."""
    if name.startswith("/"):
        raise RpmError(f"{what}: absolute name {name!r} in the payload")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise RpmError(f"{what}: name {name!r} in the payload leaves the root (..)")
    if not parts:
        raise RpmError(f"{what}: empty name in the payload")
    return "/" + "/".join(parts)


def _hex(field: bytes, what: str) -> int:
    try:
        return int(field, 16)
    except ValueError:
        raise RpmError(f"{what}: corrupt cpio header field {field!r}") from None


def iter_cpio(
    stream: Readable, *, what: str, stripped_size: Callable[[int], int] | None = None
) -> Iterator[tuple[CpioEntry, LimitedReader]]:
    """Yield each member and a reader of its data until the trailer.

    ``stripped_size(index)`` gives the data size of a stripped (``07070X``) member, which
    the archive does not record; without it a stripped archive is an error. Data the
    consumer leaves unread is skipped.
    """
    while True:
        magic = _read_exact(stream, 6, what)
        if magic == _STRIPPED:
            if stripped_size is None:
                raise RpmError(f"{what}: stripped cpio member in a payload that needs newc")
            fx = _hex(_read_exact(stream, 8, what), what)
            _skip(stream, 2, what)  # 14-byte header padded to 16
            if fx == 0xFFFFFFFF:
                return
            size = stripped_size(fx)
            entry = CpioEntry("", fx, 0, 0, size, 0)
        elif magic in _NEWC:
            raw = _read_exact(stream, _NEWC_SIZE - 6, what)
            fields = [_hex(raw[i : i + 8], what) for i in range(0, 104, 8)]
            inode, mode, _uid, _gid, nlink, _mtime, size = fields[:7]
            namesize = fields[11]
            if not 1 <= namesize <= _MAX_NAME:
                raise RpmError(f"{what}: cpio name size {namesize} is out of range")
            name_raw = _read_exact(stream, namesize, what)
            _skip(stream, -(_NEWC_SIZE + namesize) % 4, what)
            if name_raw[-1:] != b"\0":
                raise RpmError(f"{what}: cpio name is not NUL-terminated")
            name = name_raw[:-1].decode("utf-8", "surrogateescape")
            if name == _TRAILER:
                return
            path = safe_name(name, what=what)
            entry = CpioEntry(path, -1, mode, nlink, size, inode)
        else:
            raise RpmError(f"{what}: bad cpio magic {magic!r} (corrupt payload)")
        data = LimitedReader(stream, entry.size, lambda: _truncated(what))
        yield entry, data
        _skip(stream, data.remaining + (-entry.size % 4), what)
