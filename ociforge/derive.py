"""Recipes that derive an image: base + exactly one new layer filled by steps, base blobs untouched.

A step is a function that adds entries to the new layer's :class:`LayerBuilder`; files and
directory trees are one kind of step (:func:`add_files`), RPM payloads another. All steps of one
derivation go into the same layer, so the result is always the base plus one layer.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from . import mediatypes as mt
from .errors import InvalidReference, NotFound
from .image import Image
from .mutate import HistoryEntry, append_layers
from .tar.build import LayerBuilder

__all__ = ["FileAddition", "Step", "add_files", "append_files", "derive_image"]

#: Adds entries to the layer being built.
Step = Callable[[LayerBuilder], None]


@dataclass(frozen=True, slots=True)
class FileAddition:
    """A local file or directory tree and the image path it goes to."""

    local: str
    image_path: str

    @classmethod
    def parse(cls, text: str) -> FileAddition:
        """Parse ``LOCAL:IMAGEPATH`` (split at the last ``:``; the image path must be absolute)."""
        local, sep, image_path = text.rpartition(":")
        if not sep or not local or not image_path.startswith("/"):
            raise InvalidReference(
                f"--add {text!r}: expected LOCAL:IMAGEPATH with an absolute image path"
                " (e.g. ./motd:/etc/motd)"
            )
        return cls(local, image_path)


def add_files(builder: LayerBuilder, additions: Sequence[FileAddition]) -> None:
    """Add each local file or directory tree at its image path.

    A directory's contents go to the image path; a file goes to it, or into it when the image
    path ends with ``/`` (``./tool:/usr/bin/`` gives ``/usr/bin/tool``), as ``COPY`` does.
    """
    for addition in additions:
        if os.path.isdir(addition.local):
            builder.add_tree(addition.local, addition.image_path)
        elif os.path.lexists(addition.local):
            target = addition.image_path
            if target.endswith("/"):
                target += os.path.basename(os.path.normpath(addition.local))
            builder.add_file(addition.local, target)
        else:
            raise NotFound(f"{addition.local}: no such file or directory")


def derive_image(
    image: Image,
    steps: Sequence[Step],
    *,
    labels: Mapping[str, str] | None = None,
    compression: mt.Compression = "gzip",
    history: HistoryEntry | None = None,
) -> Image:
    """``image`` plus one layer built by ``steps``; labels added to the config.

    The new layer uses the base's media-type family (OCI or Docker). Every label the base
    carries stays as it was unless ``labels`` overrides it, so ``ostree.final-diffid``,
    ``ostree.bootable`` and ``containers.bootc`` keep describing the ostree part.
    """
    builder = LayerBuilder(compression=compression, docker=mt.is_docker(image.media_type))
    try:
        for step in steps:
            step(builder)
    except BaseException:
        builder.close()
        raise
    layer = builder.build()
    entry = history or HistoryEntry(created_by="ociforge append")
    return append_layers(image, [layer], history=[entry], labels=labels)


def append_files(
    image: Image,
    additions: Sequence[FileAddition],
    *,
    labels: Mapping[str, str] | None = None,
    compression: mt.Compression = "gzip",
    history: HistoryEntry | None = None,
) -> Image:
    """``image`` plus one layer holding local files and trees at their image paths."""
    return derive_image(
        image,
        [lambda builder: add_files(builder, additions)],
        labels=labels,
        compression=compression,
        history=history,
    )
