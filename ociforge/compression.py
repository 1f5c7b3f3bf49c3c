"""Layer codecs (none, gzip, zstd): one-pass compress-and-hash, bounded decompress-and-verify.

gzip is written by isal's threaded igzip when available: fixed 1 MiB blocks primed with the
previous block's tail, joined into **one** standard gzip member, identical for any thread count.
Without isal the stdlib zlib writes it. zstd always runs with ``threads >= 1``, because
``threads=0`` (single-threaded mode) produces different bytes and so different digests.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import hashlib
import io
import lzma
import zlib
from dataclasses import dataclass
from typing import IO, Any, Final, Literal, cast

import zstandard

from ._env import cpu_count, max_layer_size
from .digest import Digest
from .errors import CompressionError, SizeMismatch, UnsupportedError
from .mediatypes import Compression
from .streams import CHUNK_SIZE, ChunkedReader, HashingWriter, Readable, Writable

_igzip: Any
_igzip_threaded: Any
_codec_errors: tuple[type[BaseException], ...] = ()
try:  # isal is a declared dependency; the fallback keeps odd platforms working.
    from isal import igzip as _igzip
    from isal import igzip_threaded as _igzip_threaded
    from isal.igzip_lib import IsalError

    # igzip reports corrupt deflate data with its own exception, not zlib.error.
    _codec_errors = (cast(type[BaseException], IsalError),)
except ImportError:  # pragma: no cover - exercised only where isal has no wheel
    _igzip = None
    _igzip_threaded = None

__all__ = [
    "Codec",
    "DEFAULT_GZIP_LEVEL",
    "DEFAULT_ZSTD_LEVEL",
    "LayerDigests",
    "LayerWriter",
    "compress_bytes",
    "decompress_bytes",
    "open_compressor",
    "open_decompressor",
    "sniff",
]

#: isal level 2: ~300 MB/s per core at a ratio close to ``pigz -1``.
DEFAULT_GZIP_LEVEL: Final = 2
DEFAULT_ZSTD_LEVEL: Final = 3
#: zstd frames may ask for windows up to 2 GiB; refuse more than zstd's own default (128 MiB).
_ZSTD_MAX_WINDOW: Final = 1 << 27

#: What :func:`open_decompressor` reads: the layer codecs plus the stdlib ones RPM payloads use.
Codec = Compression | Literal["xz", "bzip2", "lzma"]

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def sniff(prefix: bytes) -> Compression:
    """Guess the codec of a stream from its first bytes."""
    if prefix.startswith(_GZIP_MAGIC):
        return "gzip"
    if prefix.startswith(_ZSTD_MAGIC):
        return "zstd"
    return "none"


class _Passthrough(io.RawIOBase):
    """The identity 'compressor': forwards writes, never closes the sink."""

    def __init__(self, sink: Writable) -> None:
        super().__init__()
        self._sink = sink

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._sink.write(bytes(data) if isinstance(data, memoryview) else data)  # type: ignore[arg-type]
        return len(data)


class _Reblocker(io.RawIOBase):
    """Hand ``inner`` exactly ``block``-sized writes, whatever sizes arrive.

    igzip's block boundaries follow its input writes, so without this the compressed bytes
    (and the digest) would depend on how the caller happened to chunk its data.
    """

    def __init__(self, inner: IO[bytes], block: int) -> None:
        super().__init__()
        self._inner = inner
        self._block = block
        self._pending = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        n = len(data)
        pending = self._pending
        if not pending and n == self._block:
            self._inner.write(data)
            return n
        pending += data
        if len(pending) >= self._block:
            view = memoryview(pending)
            full = len(pending) - len(pending) % self._block
            for start in range(0, full, self._block):
                self._inner.write(view[start : start + self._block])
            view.release()
            del pending[:full]
        return n

    def close(self) -> None:
        if not self.closed:
            try:
                if self._pending:
                    self._inner.write(bytes(self._pending))
                    self._pending.clear()
            finally:
                self._inner.close()
        super().close()


class _ZlibGzipWriter(io.RawIOBase):
    """Single-threaded stdlib gzip writer (mtime 0), used only without isal."""

    def __init__(self, sink: Writable, level: int) -> None:
        super().__init__()
        self._sink = sink
        self._z = zlib.compressobj(level, zlib.DEFLATED, 31)

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        out = self._z.compress(data)
        if out:
            self._sink.write(out)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._sink.write(self._z.flush())
        super().close()


def open_compressor(
    sink: Writable,
    compression: Compression,
    *,
    level: int | None = None,
    threads: int | None = None,
) -> IO[bytes]:
    """A writer that compresses into ``sink``; closing it ends the stream, not the sink.

    The output depends only on the input bytes, the codec and the level: not on how the input
    is split into writes, and not on the thread count.
    """
    threads = max(1, threads or cpu_count())
    if compression == "none":
        return cast(IO[bytes], _Passthrough(sink))
    if compression == "gzip":
        lvl = DEFAULT_GZIP_LEVEL if level is None else level
        if _igzip_threaded is not None:
            if not 0 <= lvl <= 3:
                raise UnsupportedError(f"gzip level {lvl} is outside isal's 0..3")
            inner = _igzip_threaded.open(
                sink, "wb", compresslevel=lvl, threads=threads, block_size=CHUNK_SIZE
            )
            return cast(IO[bytes], _Reblocker(inner, CHUNK_SIZE))
        return cast(IO[bytes], _ZlibGzipWriter(sink, lvl))  # pragma: no cover
    if compression == "zstd":
        lvl = DEFAULT_ZSTD_LEVEL if level is None else level
        cctx = zstandard.ZstdCompressor(level=lvl, threads=threads, write_checksum=True)
        return cast(
            IO[bytes],
            cctx.stream_writer(cast(IO[bytes], sink), closefd=False, write_size=CHUNK_SIZE),
        )
    raise UnsupportedError(f"unsupported compression {compression!r}")


class _ZstdFrames:
    """Follow the frame and block headers of a zstd stream to tell whether it ended cleanly.

    python-zstandard's stream reader reports a stream cut inside a frame as a normal end of
    data, so truncation is detected here from the framing (RFC 8878 §3.1), which costs one
    small header parse per 128 KiB block.
    """

    def __init__(self) -> None:
        self._header = bytearray()
        self._need = 4
        self._state = "magic"
        self._skip = 0
        self._checksum = False
        self.frames = 0

    @property
    def complete(self) -> bool:
        """True when the input so far ends exactly after a frame."""
        return self._state == "magic" and not self._header and not self._skip and self.frames > 0

    def feed(self, data: bytes) -> None:
        """Account for the next piece of compressed input."""
        pos, n = 0, len(data)
        while pos < n:
            if self._skip:
                take = min(self._skip, n - pos)
                self._skip -= take
                pos += take
                continue
            take = min(self._need - len(self._header), n - pos)
            self._header += data[pos : pos + take]
            pos += take
            if len(self._header) == self._need:
                header = bytes(self._header)
                self._header.clear()
                self._advance(header)

    def _advance(self, header: bytes) -> None:
        state = self._state
        if state == "magic":
            if header == _ZSTD_MAGIC:
                self._state, self._need = "descriptor", 1
            elif header[1:] == b"\x2a\x4d\x18" and header[0] & 0xF0 == 0x50:
                self._state, self._need = "skippable", 4
            else:
                raise CompressionError("not a zstd frame")
        elif state == "skippable":
            self._skip = int.from_bytes(header, "little")
            self.frames += 1
            self._state, self._need = "magic", 4
        elif state == "descriptor":
            fhd = header[0]
            single = bool(fhd & 0x20)
            self._checksum = bool(fhd & 0x04)
            fcs = (1 if single else 0, 2, 4, 8)[fhd >> 6]
            rest = (0 if single else 1) + (0, 1, 2, 4)[fhd & 0x03] + fcs
            self._state, self._need = "block", 3
            self._skip = rest
        elif state == "block":
            value = int.from_bytes(header, "little")
            last, kind, size = value & 1, (value >> 1) & 3, value >> 3
            if kind == 3:
                raise CompressionError("corrupt zstd block header")
            self._skip = 1 if kind == 1 else size
            if last:
                self.frames += 1
                self._skip += 4 if self._checksum else 0
                self._state, self._need = "magic", 4


class _TrackedSource:
    """The compressed input, counted and (for zstd) followed frame by frame."""

    def __init__(self, source: Readable, frames: _ZstdFrames | None) -> None:
        self._source = source
        self._frames = frames
        self.count = 0

    def read(self, size: int = -1, /) -> bytes:
        data = self._source.read(size)
        self.count += len(data)
        if self._frames is not None and data:
            self._frames.feed(data)
        return data

    def readinto(self, buffer: bytearray | memoryview, /) -> int:
        data = self.read(len(buffer))
        memoryview(buffer).cast("B")[: len(data)] = data
        return len(data)

    def close(self) -> None:
        close = getattr(self._source, "close", None)
        if close is not None:
            close()


_DECODE_ERRORS: Final[tuple[type[BaseException], ...]] = (
    EOFError,
    OSError,
    ValueError,
    zlib.error,
    zstandard.ZstdError,
    lzma.LZMAError,
    *_codec_errors,
)


class _BoundedReader(ChunkedReader):
    """Decompressed output with a byte limit, a clean-end check, and codec errors made ours."""

    def __init__(
        self,
        inner: Readable,
        *,
        source: _TrackedSource,
        frames: _ZstdFrames | None,
        limit: int,
        what: str,
        require_data: bool,
    ) -> None:
        super().__init__()
        self._inner = inner
        self._require_data = require_data
        self._source = source
        self._frames = frames
        self._limit = limit
        self._what = what
        self._count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        # One byte more than the limit allows is enough to prove it was exceeded.
        want = min(len(view), self._limit - self._count + 1)
        try:
            data = self._inner.read(want)
        except _DECODE_ERRORS as exc:
            raise CompressionError(f"{self._what}: {_describe(exc)}") from None
        n = len(data)
        if not n and want:
            self._check_end()
        self._count += n
        if self._count > self._limit:
            raise SizeMismatch(
                f"{self._what}: decompressed size exceeds the limit of {self._limit} bytes"
                " (decompression bomb?)"
            )
        view[:n] = data
        return n

    def _check_end(self) -> None:
        # Read the input to its end: trailing bytes are corruption, and a verifying source
        # only checks its digest once it has seen its last byte.
        if self._source.read(1):
            raise CompressionError(f"{self._what}: unexpected data after the compressed stream")
        if self._source.count == 0 and self._require_data:
            raise CompressionError(f"{self._what}: empty compressed stream")
        if self._frames is not None and not self._frames.complete:
            raise CompressionError(
                f"{self._what}: truncated compressed stream (zstd frame cut short)"
            )

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None and not self.closed:
            close()
            self._source.close()
        super().close()


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, EOFError):
        return f"truncated compressed stream ({text})"
    return f"corrupt compressed stream ({text})"


def open_decompressor(
    source: Readable,
    compression: Codec,
    *,
    limit: int | None = None,
    what: str = "layer",
) -> IO[bytes]:
    """A reader of the decompressed bytes of ``source``, bounded to ``limit`` bytes.

    gzip may have several members, zstd several frames and xz several streams; all are read to
    the end. xz, lzma and bzip2 (RPM payloads) use the stdlib codecs.
    Truncated or corrupt input raises :class:`CompressionError`; output beyond ``limit``
    (default: ``OCIFORGE_MAX_LAYER_SIZE`` or 64 GiB) raises :class:`SizeMismatch` before it
    is buffered.
    """
    if limit is None:
        limit = max_layer_size()
    inner: Readable
    frames = _ZstdFrames() if compression == "zstd" else None
    tracked = _TrackedSource(source, frames)
    if compression == "none":
        inner = tracked
    elif compression == "gzip":
        if _igzip is not None:
            inner = _igzip.GzipFile(fileobj=tracked, mode="rb")
        else:  # pragma: no cover
            inner = gzip.GzipFile(fileobj=cast(IO[bytes], tracked), mode="rb")
    elif compression == "zstd":
        dctx = zstandard.ZstdDecompressor(max_window_size=_ZSTD_MAX_WINDOW)
        inner = dctx.stream_reader(
            cast(IO[bytes], tracked), read_size=CHUNK_SIZE, read_across_frames=True, closefd=False
        )
    elif compression in ("xz", "lzma"):
        fmt = lzma.FORMAT_XZ if compression == "xz" else lzma.FORMAT_ALONE
        inner = lzma.LZMAFile(cast(IO[bytes], tracked), "rb", format=fmt)  # noqa: SIM115
    elif compression == "bzip2":
        inner = bz2.BZ2File(cast(IO[bytes], tracked), "rb")
    else:
        raise UnsupportedError(f"unsupported compression {compression!r}")
    bounded = _BoundedReader(
        inner,
        source=tracked,
        frames=frames,
        limit=limit,
        what=what,
        require_data=compression != "none",
    )
    return cast(IO[bytes], io.BufferedReader(bounded, CHUNK_SIZE))


@dataclass(frozen=True, slots=True)
class LayerDigests:
    """Both identities of a layer and its sizes, learned in one pass."""

    digest: Digest
    size: int
    diff_id: Digest
    uncompressed_size: int


class LayerWriter:
    """Write an uncompressed tar stream in; get it compressed into ``sink``, with both digests.

    One pass: each chunk is hashed for the diff_id, compressed, and the compressed bytes are
    hashed and counted on their way to the sink.
    """

    def __init__(
        self,
        sink: Writable,
        compression: Compression,
        *,
        level: int | None = None,
        threads: int | None = None,
    ) -> None:
        self.compression = compression
        self._compressed = HashingWriter(sink)
        self._raw = hashlib.sha256()
        self._raw_size = 0
        self._encoder = open_compressor(self._compressed, compression, level=level, threads=threads)
        self._result: LayerDigests | None = None

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Add uncompressed bytes."""
        self._raw.update(data)
        self._raw_size += len(data)
        self._encoder.write(data)
        return len(data)

    def close(self) -> LayerDigests:
        """End the compressed stream and return the digests (idempotent)."""
        if self._result is None:
            self._encoder.close()
            diff_id = Digest("sha256", self._raw.hexdigest())
            self._result = LayerDigests(
                digest=self._compressed.digest() if self.compression != "none" else diff_id,
                size=self._compressed.size,
                diff_id=diff_id,
                uncompressed_size=self._raw_size,
            )
        return self._result

    def __enter__(self) -> LayerWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
        else:
            with contextlib.suppress(Exception):  # the original error matters more
                self._encoder.close()


def compress_bytes(
    data: bytes, compression: Compression, *, level: int | None = None, threads: int | None = None
) -> bytes:
    """One-shot compression through the same writer the streaming path uses."""
    out = io.BytesIO()
    with LayerWriter(out, compression, level=level, threads=threads) as writer:
        writer.write(data)
    return out.getvalue()


def decompress_bytes(data: bytes, compression: Compression, *, limit: int | None = None) -> bytes:
    """One-shot, bounded decompression."""
    with open_decompressor(io.BytesIO(data), compression, limit=limit, what="data") as reader:
        return reader.read()
