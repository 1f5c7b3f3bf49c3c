"""LayerBuilder: local files, trees and explicit entries in, one deterministic layer out.

Entries are kept as metadata plus a way to read their data later, so file contents stream
from disk (or a spool file) straight into the one-pass compress-and-hash writer when the layer
is built. The output depends only on what was added: entries sorted by path, parents emitted
as needed, numeric ids with empty user and group names, mtimes clamped to
``SOURCE_DATE_EPOCH`` when it is set, and a compressor whose bytes do not vary with threads.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import EllipsisType
from typing import IO, Final

from .. import mediatypes as mt
from .._env import source_date_epoch as _environment_epoch
from ..blobs import FileBlobSource
from ..compression import LayerDigests, LayerWriter
from ..errors import PathConflict, TarError, UnsafePath
from ..layer import Layer
from ..spec import Descriptor
from ..streams import CHUNK_SIZE, Opener, Readable, Writable
from .header import BLK, CHR, DIR, FIFO, LNK, REG, SYM, TarHeader, encode_header, end_of_archive
from .header import padding as _padding
from .local import local_file, local_tree
from .names import Parts, entry_name, join, sort_key, split_image_path, split_member_name
from .tree import HEAD_BYTES
from .whiteout import classify, opaque_parts, whiteout_parts

__all__ = ["BuiltEntry", "EntryData", "LayerBuilder", "SpooledLayerWriter"]

#: What :meth:`LayerBuilder.add_entry` accepts as a member's data: bytes, a reader (spooled at
#: once) or an opener (called when the layer is built).
EntryData = bytes | IO[bytes] | Readable | Opener | None

_DIR_MODE: Final = 0o755
_FLUSH_AT: Final = CHUNK_SIZE


@dataclass(frozen=True, slots=True)
class BuiltEntry:
    """One member as :meth:`LayerBuilder.build` wrote it, and the first bytes of its data.

    The builder keeps these so a recipe can lint the new layer without decompressing it.
    """

    header: TarHeader
    head: bytes = b""


@dataclass(frozen=True, slots=True)
class _Spooled:
    offset: int


@dataclass(frozen=True, slots=True)
class _Deferred:
    opener: Opener


_Data = bytes | _Spooled | _Deferred | None


@dataclass(slots=True)
class _Item:
    header: TarHeader
    data: _Data = None
    implicit: bool = False
    link: Parts | None = None  # hard link target, as parts
    sources: list[str] = field(default_factory=list)


class LayerBuilder:
    """Collect entries, then :meth:`build` one layer (or :meth:`write_tar` the plain tar).

    Image paths given to the ``add_*`` methods are paths in the image: ``/usr/bin/x`` and
    ``usr/bin/x`` are the same; ``..`` is refused. :meth:`add_entry` takes a raw tar header
    whose name must be relative. Adding a directory twice merges (the later metadata wins);
    adding anything else at a path that is already taken raises
    :class:`~ociforge.errors.PathConflict` unless ``replace=True``.

    ``source_date_epoch`` clamps every mtime to at most that value; by default it is read
    from the ``SOURCE_DATE_EPOCH`` environment variable, ``None`` disables clamping.
    ``parents=False`` leaves out the entries of parent directories nobody added, for layers
    that must not change the metadata of directories the layers below already have.
    """

    def __init__(
        self,
        *,
        compression: mt.Compression = "gzip",
        level: int | None = None,
        threads: int | None = None,
        docker: bool = False,
        annotations: Mapping[str, str] | None = None,
        source_date_epoch: int | EllipsisType | None = ...,
        spool_directory: str | None = None,
        parents: bool = True,
    ) -> None:
        self.compression: mt.Compression = compression
        self._level = level
        self._threads = threads
        self._docker = docker
        self._annotations = dict(annotations or {})
        self.source_date_epoch: int | None = (
            _environment_epoch()
            if isinstance(source_date_epoch, EllipsisType)
            else source_date_epoch
        )
        self._spool_directory = spool_directory
        self._spool: IO[bytes] | None = None
        self._spool_size = 0
        self._items: dict[Parts, _Item] = {}
        self._parents = parents
        self._built = False
        self._written: list[BuiltEntry] = []

    # -- adding ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, image_path: object) -> bool:
        if not isinstance(image_path, str):
            return False
        return split_image_path(image_path) in self._items

    def _clamp(self, mtime: int) -> int:
        epoch = self.source_date_epoch
        return mtime if epoch is None or mtime <= epoch else epoch

    def _header(
        self,
        parts: Parts,
        kind: str,
        mode: int,
        uid: int,
        gid: int,
        mtime: int,
        xattrs: Mapping[str, bytes] | None,
        *,
        size: int = 0,
        linkname: str = "",
    ) -> TarHeader:
        return TarHeader(
            join(parts),
            type=kind,
            mode=mode,
            uid=uid,
            gid=gid,
            size=size,
            mtime=self._clamp(mtime),
            linkname=linkname,
            xattrs=dict(xattrs or {}),
        )

    def _ensure_parents(self, parts: Parts, origin: str) -> None:
        for depth in range(1, len(parts)):
            parent = parts[:depth]
            existing = self._items.get(parent)
            if existing is None and not self._parents:
                continue
            if existing is None:
                header = TarHeader(join(parent), type=DIR, mode=_DIR_MODE, mtime=self._clamp(0))
                self._items[parent] = _Item(header, implicit=True)
            elif not existing.header.is_dir:
                raise PathConflict(
                    f"{origin}: needs /{join(parent)} to be a directory, but"
                    f" {_describe(existing)} put a {_kind(existing.header)} there"
                )

    def _put(self, parts: Parts, item: _Item, origin: str, *, replace: bool) -> None:
        if not parts:
            return  # the root's own metadata is not part of a layer
        if self._built:
            raise TarError("LayerBuilder: the layer was already built")
        item.sources.append(origin)
        self._ensure_parents(parts, origin)
        existing = self._items.get(parts)
        if existing is not None:
            both_dirs = existing.header.is_dir and item.header.is_dir
            if not (replace or both_dirs or existing.implicit):
                raise PathConflict(
                    f"{origin}: /{join(parts)} was already added by {_describe(existing)}"
                )
            if existing.header.is_dir and not item.header.is_dir and self._has_children(parts):
                raise PathConflict(f"{origin}: /{join(parts)} is a directory with entries below it")
        self._items[parts] = item

    def _has_children(self, parts: Parts) -> bool:
        depth = len(parts)
        return any(len(p) > depth and p[:depth] == parts for p in self._items)

    def add_entry(
        self,
        header: TarHeader,
        data: EntryData = None,
        *,
        replace: bool = False,
        clamp_mtime: bool = True,
    ) -> None:
        """Add one member from a tar header and its data.

        ``header.name`` must be relative (``..`` and absolute names raise
        :class:`~ociforge.errors.UnsafePath`); a hard link's ``linkname`` names another path of
        the image. Ownership is kept as numbers (user and group names are dropped) and the
        mtime is clamped (unless ``clamp_mtime`` is false: package files keep the mtimes their
        package records, so ``rpm -V`` agrees). Data for a regular file may be ``bytes``, an
        opener (called during :meth:`build`), or a reader, which is copied to a spool file at
        once so the caller may reuse its stream; it must supply exactly ``header.size`` bytes.
        """
        parts = split_member_name(header.name)
        origin = f"entry {header.name!r}"
        classify(parts, what="tar entry")
        link: Parts | None = None
        if header.is_hardlink:
            link = split_member_name(header.linkname, what=f"hard link {header.name!r} target")
            if not link:
                raise UnsafePath(f"hard link {header.name!r}: target is the root directory")
        clean = header.evolve(
            name=join(parts),
            uname="",
            gname="",
            mtime=self._clamp(header.mtime) if clamp_mtime else header.mtime,
            size=header.size if header.is_file else 0,
            linkname=join(link) if link is not None else header.linkname,
        )
        stored: _Data = None
        if header.is_file:
            stored = self._take_data(clean, data)
        elif data not in (None, b""):
            raise TarError(f"{origin}: only regular files carry data")
        self._put(parts, _Item(clean, stored, link=link), origin, replace=replace)

    def _take_data(self, header: TarHeader, data: EntryData) -> _Data:
        if data is None:
            data = b""
        if isinstance(data, bytes | bytearray | memoryview):
            if len(data) != header.size:
                raise TarError(
                    f"entry {header.name!r}: {len(data)} bytes of data for a size of {header.size}"
                )
            return bytes(data) if header.size else None
        if callable(data):
            return _Deferred(data)
        return self._spool_reader(header, data)

    def _spool_reader(self, header: TarHeader, reader: Readable) -> _Spooled:
        if self._spool is None:
            self._spool = tempfile.TemporaryFile(dir=self._spool_directory)  # noqa: SIM115
        offset = self._spool_size
        left = header.size
        spool = self._spool
        spool.seek(offset)
        while left:
            chunk = reader.read(min(left, CHUNK_SIZE))
            if not chunk:
                raise TarError(
                    f"entry {header.name!r}: data ended {left} bytes short of its size"
                    f" {header.size}"
                )
            spool.write(chunk)
            left -= len(chunk)
        self._spool_size += header.size
        return _Spooled(offset)

    def add_bytes(
        self,
        image_path: str,
        data: bytes,
        *,
        mode: int = 0o644,
        uid: int = 0,
        gid: int = 0,
        mtime: int = 0,
        xattrs: Mapping[str, bytes] | None = None,
        replace: bool = False,
    ) -> None:
        """Add a regular file with ``data`` (meant for small generated files)."""
        parts = split_image_path(image_path)
        header = self._header(parts, REG, mode, uid, gid, mtime, xattrs, size=len(data))
        self._put(parts, _Item(header, data or None), f"bytes for {image_path}", replace=replace)

    def add_directory(
        self,
        image_path: str,
        *,
        mode: int = _DIR_MODE,
        uid: int = 0,
        gid: int = 0,
        mtime: int = 0,
        xattrs: Mapping[str, bytes] | None = None,
    ) -> None:
        """Add a directory (its parents are added as needed)."""
        parts = split_image_path(image_path)
        header = self._header(parts, DIR, mode, uid, gid, mtime, xattrs)
        self._put(parts, _Item(header), f"directory {image_path}", replace=False)

    def add_symlink(
        self,
        image_path: str,
        target: str,
        *,
        uid: int = 0,
        gid: int = 0,
        mtime: int = 0,
        replace: bool = False,
    ) -> None:
        """Add a symbolic link; ``target`` is stored as given (it is never followed)."""
        parts = split_image_path(image_path)
        header = self._header(parts, SYM, 0o777, uid, gid, mtime, None, linkname=target)
        self._put(parts, _Item(header), f"symlink {image_path}", replace=replace)

    def add_hardlink(self, image_path: str, target: str, *, replace: bool = False) -> None:
        """Add a hard link to ``target``, another path of the image.

        When the target is part of this layer, whichever of the linked paths sorts first
        carries the data and the others link to it, so every link follows its target in the
        tar, as ostree requires.
        """
        parts = split_image_path(image_path)
        link = split_image_path(target, what=f"hard link {image_path} target")
        if not link:
            raise UnsafePath(f"hard link {image_path}: target is the root directory")
        header = TarHeader(join(parts), type=LNK, mode=0o644, linkname=join(link))
        self._put(parts, _Item(header, link=link), f"hard link {image_path}", replace=replace)

    def add_whiteout(self, image_path: str) -> None:
        """Delete ``image_path`` from the layers below (``.wh.NAME``)."""
        parts = whiteout_parts(split_image_path(image_path))
        header = TarHeader(join(parts), type=REG, mode=0o644)
        self._put(parts, _Item(header), f"whiteout of {image_path}", replace=True)

    def add_opaque(self, image_path: str) -> None:
        """Hide everything below directory ``image_path`` in lower layers (``.wh..wh..opq``)."""
        directory = split_image_path(image_path)
        if directory not in self._items:
            self._ensure_parents((*directory, "x"), f"opaque directory {image_path}")
        header = TarHeader(join(opaque_parts(directory)), type=REG, mode=0o644)
        self._put(opaque_parts(directory), _Item(header), f"opaque {image_path}", replace=True)

    def add_file(
        self,
        local: str | os.PathLike[str],
        image_path: str,
        *,
        mode: int | None = None,
        uid: int = 0,
        gid: int = 0,
        mtime: int | None = None,
        xattrs: Mapping[str, bytes] | None = None,
        replace: bool = False,
    ) -> None:
        """Add the local file ``local`` (symlinks followed) at ``image_path``.

        Mode and mtime default to the local file's; the owner defaults to root, because the
        local owner means nothing inside the image. The data is read only by :meth:`build`.
        """
        parts = split_image_path(image_path)
        header, data = local_file(
            os.fspath(local), parts, mode=mode, uid=uid, gid=gid, mtime=mtime, xattrs=xattrs
        )
        self._add_local(header, data, os.fspath(local), replace=replace)

    def add_tree(
        self,
        local: str | os.PathLike[str],
        image_path: str,
        *,
        uid: int = 0,
        gid: int = 0,
        file_mode: int | None = None,
        dir_mode: int | None = None,
        replace: bool = False,
    ) -> None:
        """Add local directory ``local`` and everything below it at ``image_path``.

        Symlinks are stored as symlinks, local hard links as hard links, FIFOs and devices as
        such; sockets are refused. Only metadata is read now (the walk is held in memory),
        file contents are streamed by :meth:`build`.
        """
        root = os.fspath(local)
        entries = local_tree(
            root,
            split_image_path(image_path),
            uid=uid,
            gid=gid,
            file_mode=file_mode,
            dir_mode=dir_mode,
        )
        for header, data in entries:
            self._add_local(header, data, root, replace=replace and not header.is_dir)

    def _add_local(
        self, header: TarHeader, data: Opener | None, origin: str, *, replace: bool
    ) -> None:
        parts = split_member_name(header.name) if header.name else ()
        link = split_member_name(header.linkname) if header.is_hardlink else None
        clean = header.evolve(mtime=self._clamp(header.mtime))
        stored: _Data = _Deferred(data) if data is not None else None
        self._put(parts, _Item(clean, stored, link=link), origin, replace=replace)

    # -- building ----------------------------------------------------------------------------

    def build(self) -> Layer:
        """Write the layer (compressed, both digests and the size from one pass) and return it."""
        writer = SpooledLayerWriter(
            self.compression,
            level=self._level,
            threads=self._threads,
            docker=self._docker,
            annotations=self._annotations,
            directory=self._spool_directory,
        )
        try:
            self.write_tar(writer)
        except BaseException:
            writer.abort()
            raise
        return writer.finish()

    def write_tar(self, sink: Writable) -> int:
        """Write the uncompressed tar to ``sink``; return its size. The builder is then spent."""
        if self._built:
            raise TarError("LayerBuilder: the layer was already built")
        self._built = True
        try:
            return self._write(sink)
        finally:
            self.close()

    def built_entries(self) -> tuple[BuiltEntry, ...]:
        """Every member of the built layer in tar order (hard links resolved), with heads."""
        if not self._built:
            raise TarError("LayerBuilder: the layer is not built yet")
        return tuple(self._written)

    def close(self) -> None:
        """Drop the spool file (also done by :meth:`build`)."""
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    def _write(self, sink: Writable) -> int:
        headers, primaries = self._resolve_links()
        buffer = bytearray()
        total = 0
        for parts in sorted(self._items, key=sort_key):
            header = headers[parts]
            item = primaries.get(parts, self._items[parts])
            buffer += encode_header(header.evolve(name=entry_name(parts, directory=header.is_dir)))
            head = b""
            if header.is_file and header.size:
                for chunk in self._chunks(item, header):
                    if len(head) < HEAD_BYTES:
                        head += chunk[: HEAD_BYTES - len(head)]
                    if len(chunk) >= _FLUSH_AT:
                        total += _flush(sink, buffer)
                        sink.write(chunk)
                        total += len(chunk)
                    else:
                        buffer += chunk
                buffer += b"\0" * _padding(header.size)
            self._written.append(BuiltEntry(header, head))
            if len(buffer) >= _FLUSH_AT:
                total += _flush(sink, buffer)
        buffer += end_of_archive()
        return total + _flush(sink, buffer)

    def _resolve_links(self) -> tuple[dict[Parts, TarHeader], dict[Parts, _Item]]:
        """Final headers, and for each path that now carries a link group's data, its source."""
        headers = {parts: item.header for parts, item in self._items.items()}
        primaries: dict[Parts, _Item] = {}
        groups: dict[Parts, list[Parts]] = {}
        for parts, item in self._items.items():
            if item.link is None:
                continue
            root = self._link_root(parts)
            if root is not None:
                groups.setdefault(root, []).append(parts)
        for root, links in groups.items():
            source = self._items[root]
            first = min([root, *links], key=sort_key)
            if first != root:
                headers[first] = source.header.evolve(name=join(first))
                primaries[first] = source
            for member in (root, *links):
                if member != first:
                    headers[member] = source.header.evolve(
                        name=join(member),
                        type=LNK,
                        linkname=entry_name(first, directory=False),
                        size=0,
                    )
        return headers, primaries

    def _link_root(self, parts: Parts) -> Parts | None:
        """The non-link path a hard link ends at inside this layer, or None if it is below."""
        seen = {parts}
        current = self._items[parts]
        while current.link is not None:
            target = current.link
            if target in seen:
                raise UnsafePath(f"hard link /{join(parts)}: links form a cycle")
            seen.add(target)
            found = self._items.get(target)
            if found is None:
                return None
            if found.header.is_dir:
                raise UnsafePath(f"hard link /{join(parts)}: target /{join(target)} is a directory")
            current = found
            parts = target
        return parts

    def _chunks(self, item: _Item, header: TarHeader) -> Iterator[bytes]:
        data = item.data
        size = header.size
        what = f"entry {header.name!r}"
        if isinstance(data, bytes):
            yield data
            return
        if isinstance(data, _Spooled):
            assert self._spool is not None
            fd = self._spool.fileno()
            self._spool.flush()
            offset, left = data.offset, size
            while left:
                chunk = os.pread(fd, min(left, CHUNK_SIZE), offset)
                if not chunk:
                    raise TarError(f"{what}: spool file is short")
                offset += len(chunk)
                left -= len(chunk)
                yield chunk
            return
        with self._open(data, what) as reader:
            left = size
            while left:
                chunk = reader.read(min(left, CHUNK_SIZE))
                if not chunk:
                    raise TarError(f"{what}: source ended {left} bytes early (changed while read?)")
                left -= len(chunk)
                yield chunk
            if reader.read(1):
                raise TarError(f"{what}: source is longer than {size} bytes (changed while read?)")

    @contextlib.contextmanager
    def _open(self, data: _Data, what: str) -> Iterator[Readable]:
        assert isinstance(data, _Deferred), what
        with data.opener() as reader:
            yield reader


def _flush(sink: Writable, buffer: bytearray) -> int:
    n = len(buffer)
    if n:
        sink.write(bytes(buffer))
        buffer.clear()
    return n


def _kind(header: TarHeader) -> str:
    return {
        DIR: "directory",
        SYM: "symlink",
        LNK: "hard link",
        CHR: "device",
        BLK: "device",
        FIFO: "FIFO",
    }.get(header.type, "file")


def _describe(item: _Item) -> str:
    return item.sources[0] if item.sources else "another entry"


class SpooledLayerWriter:
    """Write a tar stream in; get a :class:`~ociforge.layer.Layer` in an anonymous temp file.

    Compression, both digests and the size come from the one pass through
    :class:`~ociforge.compression.LayerWriter`; the spool file disappears with the layer.
    """

    def __init__(
        self,
        compression: mt.Compression = "gzip",
        *,
        level: int | None = None,
        threads: int | None = None,
        docker: bool = False,
        annotations: Mapping[str, str] | None = None,
        directory: str | None = None,
    ) -> None:
        self._file = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 - owned by the layer
        self._writer = LayerWriter(self._file, compression, level=level, threads=threads)
        self._media_type = mt.layer_media_type(compression, docker=docker)
        self._annotations = dict(annotations or {})
        self.digests: LayerDigests | None = None

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Add uncompressed tar bytes."""
        return self._writer.write(data)

    def finish(self) -> Layer:
        """End the stream and return the layer."""
        digests = self._writer.close()
        self._file.flush()
        self.digests = digests
        descriptor = Descriptor(
            self._media_type, digests.digest, digests.size, annotations=self._annotations
        )
        source = FileBlobSource(self._file, digests.digest, digests.size, name="new layer")
        return Layer(descriptor, digests.diff_id, source)

    def abort(self) -> None:
        """Drop the partial layer."""
        try:
            self._writer.close()
        finally:
            self._file.close()
