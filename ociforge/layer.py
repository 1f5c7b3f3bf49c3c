"""A layer: its compressed blob, its diff_id, and verified readers for both forms."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, cast

from . import mediatypes as mt
from .blobs import BlobSource
from .compression import open_decompressor
from .spec import Descriptor
from .streams import VerifyingReader

if TYPE_CHECKING:
    from .digest import Digest

__all__ = ["Layer"]


@dataclass(frozen=True, slots=True)
class Layer:
    """One filesystem layer of an image.

    ``descriptor`` identifies the compressed blob (the manifest's view), ``diff_id`` the
    uncompressed tar (the config's view). ``source`` serves the bytes; opening them is the only
    way a layer is ever read, so lazily composed images never touch layers they only carry.
    ``max_size`` bounds what the layer may decompress to (None: ``OCIFORGE_MAX_LAYER_SIZE``
    or 64 GiB); :func:`~ociforge.transports.open_image` sets it for untrusted sources.
    """

    descriptor: Descriptor
    diff_id: Digest
    source: BlobSource = field(compare=False, repr=False)
    max_size: int | None = field(default=None, compare=False)

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

        ``limit`` bounds the uncompressed size (default: :attr:`max_size`).
        """
        what = f"{self.source.name}: layer {self.digest}"
        bound = limit if limit is not None else self.max_size
        raw = open_decompressor(self.open_compressed(), self.compression, limit=bound, what=what)
        return cast(
            IO[bytes],
            VerifyingReader(raw, digest=self.diff_id, size=None, what=f"{what} (uncompressed)"),
        )
