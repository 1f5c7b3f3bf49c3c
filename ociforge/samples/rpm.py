"""Write small RPM packages (noarch, gzip cpio payload) without rpmbuild, for samples and tests.

The output is a v4 package as ``rpmbuild`` writes one: a lead, a signature header carrying
the header SHA256 and the header+payload MD5 and sizes, the main header with its immutable
region, file arrays (compressed file names, SHA256 file digests) and the payload digests,
then the gzip-compressed ``newc`` cpio payload. It is deterministic for a given input.
"""

from __future__ import annotations

import gzip
import hashlib
import posixpath
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from ..errors import RpmError
from ..rpm.tags import FileFlag, SigTag, Tag, TagType

__all__ = ["PackageFile", "build_rpm"]

_HEADER_MAGIC: Final = b"\x8e\xad\xe8\x01\x00\x00\x00\x00"
_LEAD_MAGIC: Final = b"\xed\xab\xee\xdb"
_ALIGN: Final = {TagType.INT16: 2, TagType.INT32: 4, TagType.INT64: 8}
_S_IFREG, _S_IFDIR, _S_IFLNK = 0o100000, 0o040000, 0o120000
# RPMSENSE_LESS | RPMSENSE_EQUAL | RPMSENSE_RPMLIB, RPMSENSE_EQUAL
_RPMLIB_SENSE: Final = (1 << 1) | (1 << 3) | (1 << 24)
_SENSE_EQUAL: Final = 1 << 3
_RPMLIB_REQUIRES: Final = (
    ("rpmlib(CompressedFileNames)", "3.0.4-1"),
    ("rpmlib(FileDigests)", "4.6.0-1"),
    ("rpmlib(PayloadFilesHavePrefix)", "4.0-1"),
)


@dataclass(frozen=True, slots=True)
class PackageFile:
    """One file, directory or symlink of a package (path absolute, owner by name)."""

    path: str
    data: bytes = b""
    kind: Literal["file", "dir", "symlink"] = "file"
    mode: int = 0o644
    target: str = ""
    user: str = "root"
    group: str = "root"
    flags: FileFlag = FileFlag.NONE

    @property
    def st_mode(self) -> int:
        """The full mode with its file-type bits."""
        kind = {"file": _S_IFREG, "dir": _S_IFDIR, "symlink": _S_IFLNK}[self.kind]
        return kind | (0o777 if self.kind == "symlink" else self.mode & 0o7777)

    @property
    def content(self) -> bytes:
        """What the payload stores: the data of a file, the target of a symlink."""
        return self.target.encode() if self.kind == "symlink" else self.data


_Entry = tuple[int, TagType, int, bytes]


def _string(tag: int, text: str) -> _Entry:
    return tag, TagType.STRING, 1, text.encode() + b"\0"


def _strings(tag: int, items: Sequence[str], kind: TagType = TagType.STRING_ARRAY) -> _Entry:
    return tag, kind, len(items), b"".join(item.encode() + b"\0" for item in items)


def _int32(tag: int, values: Sequence[int]) -> _Entry:
    return tag, TagType.INT32, len(values), struct.pack(f">{len(values)}I", *values)


def _int16(tag: int, values: Sequence[int]) -> _Entry:
    return tag, TagType.INT16, len(values), struct.pack(f">{len(values)}H", *values)


def _bin(tag: int, data: bytes) -> _Entry:
    return tag, TagType.BIN, len(data), data


def _header(entries: Sequence[_Entry], region: int) -> bytes:
    """A header blob (with magic) whose immutable region covers every entry."""
    store = bytearray()
    index = []
    for tag, kind, count, data in sorted(entries, key=lambda e: e[0]):
        store += b"\0" * (-len(store) % _ALIGN.get(kind, 1))
        index.append(struct.pack(">4I", tag, kind, len(store), count))
        store += data
    il = len(index) + 1
    trailer_offset = len(store)
    store += struct.pack(">iiii", region, TagType.BIN, -il * 16, 16)
    region_entry = struct.pack(">4I", region, TagType.BIN, trailer_offset, 16)
    return (
        _HEADER_MAGIC + struct.pack(">II", il, len(store)) + region_entry + b"".join(index) + store
    )


def _cpio(files: Sequence[PackageFile], mtime: int) -> bytes:
    out = bytearray()

    def member(name: str, ino: int, mode: int, nlink: int, data: bytes) -> None:
        raw = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, nlink, mtime, len(data), 0, 0, 0, 0, len(raw), 0)
        out.extend(b"070701" + b"".join(b"%08X" % value for value in fields) + raw)
        out.extend(b"\0" * (-len(out) % 4))
        out.extend(data)
        out.extend(b"\0" * (-len(out) % 4))

    for ino, item in enumerate(files, start=1):
        member("." + item.path, ino, item.st_mode, 2 if item.kind == "dir" else 1, item.content)
    member("TRAILER!!!", 0, 0, 1, b"")
    return bytes(out)


def build_rpm(
    *,
    name: str,
    version: str,
    release: str,
    summary: str,
    description: str,
    license: str,
    files: Sequence[PackageFile],
    buildtime: int = 0,
    buildhost: str = "localhost",
) -> bytes:
    """The bytes of a noarch binary RPM holding ``files``."""
    for text, what, forbidden in (
        (name, "name", " /\t\n"),
        (version, "version", " /\t\n-"),
        (release, "release", " /\t\n-"),
    ):
        if not text or any(c in text for c in forbidden):
            raise RpmError(f"invalid package {what} {text!r}")
    items = sorted(files, key=lambda f: f.path)
    for item in items:
        if not item.path.startswith("/") or posixpath.normpath(item.path) != item.path:
            raise RpmError(f"package file path {item.path!r} must be absolute and normalised")
    payload = _cpio(items, buildtime)
    compressed = gzip.compress(payload, compresslevel=9, mtime=0)
    dirs: list[str] = []
    dir_index: list[int] = []
    for item in items:
        directory = posixpath.dirname(item.path).rstrip("/") + "/"
        if directory not in dirs:
            dirs.append(directory)
        dir_index.append(dirs.index(directory))
    n = len(items)
    entries: list[_Entry] = [
        _strings(Tag.HEADERI18NTABLE, ["C"]),
        _string(Tag.NAME, name),
        _string(Tag.VERSION, version),
        _string(Tag.RELEASE, release),
        _strings(Tag.SUMMARY, [summary], TagType.I18NSTRING),
        _strings(Tag.DESCRIPTION, [description], TagType.I18NSTRING),
        _int32(Tag.BUILDTIME, [buildtime]),
        _string(Tag.BUILDHOST, buildhost),
        _int32(Tag.SIZE, [sum(len(i.content) for i in items if i.kind != "dir")]),
        _string(Tag.LICENSE, license),
        _strings(Tag.GROUP, ["Unspecified"], TagType.I18NSTRING),
        _string(Tag.OS, "linux"),
        _string(Tag.ARCH, "noarch"),
        _string(Tag.SOURCERPM, f"{name}-{version}-{release}.src.rpm"),
        _strings(Tag.PROVIDENAME, [name]),
        _int32(Tag.PROVIDEFLAGS, [_SENSE_EQUAL]),
        _strings(Tag.PROVIDEVERSION, [f"{version}-{release}"]),
        _strings(Tag.REQUIRENAME, [r[0] for r in _RPMLIB_REQUIRES]),
        _int32(Tag.REQUIREFLAGS, [_RPMLIB_SENSE] * len(_RPMLIB_REQUIRES)),
        _strings(Tag.REQUIREVERSION, [r[1] for r in _RPMLIB_REQUIRES]),
        _string(Tag.PAYLOADFORMAT, "cpio"),
        _string(Tag.PAYLOADCOMPRESSOR, "gzip"),
        _string(Tag.PAYLOADFLAGS, "9"),
        _strings(Tag.PAYLOADSHA256, [hashlib.sha256(compressed).hexdigest()]),
        _int32(Tag.PAYLOADSHA256ALGO, [8]),
        _strings(Tag.PAYLOADSHA256ALT, [hashlib.sha256(payload).hexdigest()]),
        _int32(Tag.FILEDIGESTALGO, [8]),
    ]
    if n:
        entries += [
            _int32(Tag.FILESIZES, [len(i.content) if i.kind != "dir" else 0 for i in items]),
            _int16(Tag.FILEMODES, [i.st_mode for i in items]),
            _int16(Tag.FILERDEVS, [0] * n),
            _int32(Tag.FILEMTIMES, [buildtime] * n),
            _strings(
                Tag.FILEDIGESTS,
                [hashlib.sha256(i.data).hexdigest() if i.kind == "file" else "" for i in items],
            ),
            _strings(Tag.FILELINKTOS, [i.target if i.kind == "symlink" else "" for i in items]),
            _int32(Tag.FILEFLAGS, [int(i.flags) for i in items]),
            _strings(Tag.FILEUSERNAME, [i.user for i in items]),
            _strings(Tag.FILEGROUPNAME, [i.group for i in items]),
            _int32(Tag.FILEVERIFYFLAGS, [0xFFFFFFFF] * n),
            _int32(Tag.FILEDEVICES, [1] * n),
            _int32(Tag.FILEINODES, list(range(1, n + 1))),
            _strings(Tag.FILELANGS, [""] * n),
            _int32(Tag.DIRINDEXES, dir_index),
            _strings(Tag.BASENAMES, [posixpath.basename(i.path) for i in items]),
            _strings(Tag.DIRNAMES, dirs),
        ]
    main = _header(entries, Tag.HEADERIMMUTABLE)
    signature = _header(
        [
            _int32(SigTag.SIZE, [len(main) + len(compressed)]),
            _string(SigTag.SHA256, hashlib.sha256(main).hexdigest()),
            _bin(SigTag.MD5, hashlib.md5(main + compressed).digest()),
            _int32(SigTag.PAYLOADSIZE, [len(payload)]),
        ],
        SigTag.HEADERSIGNATURES,
    )
    signature += b"\0" * (-len(signature) % 8)
    lead = (
        _LEAD_MAGIC
        + bytes([3, 0])
        + struct.pack(">hh", 0, 0)
        + f"{name}-{version}-{release}".encode()[:65].ljust(66, b"\0")
        + struct.pack(">hh", 1, 5)
        + b"\0" * 16
    )
    return lead + signature + main + compressed
