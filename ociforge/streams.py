"""Byte-stream building blocks: hashing writers, verifying readers, range readers, copies."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Final, Protocol

from .digest import Digest
from .errors import DigestMismatch, SizeMismatch

if TYPE_CHECKING:
    from .digest import Hasher

__all__ = [
    "CHUNK_SIZE",
    "ChunkedReader",
    "FileRange",
    "HashingWriter",
    "Opener",
    "RangeReader",
    "Readable",
    "VerifyingReader",
    "LimitedReader",
    "Writable",
    "copy_stream",
    "drain",
    "read_exact",
    "write_all",
]

#: The I/O unit everywhere: large enough for hashing and codecs to run at full speed.
CHUNK_SIZE: Final = 1 << 20

#: A callable that returns a fresh binary reader positioned at byte 0.
Opener = Callable[[], IO[bytes]]


@dataclass(frozen=True, slots=True)
class FileRange:
    """Bytes at ``offset`` .. ``offset + size`` of an open file descriptor (an archive member…)."""

    fd: int
    offset: int
    size: int


class Readable(Protocol):
    """Anything with ``read(n)``."""

    def read(self, size: int = -1, /) -> bytes: ...


class Writable(Protocol):
    """Anything with ``write(data)``."""

    def write(self, data: bytes, /) -> int | None: ...


class ChunkedReader(io.RawIOBase):
    """A raw reader defined by ``readinto``, reading to the end in :data:`CHUNK_SIZE` pieces.

    ``io.RawIOBase.readall`` reads 8 KiB at a time; hashing and codecs run far faster with
    1 MiB reads.
    """

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        buf = bytearray(size)
        n = self.readinto(buf)
        del buf[n:]
        return bytes(buf)

    def readall(self) -> bytes:
        parts = []
        while chunk := self.read(CHUNK_SIZE):
            parts.append(chunk)
        return b"".join(parts)


class HashingWriter(io.RawIOBase):
    """Forward writes to ``sink`` while hashing and counting them."""

    def __init__(self, sink: Writable | None, algorithm: str = "sha256") -> None:
        super().__init__()
        self._sink = sink
        self._hasher: Hasher = hashlib.new(algorithm)
        self._algorithm = algorithm
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        n = len(data)
        if n:
            self._hasher.update(data)
            self.size += n
            if self._sink is not None:
                self._sink.write(bytes(data) if isinstance(data, memoryview) else data)  # type: ignore[arg-type]
        return n

    def flush(self) -> None:
        flush = getattr(self._sink, "flush", None)
        if flush is not None:
            flush()

    def close(self) -> None:
        """Close this writer but never the sink, which belongs to the caller."""
        super().close()

    def digest(self) -> Digest:
        """The digest of everything written so far."""
        return Digest(self._algorithm, self._hasher.hexdigest())


class VerifyingReader(ChunkedReader):
    """Read from ``source`` and fail as soon as the bytes stop matching a descriptor.

    More bytes than ``size`` raise :class:`SizeMismatch` at once (an endless body cannot hang
    a reader); at end of stream a short size or a wrong digest raises before EOF is reported,
    so a consumer that reads to the end never sees unverified data as complete.
    """

    def __init__(
        self, source: Readable, *, digest: Digest, size: int | None, what: str = "blob"
    ) -> None:
        super().__init__()
        self._source = source
        self._expected = digest
        self._size = size
        self._what = what
        self._hasher = digest.hasher()
        self._count = 0
        self._verified = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        want = len(view)
        if self._size is not None:
            # Ask for one byte more than allowed so an over-long source is noticed.
            want = min(want, self._size - self._count + 1)
        data = self._source.read(want) if want > 0 else b""
        if not data:
            if want > 0:
                self._finish()
            return 0
        n = len(data)
        self._count += n
        if self._size is not None and self._count > self._size:
            raise SizeMismatch(f"{self._what}: more than the expected {self._size} bytes")
        self._hasher.update(data)
        view[:n] = data
        return n

    def _finish(self) -> None:
        if self._verified:
            return
        if self._size is not None and self._count != self._size:
            raise SizeMismatch(
                f"{self._what}: expected {self._size} bytes, got {self._count} (truncated)"
            )
        actual = Digest(self._expected.algorithm, self._hasher.hexdigest())
        if actual != self._expected:
            raise DigestMismatch(
                f"{self._what}: content has digest {actual}, expected {self._expected}"
            )
        self._verified = True

    @property
    def verified(self) -> bool:
        """True once the whole stream was read and matched."""
        return self._verified

    def close(self) -> None:
        close = getattr(self._source, "close", None)
        if close is not None and not self.closed:
            close()
        super().close()


class RangeReader(io.RawIOBase):
    """Read ``length`` bytes of an open file descriptor from ``offset``, without moving it.

    ``os.pread`` keeps any number of readers of one archive file independent and thread-safe.
    """

    def __init__(self, fd: int, offset: int, length: int) -> None:
        super().__init__()
        self._fd = fd
        self._start = offset
        self._pos = 0
        self._length = length

    @property
    def fd(self) -> int:
        """The file descriptor read from."""
        return self._fd

    @property
    def offset(self) -> int:
        """The absolute file offset of the next byte to read."""
        return self._start + self._pos

    @property
    def remaining(self) -> int:
        """Bytes left in the range."""
        return self._length - self._pos

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        self._pos = max(0, min(self._length, base + pos))
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        n = min(len(view), self._length - self._pos)
        if n <= 0:
            return 0
        got = os.preadv(self._fd, [view[:n]], self._start + self._pos)
        self._pos += got
        return got

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self._length - self._pos
        n = min(size, self._length - self._pos)
        if n <= 0:
            return b""
        data = os.pread(self._fd, n, self._start + self._pos)
        self._pos += len(data)
        return data


def copy_stream(source: Readable, sink: Writable, *, chunk_size: int = CHUNK_SIZE) -> int:
    """Copy ``source`` to ``sink`` in ``chunk_size`` pieces; return the byte count.

    Sources with ``readinto`` fill one reused buffer, so no chunk is allocated per read.
    """
    total = 0
    readinto = getattr(source, "readinto", None)
    if readinto is not None:
        buffer = bytearray(chunk_size)
        view = memoryview(buffer)
        while n := readinto(view):
            sink.write(view[:n])  # type: ignore[arg-type]
            total += n
        return total
    while chunk := source.read(chunk_size):
        sink.write(chunk)
        total += len(chunk)
    return total


def drain(source: Readable, *, chunk_size: int = CHUNK_SIZE) -> int:
    """Read ``source`` to its end (so a verifying reader checks it); return the byte count."""
    total = 0
    while chunk := source.read(chunk_size):
        total += len(chunk)
    return total


def read_exact(source: Readable, n: int) -> bytes:
    """Up to ``n`` bytes from ``source``: all ``n`` unless the stream ends first."""
    parts = []
    left = n
    while left > 0:
        chunk = source.read(left)
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


class LimitedReader(io.RawIOBase):
    """The next ``size`` bytes of ``source``; a source that ends early raises ``truncated()``."""

    def __init__(self, source: Readable, size: int, truncated: Callable[[], Exception]) -> None:
        super().__init__()
        self._source = source
        self.remaining = size
        self._truncated = truncated

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        n = min(len(view), self.remaining)
        if n <= 0:
            return 0
        data = self._source.read(n)
        if not data:
            raise self._truncated()
        self.remaining -= len(data)
        view[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self.remaining
        n = min(size, self.remaining)
        if n <= 0:
            return b""
        # Straight from the source: no staging buffer, no second copy.
        data = self._source.read(n)
        if not data:
            raise self._truncated()
        self.remaining -= len(data)
        return data


def write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    """Write all of ``data`` to a file descriptor (``os.write`` may write less)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
