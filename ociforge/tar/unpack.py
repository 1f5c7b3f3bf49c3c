"""Apply layers to a directory through directory file descriptors, never following a symlink.

Every file system call is relative to a directory descriptor that was itself opened with
``O_NOFOLLOW``, so no name in a layer (``..``, absolute, a symlink planted by an earlier
layer, a hard link through a symlinked parent) can make a write land outside the tree.
Semantics follow overlayfs and ostree's union checkout, which is how these images are
consumed: a symlink is never followed while extracting, and a parent component that is not a
directory is replaced by one. (umoci instead follows symlinks scoped to the rootfs; the two
differ only for layers that write through a symlinked directory.)

As it goes, the writer keeps the per-path state record (see :mod:`ociforge.tar.state`) of the
final tree, so a repack needs no second walk of the layers.
"""

from __future__ import annotations

import errno
import functools
import os
import stat
from collections.abc import Callable, Iterable, Mapping
from typing import IO, TYPE_CHECKING, Final, cast

from .._fs import DIR_FLAGS, open_beneath
from ..errors import TarError, UnsafePath, UnsupportedError
from ..prefetch import Prefetcher
from ..streams import CHUNK_SIZE, Readable, write_all
from .header import BLK, CHR, DIR, FIFO, TarHeader
from .names import Parts, join, split_member_name
from .reader import MemberData, TarMember, iter_members, iter_verified
from .state import ROOTLESS_XATTR, PathState, crc32, encode_rootless_owner
from .whiteout import Whiteout, classify

if TYPE_CHECKING:
    from ..layer import Layer

__all__ = ["MAX_DEPTH", "TreeWriter", "Warn", "unpack_layers"]

#: Called with a one-line message for things skipped on purpose (device nodes when rootless).
Warn = Callable[[str], None]

#: Deepest path accepted; real images stay far below, and it bounds descriptors and recursion.
MAX_DEPTH: Final = 256

_NEW_FILE: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_XATTR_UNSUPPORTED: Final = (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EACCES)


class TreeWriter:
    """Apply tar layers, one after the other, to the directory ``root``.

    ``rootless`` never calls ``chown`` or ``mknod``: owners are only recorded (and, with
    ``rootless_xattr``, also stored in ``user.rootlesscontainers`` as umoci does), device
    nodes are skipped with a warning. Directory modes and mtimes are applied by
    :meth:`finish`, once nothing more is written below them.
    """

    def __init__(
        self,
        root: str,
        *,
        rootless: bool = False,
        rootless_xattr: bool = False,
        warn: Warn | None = None,
    ) -> None:
        self._root = os.open(root, DIR_FLAGS)
        self._rootless = rootless
        self._rootless_xattr = rootless_xattr
        self._warn = warn or (lambda message: None)
        self.states: dict[str, PathState] = {"": PathState(DIR, 0o755)}
        self._linked: set[int] = set()  # inodes with more than one name
        self._dirty: set[int] = set()  # inodes whose ctime moved after they were recorded
        self._cache_parts: Parts = ()
        self._cache_fds: list[int] = []
        self._layer_paths: set[str] = set()
        self._layer_prefixes: set[str] = set()
        self._what = "layer"
        self._entry_what = "layer: entry"
        self._warned: set[str] = set()

    # -- descriptors -------------------------------------------------------------------------

    def close(self) -> None:
        """Release every descriptor."""
        self._forget(())
        if self._root >= 0:
            os.close(self._root)
            self._root = -1

    def _forget(self, parts: Parts) -> None:
        """Drop cached descriptors of ``parts`` and below (it is about to be removed)."""
        n = len(parts)
        if n and self._cache_parts[:n] != parts:
            return
        keep = max(n - 1, 0)
        for fd in self._cache_fds[keep:]:
            os.close(fd)
        del self._cache_fds[keep:]
        self._cache_parts = self._cache_parts[:keep]

    def _dir_fd(self, parts: Parts, *, create: bool) -> int | None:
        """A descriptor of directory ``parts`` (owned by the cache), walking without following.

        With ``create``, missing directories are made and non-directories in the way are
        replaced; without it, ``None`` says the directory is not there as a directory.
        """
        cached = self._cache_parts
        k = 0
        limit = min(len(parts), len(cached))
        while k < limit and parts[k] == cached[k]:
            k += 1
        for fd in self._cache_fds[k:]:
            os.close(fd)
        del self._cache_fds[k:]
        self._cache_parts = parts[:k]
        fd = self._cache_fds[k - 1] if k else self._root
        for i in range(k, len(parts)):
            child = self._open_dir(fd, parts[: i + 1], create=create)
            if child is None:
                return None
            self._cache_fds.append(child)
            self._cache_parts = parts[: i + 1]
            fd = child
        return fd

    def _open_dir(self, parent: int, parts: Parts, *, create: bool) -> int | None:
        name = parts[-1]
        try:
            return os.open(name, DIR_FLAGS, dir_fd=parent)
        except FileNotFoundError:
            if not create:
                return None
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise
            if not create:
                return None
            # A symlink or file where a directory is needed: the directory wins, as in overlayfs.
            self._remove(parent, name, parts)
        os.mkdir(name, 0o700, dir_fd=parent)
        self.states[join(parts)] = PathState(DIR, 0o755)
        return os.open(name, DIR_FLAGS, dir_fd=parent)

    # -- removal -----------------------------------------------------------------------------

    def _remove(self, parent: int, name: str, parts: Parts) -> None:
        """Remove whatever is at ``parts`` (a whole subtree for a directory)."""
        try:
            st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            self._forget(parts)
            self._remove_tree(parent, name, parts)
        else:
            self._unlink(parent, name, join(parts), st.st_ino)

    def _unlink(self, parent: int, name: str, key: str, ino: int) -> None:
        if ino in self._linked:
            self._dirty.add(ino)
        os.unlink(name, dir_fd=parent)
        self.states.pop(key, None)

    def _remove_tree(self, parent: int, name: str, parts: Parts) -> None:
        fd = os.open(name, DIR_FLAGS, dir_fd=parent)
        try:
            with os.scandir(fd) as entries:
                children = [(e.name, e.is_dir(follow_symlinks=False), e.inode()) for e in entries]
            for child, is_dir, ino in children:
                child_parts = (*parts, child)
                if is_dir:
                    self._remove_tree(fd, child, child_parts)
                else:
                    self._unlink(fd, child, join(child_parts), ino)
        finally:
            os.close(fd)
        os.rmdir(name, dir_fd=parent)
        self.states.pop(join(parts), None)

    def _remove_lower(self, parent: int, name: str, parts: Parts) -> None:
        """Remove what lower layers put at ``parts``, keeping what the current layer added."""
        key = join(parts)
        if key not in self._layer_paths and key not in self._layer_prefixes:
            self._remove(parent, name, parts)
            return
        try:
            fd = os.open(name, DIR_FLAGS, dir_fd=parent)
        except OSError:
            return  # a non-directory of the current layer: it stays
        try:
            self._clear_lower(fd, parts)
        finally:
            os.close(fd)

    def _clear_lower(self, fd: int, parts: Parts) -> None:
        n = len(parts)
        if self._cache_parts[:n] == parts and len(self._cache_parts) > n:
            self._forget(self._cache_parts[: n + 1])  # what lies below may be removed
        with os.scandir(fd) as entries:
            names = [e.name for e in entries]
        for child in names:
            self._remove_lower(fd, child, (*parts, child))

    # -- applying ----------------------------------------------------------------------------

    def apply(self, stream: Readable, *, what: str = "layer") -> None:
        """Apply one uncompressed layer; its own entries are immune to its own whiteouts."""
        self.apply_members(iter_members(stream, what=what), what=what)

    def apply_members(self, members: Iterable[tuple[TarMember, MemberData]], *, what: str) -> None:
        """Apply one layer given as its members (see :func:`~ociforge.tar.reader.iter_verified`)."""
        self._what = what
        self._entry_what = f"{what}: entry"
        self._layer_paths = set()
        self._layer_prefixes = set()
        for member, data in members:
            header = member.header
            try:
                self._entry(header, data)
            except OSError as exc:
                text = exc.strerror or str(exc)
                raise TarError(f"{what}: entry {header.name!r}: {text}") from None

    def _mark(self, parts: Parts) -> None:
        self._layer_paths.add(join(parts))
        for depth in range(len(parts) - 1, 0, -1):
            prefix = join(parts[:depth])
            if prefix in self._layer_prefixes:
                break
            self._layer_prefixes.add(prefix)

    def _entry(self, header: TarHeader, data: MemberData) -> None:
        what = self._entry_what
        parts = split_member_name(header.name, what=what)
        if len(parts) > MAX_DEPTH:
            raise UnsafePath(f"{what} {header.name!r}: more than {MAX_DEPTH} levels deep")
        whiteout = classify(parts, what=what)
        if whiteout is not None:
            self._whiteout(whiteout)
            return
        if not parts:
            if not header.is_dir:
                raise UnsafePath(f"{what} {header.name!r}: would replace the root directory")
            self.states[""] = self._state(header)
            root = self._root
            self._xattrs(lambda a, v: os.setxattr(root, a, v), header, owner=True)
            return
        if header.is_hardlink and split_member_name(header.linkname, what=what) == parts:
            return  # a link to itself changes nothing, not even its parents
        self._mark(parts)
        parent = self._dir_fd(parts[:-1], create=True)
        assert parent is not None
        name = parts[-1]
        if header.is_dir:
            self._directory(parent, name, parts, header)
        elif header.is_file:
            self._file(parent, name, parts, header, data)
        elif header.is_symlink:
            self._symlink(parent, name, parts, header)
        elif header.is_hardlink:
            self._hardlink(parent, name, parts, header)
        else:
            self._special(parent, name, parts, header)

    def _whiteout(self, whiteout: Whiteout) -> None:
        if whiteout.kind == "meta":
            return
        if whiteout.kind == "opaque":
            # An opaque directory exists in this layer, even if no entry says so.
            for depth in range(len(whiteout.directory), 0, -1):
                self._layer_prefixes.add(join(whiteout.directory[:depth]))
            fd = self._dir_fd(whiteout.directory, create=True)
            assert fd is not None
            self._clear_lower(fd, whiteout.directory)
            return
        parent = self._dir_fd(whiteout.directory, create=False)
        if parent is not None:  # nothing to delete below a path that is not a directory
            self._remove_lower(parent, whiteout.name, whiteout.target)

    def _state(self, header: TarHeader, **extra: object) -> PathState:
        return PathState(
            type=header.type if header.type != "7" else "0",
            mode=0o777 if header.is_symlink else header.mode & 0o7777,
            uid=header.uid,
            gid=header.gid,
            size=header.size if header.is_file else 0,
            mtime=header.mtime,
            link=header.linkname if header.is_symlink else "",
            xattrs=dict(header.xattrs) if header.xattrs else header.xattrs,
            devmajor=header.devmajor,
            devminor=header.devminor,
            **extra,  # type: ignore[arg-type]
        )

    def _directory(self, parent: int, name: str, parts: Parts, header: TarHeader) -> None:
        try:
            st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            st = None
        if st is not None and not stat.S_ISDIR(st.st_mode):
            self._remove(parent, name, parts)
            st = None
        if st is None:
            os.mkdir(name, 0o700, dir_fd=parent)
        key = join(parts)
        old = self.states.get(key)
        state = self._state(header)
        self.states[key] = state
        fd = os.open(name, DIR_FLAGS, dir_fd=parent)
        try:
            if old is not None:
                for attr in set(old.xattrs) - set(state.xattrs):
                    _remove_xattr(fd, attr)
            self._xattrs(lambda a, v: os.setxattr(fd, a, v), header, owner=True)
        finally:
            os.close(fd)

    def _file(
        self, parent: int, name: str, parts: Parts, header: TarHeader, data: MemberData
    ) -> None:
        try:
            fd = os.open(name, _NEW_FILE, 0o600, dir_fd=parent)
        except FileExistsError:  # rarer than a new name, so no lstat up front
            self._remove(parent, name, parts)
            fd = os.open(name, _NEW_FILE, 0o600, dir_fd=parent)
        try:
            checksum = 0
            while chunk := data.read(CHUNK_SIZE):
                checksum = crc32(chunk, checksum)
                write_all(fd, chunk)
            if not self._rootless:
                self._chown(functools.partial(os.fchown, fd, header.uid, header.gid), header)
            os.fchmod(fd, header.mode & 0o7777)
            if header.xattrs or (self._rootless_xattr and (header.uid or header.gid)):
                self._xattrs(lambda a, v: os.setxattr(fd, a, v), header, owner=True)
            os.utime(fd, ns=(header.mtime * 10**9, header.mtime * 10**9))
            st = os.fstat(fd)
        finally:
            os.close(fd)
        self.states[join(parts)] = self._state(
            header, crc32=checksum, ino=st.st_ino, ctime_ns=st.st_ctime_ns
        )

    def _symlink(self, parent: int, name: str, parts: Parts, header: TarHeader) -> None:
        if not header.linkname:
            raise TarError(f"{self._what}: symlink {header.name!r} has an empty target")
        self._remove(parent, name, parts)
        os.symlink(header.linkname, name, dir_fd=parent)
        self._finish_node(parent, name, parts, header)

    def _special(self, parent: int, name: str, parts: Parts, header: TarHeader) -> None:
        self._remove(parent, name, parts)
        if header.type == FIFO:
            os.mkfifo(name, 0o600, dir_fd=parent)
        elif self._rootless:
            if header.type in (CHR, BLK):
                self._warn(
                    f"{self._what}: skipped device node {header.name!r} (rootless: no mknod)"
                )
            self.states[join(parts)] = self._state(header, present=False)
            return
        else:
            kind = stat.S_IFCHR if header.type == CHR else stat.S_IFBLK
            device = os.makedev(header.devmajor, header.devminor)
            os.mknod(name, kind | 0o600, device, dir_fd=parent)
        os.chmod(name, header.mode & 0o7777, dir_fd=parent)
        self._finish_node(parent, name, parts, header)

    def _finish_node(self, parent: int, name: str, parts: Parts, header: TarHeader) -> None:
        """Owner, xattrs, mtime and the record for a node without a descriptor of its own."""
        if not self._rootless:
            chown = functools.partial(
                os.chown, name, header.uid, header.gid, dir_fd=parent, follow_symlinks=False
            )
            self._chown(chown, header)
        state = self._state(header)
        # The descriptor of the parent, through /proc, names the node without following it.
        path = f"/proc/self/fd/{parent}/{name}"
        self._xattrs(
            lambda a, v: os.setxattr(path, a, v, follow_symlinks=False),
            header,
            owner=not header.is_symlink,  # user.* xattrs are not allowed on symlinks
        )
        t = header.mtime * 10**9
        os.utime(name, ns=(t, t), dir_fd=parent, follow_symlinks=False)
        st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        self.states[join(parts)] = state.on_disk(st.st_ino, st.st_ctime_ns)

    def _hardlink(self, parent: int, name: str, parts: Parts, header: TarHeader) -> None:
        what = f"{self._what}: hard link {header.name!r}"
        target = split_member_name(header.linkname, what=f"{what} target")
        if not target:
            raise UnsafePath(f"{what}: target is the root directory")
        if target == parts:
            return  # a link to itself changes nothing
        if target[: len(parts)] == parts:
            raise UnsafePath(f"{what}: target {header.linkname!r} lies inside the link's own path")
        try:
            tfd = open_beneath(self._root, target[:-1])
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise UnsafePath(
                    f"{what}: target {header.linkname!r} is reached through a symlink or file"
                ) from None
            raise TarError(f"{what}: target {header.linkname!r} does not exist") from None
        try:
            try:
                tst = os.stat(target[-1], dir_fd=tfd, follow_symlinks=False)
            except FileNotFoundError:
                raise TarError(f"{what}: target {header.linkname!r} does not exist") from None
            if stat.S_ISDIR(tst.st_mode):
                raise TarError(f"{what}: target {header.linkname!r} is a directory")
            try:
                existing = os.stat(name, dir_fd=parent, follow_symlinks=False)
            except FileNotFoundError:
                existing = None
            if existing is not None and existing.st_ino == tst.st_ino:
                return  # already the same file
            self._remove(parent, name, parts)
            os.link(target[-1], name, src_dir_fd=tfd, dst_dir_fd=parent, follow_symlinks=False)
        finally:
            os.close(tfd)
        st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        self._linked.add(st.st_ino)
        self._dirty.add(st.st_ino)
        source = self.states.get(join(target))
        if source is None:  # pragma: no cover - everything on disk was recorded
            raise TarError(f"{what}: target {header.linkname!r} was not recorded")
        self.states[join(parts)] = source.on_disk(st.st_ino, st.st_ctime_ns)

    # -- metadata ----------------------------------------------------------------------------

    def _chown(self, call: Callable[[], object], header: TarHeader) -> None:
        try:
            call()
        except PermissionError:
            raise UnsupportedError(
                f"{self._what}: cannot give {header.name!r} owner {header.uid}:{header.gid}"
                " without privileges; unpack rootless instead"
            ) from None

    def _xattrs(
        self, setter: Callable[[str, bytes], None], header: TarHeader, *, owner: bool
    ) -> None:
        """Set the entry's xattrs (and, rootless, its owner as umoci records it)."""
        wanted = dict(header.xattrs)
        if owner and self._rootless and self._rootless_xattr and (header.uid or header.gid):
            wanted[ROOTLESS_XATTR] = encode_rootless_owner(header.uid, header.gid)
        for attr, value in wanted.items():
            try:
                setter(attr, value)
            except OSError as exc:
                if not self._rootless or exc.errno not in _XATTR_UNSUPPORTED:
                    raise
                if attr not in self._warned:
                    self._warned.add(attr)
                    self._warn(
                        f"{self._what}: cannot set xattr {attr} rootless; it is only recorded"
                    )

    def finish(self) -> dict[str, PathState]:
        """Apply directory metadata (deepest first), refresh moved ctimes; return the record."""
        self._refresh_linked()
        keys = sorted((k for k, s in self.states.items() if s.is_dir), reverse=True)
        for key in keys:  # reverse order puts every directory after all of its descendants
            state = self.states[key]
            parts = tuple(key.split("/")) if key else ()
            fd = self._dir_fd(parts, create=False) if parts else self._root
            if fd is None:  # pragma: no cover - recorded directories exist
                raise TarError(f"directory {key!r} vanished during unpack")
            if not self._rootless:
                chown = functools.partial(os.fchown, fd, state.uid, state.gid)
                self._chown(chown, TarHeader(key or ".", uid=state.uid, gid=state.gid))
            os.fchmod(fd, state.mode)
            t = state.mtime * 10**9
            os.utime(fd, ns=(t, t))
            st = os.fstat(fd)
            self.states[key] = state.on_disk(st.st_ino, st.st_ctime_ns)
        self._forget(())
        return self.states

    def _refresh_linked(self) -> None:
        """Inodes whose link count changed after they were recorded have a newer ctime."""
        if not self._dirty:
            return
        for key, state in list(self.states.items()):
            if state.ino in self._dirty and not state.is_dir and state.present:
                parts = tuple(key.split("/"))
                fd = self._dir_fd(parts[:-1], create=False)
                assert fd is not None
                st = os.stat(parts[-1], dir_fd=fd, follow_symlinks=False)
                self.states[key] = state.on_disk(st.st_ino, st.st_ctime_ns)
        self._dirty.clear()


def _remove_xattr(fd: int, attr: str) -> None:
    try:
        os.removexattr(fd, attr)
    except OSError as exc:
        if exc.errno not in (errno.ENODATA, *_XATTR_UNSUPPORTED):
            raise


def unpack_layers(
    layers: Iterable[Layer],
    root: str,
    *,
    rootless: bool = False,
    rootless_xattr: bool = False,
    warn: Warn | None = None,
    name: str = "image",
) -> Mapping[str, PathState]:
    """Apply ``layers`` in order to the existing directory ``root``; return the state record.

    Each layer is verified against its digest and diff_id while it streams; a mismatch raises
    after the partial tree was written, so callers extract into a directory they can discard.
    """
    writer = TreeWriter(root, rootless=rootless, rootless_xattr=rootless_xattr, warn=warn)
    layers = list(layers)
    try:
        # The next layers are decompressed and verified in another thread meanwhile.
        openers = [layer.open_uncompressed for layer in layers]
        with Prefetcher(openers, chunk_size=4 * CHUNK_SIZE, depth=4) as prefetch:
            for index, (layer, stream) in enumerate(zip(layers, prefetch, strict=True)):
                what = f"{name}: layer {index} ({layer.digest})"
                writer.apply_members(iter_verified(cast(IO[bytes], stream), what=what), what=what)
        return writer.finish()
    finally:
        writer.close()
