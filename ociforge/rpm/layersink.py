"""Where RPM injection writes its tar entries: the small interface, and a streaming stand-in.

TEMPORARY: :class:`TarLayerSink` writes entries in the order given straight into a
:class:`~ociforge.layer.SpooledLayerWriter`. It stands in for the layers work's ``LayerBuilder``
(whose ``add_entry``/``add_whiteout`` have the same shape) until that is on main.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from typing import Protocol

from .. import mediatypes as mt
from ..errors import PolicyError
from ..layer import Layer, SpooledLayerWriter
from ..ostree.tree import TreeEntry
from ..streams import CHUNK_SIZE, Readable
from ..tar.header import DIR, REG, TarHeader, encode_header, end_of_archive, padding

__all__ = ["EntrySink", "TarLayerSink"]


class EntrySink(Protocol):
    """Takes tar entries (relative names) and whiteouts (image paths)."""

    def add_entry(self, header: TarHeader, data: bytes | Readable | None = None) -> None:
        """Add one member; a regular file's data must be exactly ``header.size`` bytes."""
        ...

    def add_whiteout(self, image_path: str) -> None:
        """Delete ``image_path`` from the layers below."""
        ...


class TarLayerSink:
    """Stream entries into one layer, emitting missing parent directories first.

    Parents take the base image's metadata (``parent``) when it has the directory, else
    0755 root, so the layer never changes a directory it only passes through.
    """

    def __init__(
        self,
        *,
        compression: mt.Compression = "gzip",
        parent: Callable[[str], TreeEntry | None] = lambda _path: None,
    ) -> None:
        self._writer = SpooledLayerWriter(compression)
        self._parent = parent
        self._seen: dict[str, str] = {}

    def _write(self, header: TarHeader, data: bytes | Readable | None) -> None:
        self._writer.write(encode_header(header))
        if not header.is_file or not header.size:
            return
        left = header.size
        if isinstance(data, bytes):
            self._writer.write(data)
            left -= len(data)
        elif data is not None:
            while left and (chunk := data.read(min(left, CHUNK_SIZE))):
                self._writer.write(chunk)
                left -= len(chunk)
        if left:
            raise PolicyError(f"{header.name}: data is {left} bytes short of its size")
        self._writer.write(b"\0" * padding(header.size))

    def _parents(self, name: str) -> None:
        parts = name.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            directory = "/".join(parts[:i])
            if directory in self._seen:
                continue
            base = self._parent("/" + directory)
            if base is not None and base.kind == "dir":
                header = TarHeader(directory, DIR, base.mode & 0o7777, base.uid, base.gid)
            else:
                header = TarHeader(directory, DIR, 0o755)
            self._write(header, None)
            self._seen[directory] = DIR

    def add_entry(self, header: TarHeader, data: bytes | Readable | None = None) -> None:
        """Write one member (after its parents); a second directory entry is ignored."""
        name = header.name.strip("/")
        previous = self._seen.get(name)
        if previous is not None:
            if previous == DIR and header.is_dir:
                return
            raise PolicyError(f"/{name}: two entries for the same path in the new layer")
        self._parents(name)
        self._write(header.evolve(name=name), data)
        self._seen[name] = header.type

    def add_whiteout(self, image_path: str) -> None:
        """Write ``.wh.<name>`` for ``image_path``."""
        name = image_path.strip("/")
        marker = posixpath.join(posixpath.dirname(name), ".wh." + posixpath.basename(name))
        self.add_entry(TarHeader(marker, REG, 0o644))

    def finish(self) -> Layer:
        """End the tar stream and return the layer."""
        self._writer.write(end_of_archive())
        return self._writer.finish()

    def abort(self) -> None:
        """Drop everything written."""
        self._writer.abort()
