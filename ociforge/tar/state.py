"""The per-path state record an unpack writes and a repack compares against (pure values).

Each path of an unpacked tree is recorded as the layers described it (type, mode, owner, mtime,
link target, xattrs, content checksum) together with what the file system reported right after
extraction (inode, ctime). A later comparison can then tell "untouched" from one ``lstat``:
every edit, even one that restores the mtime, moves the ctime.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import IO, Any, Final

from ..errors import FormatError, TarError
from .header import DIR, LNK, REG, SYM

__all__ = [
    "ROOTLESS_XATTR",
    "STATE_FORMAT",
    "PathState",
    "crc32",
    "decode_rootless_owner",
    "dump_states",
    "encode_rootless_owner",
    "load_states",
]

#: The xattr umoci (and other rootless tools) keep a file's owner in when they cannot chown.
ROOTLESS_XATTR: Final = "user.rootlesscontainers"
#: Version tag written as the first line of a state file.
STATE_FORMAT: Final = "ociforge-state/2"

#: ``crc32(data, value=0) -> int``, the zlib CRC-32; isal's runs at memory speed.
crc32: Callable[[bytes, int], int]
try:
    from isal.isal_zlib import crc32
except ImportError:  # pragma: no cover - isal is a declared dependency
    from zlib import crc32

_NO_XATTRS: Mapping[str, bytes] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class PathState:
    """One path as the layers left it, and how it looked on disk right after extraction.

    ``type`` uses tar type flags (``"0"`` file, ``"5"`` directory, ``"2"`` symlink, ``"3"``/
    ``"4"`` devices, ``"6"`` FIFO). ``present`` is false for a device node that a rootless
    unpack could not create. ``crc32`` is the CRC-32 of a regular file's content.

    The checksum only has to tell an edit from the original when a file's size and mtime are
    as recorded but its ctime moved (an edit whose mtime was put back), so it does not need to
    resist forgery; CRC-32 costs a tenth of sha256 on every byte an unpack writes.
    """

    type: str
    mode: int
    uid: int = 0
    gid: int = 0
    size: int = 0
    mtime: int = 0
    link: str = ""
    xattrs: Mapping[str, bytes] = field(default_factory=lambda: _NO_XATTRS, hash=False)
    crc32: int = 0
    devmajor: int = 0
    devminor: int = 0
    present: bool = True
    ino: int = 0
    ctime_ns: int = 0

    @property
    def is_dir(self) -> bool:
        """A directory."""
        return self.type == DIR

    @property
    def is_file(self) -> bool:
        """A regular file."""
        return self.type == REG

    @property
    def is_symlink(self) -> bool:
        """A symbolic link."""
        return self.type == SYM

    def on_disk(self, ino: int, ctime_ns: int) -> PathState:
        """The same state with the file system's inode and ctime filled in."""
        return replace(self, ino=ino, ctime_ns=ctime_ns)

    def to_json(self, path: str) -> dict[str, Any]:
        """A compact JSON object (defaults left out)."""
        out: dict[str, Any] = {"p": path, "t": self.type, "m": self.mode}
        optional: tuple[tuple[str, object, object], ...] = (
            ("u", self.uid, 0),
            ("g", self.gid, 0),
            ("s", self.size, 0),
            ("mt", self.mtime, 0),
            ("l", self.link, ""),
            ("crc", self.crc32, 0),
            ("ma", self.devmajor, 0),
            ("mi", self.devminor, 0),
            ("i", self.ino, 0),
            ("c", self.ctime_ns, 0),
        )
        for key, value, default in optional:
            if value != default:
                out[key] = value
        if not self.present:
            out["absent"] = True
        if self.xattrs:
            out["x"] = {k: base64.b64encode(v).decode() for k, v in sorted(self.xattrs.items())}
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> tuple[str, PathState]:
        """Parse one object written by :meth:`to_json`."""
        xattrs = {str(k): base64.b64decode(v) for k, v in (obj.get("x") or {}).items()}
        kind = obj["t"]
        if kind not in (REG, DIR, SYM, LNK, "3", "4", "6"):
            raise FormatError(f"unknown path type {kind!r}")
        state = cls(
            type=kind,
            mode=int(obj["m"]),
            uid=int(obj.get("u", 0)),
            gid=int(obj.get("g", 0)),
            size=int(obj.get("s", 0)),
            mtime=int(obj.get("mt", 0)),
            link=str(obj.get("l", "")),
            xattrs=MappingProxyType(xattrs) if xattrs else _NO_XATTRS,
            crc32=int(obj.get("crc", 0)),
            devmajor=int(obj.get("ma", 0)),
            devminor=int(obj.get("mi", 0)),
            present=not obj.get("absent", False),
            ino=int(obj.get("i", 0)),
            ctime_ns=int(obj.get("c", 0)),
        )
        return str(obj["p"]), state


def dump_states(states: Iterable[tuple[str, PathState]], out: IO[str]) -> None:
    """Write a state file: a version line, then one JSON object per path."""
    out.write(json.dumps({"format": STATE_FORMAT}) + "\n")
    for path, state in states:
        out.write(json.dumps(state.to_json(path), separators=(",", ":")) + "\n")


def load_states(
    lines: Iterable[str], *, what: str = "state file"
) -> Iterator[tuple[str, PathState]]:
    """Read a state file written by :func:`dump_states`."""
    iterator = iter(lines)
    try:
        head = json.loads(next(iterator))
    except (StopIteration, ValueError):
        raise FormatError(f"{what}: empty or not a state file") from None
    if not isinstance(head, dict) or head.get("format") != STATE_FORMAT:
        raise FormatError(f"{what}: unsupported format (expected {STATE_FORMAT})")
    for number, line in enumerate(iterator, start=2):
        try:
            yield PathState.from_json(json.loads(line))
        except (ValueError, KeyError, TypeError, AttributeError, FormatError) as exc:
            raise FormatError(f"{what}: line {number}: {exc}") from None


# -- the rootless owner codec (umoci's user.rootlesscontainers) --------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


#: rootlesscontainers-proto's "leave as is" id; for an unpacking user that means root.
_NOOP_ID: Final = 0xFFFFFFFF


def encode_rootless_owner(uid: int, gid: int) -> bytes:
    """The ``user.rootlesscontainers`` value: protobuf ``Resource{uid=1, gid=2}``.

    As umoci writes it: a root id is the no-op id (the unpacking user, who is root inside).
    Nothing at all is stored for root:root.
    """
    if not (uid or gid):
        return b""
    return b"\x08" + _varint(uid or _NOOP_ID) + b"\x10" + _varint(gid or _NOOP_ID)


def decode_rootless_owner(value: bytes) -> tuple[int, int]:
    """Parse a ``user.rootlesscontainers`` value; absent and no-op ids mean root."""
    fields = {1: 0, 2: 0}
    pos = 0
    while pos < len(value):
        key, pos = _read_varint(value, pos)
        if key & 7 != 0:
            raise TarError(f"{ROOTLESS_XATTR}: unsupported protobuf wire type {key & 7}")
        number, pos = _read_varint(value, pos)
        fields[key >> 3] = 0 if number == _NOOP_ID else number
    return fields[1], fields[2]


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise TarError(f"{ROOTLESS_XATTR}: truncated protobuf varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos
