"""A layer: its compressed blob, its diff_id, and verified readers for both forms."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, cast

from . import mediatypes as mt
from .blobs import BlobSource, FileBlobSource
from .compression import LayerDigests, LayerWriter, open_decompressor
from .spec import Descriptor
from .streams import VerifyingReader

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .digest import Digest

__all__ = ["Layer", "SpooledLayerWriter"]


@dataclass(frozen=True, slots=True)
class Layer:
    """One filesystem layer of an image.

    ``descriptor`` identifies the compressed blob (the manifest's view), ``diff_id`` the
    uncompressed tar (the config's view). ``source`` serves the bytes; opening them is the only
    way a layer is ever read, so lazily composed images never touch layers they only carry.
    """

    descriptor: Descriptor
    diff_id: Digest
    source: BlobSource = field(compare=False, repr=False)

    @property
    def digest(self) -> Digest:
        """Digest of the compressed blob."""
        return self.descriptor.digest

    @property
    def size(self) -> int:
        """Size of the compressed blob."""
        return self.descriptor.size

    @property
    def media_type(self) -> str:
        """The layer's media type."""
        return self.descriptor.media_type

    @property
    def compression(self) -> mt.Compression:
        """The codec its media type declares."""
        return mt.layer_compression(self.descriptor.media_type)

    def open_compressed(self) -> IO[bytes]:
        """The blob as stored, verified against the descriptor while read."""
        return self.source.open_blob(self.descriptor)

    def open_uncompressed(self, *, limit: int | None = None) -> IO[bytes]:
        """The tar stream, verified against ``diff_id`` (and the blob against its digest).

        ``limit`` bounds the uncompressed size (default: ``OCIFORGE_MAX_LAYER_SIZE`` or 64 GiB).
        """
        what = f"{self.source.name}: layer {self.digest}"
        raw = open_decompressor(self.open_compressed(), self.compression, limit=limit, what=what)
        return cast(
            IO[bytes],
            VerifyingReader(raw, digest=self.diff_id, size=None, what=f"{what} (uncompressed)"),
        )


class SpooledLayerWriter:
    """Write a tar stream in; get a :class:`Layer` backed by an anonymous temporary file.

    Compression, both digests and the size come from the one pass through
    :class:`~ociforge.compression.LayerWriter`; the spool file disappears with the layer.
    """

    def __init__(
        self,
        compression: mt.Compression = "gzip",
        *,
        level: int | None = None,
        threads: int | None = None,
        docker: bool = False,
        annotations: Mapping[str, str] | None = None,
        directory: str | None = None,
    ) -> None:
        self._file = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 - owned by the layer
        self._writer = LayerWriter(self._file, compression, level=level, threads=threads)
        self._media_type = mt.layer_media_type(compression, docker=docker)
        self._annotations = dict(annotations or {})
        self.digests: LayerDigests | None = None

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Add uncompressed tar bytes."""
        return self._writer.write(data)

    def finish(self) -> Layer:
        """End the stream and return the layer."""
        digests = self._writer.close()
        self._file.flush()
        self.digests = digests
        descriptor = Descriptor(
            self._media_type, digests.digest, digests.size, annotations=self._annotations
        )
        source = FileBlobSource(self._file, digests.digest, digests.size, name="new layer")
        return Layer(descriptor, digests.diff_id, source)

    def abort(self) -> None:
        """Drop the partial layer."""
        try:
            self._writer.close()
        finally:
            self._file.close()
