"""RPM lead and header structures: bounded parsing, region checks, typed accessors, re-export.

A header is ``magic(8) il(4) dl(4)``, ``il`` index entries of ``{tag, type, offset, count}``
and a ``dl``-byte data store, all big-endian (``lib/header.cc``). Every entry is checked
against the store before any value is decoded, so a hostile header fails with an
:class:`~ociforge.errors.RpmError` naming the field, never with an ``IndexError``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Final

from ..errors import RpmError
from ..streams import Readable, read_exact
from .tags import Tag, TagType

__all__ = [
    "HEADER_MAGIC",
    "LEAD_MAGIC",
    "LEAD_SIZE",
    "Entry",
    "Header",
    "Lead",
    "parse_header",
    "parse_lead",
    "encode_entries",
    "read_header",
]

LEAD_MAGIC: Final = b"\xed\xab\xee\xdb"
HEADER_MAGIC: Final = b"\x8e\xad\xe8\x01\x00\x00\x00\x00"
LEAD_SIZE: Final = 96

#: ``hdrblobRead`` limits: the signature header is small, the main header below 256 MiB.
_SIG_MAX_ENTRIES: Final = 32
_SIG_MAX_DATA: Final = 64 * 1024 * 1024
_MAX_ENTRIES: Final = 0xFFFF
_MAX_DATA: Final = 0x0FFFFFFF

_SIZES: Final = {
    TagType.CHAR: 1,
    TagType.INT8: 1,
    TagType.INT16: 2,
    TagType.INT32: 4,
    TagType.INT64: 8,
    TagType.BIN: 1,
}
_STRUCT: Final = {TagType.INT16: "H", TagType.INT32: "I", TagType.INT64: "Q"}
_STRING_TYPES: Final = (TagType.STRING, TagType.STRING_ARRAY, TagType.I18NSTRING)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True)
class Lead:
    """The 96-byte lead before the signature header (only its magic and version matter)."""

    major: int
    minor: int
    type: int
    name: str


def parse_lead(data: bytes, *, what: str = "rpm") -> Lead:
    """Parse and check the lead."""
    if len(data) < LEAD_SIZE:
        raise RpmError(f"{what}: truncated lead ({len(data)} of {LEAD_SIZE} bytes)")
    if data[:4] != LEAD_MAGIC:
        raise RpmError(f"{what}: bad lead magic {data[:4].hex()} (not an RPM package)")
    major, minor, kind = data[4], data[5], struct.unpack(">H", data[6:8])[0]
    if major not in (3, 4):
        raise RpmError(f"{what}: unsupported lead version {major}.{minor}")
    if kind != 0:
        raise RpmError(f"{what}: lead type {kind} is not a binary package (source RPM?)")
    name = data[10:76].split(b"\0", 1)[0]
    return Lead(major, minor, kind, _text(name))


@dataclass(frozen=True, slots=True)
class Entry:
    """One index entry, already checked against the data store."""

    tag: int
    type: TagType
    offset: int
    count: int


@dataclass(frozen=True, slots=True)
class Header:
    """A parsed header: the exact bytes it came from and its checked index.

    ``raw`` is the header as stored (with the 8-byte magic); ``region_count`` is how many
    index entries, from the first, form the immutable region, and ``region_size`` how many
    data bytes; entries after them ("dribbles") exist only in installed headers.
    """

    raw: bytes
    entries: Mapping[int, Entry]
    order: tuple[int, ...]
    region_tag: int
    region_count: int
    region_size: int
    what: str = "rpm header"

    @property
    def index_count(self) -> int:
        """``il``: the number of index entries."""
        return len(self.order)

    @property
    def data_size(self) -> int:
        """``dl``: the size of the data store."""
        return len(self.raw) - 16 - 16 * len(self.order)

    @property
    def blob(self) -> bytes:
        """The header without its magic, as ``headerExport`` and the rpmdb store it."""
        return self.raw[8:]

    @property
    def immutable(self) -> bytes:
        """The region as it is hashed and signed: magic, ril, rdl, region entries and data."""
        il = len(self.order)
        ril, rdl = self.region_count, self.region_size
        index = self.raw[16 : 16 + 16 * ril]
        data = self.raw[16 + 16 * il : 16 + 16 * il + rdl]
        return HEADER_MAGIC + struct.pack(">II", ril, rdl) + index + data

    def __contains__(self, tag: object) -> bool:
        return tag in self.entries

    @property
    def _base(self) -> int:
        return 16 + 16 * len(self.order)

    def _entry(self, tag: int, types: Iterable[TagType]) -> Entry | None:
        entry = self.entries.get(tag)
        if entry is None:
            return None
        if entry.type not in tuple(types):
            name = Tag(tag).name if tag in Tag._value2member_map_ else str(tag)
            raise RpmError(f"{self.what}: tag {name} has unexpected type {entry.type.name}")
        return entry

    def _strings(self, entry: Entry) -> list[str]:
        raw, out = self.raw, []
        pos = self._base + entry.offset
        for _ in range(entry.count):
            end = raw.index(b"\0", pos)  # presence checked when parsed
            out.append(_text(raw[pos:end]))
            pos = end + 1
        return out

    def string(self, tag: int, default: str | None = None) -> str | None:
        """A STRING (or the first of an array / i18n string)."""
        entry = self._entry(tag, _STRING_TYPES)
        if entry is None:
            return default
        return self._strings(entry)[0]

    def strings(self, tag: int) -> tuple[str, ...]:
        """A STRING_ARRAY (a lone STRING gives one element); absent gives ``()``."""
        entry = self._entry(tag, _STRING_TYPES)
        return () if entry is None else tuple(self._strings(entry))

    def integers(self, tag: int) -> tuple[int, ...]:
        """An integer array of any width (CHAR and INT8 as unsigned bytes)."""
        entry = self._entry(
            tag, (TagType.CHAR, TagType.INT8, TagType.INT16, TagType.INT32, TagType.INT64)
        )
        if entry is None:
            return ()
        start = self._base + entry.offset
        if entry.type in (TagType.CHAR, TagType.INT8):
            return tuple(self.raw[start : start + entry.count])
        return struct.unpack_from(f">{entry.count}{_STRUCT[entry.type]}", self.raw, start)

    def integer(self, tag: int, default: int | None = None) -> int | None:
        """The first value of an integer tag."""
        values = self.integers(tag)
        return values[0] if values else default

    def binary(self, tag: int) -> bytes | None:
        """A BIN value."""
        entry = self._entry(tag, (TagType.BIN,))
        if entry is None:
            return None
        start = self._base + entry.offset
        return self.raw[start : start + entry.count]

    def raw_value(self, tag: int) -> tuple[TagType, int, bytes]:
        """Type, count and exact data bytes of an entry (to copy it into another header)."""
        entry = self.entries[tag]
        start = self._base + entry.offset
        if entry.type in _STRING_TYPES:
            end = start
            for _ in range(entry.count):
                end = self.raw.index(b"\0", end) + 1
        else:
            end = start + _SIZES[entry.type] * entry.count
        return entry.type, entry.count, self.raw[start:end]

    def dribbles(self) -> Iterator[int]:
        """Tags outside the immutable region, in index order."""
        yield from self.order[self.region_count :]


def _check_entry(entry: Entry, raw: bytes, base: int, dl: int, what: str) -> None:
    name = Tag(entry.tag).name if entry.tag in Tag._value2member_map_ else str(entry.tag)
    if entry.count == 0 or entry.offset < 0 or entry.offset >= dl:
        raise RpmError(
            f"{what}: tag {name}: offset {entry.offset} / count {entry.count} outside the"
            f" {dl}-byte data store"
        )
    if entry.type in _STRING_TYPES:
        if entry.type == TagType.STRING and entry.count != 1:
            raise RpmError(f"{what}: tag {name}: STRING with count {entry.count}")
        pos, end = base + entry.offset, base + dl
        for _ in range(entry.count):
            nul = raw.find(b"\0", pos, end)
            if nul < 0:
                raise RpmError(f"{what}: tag {name}: unterminated string or array past the store")
            pos = nul + 1
        return
    size = _SIZES[entry.type]
    if entry.offset % size and entry.type in _STRUCT:
        raise RpmError(f"{what}: tag {name}: misaligned {entry.type.name} at {entry.offset}")
    if entry.count > (dl - entry.offset) // size:
        raise RpmError(
            f"{what}: tag {name}: {entry.count} {entry.type.name} values run past the data store"
        )


def parse_header(
    data: bytes,
    *,
    what: str = "rpm header",
    signature: bool = False,
    magic: bool = True,
    dribbles: bool = False,
) -> Header:
    """Parse one complete header from ``data`` (exactly its bytes).

    ``magic=False`` parses an rpmdb blob (``headerExport`` drops the magic); ``dribbles``
    allows entries after the immutable region, which only installed headers have.
    """
    raw = data if magic else HEADER_MAGIC + data
    if len(raw) < 16:
        raise RpmError(f"{what}: truncated header ({len(raw)} bytes)")
    if raw[:8] != HEADER_MAGIC:
        raise RpmError(f"{what}: bad header magic {raw[:8].hex()}")
    il, dl = struct.unpack_from(">II", raw, 8)
    _check_counts(il, dl, signature=signature, what=what)
    if len(raw) != 16 + 16 * il + dl:
        raise RpmError(
            f"{what}: truncated header ({len(raw)} bytes, index and data need {16 + 16 * il + dl})"
        )
    entries: dict[int, Entry] = {}
    order: list[int] = []
    for i in range(il):
        tag, kind, offset, count = struct.unpack_from(">IIiI", raw, 16 + 16 * i)
        try:
            ttype = TagType(kind)
        except ValueError:
            raise RpmError(f"{what}: tag {tag}: unknown data type {kind}") from None
        if ttype == TagType.NULL:
            raise RpmError(f"{what}: tag {tag}: NULL data type")
        entry = Entry(tag, ttype, offset, count)
        _check_entry(entry, raw, 16 + 16 * il, dl, what)
        if tag in entries:
            raise RpmError(f"{what}: tag {tag} appears twice")
        entries[tag] = entry
        order.append(tag)
    region_tag = Tag.HEADERSIGNATURES if signature else Tag.HEADERIMMUTABLE
    ril, rdl = _check_region(raw, entries, order, il, dl, region_tag, what)
    if ril != il and not dribbles:
        raise RpmError(f"{what}: {il - ril} entries outside the immutable region")
    return Header(raw, entries, tuple(order), region_tag, ril, rdl, what)


def _check_region(
    raw: bytes,
    entries: Mapping[int, Entry],
    order: list[int],
    il: int,
    dl: int,
    region_tag: int,
    what: str,
) -> tuple[int, int]:
    first = entries[order[0]]
    if first.tag != region_tag:
        raise RpmError(f"{what}: no {Tag(region_tag).name} region (first tag is {first.tag})")
    if first.type != TagType.BIN or first.count != 16 or first.offset + 16 > dl:
        raise RpmError(f"{what}: malformed region tag {Tag(region_tag).name}")
    start = 16 + 16 * il + first.offset
    tag, kind, offset, count = struct.unpack_from(">IIiI", raw, start)
    if tag != region_tag or kind != TagType.BIN or count != 16 or offset > 0 or offset % 16:
        raise RpmError(f"{what}: malformed region trailer")
    ril = -offset // 16
    if not 1 <= ril <= il:
        raise RpmError(f"{what}: region claims {ril} of {il} entries")
    rdl = first.offset + 16
    for tag_in_region in order[1:ril]:
        entry = entries[tag_in_region]
        if entry.offset >= rdl:
            raise RpmError(f"{what}: tag {entry.tag} in the region points past its data")
    return ril, rdl


def _read_exact(stream: Readable, n: int, what: str) -> bytes:
    data = read_exact(stream, n)
    if len(data) < n:
        raise RpmError(f"{what}: truncated (file ends {n - len(data)} bytes early)")
    return data


def _check_counts(il: int, dl: int, *, signature: bool, what: str) -> None:
    max_il, max_dl = (_SIG_MAX_ENTRIES, _SIG_MAX_DATA) if signature else (_MAX_ENTRIES, _MAX_DATA)
    if not 1 <= il <= max_il:
        raise RpmError(f"{what}: index count {il} is outside 1..{max_il}")
    if dl > max_dl:
        raise RpmError(f"{what}: data size {dl} exceeds {max_dl}")


def read_header(stream: Readable, *, what: str = "rpm", signature: bool = False) -> Header:
    """Read one header from a stream (and the signature header's 8-byte alignment padding)."""
    label = f"{what}: {'signature' if signature else 'main'} header"
    prefix = _read_exact(stream, 16, label)
    if prefix[:8] != HEADER_MAGIC:
        raise RpmError(f"{label}: bad header magic {prefix[:8].hex()}")
    il, dl = struct.unpack_from(">II", prefix, 8)
    # Check the counts before reading, so an absurd header costs no memory.
    _check_counts(il, dl, signature=signature, what=label)
    body = _read_exact(stream, 16 * il + dl, label)
    header = parse_header(prefix + body, what=label, signature=signature)
    if signature:
        _read_exact(stream, -(16 + 16 * il + dl) % 8, label)
    return header


def encode_entries(base: Header, extra: Iterable[tuple[int, TagType, int, bytes]]) -> bytes:
    """``base``'s blob with more entries appended after its data, as ``headerExport`` lays out.

    The region's index entries and data stay byte for byte; each new value is aligned for
    its type relative to the start of the data store. Returns the blob without magic.
    """
    il = base.index_count
    index = bytearray(base.raw[16 : 16 + 16 * il])
    store = bytearray(base.raw[16 + 16 * il :])
    count = il
    for tag, ttype, n, value in sorted(extra, key=lambda item: item[0]):
        if tag in base.entries:
            raise RpmError(f"{base.what}: tag {tag} is already present")
        align = _SIZES[ttype] if ttype in _STRUCT else 1
        store += b"\0" * (-len(store) % align)
        index += struct.pack(">IIiI", tag, ttype, len(store), n)
        store += value
        count += 1
    return struct.pack(">II", count, len(store)) + bytes(index) + bytes(store)
