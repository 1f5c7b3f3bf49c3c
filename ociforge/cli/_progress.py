"""Progress on stderr: a live line on a terminal, a plain line every few seconds otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from ..spec import Descriptor

__all__ = ["BlobProgress"]

_PLAIN_INTERVAL = 5.0


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MiB"


class BlobProgress:
    """Follows ``write_image``-style events (skip/start/done per blob) for one operation."""

    def __init__(
        self,
        verb: str,
        descriptors: list[Descriptor],
        *,
        quiet: bool = False,
        stream: TextIO | None = None,
    ) -> None:
        self._verb = verb
        self._total = len(descriptors)
        self._bytes_total = sum(d.size for d in descriptors)
        self._done = 0
        self._skipped = 0
        self._bytes = 0
        self._stream = stream or sys.stderr
        self._quiet = quiet
        self._tty = self._stream.isatty()
        self._start = time.monotonic()
        self._last_plain = self._start

    def __call__(self, event: str, descriptor: Descriptor) -> None:
        """Record one event and maybe print."""
        if event == "start":
            self._show(f"{descriptor.digest.short()} {_mib(descriptor.size)}")
            return
        self._done += 1
        self._bytes += descriptor.size
        if event == "skip":
            self._skipped += 1
        self._show("")

    def _line(self, current: str) -> str:
        amount = f"{_mib(self._bytes)} of {_mib(self._bytes_total)}"
        text = f"{self._verb}: {self._done}/{self._total} blobs, {amount}"
        if self._skipped:
            text += f" ({self._skipped} already present)"
        return f"{text} {current}".rstrip()

    def _show(self, current: str) -> None:
        if self._quiet:
            return
        if self._tty:
            self._stream.write("\r\x1b[K" + self._line(current))
            self._stream.flush()
            return
        now = time.monotonic()
        if now - self._last_plain >= _PLAIN_INTERVAL:
            self._last_plain = now
            self._stream.write(self._line(current) + "\n")
            self._stream.flush()

    def finish(self) -> None:
        """End the live line (terminal) or print a summary if the operation took a while."""
        if self._quiet:
            return
        elapsed = time.monotonic() - self._start
        if self._tty:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
        elif elapsed >= _PLAIN_INTERVAL:
            self._stream.write(self._line(f"in {elapsed:.1f}s") + "\n")
            self._stream.flush()
