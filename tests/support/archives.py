"""Read an ociarchive back with the stdlib alone, checking every blob against its name."""

from __future__ import annotations

import hashlib
import json
import tarfile
from dataclasses import dataclass


@dataclass
class ArchiveContents:
    index: dict[str, object]
    blobs: dict[str, bytes]

    def manifest_digests(self) -> list[str]:
        return [str(m["digest"]) for m in self.index["manifests"]]  # type: ignore[attr-defined,index]

    def manifest(self, position: int = 0) -> bytes:
        return self.blobs[self.manifest_digests()[position]]


def read_archive(path: str) -> ArchiveContents:
    """Every blob of an ociarchive, after checking that each hashes to its file name."""
    blobs: dict[str, bytes] = {}
    index: dict[str, object] = {}
    with tarfile.open(path) as tf:
        for member in tf.getmembers():
            if not member.isfile():
                continue
            data = tf.extractfile(member).read()  # type: ignore[union-attr]
            name = member.name.removeprefix("./")
            if name == "index.json":
                index = json.loads(data)
            elif name.startswith("blobs/sha256/"):
                digest = "sha256:" + name.rsplit("/", 1)[1]
                actual = "sha256:" + hashlib.sha256(data).hexdigest()
                assert actual == digest, f"{name} holds {actual}"
                blobs[digest] = data
    return ArchiveContents(index, blobs)
