"""The sqlite rpmdb (``rpmdb.sqlite``): list, add and remove packages with every index rpm keeps.

Schema and index rules follow ``lib/backend/sqlite.cc`` and ``tag2index`` in ``lib/rpmdb.cc``.
The database is edited in a private copy and finished with ``journal_mode=DELETE``, so the
result is one self-contained file with no ``-wal``/``-shm`` companions.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from ..errors import RpmError, UnsupportedError
from .header import Header, parse_header
from .tags import Tag, TagType

__all__ = [
    "DB_DIRECTORIES",
    "INDEX_TAGS",
    "InstalledPackage",
    "Rpmdb",
    "db_byteorder",
    "index_rows",
    "rich_components",
]

#: Where images keep their rpmdb, the CoreOS location first (facts §3).
DB_DIRECTORIES: Final = ("/usr/share/rpm", "/usr/lib/sysimage/rpm", "/var/lib/rpm")

#: The index tables in ``dbiTags`` order: table name, tag.
INDEX_TAGS: Final = (
    ("Name", Tag.NAME),
    ("Basenames", Tag.BASENAMES),
    ("Group", Tag.GROUP),
    ("Requirename", Tag.REQUIRENAME),
    ("Providename", Tag.PROVIDENAME),
    ("Conflictname", Tag.CONFLICTNAME),
    ("Obsoletename", Tag.OBSOLETENAME),
    ("Triggername", Tag.TRIGGERNAME),
    ("Dirnames", Tag.DIRNAMES),
    ("Installtid", Tag.INSTALLTID),
    ("Sigmd5", Tag.SIGMD5),
    ("Sha1header", Tag.SHA1HEADER),
    ("Filetriggername", Tag.FILETRIGGERNAME),
    ("Transfiletriggername", Tag.TRANSFILETRIGGERNAME),
    ("Recommendname", Tag.RECOMMENDNAME),
    ("Suggestname", Tag.SUGGESTNAME),
    ("Supplementname", Tag.SUPPLEMENTNAME),
    ("Enhancename", Tag.ENHANCENAME),
)
#: Tables whose key is a BLOB (integer and binary tags); all others are TEXT.
_BLOB_KEYS: Final = frozenset({"Installtid", "Sigmd5"})
#: Tables rpm indexes by key only (single-valued tags), or not at all.
_KEY_ONLY: Final = frozenset({"Name", "Group", "Sha1header"})

# Requires that only matter while installing are not indexed (``isTransientReq``).
_SENSE_INSTALL_ONLY: Final = (1 << 9) | (1 << 10) | (1 << 24) | (1 << 26) | (1 << 7) | (1 << 5)
_SENSE_ERASE_ONLY: Final = (1 << 11) | (1 << 12) | (1 << 20) | (1 << 21)
_RICH_OPS: Final = frozenset({"and", "or", "if", "unless", "else", "with", "without"})
_SQLITE_MAGIC: Final = b"SQLite format 3\0"
_BIG_ENDIAN: Final = frozenset({"s390x", "ppc64", "ppc", "s390", "sparc64"})


def db_byteorder(architecture: str) -> str:
    """The byte order of integer index keys in an ``architecture`` image's rpmdb (native).

    OCI names are accepted too; the big-endian ones (``s390x``, ``ppc64``) are the same in both.
    """
    return "big" if architecture in _BIG_ENDIAN else "little"


@dataclass(frozen=True, slots=True)
class InstalledPackage:
    """One row of ``Packages``: its number and parsed header."""

    hnum: int
    header: Header

    @property
    def name(self) -> str:
        """NAME."""
        return self.header.string(Tag.NAME) or ""

    @property
    def identity(self) -> bytes:
        """SHA-256 of the immutable header region: the same build of the same package."""
        return hashlib.sha256(self.header.immutable).digest()

    @property
    def nevra(self) -> str:
        """``name-[epoch:]version-release.arch``."""
        h = self.header
        epoch = h.integer(Tag.EPOCH)
        evr = f"{epoch}:" if epoch is not None else ""
        return (
            f"{self.name}-{evr}{h.string(Tag.VERSION)}-{h.string(Tag.RELEASE)}.{h.string(Tag.ARCH)}"
        )


def _is_transient_require(flags: int) -> bool:
    return bool(flags & _SENSE_INSTALL_ONLY) and not flags & _SENSE_ERASE_ONLY


def _rich_tokens(text: str) -> Iterator[str]:
    token = ""
    for ch in text:
        if ch in "()":
            if token.strip():
                yield token.strip()
            token = ""
            yield ch
        elif ch.isspace():
            if token.strip():
                yield token.strip()
            token = ""
        else:
            token += ch
    if token.strip():
        yield token.strip()


def rich_components(text: str) -> list[str]:
    """Names inside a rich dependency ``(a if b)``, as rpm indexes them.

    Each simple dependency contributes its name; names in an ``if``/``unless`` condition
    get a ``!`` prefix (``else`` branches flip back), ``rpmlib(…)`` is skipped, and the
    result is sorted and de-duplicated (``updateRichDep``).
    """
    names: list[str] = []
    stack: list[tuple[bool, int]] = []  # (negated on entry, names before the condition)
    neg = False
    expect_name = True
    for tok in _rich_tokens(text):
        if tok == "(":
            stack.append((neg, len(names)))
            expect_name = True
        elif tok == ")":
            if stack:
                neg = stack.pop()[0]
            expect_name = False
        elif tok in _RICH_OPS:
            if tok in ("if", "unless"):
                stack[-1] = (stack[-1][0], len(names)) if stack else (neg, len(names))
                neg = not neg
            elif tok == "else":
                start = stack[-1][1] if stack else 0
                for name in names[start:]:
                    names.append(("!" if name[0] == " " else " ") + name[1:])
                neg = not neg
            expect_name = True
        elif expect_name:
            if not tok.startswith("rpmlib("):
                names.append(("!" if neg else " ") + tok)
            expect_name = False
        # Anything else is a version comparison (``>= 1.0``) and not indexed.
    out: list[str] = []
    for name in sorted(names):
        if out and out[-1] == name:
            continue
        out.append(name)
    return [n[1:] if n[0] == " " else n for n in dict.fromkeys(out)]


def _strings_of(header: Header, tag: Tag) -> tuple[str, ...]:
    entry = header.entries.get(tag)
    if entry is None:
        return ()
    if entry.type == TagType.STRING_ARRAY:
        return header.strings(tag)
    return (header.string(tag) or "",)


def index_rows(header: Header, table: str, tag: Tag, *, byteorder: str) -> list[tuple[object, int]]:
    """The ``(key, idx)`` rows rpm writes to ``table`` for ``header``."""
    entry = header.entries.get(tag)
    if entry is None:
        return [("Unknown", 0)] if tag == Tag.GROUP else []
    if entry.type in (TagType.INT32, TagType.INT16, TagType.INT64, TagType.INT8, TagType.CHAR):
        width = {TagType.INT64: 8, TagType.INT32: 4, TagType.INT16: 2}.get(entry.type, 1)
        big = byteorder == "big"
        return [
            (v.to_bytes(width, "big" if big else "little"), i)
            for i, v in enumerate(header.integers(tag))
        ]
    if entry.type == TagType.BIN:
        return [(header.binary(tag), 0)]
    values = _strings_of(header, tag)
    rows: list[tuple[object, int]] = []
    flags = header.integers(Tag.REQUIREFLAGS) if tag == Tag.REQUIRENAME else ()
    trigger_index: tuple[int, ...] = ()
    if tag == Tag.FILETRIGGERNAME:
        trigger_index = header.integers(Tag.FILETRIGGERINDEX)
    elif tag == Tag.TRANSFILETRIGGERNAME:
        trigger_index = header.integers(Tag.TRANSFILETRIGGERINDEX)
    for i, value in enumerate(values):
        idx = trigger_index[i] if i < len(trigger_index) else i
        if tag == Tag.REQUIRENAME and i < len(flags) and _is_transient_require(flags[i]):
            continue
        if tag == Tag.TRIGGERNAME and value in values[:i]:
            continue
        rows.append((value, idx))
        if (
            value.startswith("(")
            and tag
            in (
                Tag.REQUIRENAME,
                Tag.CONFLICTNAME,
                Tag.SUGGESTNAME,
                Tag.SUPPLEMENTNAME,
                Tag.RECOMMENDNAME,
                Tag.ENHANCENAME,
            )
            and entry.type == TagType.STRING_ARRAY
        ):
            rows.extend((name, idx) for name in rich_components(value))
    return rows


def _create_schema(db: sqlite3.Connection) -> None:
    db.execute(
        "CREATE TABLE 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT,blob BLOB NOT NULL)"
    )
    for table, _tag in INDEX_TAGS:
        kind = "BLOB" if table in _BLOB_KEYS else "TEXT"
        db.execute(
            f"CREATE TABLE '{table}' (key '{kind}' NOT NULL, hnum INTEGER NOT NULL, idx INTEGER"
            " NOT NULL, FOREIGN KEY (hnum) REFERENCES 'Packages'(hnum))"
        )
        if table in _BLOB_KEYS:
            continue
        db.execute(f"CREATE INDEX '{table}_key_idx' ON '{table}'(key ASC)")
        if table not in _KEY_ONLY:
            db.execute(f"CREATE INDEX '{table}_hnum_idx' ON '{table}'(hnum ASC)")


class Rpmdb:
    """A private, editable copy of an rpmdb (or a new, empty one).

    ``source`` is the bytes of the image's ``rpmdb.sqlite`` (None for a new database).
    Call :meth:`finish` for the bytes to ship, or :meth:`close` to drop the copy.
    """

    def __init__(self, source: bytes | None, *, what: str = "rpmdb", byteorder: str = "little"):
        self.what = what
        self.byteorder = byteorder
        self._dir = tempfile.mkdtemp(prefix="ociforge-rpmdb-")
        self.path = os.path.join(self._dir, "rpmdb.sqlite")
        if source is not None:
            if not source.startswith(_SQLITE_MAGIC):
                self.close()
                raise UnsupportedError(
                    f"{what}: not an sqlite rpmdb (a Berkeley DB or ndb database is not"
                    " supported; rebuild it with rpm --rebuilddb on an sqlite system)"
                )
            with open(self.path, "wb") as fh:
                fh.write(source)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        try:
            if source is None:
                self._db.execute("PRAGMA journal_mode = DELETE")
                _create_schema(self._db)
            tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master")}
        except sqlite3.DatabaseError as exc:
            self.close()
            raise RpmError(f"{what}: corrupt rpmdb ({exc})") from None
        if "Packages" not in tables:
            self.close()
            raise RpmError(f"{what}: no Packages table (not an rpmdb)")
        self._tables = tables

    def packages(self) -> list[InstalledPackage]:
        """Every installed package, in ``hnum`` order."""
        out = []
        for hnum, blob in self._db.execute("SELECT hnum, blob FROM Packages ORDER BY hnum"):
            header = parse_header(
                bytes(blob), what=f"{self.what}: package #{hnum}", magic=False, dribbles=True
            )
            out.append(InstalledPackage(hnum, header))
        return out

    def find(self, name: str) -> list[InstalledPackage]:
        """Installed packages called ``name``."""
        return [p for p in self.packages() if p.name == name]

    def add(self, header: Header) -> int:
        """Store an installed header and its index rows; returns its ``hnum``."""
        for tag in (Tag.NAME, Tag.VERSION, Tag.RELEASE, Tag.HEADERIMMUTABLE):
            if tag not in header:
                raise RpmError(f"{self.what}: header lacks {tag.name}; rpm would refuse it")
        self._db.execute("BEGIN")
        try:
            cursor = self._db.execute("INSERT INTO Packages (blob) VALUES (?)", (header.blob,))
            hnum = int(cursor.lastrowid or 0)
            for table, tag in INDEX_TAGS:
                if table not in self._tables:
                    continue
                rows = index_rows(header, table, tag, byteorder=self.byteorder)
                self._db.executemany(
                    f"INSERT INTO '{table}' (key, hnum, idx) VALUES (?, ?, ?)",
                    [(key, hnum, idx) for key, idx in rows],
                )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return hnum

    def remove(self, hnum: int) -> None:
        """Drop a package and its index rows."""
        self._db.execute("BEGIN")
        try:
            for table, _tag in INDEX_TAGS:
                if table in self._tables:
                    self._db.execute(f"DELETE FROM '{table}' WHERE hnum = ?", (hnum,))
            self._db.execute("DELETE FROM Packages WHERE hnum = ?", (hnum,))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def finish(self) -> bytes:
        """Close the database in rollback-journal mode and return its bytes."""
        self._db.execute("PRAGMA journal_mode = DELETE")
        self._db.close()
        with open(self.path, "rb") as fh:
            data = fh.read()
        self.close()
        return data

    def close(self) -> None:
        """Drop the private copy."""
        db = getattr(self, "_db", None)
        if db is not None:
            db.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Rpmdb:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
