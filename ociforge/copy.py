"""Copy an image between any source and any sink, atomically where the sink allows it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .sink import Progress, write_image
from .transports import ImageReference, open_image, open_sink, parse_reference

if TYPE_CHECKING:
    from .image import Image
    from .registry.options import RegistryOptions
    from .spec import Descriptor, Platform

__all__ = ["copy_image", "save_image"]


def save_image(
    image: Image,
    destination: str | ImageReference,
    *,
    progress: Progress | None = None,
    verify: bool = True,
    registry: RegistryOptions | None = None,
) -> Descriptor:
    """Write ``image`` to ``destination``; it appears only if everything succeeded.

    ``verify=False`` skips re-hashing blobs copied byte for byte from a local file (their
    sizes are still checked); new and streamed blobs are always verified. A registry
    destination (configured by ``registry``) gets the manifest by digest, then under its tag
    if it has one.
    """
    dest = parse_reference(destination) if isinstance(destination, str) else destination
    sink = open_sink(dest, verify=verify, registry=registry)
    try:
        descriptor = write_image(image, sink, ref=dest.ref, progress=progress)
        sink.commit()
    except BaseException:
        sink.abort()
        raise
    return descriptor


def copy_image(
    source: str | ImageReference,
    destination: str | ImageReference,
    *,
    platform: Platform | None = None,
    progress: Progress | None = None,
    verify: bool = True,
    source_registry: RegistryOptions | None = None,
    registry: RegistryOptions | None = None,
) -> Descriptor:
    """Copy one image; every blob is verified on the way and the manifest bytes are kept.

    ``source_registry`` and ``registry`` configure the source and destination registries
    (``source_registry`` defaults to ``registry``).
    """
    image = open_image(source, platform=platform, registry=source_registry or registry)
    return save_image(image, destination, progress=progress, verify=verify, registry=registry)
