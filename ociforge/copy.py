"""Copy an image between any source and any sink, atomically."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .sink import Progress, write_image
from .transports import LocalReference, open_image, open_sink, parse_reference

if TYPE_CHECKING:
    from .image import Image
    from .spec import Descriptor, Platform

__all__ = ["copy_image", "save_image"]


def save_image(
    image: Image,
    destination: str | LocalReference,
    *,
    progress: Progress | None = None,
    verify: bool = True,
) -> Descriptor:
    """Write ``image`` to ``destination``; it appears only if everything succeeded.

    ``verify=False`` skips re-hashing blobs copied byte for byte from a local file (their
    sizes are still checked); new and streamed blobs are always verified.
    """
    dest = parse_reference(destination) if isinstance(destination, str) else destination
    sink = open_sink(dest, verify=verify)
    try:
        descriptor = write_image(image, sink, ref=dest.ref, progress=progress)
        sink.commit()
    except BaseException:
        sink.abort()
        raise
    return descriptor


def copy_image(
    source: str | LocalReference,
    destination: str | LocalReference,
    *,
    platform: Platform | None = None,
    progress: Progress | None = None,
    verify: bool = True,
) -> Descriptor:
    """Copy one image; every blob is verified on the way and the manifest bytes are kept."""
    image = open_image(source, platform=platform)
    return save_image(image, destination, progress=progress, verify=verify)
