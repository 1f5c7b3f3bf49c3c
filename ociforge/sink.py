"""The sink protocol every destination implements, and writing an image or an index into one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, Self, runtime_checkable

from .blobs import BlobSource
from .digest import Digest
from .image import Artifact, Image, ImageIndex
from .spec import Descriptor

__all__ = [
    "CommitOnExit",
    "ImageSink",
    "ParallelImageSink",
    "Progress",
    "write_image",
    "write_index",
]

#: Called as ``progress(event, descriptor)`` with event ``"skip"``, ``"start"``, ``"done"``
#: or ``"mount"`` (a registry linked the blob from another repository instead of a copy).
Progress = Callable[[str, Descriptor], None]


class CommitOnExit:
    """For sinks used as context managers: commit when the block succeeds, abort otherwise."""

    def commit(self) -> None:  # pragma: no cover - provided by the sink
        raise NotImplementedError

    def abort(self) -> None:  # pragma: no cover - provided by the sink
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


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

    def add_manifest(
        self, descriptor: Descriptor, raw: bytes, *, ref: str = "", nested: bool = False
    ) -> None:
        """Store a manifest's exact bytes and record it (under ``ref`` if given).

        ``nested`` marks a manifest an index names: it is stored (a registry: by digest) but
        not listed or tagged on its own.
        """
        ...

    def commit(self) -> None:
        """Make everything added visible atomically."""
        ...

    def abort(self) -> None:
        """Discard everything added; the destination is as before."""
        ...


@runtime_checkable
class ParallelImageSink(ImageSink, Protocol):
    """A sink that takes all blobs at once, to transfer them in its own order and in parallel."""

    def add_blobs(
        self,
        blobs: Sequence[tuple[Descriptor, BlobSource]],
        *,
        manifest: Descriptor | None = None,
        progress: Progress | None = None,
    ) -> None:
        """Add every blob it lacks (checking itself), reporting through ``progress``.

        ``manifest`` names the manifest the blobs belong to: a sink that already holds it
        (and so, by its own rules, every blob it references) may skip the blobs at once.
        """
        ...


def write_image(
    image: Image | Artifact,
    sink: ImageSink,
    *,
    ref: str = "",
    progress: Progress | None = None,
    nested: bool = False,
) -> Descriptor:
    """Write ``image`` into ``sink`` (blobs first, then the manifest); return its descriptor.

    Blobs the sink already has are skipped. ``nested`` stores the manifest as an index's
    child (see :meth:`ImageSink.add_manifest`). The caller commits or aborts the sink.
    """
    if isinstance(sink, ParallelImageSink):
        sink.add_blobs(image.blobs(), manifest=image.descriptor(), progress=progress)
    else:
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
    sink.add_manifest(manifest, image.raw_manifest, ref=ref, nested=nested)
    return manifest


def write_index(
    index: ImageIndex,
    sink: ImageSink,
    *,
    ref: str = "",
    progress: Progress | None = None,
    children: bool = True,
    nested: bool = False,
) -> Descriptor:
    """Write every child of ``index`` (nested), then the index's exact bytes; its descriptor.

    ``children=False`` writes the index alone, for a destination that already holds every
    manifest it names (skopeo's ``--multi-arch index-only``).
    """
    if children:
        for child in index.children:
            if isinstance(child, ImageIndex):
                write_index(child, sink, progress=progress, nested=True)
            else:
                write_image(child, sink, progress=progress, nested=True)
    descriptor = index.descriptor()
    sink.add_manifest(descriptor, index.raw_manifest, ref=ref, nested=nested)
    return descriptor
