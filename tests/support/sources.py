"""Blob sources for tests: stdlib-built images served from memory, and sources that count reads."""

from __future__ import annotations

import dataclasses
from contextlib import AbstractContextManager
from typing import IO

from ociforge.blobs import BlobSource, BytesSource
from ociforge.digest import Digest
from ociforge.image import Image, image_from_manifest
from ociforge.spec import Descriptor, Manifest
from ociforge.streams import FileRange
from tests.support.images import BuiltImage


class CountingSource:
    """Wraps a blob source and records every blob opened, by digest."""

    def __init__(self, inner: BlobSource, opened: list[str] | None = None) -> None:
        self.inner = inner
        self.opened: list[str] = opened if opened is not None else []

    @property
    def name(self) -> str:
        return self.inner.name

    def open_blob(self, descriptor: Descriptor) -> IO[bytes]:
        self.opened.append(str(descriptor.digest))
        return self.inner.open_blob(descriptor)

    def blob_range(self, descriptor: Descriptor) -> AbstractContextManager[FileRange | None]:
        self.opened.append(str(descriptor.digest))
        return self.inner.blob_range(descriptor)


def counted(image: Image) -> tuple[Image, list[str]]:
    """``image`` whose layer reads are recorded (by digest) in the returned list."""
    opened: list[str] = []
    layers = tuple(
        dataclasses.replace(layer, source=CountingSource(layer.source, opened))
        for layer in image.layers
    )
    return dataclasses.replace(image, layers=layers), opened


def image_of(built: BuiltImage, *, name: str = "test image") -> Image:
    """An ociforge :class:`Image` of a stdlib-built image, its blobs served from memory."""
    blobs = {Digest.parse(digest): data for digest, data in built.blobs().items()}
    manifest = Manifest.parse(built.manifest)
    return image_from_manifest(manifest, BytesSource(blobs, name=name), name=name)
