"""Progress on stderr: per-blob lines on a terminal, a plain line every few seconds otherwise."""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TextIO

from ..digest import Digest
from ..spec import Descriptor

__all__ = ["BlobProgress"]

#: Seconds between plain lines when stderr is not a terminal (CI logs).
_PLAIN_INTERVAL = float(os.environ.get("OCIFORGE_PROGRESS_INTERVAL", "5"))
_TTY_INTERVAL = 0.1
#: Blobs in flight shown on a terminal, largest first.
_TTY_BLOBS = 8


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MiB"


class BlobProgress:
    """Follows ``write_image`` events (skip/start/done/mount per blob) for one operation.

    Transfers that know more call :meth:`transferred` with the bytes of a blob moved so far,
    from any thread. On a terminal a total line and one line per blob in flight are redrawn in
    place; elsewhere a plain total line appears every few seconds, so CI logs show progress
    without drowning in it.
    """

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
        self._mounted = 0
        self._bytes = 0
        self._active: dict[Digest, tuple[int, int]] = {}
        self._stream = stream or sys.stderr
        self._quiet = quiet
        self._tty = self._stream.isatty()
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._last_plain = self._start
        self._last_tty = 0.0
        self._drawn = 0

    def __call__(self, event: str, descriptor: Descriptor) -> None:
        """Record one event and maybe print."""
        with self._lock:
            if event == "start":
                self._active[descriptor.digest] = (0, descriptor.size)
                self._show(force=True)
                return
            self._active.pop(descriptor.digest, None)
            self._done += 1
            self._bytes += descriptor.size
            if event == "skip":
                self._skipped += 1
            elif event == "mount":
                self._mounted += 1
            self._show(force=True)

    def transferred(self, descriptor: Descriptor, done: int) -> None:
        """Bytes of one blob moved so far (uploads and downloads report as they go)."""
        with self._lock:
            if descriptor.digest in self._active:
                self._active[descriptor.digest] = (done, descriptor.size)
            self._show(force=False)

    def _line(self, current: str = "") -> str:
        moving = sum(min(done, size) for done, size in self._active.values())
        amount = f"{_mib(self._bytes + moving)} of {_mib(self._bytes_total)}"
        text = f"{self._verb}: {self._done}/{self._total} blobs, {amount}"
        notes = [f"{self._skipped} already present"] if self._skipped else []
        if self._mounted:
            notes.append(f"{self._mounted} mounted")
        if notes:
            text += f" ({', '.join(notes)})"
        return f"{text} {current}".rstrip()

    def _show(self, *, force: bool) -> None:
        if self._quiet:
            return
        now = time.monotonic()
        if not self._tty:
            if now - self._last_plain >= _PLAIN_INTERVAL:
                self._last_plain = now
                self._stream.write(self._line() + "\n")
                self._stream.flush()
            return
        if not force and now - self._last_tty < _TTY_INTERVAL:
            return
        self._last_tty = now
        lines = [self._line()]
        largest = sorted(self._active.items(), key=lambda item: -item[1][1])[:_TTY_BLOBS]
        for digest, (done, size) in largest:
            percent = 100 * min(done, size) // size if size else 100
            lines.append(
                f"  {digest.short()} {_mib(min(done, size)):>11} of {_mib(size)} {percent:3d}%"
            )
        up = f"\x1b[{self._drawn}F" if self._drawn else ""
        # \x1b[J clears what a taller previous frame left below.
        self._stream.write(up + "".join(f"\x1b[2K{line}\n" for line in lines) + "\x1b[J")
        self._stream.flush()
        self._drawn = len(lines)

    def finish(self) -> None:
        """Clear the live lines (terminal) or print a summary if the operation took a while."""
        with self._lock:
            if self._quiet:
                return
            elapsed = time.monotonic() - self._start
            if self._tty:
                up = f"\x1b[{self._drawn}F" if self._drawn else "\r"
                self._stream.write(up + "\x1b[J")
                self._stream.flush()
            elif elapsed >= _PLAIN_INTERVAL:
                self._stream.write(self._line(f"in {elapsed:.1f}s") + "\n")
                self._stream.flush()
