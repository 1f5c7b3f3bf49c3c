"""Read layer blobs back with the stdlib and zstandard only: the independent oracle."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from dataclasses import dataclass

import zstandard


@dataclass
class Member:
    info: tarfile.TarInfo
    data: bytes

    @property
    def name(self) -> str:
        return self.info.name


def decompress(blob: bytes) -> bytes:
    if blob[:2] == b"\x1f\x8b":
        return gzip.decompress(blob)
    if blob[:4] == b"\x28\xb5\x2f\xfd":
        return (
            zstandard.ZstdDecompressor()
            .stream_reader(io.BytesIO(blob), read_across_frames=True)
            .read()
        )
    return blob


def members(raw_tar: bytes) -> list[Member]:
    """Every member of an uncompressed tar, in order, with its data."""
    out = []
    with tarfile.open(fileobj=io.BytesIO(raw_tar), mode="r:") as tf:
        for info in tf:
            data = tf.extractfile(info).read() if info.isreg() else b""  # type: ignore[union-attr]
            out.append(Member(info, data))
    return out


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_blob(layer: object) -> bytes:
    """The compressed bytes of an ociforge Layer, read through its verified reader."""
    with layer.open_compressed() as reader:  # type: ignore[attr-defined]
        return reader.read()
