"""OCI image-layout directories: verified reads, atomic writes, garbage collection."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import tempfile
import weakref
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import IO, TYPE_CHECKING, Final, Self, cast

from . import mediatypes as mt
from ._fs import (
    RangeVerifier,
    check_blob_bytes,
    fsync_directory,
    fsync_file,
    open_beneath,
    write_blob,
    write_file_atomic,
)
from .blobs import read_blob
from .digest import ALGORITHMS, Digest
from .errors import ArchiveError, InvalidDigest, NotFound, SizeMismatch
from .image import Artifact, Image, ImageIndex, resolve_document, resolve_image, select_from_index
from .sink import CommitOnExit
from .spec import (
    MAX_MANIFEST_BYTES,
    REF_NAME,
    Descriptor,
    Index,
    encode_json,
    parse_manifest_or_index,
)
from .streams import FileRange, VerifyingReader, write_all

if TYPE_CHECKING:
    from .blobs import BlobSource
    from .spec import Platform

__all__ = [
    "OCI_LAYOUT_FILE",
    "LayoutReader",
    "LayoutWriter",
    "OciLayout",
    "collect_garbage",
    "document_from_layout",
    "image_from_layout",
    "layout_index_json",
]

#: The content of the ``oci-layout`` marker file.
OCI_LAYOUT_FILE: Final = b'{"imageLayoutVersion":"1.0.0"}'

_NOFOLLOW_FILE: Final = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def image_from_layout(
    source: BlobSource,
    index_json: bytes,
    *,
    ref: str = "",
    platform: Platform | None = None,
    strict_platform: bool = False,
) -> Image:
    """The image an OCI layout's ``index.json`` names by ``ref`` (or its only one).

    ``strict_platform`` refuses a single image of another platform than ``platform``.
    """
    what = source.name
    index = Index.parse(index_json, media_type=mt.OCI_INDEX, what=f"{what}: index.json")
    chosen = select_from_index(index, what=what, ref=ref, platform=platform, top_level=True)

    def fetch(descriptor: Descriptor) -> bytes:
        return read_blob(source, descriptor, limit=MAX_MANIFEST_BYTES)

    return resolve_image(
        fetch(chosen),
        fetch=fetch,
        source=source,
        what=what,
        platform=platform,
        media_type=chosen.media_type,
        strict_platform=strict_platform,
    )


def document_from_layout(
    source: BlobSource, index_json: bytes, *, ref: str = ""
) -> Image | ImageIndex | Artifact:
    """What an OCI layout's ``index.json`` names by ``ref`` (or its only entry), indexes whole.

    Unlike :func:`image_from_layout`, an entry naming an index gives the index, every child
    read (verified), so it can be copied with all its platforms.
    """
    what = source.name
    index = Index.parse(index_json, media_type=mt.OCI_INDEX, what=f"{what}: index.json")
    chosen = select_from_index(index, what=what, ref=ref, top_level=True)

    def fetch(descriptor: Descriptor) -> bytes:
        return read_blob(source, descriptor, limit=MAX_MANIFEST_BYTES)

    return resolve_document(
        fetch(chosen), fetch=fetch, source=source, what=what, media_type=chosen.media_type
    )


def layout_index_json(manifests: list[Descriptor]) -> bytes:
    """The ``index.json`` of a layout holding ``manifests``."""
    return encode_json(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_INDEX,
            "manifests": [d.to_json() for d in manifests],
        }
    )


def _check_oci_layout(raw: bytes, what: str) -> None:
    try:
        version = json.loads(raw).get("imageLayoutVersion")
    except (ValueError, AttributeError):
        raise ArchiveError(f"{what}: oci-layout is not valid JSON") from None
    if not isinstance(version, str) or not version.startswith("1."):
        raise ArchiveError(f"{what}: unsupported imageLayoutVersion {version!r}")


def _read_small(dirfd: int, name: str, what: str, limit: int) -> bytes:
    try:
        fd = os.open(name, _NOFOLLOW_FILE, dir_fd=dirfd)
    except FileNotFoundError:
        raise NotFound(f"{what}: {name} is missing (not an OCI layout?)") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ArchiveError(f"{what}: {name} is a symlink; refused") from None
        raise ArchiveError(f"{what}: cannot read {name}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ArchiveError(f"{what}: {name} is not a regular file")
        if st.st_size > limit:
            raise ArchiveError(f"{what}: {name} is larger than {limit} bytes")
        return os.pread(fd, limit + 1, 0)
    finally:
        os.close(fd)


def _open_blob_fd(dirfd: int, digest: Digest, what: str) -> int:
    """Open ``blobs/<alg>/<hex>`` under ``dirfd`` without following any symlink."""
    try:
        fd = open_beneath(dirfd, ("blobs", digest.algorithm, digest.hex), flags=_NOFOLLOW_FILE)
    except FileNotFoundError:
        raise NotFound(f"{what}: blob {digest} is missing") from None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise ArchiveError(
                f"{what}: blob {digest} is reached through a symlink; refused"
            ) from None
        raise ArchiveError(f"{what}: cannot open blob {digest}: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ArchiveError(f"{what}: blob {digest} is not a regular file; refused")
    return fd


class LayoutReader:
    """What OCI layouts and ociarchives share: a name, an open handle, ``index.json``, images.

    Subclasses open their handle, register it with :meth:`_hold` and provide
    :meth:`index_json` and the blob methods of :class:`~ociforge.blobs.BlobSource`.
    """

    def __init__(self, path: str, name: str) -> None:
        self.path = path
        self._name = name
        self._closer: weakref.finalize[[int], LayoutReader] | None = None

    def _hold(self, fd: int) -> None:
        """Close ``fd`` with :meth:`close`, or when this object is collected."""
        self._closer = weakref.finalize(self, os.close, fd)

    @property
    def name(self) -> str:
        return self._name

    def close(self) -> None:
        """Release the file or directory handle."""
        if self._closer is not None:
            self._closer()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def index_json(self) -> bytes:
        """The exact bytes of ``index.json``."""
        raise NotImplementedError

    def open_blob(self, descriptor: Descriptor) -> IO[bytes]:
        """A reader of the blob, verified against ``descriptor`` as it is read."""
        raise NotImplementedError

    def blob_range(self, descriptor: Descriptor) -> AbstractContextManager[FileRange | None]:
        """The blob as a byte range of an open file, while the context lasts."""
        raise NotImplementedError

    def index(self) -> Index:
        """``index.json`` parsed."""
        return Index.parse(
            self.index_json(), media_type=mt.OCI_INDEX, what=f"{self._name}: index.json"
        )

    def image(
        self, ref: str = "", *, platform: Platform | None = None, strict_platform: bool = False
    ) -> Image:
        """The image named ``ref`` in ``index.json`` (or the only one)."""
        return image_from_layout(
            self, self.index_json(), ref=ref, platform=platform, strict_platform=strict_platform
        )

    def document(self, ref: str = "") -> Image | ImageIndex | Artifact:
        """What ``ref`` in ``index.json`` names (or its only entry): an image or a whole index."""
        return document_from_layout(self, self.index_json(), ref=ref)


class OciLayout(LayoutReader):
    """A read-only OCI layout directory; blobs are verified as they are read."""

    def __init__(self, path: str, *, name: str = "") -> None:
        super().__init__(path, name or f"oci:{path}")
        try:
            self._dirfd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise NotFound(f"{self._name}: no such directory") from None
        except NotADirectoryError:
            raise ArchiveError(f"{self._name}: not a directory") from None
        self._hold(self._dirfd)
        _check_oci_layout(_read_small(self._dirfd, "oci-layout", self._name, 4096), self._name)

    def index_json(self) -> bytes:
        """The exact bytes of ``index.json``."""
        return _read_small(self._dirfd, "index.json", self._name, MAX_MANIFEST_BYTES)

    def _open(self, descriptor: Descriptor) -> tuple[int, int]:
        fd = _open_blob_fd(self._dirfd, descriptor.digest, self._name)
        size = os.fstat(fd).st_size
        if size != descriptor.size:
            os.close(fd)
            raise SizeMismatch(
                f"{self._name}: blob {descriptor.digest} is {size} bytes but its descriptor"
                f" says {descriptor.size}"
            )
        return fd, size

    def open_blob(self, descriptor: Descriptor) -> IO[bytes]:
        fd, size = self._open(descriptor)
        raw = os.fdopen(fd, "rb", buffering=0)
        return cast(
            IO[bytes],
            VerifyingReader(
                raw,
                digest=descriptor.digest,
                size=size,
                what=f"{self._name}: blob {descriptor.digest}",
            ),
        )

    @contextlib.contextmanager
    def blob_range(self, descriptor: Descriptor) -> Iterator[FileRange | None]:
        fd, size = self._open(descriptor)
        try:
            yield FileRange(fd, 0, size)
        finally:
            os.close(fd)

    def has_blob(self, digest: Digest) -> bool:
        """True if ``blobs/<alg>/<hex>`` exists as a regular file."""
        try:
            os.close(_open_blob_fd(self._dirfd, digest, self._name))
        except NotFound:
            return False
        return True


class LayoutWriter(CommitOnExit):
    """Write images into an OCI layout directory; nothing is visible before :meth:`commit`.

    A new directory is built beside its destination and renamed into place. An existing
    layout gains blobs as temporary files that are verified, fsynced and renamed only at
    commit, then a new ``index.json``; entries with the same ref name are replaced, as skopeo
    does. :meth:`abort` removes what was added. ``verify=False`` skips re-hashing blobs the
    kernel copies from a file source (sizes are still checked; streamed blobs are always
    verified).
    """

    def __init__(self, path: str, *, name: str = "", verify: bool = True) -> None:
        self.path = os.path.abspath(path)
        self._name = name or f"oci:{path}"
        self._staged: dict[Digest, str] = {}
        self._syncer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ociforge-fsync")
        self._syncs: list[Future[None]] = []
        self._verifier = RangeVerifier() if verify else None
        self._manifests: list[Descriptor] = []
        self._existing: list[Descriptor] = []
        self._staging: str | None = None
        if os.path.lexists(self.path):
            if not os.path.isdir(self.path):
                raise ArchiveError(f"{self._name}: exists and is not a directory")
            entries = os.listdir(self.path)
            if "oci-layout" in entries:
                reader = OciLayout(self.path, name=self._name)
                try:
                    if "index.json" in entries:
                        self._existing = list(reader.index().manifests)
                finally:
                    reader.close()
            elif entries:
                raise ArchiveError(f"{self._name}: directory is not empty and not an OCI layout")
            self._root = self.path
        else:
            parent = os.path.dirname(self.path)
            if not os.path.isdir(parent):
                raise NotFound(f"{self._name}: parent directory {parent} does not exist")
            self._staging = tempfile.mkdtemp(
                prefix=f".{os.path.basename(self.path)}.", suffix=".tmp", dir=parent
            )
            os.chmod(self._staging, 0o755)
            self._root = self._staging
        self._done = False

    @property
    def name(self) -> str:
        return self._name

    def _blob_path(self, digest: Digest) -> str:
        return os.path.join(self._root, "blobs", digest.algorithm, digest.hex)

    def has_blob(self, digest: Digest) -> bool:
        if digest in self._staged:
            return True
        path = self._blob_path(digest)
        return os.path.isfile(path) and not os.path.islink(path)

    def _blob_dir(self, digest: Digest) -> str:
        directory = os.path.join(self._root, "blobs", digest.algorithm)
        for step in (os.path.join(self._root, "blobs"), directory):
            if os.path.islink(step):
                raise ArchiveError(f"{self._name}: {step} is a symlink; refused")
        os.makedirs(directory, mode=0o755, exist_ok=True)
        return directory

    @contextlib.contextmanager
    def _new_blob(self, digest: Digest) -> Iterator[int]:
        """A temporary file for ``digest``; it is renamed into place at commit."""
        directory = self._blob_dir(digest)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
        try:
            yield fd
            os.fchmod(fd, 0o644)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        os.close(fd)
        self._staged[digest] = tmp
        # Flush it while the next blob is copied, so commit does not wait for every write.
        self._syncs.append(self._syncer.submit(fsync_file, tmp))

    def add_blob(self, descriptor: Descriptor, source: BlobSource) -> None:
        with self._new_blob(descriptor.digest) as fd:
            write_blob(fd, descriptor, source, verifier=self._verifier)

    def add_bytes(self, descriptor: Descriptor, data: bytes) -> None:
        """Store a small blob given in memory (checked against ``descriptor``)."""
        check_blob_bytes(descriptor, data, what=self._name)
        if self.has_blob(descriptor.digest):
            return
        with self._new_blob(descriptor.digest) as fd:
            write_all(fd, data)

    def add_manifest(
        self, descriptor: Descriptor, raw: bytes, *, ref: str = "", nested: bool = False
    ) -> None:
        self.add_bytes(descriptor, raw)
        if nested:
            return  # an index names it; index.json lists only what was asked for
        annotations = dict(descriptor.annotations)
        if ref:
            annotations[REF_NAME] = ref
        self._manifests.append(descriptor.with_annotations(annotations))

    def commit(self) -> None:
        if self._done:
            return
        try:
            if self._verifier is not None:
                self._verifier.finish()
            for sync in self._syncs:
                sync.result()
            self._syncer.shutdown()
            for digest, tmp in self._staged.items():
                os.replace(tmp, self._blob_path(digest))
        except BaseException:
            self.abort()
            raise
        merged = list(self._existing)
        for new in self._manifests:
            ref = new.ref_name
            if ref:
                merged = [d for d in merged if d.ref_name != ref]
            else:
                merged = [d for d in merged if d.ref_name or d.digest != new.digest]
            merged.append(new)
        write_file_atomic(os.path.join(self._root, "oci-layout"), OCI_LAYOUT_FILE)
        write_file_atomic(os.path.join(self._root, "index.json"), layout_index_json(merged))
        if self._staging is not None:
            try:
                os.rename(self._staging, self.path)
            except OSError as exc:
                self.abort()
                raise ArchiveError(f"{self._name}: cannot create: {exc.strerror}") from None
            fsync_directory(os.path.dirname(self.path))
        self._done = True

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        if self._verifier is not None:
            self._verifier.cancel()
        self._syncer.shutdown(wait=True, cancel_futures=True)
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            return
        for digest, tmp in self._staged.items():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            # A blob renamed into place before the failure is unreferenced; remove it too.
            final = self._blob_path(digest)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(final)


def _referenced(layout: OciLayout) -> set[Digest]:
    """Every digest reachable from ``index.json``."""
    seen: set[Digest] = set()
    todo = list(layout.index().manifests)
    while todo:
        desc = todo.pop()
        if desc.digest in seen:
            continue
        seen.add(desc.digest)
        if not mt.is_manifest(desc.media_type):
            continue
        raw = read_blob(layout, desc, limit=MAX_MANIFEST_BYTES)
        doc = parse_manifest_or_index(
            raw, media_type=desc.media_type, what=f"{layout.name}: {desc.digest}"
        )
        if isinstance(doc, Index):
            todo.extend(doc.manifests)
        else:
            todo.append(doc.config)
            todo.extend(doc.layers)
            if doc.subject is not None:
                todo.append(doc.subject)
    return seen


def collect_garbage(path: str, *, dry_run: bool = False) -> list[Digest]:
    """Remove blobs (and stale temp files) that ``index.json`` does not reach; return them.

    Every manifest and index on the way is read verified, so a corrupt layout is reported
    instead of being half-collected.
    """
    with OciLayout(path) as layout:
        keep = _referenced(layout)
    removed: list[Digest] = []
    blobs = os.path.join(path, "blobs")
    for algorithm in sorted(os.listdir(blobs)) if os.path.isdir(blobs) else []:
        directory = os.path.join(blobs, algorithm)
        if algorithm not in ALGORITHMS or os.path.islink(directory):
            continue
        for entry in sorted(os.listdir(directory)):
            full = os.path.join(directory, entry)
            if entry.startswith(".tmp-"):
                if not dry_run:
                    os.unlink(full)
                continue
            try:
                digest = Digest(algorithm, entry)
            except InvalidDigest:
                continue
            if digest not in keep:
                removed.append(digest)
                if not dry_run:
                    os.unlink(full)
    return removed
