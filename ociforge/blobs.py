"""Where blob bytes come from: the source protocol, memory and file sources, fast copies."""

from __future__ import annotations

import errno
import hashlib
import io
import mmap
import os
from collections import deque
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Final, Protocol, cast, runtime_checkable

from .compression import default_threads
from .digest import Digest
from .errors import DigestMismatch, ManifestError, NotFound, SizeMismatch
from .streams import CHUNK_SIZE, RangeReader, VerifyingReader, copy_stream, write_all

if TYPE_CHECKING:
    from .spec import Descriptor

__all__ = [
    "BlobSource",
    "check_blob_bytes",
    "write_blob",
    "BytesSource",
    "FileBlobSource",
    "FileRange",
    "RangeVerifier",
    "copy_range",
    "read_blob",
]

#: Copies below this size go through user space; the kernel path only pays off for big blobs.
_KERNEL_COPY_MIN: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class FileRange:
    """A blob's bytes as a byte range of an open file (an archive member, a layout file)."""

    fd: int
    offset: int
    size: int


@runtime_checkable
class BlobSource(Protocol):
    """Something that serves blobs by descriptor, each read verified for size and digest."""

    @property
    def name(self) -> str:
        """What to call this source in messages (``oci-archive:x.ociarchive`` …)."""
        ...

    def open_blob(self, descriptor: Descriptor) -> IO[bytes]:
        """A reader of the blob that fails if its bytes do not match ``descriptor``."""
        ...

    def blob_range(self, descriptor: Descriptor) -> AbstractContextManager[FileRange | None]:
        """The blob as a file byte range while the context lasts, when it is one.

        Sinks use it for kernel-side copies; ``None`` means "read it with open_blob".
        """
        ...


def _verified(reader: io.RawIOBase | IO[bytes], descriptor: Descriptor, what: str) -> IO[bytes]:
    return cast(
        IO[bytes],
        VerifyingReader(reader, digest=descriptor.digest, size=descriptor.size, what=what),
    )


class BytesSource:
    """Blobs held in memory (configs and manifests ociforge creates)."""

    def __init__(self, blobs: Mapping[Digest, bytes], *, name: str = "memory") -> None:
        self._blobs = dict(blobs)
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def open_blob(self, descriptor: Descriptor) -> IO[bytes]:
        try:
            data = self._blobs[descriptor.digest]
        except KeyError:
            raise NotFound(f"{self._name}: blob {descriptor.digest} not found") from None
        return _verified(io.BytesIO(data), descriptor, f"{self._name}: blob {descriptor.digest}")

    def blob_range(self, descriptor: Descriptor) -> AbstractContextManager[FileRange | None]:
        return nullcontext(None)


class FileBlobSource:
    """One blob kept in an open (often anonymous temporary) file, e.g. a freshly built layer.

    The file stays open as long as this object lives, so the blob needs no path and no cleanup.
    """

    def __init__(self, file: IO[bytes], digest: Digest, size: int, *, name: str = "") -> None:
        self._file = file
        self._digest = digest
        self._size = size
        self._name = name or f"blob {digest}"

    @property
    def name(self) -> str:
        return self._name

    def _check(self, descriptor: Descriptor) -> None:
        if descriptor.digest != self._digest:
            raise NotFound(f"{self._name}: holds {self._digest}, not {descriptor.digest}")

    def open_blob(self, descriptor: Descriptor) -> IO[bytes]:
        self._check(descriptor)
        reader = RangeReader(self._file.fileno(), 0, self._size)
        return _verified(reader, descriptor, f"{self._name}")

    def blob_range(self, descriptor: Descriptor) -> AbstractContextManager[FileRange | None]:
        self._check(descriptor)
        return nullcontext(FileRange(self._file.fileno(), 0, self._size))


def read_blob(source: BlobSource, descriptor: Descriptor, *, limit: int) -> bytes:
    """Read a small blob (config, manifest) whole, refusing descriptors larger than ``limit``."""
    if descriptor.size > limit:
        raise SizeMismatch(
            f"{source.name}: blob {descriptor.digest} declares {descriptor.size} bytes,"
            f" more than the {limit} allowed"
        )
    with source.open_blob(descriptor) as reader:
        return reader.read()


#: Bytes of a blob mapped at once while hashing it; mapped pages count towards RSS.
_HASH_WINDOW: Final = 16 * CHUNK_SIZE


def _hash_range(fd: int, offset: int, size: int, algorithm: str) -> str:
    """Hash a file range through bounded mmap windows (no copy into Python, flat RSS)."""
    hasher = hashlib.new(algorithm)
    granularity = mmap.ALLOCATIONGRANULARITY
    position, end = offset, offset + size
    while position < end:
        start = position - position % granularity
        length = min(end, start + _HASH_WINDOW) - start
        with (
            mmap.mmap(fd, length, access=mmap.ACCESS_READ, offset=start) as view,
            memoryview(view) as mv,
        ):
            hasher.update(mv[position - start : length])
        position = start + length
    return hasher.hexdigest()


def _hash_owned_range(fd: int, offset: int, size: int, algorithm: str) -> str:
    try:
        return _hash_range(fd, offset, size, algorithm)
    finally:
        os.close(fd)


class RangeVerifier:
    """Hash copied file ranges on worker threads while the caller goes on copying.

    Verification of a blob copied by the kernel needs a second read of its bytes; doing those
    reads on other cores, overlapped with the next copies, keeps the wall time close to the
    copy itself. Mismatches surface in :meth:`finish`, which a sink calls before it makes
    anything visible.
    """

    #: Outstanding ranges before submit() waits, bounding the file descriptors held.
    MAX_PENDING: Final = 64

    def __init__(self, *, workers: int | None = None) -> None:
        self._pool = ThreadPoolExecutor(
            max_workers=workers or default_threads(), thread_name_prefix="ociforge-verify"
        )
        self._pending: deque[tuple[Future[str], Descriptor, str]] = deque()

    def submit(self, span: FileRange, descriptor: Descriptor, *, what: str) -> None:
        """Queue ``span`` for hashing against ``descriptor`` (the span may be closed after)."""
        if span.size != descriptor.size:
            raise SizeMismatch(f"{what}: is {span.size} bytes, descriptor says {descriptor.size}")
        while len(self._pending) >= self.MAX_PENDING:
            self._check(*self._pending.popleft())
        fd = os.dup(span.fd)  # the worker owns this one; the caller may close its own
        future = self._pool.submit(
            _hash_owned_range, fd, span.offset, span.size, descriptor.digest.algorithm
        )
        self._pending.append((future, descriptor, what))

    @staticmethod
    def _check(future: Future[str], descriptor: Descriptor, what: str) -> None:
        actual = Digest(descriptor.digest.algorithm, future.result())
        if actual != descriptor.digest:
            raise DigestMismatch(
                f"{what}: content has digest {actual}, expected {descriptor.digest}"
            )

    def finish(self) -> None:
        """Wait for every queued range; raise the first mismatch."""
        try:
            while self._pending:
                self._check(*self._pending.popleft())
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def cancel(self) -> None:
        """Drop queued work (after a failure elsewhere)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        for future, _, _ in self._pending:
            if future.done() and not future.cancelled():
                future.exception()  # retrieved, so it is not reported as unhandled
        self._pending.clear()


def copy_range(source: FileRange, dest_fd: int) -> None:
    """Append ``source`` to ``dest_fd`` at its current offset, in the kernel where possible.

    ``copy_file_range`` moves the bytes without a user-space buffer (a reflink where the
    filesystem can); other cases fall back to ``pread``/``write``.
    """
    _kernel_copy(source, dest_fd)


def _kernel_copy(source: FileRange, dest_fd: int) -> None:
    offset, left = source.offset, source.size
    if left >= _KERNEL_COPY_MIN and hasattr(os, "copy_file_range"):
        try:
            while left:
                n = os.copy_file_range(source.fd, dest_fd, left, offset)
                if n == 0:
                    raise SizeMismatch("blob file ended early during copy (truncated?)")
                offset += n
                left -= n
            return
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
                raise
    while left:
        chunk = os.pread(source.fd, min(left, CHUNK_SIZE), offset)
        if not chunk:
            raise SizeMismatch("blob file ended early during copy (truncated?)")
        write_all(dest_fd, chunk)
        offset += len(chunk)
        left -= len(chunk)


class _FdWriter:
    """``write()`` onto a file descriptor, for :func:`copy_stream`."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def write(self, data: bytes) -> int:
        write_all(self._fd, data)
        return len(data)


def write_blob(
    fd: int, descriptor: Descriptor, source: BlobSource, *, verifier: RangeVerifier | None
) -> None:
    """Write one blob at ``fd``'s offset: a kernel copy (hashed by ``verifier``) or a stream.

    A file-backed source is copied with ``copy_file_range`` and queued on ``verifier`` (none:
    only sizes are checked); any other source streams through a verifying reader.
    """
    what = f"{source.name}: blob {descriptor.digest}"
    with source.blob_range(descriptor) as span:
        if span is not None:
            copy_range(span, fd)
            if verifier is not None:
                verifier.submit(span, descriptor, what=what)
            return
    with source.open_blob(descriptor) as reader:
        copy_stream(reader, _FdWriter(fd))


def check_blob_bytes(descriptor: Descriptor, data: bytes, *, what: str) -> None:
    """Refuse in-memory bytes that do not match their descriptor."""
    if len(data) != descriptor.size or (
        Digest.of_bytes(data, descriptor.digest.algorithm) != descriptor.digest
    ):
        raise ManifestError(f"{what}: bytes do not match descriptor {descriptor.digest}")
