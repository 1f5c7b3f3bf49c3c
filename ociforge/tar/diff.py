"""Compare an unpacked tree with its state record and add the difference to a LayerBuilder.

The comparison costs one ``lstat`` per path (which the directory walk gets for free) plus work
proportional to what changed: a path whose inode and ctime are as recorded is untouched, since
every write, chmod, chown, xattr change or rename moves the ctime. Only when a path's ctime
moved but its size and mtime did not is its content hashed and compared with the record.
Deletions become whiteouts; a directory that was removed and made again (a new inode) becomes
an opaque directory, as overlayfs would record it. A directory recreated with the very inode
number the filesystem just freed looks unchanged; its lost children then become one whiteout
each, which unpacks to the same tree.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO, Final

from .._fs import DIR_FLAGS, open_beneath
from ..errors import UnsupportedError
from ..streams import CHUNK_SIZE
from .build import LayerBuilder
from .header import BLK, CHR, DIR, FIFO, LNK, REG, SYM, TarHeader
from .names import Parts, join
from .state import ROOTLESS_XATTR, PathState, crc32, decode_rootless_owner
from .unpack import Warn
from .whiteout import is_whiteout_name

__all__ = ["Changes", "TreeDiff"]

_FILE_FLAGS: Final = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
#: Labels the host gives new files; stored only if the image had them.
_HOST_XATTRS: Final = frozenset({"security.selinux"})

_TYPES: Final = {
    stat.S_IFREG: REG,
    stat.S_IFDIR: DIR,
    stat.S_IFLNK: SYM,
    stat.S_IFCHR: CHR,
    stat.S_IFBLK: BLK,
    stat.S_IFIFO: FIFO,
}


@dataclass(frozen=True, slots=True)
class Changes:
    """What a comparison found: paths added, changed and deleted."""

    added: int = 0
    changed: int = 0
    deleted: int = 0

    @property
    def empty(self) -> bool:
        """True when the tree is exactly as recorded."""
        return not (self.added or self.changed or self.deleted)


@dataclass(slots=True)
class _Pending:
    """A directory on the current walk whose entry is written only if something below is."""

    parent: int
    name: str
    parts: Parts
    st: os.stat_result
    added: bool = False


class TreeDiff:
    """Compare the tree at ``root`` with ``states`` (from :mod:`ociforge.tar.unpack`).

    Use as a context manager around both :meth:`into` and the builder's ``build()``: file
    data is read by the builder through this object's root descriptor, never by path.
    ``rootless`` takes owners from ``user.rootlesscontainers`` when a path has it, else from
    the record, else root, since the files on disk all belong to the unpacking user.
    ``record_after`` also collects :attr:`states_after` (it reads changed files once more).
    """

    def __init__(
        self,
        root: str,
        states: Mapping[str, PathState],
        *,
        rootless: bool = False,
        warn: Warn | None = None,
        record_after: bool = False,
    ) -> None:
        self._root = os.open(root, DIR_FLAGS)
        self._record_after = record_after
        self._states = states
        self._rootless = rootless
        self._warn = warn or (lambda message: None)
        self._children: dict[str, list[str]] = {}
        for key in states:
            if key:
                parent, _, name = key.rpartition("/")
                self._children.setdefault(parent, []).append(name)
        self._pending: list[_Pending] = []
        self._inodes: dict[tuple[int, int], Parts] = {}
        self._builder: LayerBuilder | None = None
        self._added = self._changed = self._deleted = 0
        self._after: dict[str, PathState] = {"": states[""]} if "" in states else {}
        self._relaxed: list[tuple[Parts, int]] = []
        self._euid = os.geteuid()

    def __enter__(self) -> TreeDiff:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Give back relaxed permissions; release the root descriptor (after the build)."""
        if self._root < 0:
            return
        try:
            for parts, mode in reversed(self._relaxed):  # deepest first, parents still open
                parent = open_beneath(self._root, parts[:-1])
                try:
                    os.chmod(parts[-1], mode, dir_fd=parent)
                finally:
                    os.close(parent)
        finally:
            os.close(self._root)
            self._root = -1

    def _readable(self, parent: int, name: str, parts: Parts, st: os.stat_result) -> None:
        """Let an unprivileged owner read (and enter) what it owns until :meth:`close`.

        A rootless tree belongs to its user but keeps the image's modes, such as a 0000
        ``/etc/shadow``; root reads it anyway, the owner needs its read bit for a while.
        """
        need = 0o500 if stat.S_ISDIR(st.st_mode) else 0o400
        mode = stat.S_IMODE(st.st_mode)
        if self._euid == 0 or mode & need == need or st.st_uid != self._euid:
            return
        os.chmod(name, mode | need, dir_fd=parent)
        self._relaxed.append((parts, mode))

    def into(self, builder: LayerBuilder) -> Changes:
        """Add every difference to ``builder``; return the counts."""
        self._builder = builder
        self._walk(self._root, (), fresh=False)
        return Changes(self._added, self._changed, self._deleted)

    @property
    def states_after(self) -> Mapping[str, PathState]:
        """The record the tree matches now (after :meth:`into` with ``record_after``)."""
        return self._after

    # -- walking -----------------------------------------------------------------------------

    def _walk(self, fd: int, parts: Parts, *, fresh: bool) -> None:
        """Visit directory ``parts``; ``fresh`` means nothing below it is in lower layers."""
        with os.scandir(fd) as entries:
            listing = [(e.name, e.stat(follow_symlinks=False)) for e in entries]
        seen: set[str] = set()
        for name, st in listing:
            seen.add(name)
            child = (*parts, name)
            if is_whiteout_name(name):
                raise UnsupportedError(
                    f"/{join(child)}: a name starting with .wh. cannot be stored in a layer"
                )
            record = None if fresh else self._states.get(join(child))
            if record is not None and not record.present:
                record = None
            if stat.S_ISDIR(st.st_mode):
                self._directory(fd, name, child, st, record)
            else:
                self._node(fd, name, child, st, record)
        if fresh:
            return
        for name in self._children.get(join(parts), ()):
            key = join((*parts, name))
            if name in seen:
                continue
            if not self._states[key].present:
                self._after[key] = self._states[key]  # still a device a rootless unpack skipped
                continue
            self._flush_pending()
            assert self._builder is not None
            self._builder.add_whiteout(key)
            self._deleted += 1

    def _directory(
        self, parent: int, name: str, parts: Parts, st: os.stat_result, record: PathState | None
    ) -> None:
        pending = _Pending(parent, name, parts, st)
        kept = record if record is not None and record.is_dir else None
        fresh = kept is None or st.st_ino != kept.ino
        self._remember(parent, name, parts, st, record)
        if fresh:
            self._emit_dir(pending)
            if kept is not None:
                # Removed and made again: lower content must not shine through.
                assert self._builder is not None
                self._builder.add_opaque(join(parts))
            self._count(record)
        elif kept is not None and (st.st_ino, st.st_ctime_ns) != (kept.ino, kept.ctime_ns):
            header = self._header(parent, name, parts, st)
            if _differs(header, kept):
                self._emit_dir(pending, header)
                self._changed += 1
        self._pending.append(pending)
        try:
            self._readable(parent, name, parts, st)
            fd = os.open(name, DIR_FLAGS, dir_fd=parent)
            try:
                self._walk(fd, parts, fresh=fresh)
            finally:
                os.close(fd)
        finally:
            self._pending.pop()

    def _node(
        self, parent: int, name: str, parts: Parts, st: os.stat_result, record: PathState | None
    ) -> None:
        if stat.S_IFMT(st.st_mode) not in _TYPES:
            self._warn(f"/{join(parts)}: skipped a socket (it cannot be stored in a layer)")
            return
        self._remember(parent, name, parts, st, record)
        if record is not None and (st.st_ino, st.st_ctime_ns) == (record.ino, record.ctime_ns):
            return  # untouched
        header = self._header(parent, name, parts, st)
        same_content = (
            record is not None
            and not _differs(header, record)
            # Size and mtime cannot tell: the ctime moved, so compare the bytes.
            and (not header.is_file or self._content_crc(parent, name, parts, st) == record.crc32)
        )
        if same_content:
            return
        assert self._builder is not None
        self._flush_pending()
        if record is not None and record.is_dir:
            self._builder.add_whiteout(join(parts))  # a file cannot overwrite a directory
        self._add(parent, header, parts, st)
        self._count(record)

    def _remember(
        self, parent: int, name: str, parts: Parts, st: os.stat_result, record: PathState | None
    ) -> None:
        """Record the path as it is now, so a refreshed bundle compares against this state."""
        if not self._record_after:
            return
        key = join(parts)
        if record is not None and (st.st_ino, st.st_ctime_ns) == (record.ino, record.ctime_ns):
            self._after[key] = record
            return
        header = self._header(parent, name, parts, st)
        checksum = self._content_crc(parent, name, parts, st) if header.is_file else 0
        self._after[key] = PathState(
            type=header.type,
            mode=header.mode,
            uid=header.uid,
            gid=header.gid,
            size=header.size,
            mtime=header.mtime,
            link=header.linkname,
            xattrs=header.xattrs,
            crc32=checksum,
            devmajor=header.devmajor,
            devminor=header.devminor,
            ino=st.st_ino,
            ctime_ns=st.st_ctime_ns,
        )

    def _count(self, record: PathState | None) -> None:
        if record is None:
            self._added += 1
        else:
            self._changed += 1

    # -- entries -----------------------------------------------------------------------------

    def _emit_dir(self, pending: _Pending, header: TarHeader | None = None) -> None:
        self._flush_pending()
        if header is None:
            header = self._header(pending.parent, pending.name, pending.parts, pending.st)
        assert self._builder is not None
        self._builder.add_entry(header)
        pending.added = True

    def _flush_pending(self) -> None:
        """Write the entries of the directories above, so their metadata is not invented."""
        assert self._builder is not None
        for pending in self._pending:
            if not pending.added:
                header = self._header(pending.parent, pending.name, pending.parts, pending.st)
                self._builder.add_entry(header)
                pending.added = True

    def _add(self, parent: int, header: TarHeader, parts: Parts, st: os.stat_result) -> None:
        assert self._builder is not None
        if header.is_file and st.st_nlink > 1:
            first = self._inodes.setdefault((st.st_dev, st.st_ino), parts)
            if first != parts:
                self._builder.add_entry(header.evolve(type=LNK, linkname=join(first), size=0))
                return
        data: Callable[[], IO[bytes]] | None = None
        if header.is_file and header.size:
            self._readable(parent, parts[-1], parts, st)
            data = self._opener(parts)
        self._builder.add_entry(header, data)

    def _opener(self, parts: Parts) -> Callable[[], IO[bytes]]:
        root = self._root

        def open_file() -> IO[bytes]:
            return os.fdopen(open_beneath(root, parts, flags=_FILE_FLAGS), "rb", buffering=0)

        return open_file

    def _header(self, parent: int, name: str, parts: Parts, st: os.stat_result) -> TarHeader:
        kind = _TYPES[stat.S_IFMT(st.st_mode)]
        key = join(parts)
        xattrs = self._xattrs(parent, name, key)
        uid, gid = st.st_uid, st.st_gid
        if self._rootless:
            owner = xattrs.pop(ROOTLESS_XATTR, None)
            record = self._states.get(key)
            if owner is not None:
                uid, gid = decode_rootless_owner(owner)
            elif record is not None:
                uid, gid = record.uid, record.gid
            else:
                uid, gid = 0, 0
        xattrs.pop(ROOTLESS_XATTR, None)
        linkname = os.readlink(name, dir_fd=parent) if kind == SYM else ""
        special = kind in (CHR, BLK)
        return TarHeader(
            key,
            type=kind,
            mode=0o777 if kind == SYM else stat.S_IMODE(st.st_mode),
            uid=uid,
            gid=gid,
            size=st.st_size if kind == REG else 0,
            mtime=int(st.st_mtime),
            linkname=linkname,
            xattrs=xattrs,
            devmajor=os.major(st.st_rdev) if special else 0,
            devminor=os.minor(st.st_rdev) if special else 0,
        )

    def _xattrs(self, parent: int, name: str, key: str) -> dict[str, bytes]:
        path = f"/proc/self/fd/{parent}/{name}"
        try:
            names = os.listxattr(path, follow_symlinks=False)
        except OSError as exc:
            if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
                names = []
            else:
                raise
        record = self._states.get(key)
        recorded = record.xattrs if record is not None else {}
        out: dict[str, bytes] = {}
        for attr in names:
            if attr in _HOST_XATTRS and attr not in recorded:
                continue
            try:
                out[attr] = os.getxattr(path, attr, follow_symlinks=False)
            except OSError as exc:
                if exc.errno != errno.ENODATA:  # removed meanwhile
                    raise
        if self._rootless:
            # What a rootless unpack could not set is still part of the file.
            for attr, value in recorded.items():
                if attr not in out and not attr.startswith("user."):
                    out[attr] = value
        return out

    def _content_crc(self, parent: int, name: str, parts: Parts, st: os.stat_result) -> int:
        self._readable(parent, name, parts, st)
        checksum = 0
        fd = os.open(name, _FILE_FLAGS, dir_fd=parent)
        with os.fdopen(fd, "rb", buffering=0) as reader:
            while chunk := reader.read(CHUNK_SIZE):
                checksum = crc32(chunk, checksum)
        return checksum


def _differs(header: TarHeader, record: PathState) -> bool:
    """True if the metadata (or, for links and sizes, the content) differs from the record."""
    if header.type != record.type:
        return True
    if header.is_symlink:
        mode_differs = header.linkname != record.link
    else:
        mode_differs = header.mode != record.mode
    return (
        mode_differs
        or (header.uid, header.gid) != (record.uid, record.gid)
        or header.mtime != record.mtime
        or header.size != record.size
        or dict(header.xattrs) != dict(record.xattrs)
        or (header.devmajor, header.devminor) != (record.devmajor, record.devminor)
    )
