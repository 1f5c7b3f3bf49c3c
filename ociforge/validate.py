"""Check an image end to end: every blob present, every digest, size and diff_id right."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import mediatypes as mt
from .errors import ManifestError
from .image import Image
from .streams import drain

__all__ = ["ValidationReport", "validate_image"]


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """What :func:`validate_image` read."""

    layers: int
    compressed_bytes: int
    uncompressed_bytes: int


def validate_image(
    image: Image,
    *,
    uncompressed: bool = True,
    on_layer: Callable[[int, int], None] | None = None,
) -> ValidationReport:
    """Read every layer and check it; raise on the first problem.

    Each compressed blob is checked against its descriptor (size and digest); with
    ``uncompressed`` each layer is also decompressed and checked against its ``diff_id``, which
    is what consumers such as ostree and container runtimes verify. ``on_layer(i, n)`` reports
    progress.
    """
    config = image.config
    if len(config.diff_ids) != len(image.layers):
        raise ManifestError(
            f"{image.name}: {len(image.layers)} layers but {len(config.diff_ids)} diff_ids"
        )
    compressed = uncompressed_total = 0
    for i, layer in enumerate(image.layers):
        if on_layer is not None:
            on_layer(i, len(image.layers))
        mt.layer_compression(layer.media_type)  # unsupported media types fail here
        if uncompressed:
            with layer.open_uncompressed() as reader:
                uncompressed_total += drain(reader)
            compressed += layer.size
        else:
            with layer.open_compressed() as blob:
                compressed += drain(blob)
    return ValidationReport(len(image.layers), compressed, uncompressed_total)
