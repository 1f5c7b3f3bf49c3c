"""``repodata/repomd.xml``: the index of a repository's metadata files, checked strictly.

Each ``<data type=…>`` record names a file (``location href``), the checksum of its bytes as
served and, for compressed files, of its decompressed content (``open-checksum``) and both
sizes. Decisions taken here, so every later step can trust a record:

* Checksums must be sha224, sha256, sha384 or sha512. md5 and sha1 (``sha``) are refused:
  with a signed or TLS-fetched ``repomd.xml`` as the only root of trust, a collision-prone
  hash would let a mirror substitute metadata or packages.
* An ``href`` must stay inside the repository: a relative path without ``..`` segments,
  backslashes, control characters, ``%`` escapes, a query or a fragment. Absolute URLs (and
  ``xml:base``) are refused even for the same host, so metadata can never send a download
  elsewhere (and never carry a client certificate or password with it).
* Document type declarations and entities are refused (:mod:`._xml`).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Final

from ..compression import Codec
from ..errors import RepoError, SizeMismatch
from ._xml import parse_xml

__all__ = [
    "CHECKSUM_ALGORITHMS",
    "MAX_REPOMD_BYTES",
    "Checksum",
    "Repomd",
    "RepomdRecord",
    "check_href",
    "codec_of",
    "parse_checksum",
    "parse_repomd",
]

#: ``repomd.xml`` of a large distribution repository is a few kilobytes.
MAX_REPOMD_BYTES: Final = 4 * 1024 * 1024
#: Checksum type names in rpm-md → hashlib names and hex digest lengths.
CHECKSUM_ALGORITHMS: Final = {"sha224": 56, "sha256": 64, "sha384": 96, "sha512": 128}

_NS: Final = "{http://linux.duke.edu/metadata/repo}"
_HEX: Final = re.compile(r"^[0-9a-f]+$")
_SUFFIXES: Final[tuple[tuple[str, Codec], ...]] = (
    (".gz", "gzip"),
    (".xz", "xz"),
    (".zst", "zstd"),
    (".bz2", "bzip2"),
)
_WEAK: Final = frozenset({"md5", "sha", "sha1"})


@dataclass(frozen=True, slots=True)
class Checksum:
    """A checksum as rpm-md gives it: a hashlib algorithm name and lowercase hex."""

    algorithm: str
    value: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.value}"


def parse_checksum(kind: str | None, value: str | None, *, what: str) -> Checksum:
    """A checked :class:`Checksum`; weak or unknown algorithms and malformed hex are refused."""
    algorithm = (kind or "").strip().lower()
    text = (value or "").strip().lower()
    if algorithm in _WEAK:
        raise RepoError(
            f"{what}: {algorithm} checksums are too weak to trust; rebuild the repository with"
            " createrepo_c --checksum sha256"
        )
    length = CHECKSUM_ALGORITHMS.get(algorithm)
    if length is None:
        raise RepoError(f"{what}: unknown checksum type {kind!r}")
    if len(text) != length or _HEX.match(text) is None:
        raise RepoError(f"{what}: malformed {algorithm} checksum {value!r}")
    return Checksum(algorithm, text)


def check_href(href: str | None, *, what: str) -> str:
    """``href`` if it is a safe path inside the repository, else a :class:`RepoError`."""
    if not href:
        raise RepoError(f"{what}: empty location href")
    if any(ord(ch) < 0x20 or ch in "\\?#%" or ord(ch) == 0x7F for ch in href):
        raise RepoError(f"{what}: location href {href!r} has a forbidden character")
    if ":" in href.split("/", 1)[0] or href.startswith("/"):
        raise RepoError(
            f"{what}: location href {href!r} is absolute; only paths inside the repository are"
            " followed"
        )
    if any(part in ("..", ".") for part in href.split("/")) or "//" in href:
        raise RepoError(f"{what}: location href {href!r} leaves the repository or is not normal")
    return href


def codec_of(href: str) -> Codec | None:
    """The compression of a metadata file from its name (``none`` for plain XML).

    None for formats that cannot be read as a stream (zchunk, sqlite databases).
    """
    for suffix, codec in _SUFFIXES:
        if href.endswith(suffix):
            stem = href[: -len(suffix)]
            return codec if stem.endswith(".xml") else None
    return "none" if href.endswith(".xml") else None


@dataclass(frozen=True, slots=True)
class RepomdRecord:
    """One ``<data>`` record."""

    type: str
    href: str
    checksum: Checksum
    open_checksum: Checksum | None = None
    size: int | None = None
    open_size: int | None = None
    timestamp: int | None = None

    @property
    def codec(self) -> Codec | None:
        """How the file is compressed (see :func:`codec_of`)."""
        return codec_of(self.href)


@dataclass(frozen=True, slots=True)
class Repomd:
    """A parsed ``repomd.xml``."""

    revision: str
    records: tuple[RepomdRecord, ...]

    def record(self, kind: str) -> RepomdRecord | None:
        """The record of type ``kind`` (``primary``, ``filelists`` …), if present."""
        for record in self.records:
            if record.type == kind:
                return record
        return None


def _number(element: ET.Element, tag: str, what: str) -> int | None:
    child = element.find(_NS + tag)
    if child is None:
        return None
    text = (child.text or "").strip()
    try:
        value = int(text)
    except ValueError:
        raise RepoError(f"{what}: <{tag}> {text!r} is not a number") from None
    if value < 0:
        raise RepoError(f"{what}: <{tag}> is negative")
    return value


def _record(element: ET.Element, what: str) -> RepomdRecord:
    kind = (element.get("type") or "").strip()
    if not kind:
        raise RepoError(f"{what}: a <data> record has no type")
    where = f"{what}: {kind}"
    location = element.find(_NS + "location")
    if location is None:
        raise RepoError(f"{where}: no <location>")
    if location.get("{http://www.w3.org/XML/1998/namespace}base"):
        raise RepoError(f"{where}: <location xml:base> points outside the repository; refused")
    href = check_href(location.get("href"), what=where)
    checksum = element.find(_NS + "checksum")
    if checksum is None:
        raise RepoError(f"{where}: no <checksum>")
    opened = element.find(_NS + "open-checksum")
    return RepomdRecord(
        type=kind,
        href=href,
        checksum=parse_checksum(checksum.get("type"), checksum.text, what=f"{where} checksum"),
        open_checksum=(
            None
            if opened is None
            else parse_checksum(opened.get("type"), opened.text, what=f"{where} open-checksum")
        ),
        size=_number(element, "size", where),
        open_size=_number(element, "open-size", where),
        timestamp=_number(element, "timestamp", where),
    )


def parse_repomd(data: bytes, *, what: str = "repomd.xml") -> Repomd:
    """Parse and check ``repomd.xml``; every problem is one :class:`RepoError` line."""
    if len(data) > MAX_REPOMD_BYTES:
        raise SizeMismatch(f"{what}: larger than {MAX_REPOMD_BYTES} bytes; refused")
    root = parse_xml(data, what=what, error=RepoError)
    if root.tag != _NS + "repomd":
        raise RepoError(f"{what}: not a repomd.xml (root element {root.tag!r})")
    records: list[RepomdRecord] = []
    for element in root.findall(_NS + "data"):
        record = _record(element, what)
        if any(r.type == record.type for r in records):
            raise RepoError(f"{what}: two records of type {record.type!r}")
        records.append(record)
    revision = root.find(_NS + "revision")
    return Repomd((revision.text or "").strip() if revision is not None else "", tuple(records))
