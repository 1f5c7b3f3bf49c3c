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
    image: Image, destination: str | LocalReference, *, progress: Progress | None = None
) -> Descriptor:
    """Write ``image`` to ``destination``; it appears only if everything succeeded."""
    dest = parse_reference(destination) if isinstance(destination, str) else destination
    sink = open_sink(dest)
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
) -> Descriptor:
    """Copy one image; every blob is verified on the way and the manifest bytes are kept."""
    return save_image(open_image(source, platform=platform), destination, progress=progress)
