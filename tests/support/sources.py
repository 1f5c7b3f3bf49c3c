"""Blob sources that count what is read, for tests that prove a step opens nothing (or once)."""

from __future__ import annotations

import dataclasses
from contextlib import AbstractContextManager
from typing import IO

from ociforge.blobs import BlobSource
from ociforge.image import Image
from ociforge.spec import Descriptor
from ociforge.streams import FileRange


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
