"""Filesystem primitives both image writers share: atomic output, safe opens, blob copies.

Atomic output writes beside the destination, fsyncs and renames, and removes everything on
failure. :func:`open_beneath` opens a path below a directory descriptor one component at a
time, never following a symlink. :func:`write_blob` puts one blob's bytes into an open file,
by a kernel copy (hashed on other cores by a :class:`RangeVerifier`) or a verified stream.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import mmap
import os
import shutil
import tempfile
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, TYPE_CHECKING, Final

from ._env import cpu_count
from .digest import Digest
from .errors import DigestMismatch, ManifestError, SizeMismatch
from .streams import CHUNK_SIZE, FileRange, copy_stream, write_all

if TYPE_CHECKING:
    from .blobs import BlobSource
    from .spec import Descriptor

__all__ = [
    "DIR_FLAGS",
    "EarlyWriteback",
    "RangeVerifier",
    "atomic_directory",
    "atomic_file",
    "check_blob_bytes",
    "copy_range",
    "current_umask",
    "fsync_directory",
    "fsync_file",
    "open_beneath",
    "write_blob",
    "write_file_atomic",
]

#: Copies below this size go through user space; the kernel path only pays off for big blobs.
_KERNEL_COPY_MIN: Final = 1 << 20


# -- atomic output ------------------------------------------------------------------------


def current_umask() -> int:
    """The process umask (read by setting it and putting it back)."""
    # os.umask can only be read by setting it; restore at once.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def fsync_directory(path: str) -> None:
    """Make a rename inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: str) -> None:
    """Flush a closed file's data to disk (on Linux any descriptor of the file will do)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(path: str, *, mode: int = 0o666) -> Iterator[IO[bytes]]:
    """Yield a file that replaces ``path`` only if the block completes.

    The temporary file lives in the destination directory (same filesystem, so the rename is
    atomic) and is removed if anything fails; ``path`` is never left half-written.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fchmod(handle.fileno(), mode & ~current_umask())
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_directory(directory)


def write_file_atomic(path: str, data: bytes, *, mode: int = 0o666) -> None:
    """Replace ``path`` with ``data`` atomically."""
    with atomic_file(path, mode=mode) as handle:
        handle.write(data)


@contextlib.contextmanager
def atomic_directory(path: str) -> Iterator[str]:
    """Yield a temporary sibling directory that becomes ``path`` if the block completes.

    ``path`` must not exist yet; on failure the temporary tree is removed.
    """
    parent = os.path.dirname(os.path.abspath(path))
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=parent)
    try:
        os.chmod(tmp, 0o777 & ~current_umask())
        yield tmp
        os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_directory(parent)


class EarlyWriteback:
    """Flush a file being written to disk in the background, so its final fsync waits less.

    Each time another ``every`` bytes have been written, an ``fdatasync`` starts on a worker
    thread (if none is running), overlapping the disk writes with the rest of the copy; the
    caller's own ``fsync`` before the rename then only flushes the tail. :meth:`wait` must be
    called before the descriptor is closed.
    """

    def __init__(self, fd: int, *, every: int = 128 * 1024 * 1024) -> None:
        self._fd = fd
        self._every = every
        self._pending = 0
        self._thread: threading.Thread | None = None
        self._error: OSError | None = None

    def wrote(self, count: int) -> None:
        """Account for ``count`` more bytes written; maybe start a background flush."""
        self._pending += count
        if self._pending < self._every or (self._thread is not None and self._thread.is_alive()):
            return
        self._pending = 0
        self._thread = threading.Thread(target=self._flush, name="ociforge-writeback", daemon=True)
        self._thread.start()

    def _flush(self) -> None:
        try:
            os.fdatasync(self._fd)
        except OSError as exc:  # reported by wait(), on the caller's thread
            self._error = exc

    def wait(self) -> None:
        """Wait for a running flush; raise its error, if it had one."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error


# -- opening below a directory -------------------------------------------------------------


#: Flags for each directory on the way: a symlink or a file there fails (ELOOP, ENOTDIR).
DIR_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def open_beneath(root: int, parts: Sequence[str], *, flags: int = DIR_FLAGS) -> int:
    """A new descriptor (the caller closes it) of ``parts`` below ``root``.

    Every directory on the way is opened with ``O_NOFOLLOW``; the last component is opened
    with ``flags``, which should include ``O_NOFOLLOW`` too. Raises the ``OSError`` of the
    first component that is missing or not a real directory.
    """
    fd = os.dup(root)
    try:
        for name in parts[:-1]:
            child = os.open(name, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
        if not parts:
            return os.dup(fd)
        return os.open(parts[-1], flags, dir_fd=fd)
    finally:
        os.close(fd)


# -- blob bytes into a file ----------------------------------------------------------------


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
            max_workers=workers or cpu_count(), thread_name_prefix="ociforge-verify"
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
