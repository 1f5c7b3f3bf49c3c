"""The local-filesystem edge of layer building: a file or a directory tree as tar entries.

Only metadata is read here (one ``lstat`` per entry); each regular file comes with an opener
that :class:`~ociforge.tar.build.LayerBuilder` calls when it writes the layer, so contents
stream from disk straight into the compressor.
"""

from __future__ import annotations

import errno
import functools
import os
import stat
from collections.abc import Iterator, Mapping
from typing import IO

from ..errors import NotFound, PathConflict, UnsupportedError
from ..streams import Opener
from .header import BLK, CHR, DIR, FIFO, LNK, REG, SYM, TarHeader
from .names import Parts, join

__all__ = ["local_file", "local_tree", "open_local", "stat_local"]


def stat_local(path: str, *, follow: bool) -> os.stat_result:
    """``stat`` with the errors a user understands (missing file, symlink loop)."""
    try:
        return os.stat(path, follow_symlinks=follow)
    except FileNotFoundError:
        raise NotFound(f"{path}: no such file or directory") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsupportedError(f"{path}: too many levels of symbolic links") from None
        raise


def _read(path: str) -> IO[bytes]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NotFound(f"{path}: disappeared before the layer was built") from None
    return os.fdopen(fd, "rb", buffering=0)


def open_local(path: str) -> Opener:
    """An opener of the local file ``path``, called only when the layer is written."""
    return functools.partial(_read, path)


def local_file(
    path: str,
    parts: Parts,
    *,
    mode: int | None = None,
    uid: int = 0,
    gid: int = 0,
    mtime: int | None = None,
    xattrs: Mapping[str, bytes] | None = None,
) -> tuple[TarHeader, Opener | None]:
    """The entry for local file ``path`` (symlinks followed) at ``parts`` of the image."""
    st = stat_local(path, follow=True)
    if stat.S_ISDIR(st.st_mode):
        raise PathConflict(f"{path}: is a directory (add it as a tree)")
    if not stat.S_ISREG(st.st_mode):
        raise UnsupportedError(f"{path}: not a regular file")
    header = TarHeader(
        join(parts),
        REG,
        mode=stat.S_IMODE(st.st_mode) if mode is None else mode,
        uid=uid,
        gid=gid,
        size=st.st_size,
        mtime=int(st.st_mtime) if mtime is None else mtime,
        xattrs=dict(xattrs or {}),
    )
    return header, open_local(path) if st.st_size else None


def local_tree(
    root: str,
    base: Parts,
    *,
    uid: int = 0,
    gid: int = 0,
    file_mode: int | None = None,
    dir_mode: int | None = None,
) -> Iterator[tuple[TarHeader, Opener | None]]:
    """Entries for directory ``root`` (at ``base``) and everything below it, never following links.

    Symlinks stay symlinks, local hard links become hard links to the first path seen, FIFOs
    and devices stay what they are; sockets are refused. Owners are ``uid``/``gid``: the local
    owner means nothing inside the image.
    """
    st = stat_local(root, follow=True)
    if not stat.S_ISDIR(st.st_mode):
        raise PathConflict(f"{root}: is not a directory")
    mode = stat.S_IMODE(st.st_mode) if dir_mode is None else dir_mode
    yield TarHeader(join(base), DIR, mode=mode, uid=uid, gid=gid, mtime=int(st.st_mtime)), None
    inodes: dict[tuple[int, int], Parts] = {}
    for local_path, rel, entry_st in _walk(root):
        parts = (*base, *rel)
        yield _entry(local_path, parts, entry_st, inodes, uid, gid, file_mode, dir_mode)


def _entry(
    local_path: str,
    parts: Parts,
    st: os.stat_result,
    inodes: dict[tuple[int, int], Parts],
    uid: int,
    gid: int,
    file_mode: int | None,
    dir_mode: int | None,
) -> tuple[TarHeader, Opener | None]:
    fmt = stat.S_IFMT(st.st_mode)
    perm = stat.S_IMODE(st.st_mode)
    proto = TarHeader(join(parts), REG, mode=perm, uid=uid, gid=gid, mtime=int(st.st_mtime))
    if fmt == stat.S_IFDIR:
        return proto.evolve(type=DIR, mode=perm if dir_mode is None else dir_mode), None
    if fmt != stat.S_IFLNK and st.st_nlink > 1:
        first = inodes.setdefault((st.st_dev, st.st_ino), parts)
        if first != parts:
            return proto.evolve(type=LNK, linkname=join(first)), None
    if fmt == stat.S_IFREG:
        mode = perm if file_mode is None else file_mode
        header = proto.evolve(mode=mode, size=st.st_size)
        return header, open_local(local_path) if st.st_size else None
    if fmt == stat.S_IFLNK:
        return proto.evolve(type=SYM, mode=0o777, linkname=os.readlink(local_path)), None
    if fmt in (stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO):
        kind = {stat.S_IFCHR: CHR, stat.S_IFBLK: BLK, stat.S_IFIFO: FIFO}[fmt]
        if kind == FIFO:
            return proto.evolve(type=kind), None
        return proto.evolve(
            type=kind, devmajor=os.major(st.st_rdev), devminor=os.minor(st.st_rdev)
        ), None
    raise UnsupportedError(f"{local_path}: sockets cannot be stored in a layer")


def _walk(root: str) -> Iterator[tuple[str, Parts, os.stat_result]]:
    """Every entry below ``root`` with its relative parts and lstat, never following links."""
    stack: list[tuple[str, Parts]] = [(root, ())]
    while stack:
        directory, rel = stack.pop()
        with os.scandir(directory) as entries:
            for entry in entries:
                st = entry.stat(follow_symlinks=False)
                parts = (*rel, entry.name)
                yield entry.path, parts, st
                if stat.S_ISDIR(st.st_mode):
                    stack.append((entry.path, parts))
