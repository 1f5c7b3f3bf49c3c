"""ociarchives (a tar of an OCI layout) read in place, and written streaming and atomically.

Reading indexes the tar headers once and serves each blob as a byte range of the archive file:
nothing is extracted, so a multi-gigabyte COSA archive costs a few dozen header reads to open.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import tempfile
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, cast

from ._fs import (
    EarlyWriteback,
    RangeVerifier,
    check_blob_bytes,
    current_umask,
    fsync_directory,
    write_blob,
)
from .digest import Digest
from .errors import ArchiveError, NotFound, SizeMismatch, TarError
from .layout import OCI_LAYOUT_FILE, LayoutReader, _check_oci_layout, layout_index_json
from .sink import CommitOnExit
from .spec import MAX_MANIFEST_BYTES, REF_NAME, Descriptor
from .streams import FileRange, RangeReader, VerifyingReader, write_all
from .tar.header import DIR, REG, TarHeader, encode_header, end_of_archive, padding
from .tar.reader import iter_members

if TYPE_CHECKING:
    from .blobs import BlobSource

__all__ = ["ArchiveWriter", "OciArchive"]


@dataclass(frozen=True, slots=True)
class _Member:
    offset: int
    size: int
    regular: bool


def _layout_path(name: str) -> str | None:
    """Normalise a member name to a layout-relative path; None for names outside the layout."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if name.startswith("/") or ".." in parts:
        return None
    return "/".join(parts)


class OciArchive(LayoutReader):
    """A read-only ociarchive; blobs are byte ranges of the file, verified as they are read."""

    def __init__(self, path: str, *, name: str = "") -> None:
        super().__init__(path, name or f"oci-archive:{path}")
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise NotFound(f"{self._name}: no such file") from None
        except IsADirectoryError:
            raise ArchiveError(f"{self._name}: is a directory (use oci:{path})") from None
        except OSError as exc:
            raise ArchiveError(f"{self._name}: cannot open: {exc.strerror}") from None
        self._fd = fd
        self._hold(fd)
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            self.close()
            raise ArchiveError(f"{self._name}: not a regular file")
        self._size = st.st_size
        try:
            self._members = self._index()
            _check_oci_layout(self._read_member("oci-layout", 4096), self._name)
        except BaseException:
            self.close()
            raise

    def _index(self) -> dict[str, _Member]:
        members: dict[str, _Member] = {}
        stream = io.BufferedReader(RangeReader(self._fd, 0, self._size), 64 * 1024)
        try:
            for member, _ in iter_members(
                stream, what=self._name, seekable=True, require_end=True, total_size=self._size
            ):
                path = _layout_path(member.header.name)
                if path is None or member.header.is_dir:
                    continue
                if path in members:
                    # Readers differ on which copy wins (tar -x keeps the last, others the
                    # first), so a repeated name could show two tools two layouts.
                    raise ArchiveError(
                        f"{self._name}: member {path!r} appears more than once; refused"
                    )
                members[path] = _Member(
                    member.data_offset, member.header.size, member.header.is_file
                )
        except TarError as exc:
            raise ArchiveError(str(exc)) from None
        return members

    def _member(self, path: str, what: str) -> _Member:
        member = self._members.get(path)
        if member is None:
            raise NotFound(f"{self._name}: {what} is missing")
        if not member.regular:
            raise ArchiveError(f"{self._name}: {what} is a link or special file; refused")
        return member

    def _read_member(self, path: str, limit: int) -> bytes:
        member = self._member(path, path)
        if member.size > limit:
            raise ArchiveError(f"{self._name}: {path} is larger than {limit} bytes")
        return os.pread(self._fd, member.size, member.offset)

    def index_json(self) -> bytes:
        """The exact bytes of ``index.json``."""
        return self._read_member("index.json", MAX_MANIFEST_BYTES)

    def _blob(self, descriptor: Descriptor) -> _Member:
        digest = descriptor.digest
        member = self._member(f"blobs/{digest.algorithm}/{digest.hex}", f"blob {digest}")
        if member.size != descriptor.size:
            raise SizeMismatch(
                f"{self._name}: blob {digest} is {member.size} bytes but its descriptor says"
                f" {descriptor.size}"
            )
        return member

    def has_blob(self, digest: Digest) -> bool:
        """True if the archive has a regular member for ``digest``."""
        member = self._members.get(f"blobs/{digest.algorithm}/{digest.hex}")
        return member is not None and member.regular

    def open_blob(self, descriptor: Descriptor) -> IO[bytes]:
        member = self._blob(descriptor)
        return cast(
            IO[bytes],
            VerifyingReader(
                RangeReader(self._fd, member.offset, member.size),
                digest=descriptor.digest,
                size=descriptor.size,
                what=f"{self._name}: blob {descriptor.digest}",
            ),
        )

    def blob_range(self, descriptor: Descriptor) -> AbstractContextManager[FileRange | None]:
        member = self._blob(descriptor)
        return nullcontext(FileRange(self._fd, member.offset, member.size))


class ArchiveWriter(CommitOnExit):
    """Write an ociarchive as one streaming pass into a temporary file, renamed on commit.

    Layout: ``oci-layout``, ``blobs/``, ``blobs/<alg>/``, the blobs, then ``index.json``
    (uncompressed tar, no ``./`` prefix, uid/gid 0, mtime 0: the same input gives the same
    archive bytes). The destination is replaced only by :meth:`commit`; it may be the very
    archive being read, since readers keep the old file open. Blobs copied from a file source
    are copied by the kernel and hashed on other threads; ``verify=False`` skips that re-hash
    (sizes are still checked; streamed blobs are always verified).
    """

    def __init__(self, path: str, *, name: str = "", verify: bool = True) -> None:
        self.path = os.path.abspath(path)
        self._name = name or f"oci-archive:{path}"
        self._verifier = RangeVerifier() if verify else None
        directory = os.path.dirname(self.path)
        if os.path.isdir(self.path):
            raise ArchiveError(f"{self._name}: is a directory")
        if not os.path.isdir(directory):
            raise NotFound(f"{self._name}: directory {directory} does not exist")
        self._fd, self._tmp = tempfile.mkstemp(
            prefix=f".{os.path.basename(self.path)}.", suffix=".tmp", dir=directory
        )
        self._writeback = EarlyWriteback(self._fd)
        self._blobs: set[Digest] = set()
        self._algorithms: set[str] = set()
        self._manifests: list[Descriptor] = []
        self._done = False
        try:
            self._write_member(TarHeader("oci-layout", size=len(OCI_LAYOUT_FILE)), OCI_LAYOUT_FILE)
            self._write_member(TarHeader("blobs/", type=DIR, mode=0o755), b"")
        except BaseException:
            self.abort()
            raise

    @property
    def name(self) -> str:
        return self._name

    def _write(self, data: bytes) -> None:
        write_all(self._fd, data)

    def _write_member(self, header: TarHeader, data: bytes) -> None:
        self._write(encode_header(header) + data + b"\0" * padding(len(data)))

    def _blob_header(self, digest: Digest, size: int) -> None:
        if digest.algorithm not in self._algorithms:
            self._algorithms.add(digest.algorithm)
            self._write_member(TarHeader(f"blobs/{digest.algorithm}/", type=DIR, mode=0o755), b"")
        self._write(
            encode_header(TarHeader(f"blobs/{digest.algorithm}/{digest.hex}", type=REG, size=size))
        )

    def has_blob(self, digest: Digest) -> bool:
        return digest in self._blobs

    def add_blob(self, descriptor: Descriptor, source: BlobSource) -> None:
        self._blob_header(descriptor.digest, descriptor.size)
        write_blob(self._fd, descriptor, source, verifier=self._verifier)
        self._write(b"\0" * padding(descriptor.size))
        self._writeback.wrote(descriptor.size)
        self._blobs.add(descriptor.digest)

    def add_bytes(self, descriptor: Descriptor, data: bytes) -> None:
        """Store a small blob given in memory (checked against ``descriptor``)."""
        check_blob_bytes(descriptor, data, what=self._name)
        if descriptor.digest in self._blobs:
            return
        self._blob_header(descriptor.digest, len(data))
        self._write(data + b"\0" * padding(len(data)))
        self._blobs.add(descriptor.digest)

    def add_manifest(
        self, descriptor: Descriptor, raw: bytes, *, ref: str = "", nested: bool = False
    ) -> None:
        self.add_bytes(descriptor, raw)
        if nested:
            return  # an index names it; index.json lists only what was asked for
        annotations = dict(descriptor.annotations)
        if ref:
            annotations[REF_NAME] = ref
        self._manifests = [d for d in self._manifests if not ref or d.ref_name != ref]
        self._manifests.append(descriptor.with_annotations(annotations))

    def commit(self) -> None:
        if self._done:
            return
        try:
            if self._verifier is not None:
                self._verifier.finish()
            index = layout_index_json(self._manifests)
            self._write_member(TarHeader("index.json", size=len(index)), index)
            self._write(end_of_archive())
            os.fchmod(self._fd, 0o666 & ~current_umask())
            self._writeback.wait()
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1
            os.replace(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise
        self._done = True
        fsync_directory(os.path.dirname(self.path))

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        if self._verifier is not None:
            self._verifier.cancel()
        with contextlib.suppress(OSError):
            self._writeback.wait()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._tmp)
