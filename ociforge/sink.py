"""The sink protocol every destination implements, and writing one image into any sink."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .blobs import BlobSource
from .digest import Digest
from .image import Image
from .spec import Descriptor

__all__ = ["ImageSink", "Progress", "write_image"]

#: Called as ``progress(event, descriptor)`` with event ``"skip"``, ``"start"`` or ``"done"``.
Progress = Callable[[str, Descriptor], None]


class ImageSink(Protocol):
    """A destination for blobs and manifests; nothing is visible until :meth:`commit`."""

    @property
    def name(self) -> str:
        """What to call this destination in messages."""
        ...

    def has_blob(self, digest: Digest) -> bool:
        """True if the blob is already present (it will not be written again)."""
        ...

    def add_blob(self, descriptor: Descriptor, source: BlobSource) -> None:
        """Copy one blob from ``source``, verifying it on the way."""
        ...

    def add_manifest(self, descriptor: Descriptor, raw: bytes, *, ref: str = "") -> None:
        """Store a manifest's exact bytes and record it (under ``ref`` if given)."""
        ...

    def commit(self) -> None:
        """Make everything added visible atomically."""
        ...

    def abort(self) -> None:
        """Discard everything added; the destination is as before."""
        ...


def write_image(
    image: Image, sink: ImageSink, *, ref: str = "", progress: Progress | None = None
) -> Descriptor:
    """Write ``image`` into ``sink`` (blobs first, then the manifest); return its descriptor.

    Blobs the sink already has are skipped. The caller commits or aborts the sink.
    """
    for descriptor, source in image.blobs():
        if sink.has_blob(descriptor.digest):
            if progress:
                progress("skip", descriptor)
            continue
        if progress:
            progress("start", descriptor)
        sink.add_blob(descriptor, source)
        if progress:
            progress("done", descriptor)
    manifest = image.descriptor()
    sink.add_manifest(manifest, image.raw_manifest, ref=ref)
    return manifest
