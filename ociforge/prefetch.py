"""Read streams ahead in a background thread, so producing bytes overlaps with consuming them.

Decompression and hashing run in C and release the GIL, as do the file system calls of an
unpack; with a reader thread the two use separate cores. One thread serves a whole sequence
of streams (the layers of an image), so the next layer is already being decompressed while
the last entries of the current one are written. Memory stays bounded by the queue (``depth``
chunks), and an error in the reader thread is raised in the consumer, in order.
"""

from __future__ import annotations

import contextlib
import io
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import IO, Final

from .streams import CHUNK_SIZE

__all__ = ["Prefetcher"]

#: Marks the end of one stream in the queue.
_END: Final = b""


class _Stream(io.RawIOBase):
    """The consumer's view of one stream: chunks from the queue up to its end marker."""

    def __init__(self, owner: Prefetcher) -> None:
        super().__init__()
        self._owner = owner
        self._chunk = b""
        self._pos = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def _next(self) -> bool:
        if self._done:
            return False
        chunk = self._owner._take()
        if not chunk:
            self._done = True
            return False
        self._chunk, self._pos = chunk, 0
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._pos >= len(self._chunk) and not self._next():
            return 0
        view = memoryview(buffer).cast("B")
        n = min(len(view), len(self._chunk) - self._pos)
        view[:n] = self._chunk[self._pos : self._pos + n]
        self._pos += n
        return n

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        if self._pos >= len(self._chunk) and not self._next():
            return b""
        if self._pos == 0 and size >= len(self._chunk):
            chunk, self._chunk = self._chunk, b""  # whole chunks pass without a copy
            return chunk
        end = min(len(self._chunk), self._pos + size)
        out = self._chunk[self._pos : end]
        self._pos = end
        return out

    def finish(self) -> None:
        """Consume what is left of this stream (so its end is verified)."""
        while self._next():
            pass


class Prefetcher:
    """Open and read ``openers`` one after the other in a background thread.

    Iterate to get one reader per stream, in order; read each to its end (or call
    ``finish()``) before taking the next. Use as a context manager: leaving it stops the
    thread and closes whatever it had open.
    """

    def __init__(
        self,
        openers: Sequence[Callable[[], AbstractContextManager[IO[bytes]]]],
        *,
        chunk_size: int = CHUNK_SIZE,
        depth: int = 8,
    ) -> None:
        self._openers = list(openers)
        self._chunk_size = chunk_size
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ociforge-prefetch", daemon=True)
        self._thread.start()

    def __enter__(self) -> Prefetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[_Stream]:
        for _ in self._openers:
            stream = _Stream(self)
            yield stream
            stream.finish()

    def _put(self, item: bytes | BaseException) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for opener in self._openers:
                with opener() as source:
                    while True:
                        chunk = source.read(self._chunk_size)
                        if not self._put(chunk) or self._stop.is_set():
                            return
                        if not chunk:
                            break
        except BaseException as exc:  # handed to the consumer, who raises it
            self._put(exc)

    def _take(self) -> bytes:
        item = self._queue.get()
        if isinstance(item, BaseException):
            self._stop.set()
            raise item
        return item

    def close(self) -> None:
        """Stop the reader thread."""
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):  # unblock a reader waiting on a full queue
                self._queue.get(timeout=0.05)
        self._thread.join()
