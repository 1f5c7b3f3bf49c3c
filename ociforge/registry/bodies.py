"""Upload bodies: a blob's bytes from a file range or any reader, verified as they are sent.

A body has a length (so requests sends ``Content-Length``, never chunked encoding) and hands
out the blob in 1 MiB pieces. The blob is hashed on the way; the last piece is held back until
the digest and size are checked, so a blob that does not match its descriptor is never
completed on the registry. File-backed blobs (ociarchive members, layout files) are read with
``preadv`` into one reused buffer: the bytes are copied once, from the page cache to the
socket, whatever their size.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Protocol

from ..digest import Digest
from ..errors import DigestMismatch, RegistryError, SizeMismatch
from ..streams import CHUNK_SIZE

if TYPE_CHECKING:
    from ..spec import Descriptor
    from ..streams import FileRange

__all__ = ["BlobBody", "Cancelled", "FileFeed", "ReaderFeed"]


class Cancelled(RegistryError):
    """Another transfer of the same push failed; this one stops."""


class Feed(Protocol):
    """Consecutive bytes of one blob; :meth:`check_end` verifies it once all were read."""

    def read(self, size: int) -> bytes | memoryview: ...
    def check_end(self) -> None: ...


class ReaderFeed:
    """Bytes from a verifying reader (``BlobSource.open_blob``), skipped to ``offset``."""

    def __init__(self, reader: IO[bytes], offset: int, *, what: str) -> None:
        self._reader = reader
        self._what = what
        left = offset
        # Reading the skipped part keeps the reader's digest check of the whole blob intact.
        while left:
            chunk = reader.read(min(left, CHUNK_SIZE))
            if not chunk:
                raise SizeMismatch(f"{what}: ends before byte {offset}")
            left -= len(chunk)

    def read(self, size: int) -> bytes:
        return self._reader.read(size)

    def check_end(self) -> None:
        if self._reader.read(1):  # at the end, the reader checks size and digest
            raise SizeMismatch(f"{self._what}: longer than its descriptor says")

    def close(self) -> None:
        """Close the reader."""
        self._reader.close()


class FileFeed:
    """Bytes of a file range from ``offset``, hashed from byte 0 so the whole blob is checked.

    Each :meth:`read` returns a view of one reused buffer, valid until the next call: the
    HTTP client sends a piece before it asks for the next.
    """

    def __init__(self, span: FileRange, descriptor: Descriptor, offset: int, *, what: str) -> None:
        if span.size != descriptor.size:
            raise SizeMismatch(
                f"{what}: is {span.size} bytes, its descriptor says {descriptor.size}"
            )
        self._span = span
        self._descriptor = descriptor
        self._what = what
        self._hasher = descriptor.digest.hasher()
        self._buffer = bytearray(CHUNK_SIZE)
        self._position = 0
        while self._position < offset:
            self._hasher.update(self._pread(min(offset - self._position, CHUNK_SIZE)))

    def _pread(self, size: int) -> memoryview:
        view = memoryview(self._buffer)[: min(size, self._span.size - self._position)]
        got = os.preadv(self._span.fd, [view], self._span.offset + self._position)
        if got == 0 and len(view):
            raise SizeMismatch(f"{self._what}: the file ends early (truncated?)")
        self._position += got
        return view[:got]

    def read(self, size: int) -> memoryview:
        piece = self._pread(size)
        self._hasher.update(piece)
        return piece

    def check_end(self) -> None:
        if self._position != self._span.size:
            raise SizeMismatch(f"{self._what}: read {self._position} of {self._span.size} bytes")
        actual = Digest(self._descriptor.digest.algorithm, self._hasher.hexdigest())
        if actual != self._descriptor.digest:
            raise DigestMismatch(
                f"{self._what}: content has digest {actual}, expected {self._descriptor.digest}"
            )


class BlobBody:
    """``length`` bytes of a feed as a request body, with ``len()`` for Content-Length.

    Deliberately not an ``io.RawIOBase``: requests would then add ``Transfer-Encoding:
    chunked`` beside the length. With ``final`` the feed is checked after its last bytes are
    read and before they are returned, so a mismatch aborts the request unfinished.
    """

    def __init__(
        self,
        feed: Feed,
        length: int,
        *,
        final: bool,
        on_read: Callable[[int], None],
        stop: threading.Event,
    ) -> None:
        self._feed = feed
        self._length = length
        self._left = length
        self._final = final
        self._on_read = on_read
        self._stop = stop

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes | memoryview:
        if self._stop.is_set():
            raise Cancelled("push cancelled")
        if self._left <= 0:
            return b""
        want = self._left if size is None or size < 0 else min(size, self._left)
        data = self._feed.read(want)
        if not data:
            raise SizeMismatch("blob source ended before its declared size")
        self._left -= len(data)
        if self._left == 0 and self._final:
            self._feed.check_end()
        self._on_read(len(data))
        return data
