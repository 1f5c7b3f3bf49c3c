"""Pure tar header model: ustar/PAX encoding, and decoding of ustar, GNU and PAX headers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Final

from ..errors import TarError

__all__ = [
    "BLOCK",
    "BLK",
    "CHR",
    "CONT",
    "DIR",
    "MAX_DEVMAJOR",
    "MAX_DEVMINOR",
    "MAX_ID",
    "MAX_SIZE",
    "MAX_TIME",
    "MIN_TIME",
    "FIFO",
    "LNK",
    "REG",
    "SYM",
    "TarHeader",
    "checksum_ok",
    "decode_number",
    "encode_header",
    "end_of_archive",
    "padding",
    "parse_block",
    "parse_pax",
]

BLOCK: Final = 512

REG: Final = "0"
LNK: Final = "1"
SYM: Final = "2"
CHR: Final = "3"
BLK: Final = "4"
DIR: Final = "5"
FIFO: Final = "6"
CONT: Final = "7"
_TYPES: Final = frozenset({REG, LNK, SYM, CHR, BLK, DIR, FIFO, CONT})

_PAX_NAME: Final = b"././@PaxHeader"
_EMPTY_XATTRS: Mapping[str, bytes] = MappingProxyType({})
_EMPTY_PAX: Mapping[str, str] = MappingProxyType({})

#: Largest uid/gid a member may carry: Linux ids are 32 bits, and 2**32-1 means "unchanged" to
#: chown, so it cannot name an owner either.
MAX_ID: Final = 2**32 - 2
#: Largest member size: what Go's archive/tar and GNU tar accept (a signed 64-bit offset).
MAX_SIZE: Final = 2**63 - 1
#: Range of member mtimes in seconds: a 64-bit ``time_t`` (the kernel clamps to the file system).
MIN_TIME: Final = -(2**63)
MAX_TIME: Final = 2**63 - 1
#: Linux device numbers: 12 bits of major, 20 bits of minor (larger ones alias other devices).
MAX_DEVMAJOR: Final = 2**12 - 1
MAX_DEVMINOR: Final = 2**20 - 1

# Largest values a ustar octal field can hold (field width minus the terminator).
_MAX_ID: Final = 0o7777777
_MAX_SIZE: Final = 0o77777777777
_MAX_MTIME: Final = 0o77777777777


def _fsencode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _fsdecode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True)
class TarHeader:
    """One tar member's metadata.

    Names are ``str`` decoded with ``surrogateescape`` so any byte string round-trips.
    ``xattrs`` maps attribute names to raw values (PAX ``SCHILY.xattr.*``); ``pax`` holds other
    PAX records that were read and are kept for the caller.
    """

    name: str
    type: str = REG
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    size: int = 0
    mtime: int = 0
    linkname: str = ""
    uname: str = ""
    gname: str = ""
    devmajor: int = 0
    devminor: int = 0
    xattrs: Mapping[str, bytes] = field(default_factory=lambda: _EMPTY_XATTRS, hash=False)
    pax: Mapping[str, str] = field(default_factory=lambda: _EMPTY_PAX, hash=False)

    def __post_init__(self) -> None:
        if self.type not in _TYPES:
            raise TarError(f"tar entry {self.name!r}: unsupported type {self.type!r}")
        # Checked here, so a header read from a layer and one built in code obey the same
        # rules, and no later chown, utime or mknod meets a value it cannot represent.
        if self.size < 0 or self.uid < 0 or self.gid < 0:
            key = "size" if self.size < 0 else "uid" if self.uid < 0 else "gid"
            raise TarError(f"tar entry {self.name!r}: negative {key}")
        for key, value, low, high in (
            ("uid", self.uid, 0, MAX_ID),
            ("gid", self.gid, 0, MAX_ID),
            ("size", self.size, 0, MAX_SIZE),
            ("mtime", self.mtime, MIN_TIME, MAX_TIME),
        ):
            if not low <= value <= high:
                raise TarError(f"tar entry {self.name!r}: {key} {value} is out of range")
        if self.type in (CHR, BLK) and not (
            0 <= self.devmajor <= MAX_DEVMAJOR and 0 <= self.devminor <= MAX_DEVMINOR
        ):
            raise TarError(
                f"tar entry {self.name!r}: device number {self.devmajor},{self.devminor}"
                " is out of range"
            )

    @property
    def is_dir(self) -> bool:
        """A directory entry."""
        return self.type == DIR

    @property
    def is_file(self) -> bool:
        """A regular file entry (including the legacy contiguous type)."""
        return self.type in (REG, CONT)

    @property
    def is_symlink(self) -> bool:
        """A symbolic link entry."""
        return self.type == SYM

    @property
    def is_hardlink(self) -> bool:
        """A hard link entry (``linkname`` names an earlier member)."""
        return self.type == LNK

    @property
    def is_device(self) -> bool:
        """A character or block device, or a FIFO."""
        return self.type in (CHR, BLK, FIFO)

    def evolve(self, **changes: object) -> TarHeader:
        """A copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]


def padding(size: int) -> int:
    """Bytes of zero padding after ``size`` bytes of member data."""
    return -size % BLOCK


def end_of_archive() -> bytes:
    """The two zero blocks that end an archive."""
    return b"\0" * (2 * BLOCK)


def _octal(value: int, width: int) -> bytes:
    # width includes the trailing NUL.
    return b"%0*o\0" % (width - 1, value)


def _checksum(block: bytes | bytearray) -> int:
    return sum(block[:148]) + 8 * 32 + sum(block[156:])


def _ustar_block(
    name: bytes,
    mode: int,
    uid: int,
    gid: int,
    size: int,
    mtime: int,
    typeflag: bytes,
    linkname: bytes,
    uname: bytes,
    gname: bytes,
    devmajor: int,
    devminor: int,
) -> bytes:
    block = bytearray(BLOCK)
    block[0:100] = name.ljust(100, b"\0")
    block[100:108] = _octal(mode & 0o7777, 8)
    block[108:116] = _octal(uid, 8)
    block[116:124] = _octal(gid, 8)
    block[124:136] = _octal(size, 12)
    block[136:148] = _octal(mtime, 12)
    block[156:157] = typeflag
    block[157:257] = linkname.ljust(100, b"\0")
    block[257:265] = b"ustar\x0000"
    block[265:297] = uname.ljust(32, b"\0")
    block[297:329] = gname.ljust(32, b"\0")
    block[329:337] = _octal(devmajor, 8)
    block[337:345] = _octal(devminor, 8)
    block[148:156] = b"%06o\0 " % _checksum(block)
    return bytes(block)


def _pax_record(key: str, value: bytes) -> bytes:
    body = b" " + _fsencode(key) + b"=" + value + b"\n"
    # The length prefix counts itself, so grow it until it is self-consistent.
    length = len(body) + 1
    while len(str(length)) + len(body) != length:
        length = len(str(length)) + len(body)
    return str(length).encode() + body


def encode_header(header: TarHeader) -> bytes:
    """Encode ``header`` as ustar, preceded by a PAX extended header when a field needs one.

    The output depends only on the header: no clock, no user database, no process id.
    """
    records: list[tuple[str, bytes]] = []
    name = _fsencode(header.name)
    linkname = _fsencode(header.linkname)
    binary = False
    for key, raw in (("path", name), ("linkpath", linkname)):
        if len(raw) > 100:
            records.append((key, raw))
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                binary = True
    if binary:
        records.insert(0, ("hdrcharset", b"BINARY"))
    numbers: tuple[tuple[str, int, int], ...] = (
        ("uid", header.uid, _MAX_ID),
        ("gid", header.gid, _MAX_ID),
        ("size", header.size, _MAX_SIZE),
        ("mtime", header.mtime, _MAX_MTIME),
    )
    for key, value, limit in numbers:
        if not 0 <= value <= limit:
            records.append((key, str(value).encode()))
    for key, text in (("uname", header.uname), ("gname", header.gname)):
        encoded = _fsencode(text)
        if len(encoded) > 32:
            records.append((key, encoded))
    for key, pax_text in sorted(header.pax.items()):
        records.append((key, _fsencode(pax_text)))
    for attr, attr_value in sorted(header.xattrs.items()):
        records.append(("SCHILY.xattr." + attr, attr_value))

    out = bytearray()
    if records:
        data = b"".join(_pax_record(k, v) for k, v in records)
        out += _ustar_block(_PAX_NAME, 0o644, 0, 0, len(data), 0, b"x", b"", b"", b"", 0, 0)
        out += data + b"\0" * padding(len(data))

    def clamp(value: int, limit: int) -> int:
        return value if 0 <= value <= limit else 0

    out += _ustar_block(
        name[:100],
        header.mode,
        clamp(header.uid, _MAX_ID),
        clamp(header.gid, _MAX_ID),
        clamp(header.size, _MAX_SIZE) if header.type in (REG, CONT) else 0,
        clamp(header.mtime, _MAX_MTIME),
        header.type.encode(),
        linkname[:100],
        _fsencode(header.uname)[:32],
        _fsencode(header.gname)[:32],
        header.devmajor,
        header.devminor,
    )
    return bytes(out)


def decode_number(field_bytes: bytes, what: str = "field") -> int:
    """Decode a numeric header field: octal text, or GNU base-256 when the top bit is set."""
    if field_bytes and field_bytes[0] & 0x80:
        value = int.from_bytes(field_bytes, "big", signed=False)
        value -= 0x80 << (8 * (len(field_bytes) - 1))
        if field_bytes[0] == 0xFF:  # negative base-256
            value = int.from_bytes(field_bytes, "big", signed=True)
        return value
    text = field_bytes.split(b"\0", 1)[0].strip(b" ")
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise TarError(f"invalid numeric {what} {field_bytes!r} in tar header") from None


def parse_pax(data: bytes, *, what: str = "PAX header") -> dict[str, bytes]:
    """Parse PAX extended header records into ``{key: raw value}``."""
    records: dict[str, bytes] = {}
    pos = 0
    while pos < len(data):
        if data[pos] == 0:  # trailing NUL padding
            break
        space = data.find(b" ", pos)
        if space < 0:
            raise TarError(f"malformed {what}: record without length")
        try:
            length = int(data[pos:space])
        except ValueError:
            raise TarError(f"malformed {what}: bad record length") from None
        end = pos + length
        if length <= space - pos + 1 or end > len(data) or data[end - 1 : end] != b"\n":
            raise TarError(f"malformed {what}: record overruns the header")
        key, eq, value = data[space + 1 : end - 1].partition(b"=")
        if not eq:
            raise TarError(f"malformed {what}: record without '='")
        records[key.decode("utf-8", "surrogateescape")] = value
        pos = end
    return records


def checksum_ok(block: bytes) -> bool:
    """True if the header block's checksum field matches (unsigned or historic signed sum)."""
    stored = decode_number(block[148:156], "checksum")
    unsigned = _checksum(block)
    if stored == unsigned:
        return True
    signed = sum((b - 256 if b > 127 else b) for b in block[:148]) + 256
    signed += sum((b - 256 if b > 127 else b) for b in block[156:])
    return stored == signed


def parse_block(block: bytes) -> TarHeader:
    """Decode one ustar/GNU/v7 header block (no PAX or long-name processing)."""
    if not checksum_ok(block):
        raise TarError("tar header checksum mismatch (corrupt or not a tar stream)")
    name = block[0:100].split(b"\0", 1)[0]
    magic = block[257:263]
    if magic == b"ustar\x00":  # POSIX: prefix field extends the name
        prefix = block[345:500].split(b"\0", 1)[0]
        if prefix:
            name = prefix + b"/" + name
    typeflag = block[156:157].decode("latin-1") or REG
    if typeflag == "\0":
        typeflag = REG
    if typeflag not in _TYPES:
        # Callers handle x, g, L, K; anything else is unsupported here.
        typeflag_repr = typeflag
        raise TarError(f"tar entry {_fsdecode(name)!r}: unsupported type {typeflag_repr!r}")
    mode = decode_number(block[100:108], "mode")
    if typeflag == REG and name.endswith(b"/"):
        typeflag = DIR  # v7 archives mark directories by a trailing slash only
    return TarHeader(
        name=_fsdecode(name),
        type=typeflag,
        mode=mode & 0o7777,
        uid=decode_number(block[108:116], "uid"),
        gid=decode_number(block[116:124], "gid"),
        size=decode_number(block[124:136], "size"),
        mtime=decode_number(block[136:148], "mtime"),
        linkname=_fsdecode(block[157:257].split(b"\0", 1)[0]),
        uname=_fsdecode(block[265:297].split(b"\0", 1)[0]),
        gname=_fsdecode(block[297:329].split(b"\0", 1)[0]),
        devmajor=decode_number(block[329:337], "devmajor"),
        devminor=decode_number(block[337:345], "devminor"),
    )
