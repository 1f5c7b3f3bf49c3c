"""A layer's two verified readers: the blob against its digest, the tar against its diff_id."""

from __future__ import annotations

import gzip
from typing import IO

import pytest
import zstandard

from ociforge.blobs import BytesSource
from ociforge.digest import Digest
from ociforge.errors import DigestMismatch, SizeMismatch, UnsupportedError
from ociforge.layer import Layer
from ociforge.spec import Descriptor
from tests.support import images
from tests.support.images import file

RAW = images.tar_bytes([file("etc/os-release", "ID=fedora\n"), file("usr/bin/x", b"\x7fELF" * 500)])
ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"


def layer_of(
    blob: bytes,
    media_type: str = images.LAYER_GZIP,
    *,
    raw: bytes = RAW,
    served: bytes | None = None,
    size: int | None = None,
    max_size: int | None = None,
) -> Layer:
    """A layer of ``blob`` whose source serves ``served`` (default: the blob itself)."""
    digest = Digest.parse(images.sha256(blob))
    descriptor = Descriptor(media_type, digest, len(blob) if size is None else size)
    source = BytesSource({digest: blob if served is None else served}, name="src")
    return Layer(descriptor, Digest.parse(images.sha256(raw)), source, max_size=max_size)


@pytest.mark.parametrize(
    ("media_type", "compress"),
    [
        (images.LAYER_GZIP, lambda raw: gzip.compress(raw, mtime=0)),
        (ZSTD, lambda raw: zstandard.ZstdCompressor().compress(raw)),
        (images.LAYER_TAR, lambda raw: raw),
        ("application/vnd.docker.image.rootfs.diff.tar.gzip", gzip.compress),
    ],
    ids=["gzip", "zstd", "tar", "docker-gzip"],
)
def test_both_readers_give_the_bytes(media_type: str, compress: object) -> None:
    blob = compress(RAW)  # type: ignore[operator]
    layer = layer_of(blob, media_type)
    with layer.open_compressed() as reader:
        assert reader.read() == blob
    with layer.open_uncompressed() as reader:
        assert reader.read() == RAW
    assert (str(layer.digest), layer.size, layer.media_type) == (
        images.sha256(blob),
        len(blob),
        media_type,
    )


def test_compression_comes_from_the_media_type() -> None:
    assert layer_of(b"", images.LAYER_GZIP).compression == "gzip"
    assert layer_of(b"", ZSTD).compression == "zstd"
    assert layer_of(b"", images.LAYER_TAR).compression == "none"
    with pytest.raises(UnsupportedError, match="unsupported layer media type 'text/plain'"):
        _ = layer_of(b"", "text/plain").compression


def test_a_blob_that_is_not_the_descriptors_is_refused() -> None:
    blob = gzip.compress(RAW, mtime=0)
    other = gzip.compress(RAW, mtime=1)  # same tar, other bytes
    layer = layer_of(blob, served=other)
    with pytest.raises(DigestMismatch, match=f"src: blob {images.sha256(blob)}"):
        layer.open_compressed().read()
    with pytest.raises(DigestMismatch, match=f"expected {images.sha256(blob)}"):
        layer.open_uncompressed().read()


def test_a_blob_of_the_wrong_size_is_refused() -> None:
    blob = gzip.compress(RAW, mtime=0)
    with pytest.raises(SizeMismatch, match="more than the expected"):
        layer_of(blob, size=len(blob) - 1).open_compressed().read()
    with pytest.raises(SizeMismatch, match=f"expected {len(blob) + 1} bytes, got {len(blob)}"):
        layer_of(blob, size=len(blob) + 1).open_compressed().read()


def test_a_wrong_diff_id_is_refused() -> None:
    blob = gzip.compress(RAW, mtime=0)
    layer = layer_of(blob, raw=RAW + b"\0")  # the diff_id of another tar
    with layer.open_compressed() as reader:
        assert reader.read() == blob  # the blob itself is fine
    with pytest.raises(DigestMismatch, match=r"src: layer sha256:\w+ \(uncompressed\)"):
        layer.open_uncompressed().read()


def test_nothing_is_reported_complete_before_it_is_verified() -> None:
    blob = gzip.compress(RAW, mtime=0)
    layer = layer_of(blob, raw=RAW + b"\0")
    reader = layer.open_uncompressed()
    assert reader.read(len(RAW)) == RAW  # the data can be read...
    with pytest.raises(DigestMismatch):
        reader.read(1)  # ...but the end of it is never reported


def drain(reader: IO[bytes], got: list[int]) -> None:
    """Read to the end in 64 KiB pieces, counting in ``got`` what arrived."""
    with reader:
        while chunk := reader.read(64 * 1024):
            got.append(len(chunk))


@pytest.mark.parametrize(
    ("media_type", "compress"),
    [
        (images.LAYER_GZIP, lambda raw: gzip.compress(raw, compresslevel=9, mtime=0)),
        (ZSTD, lambda raw: zstandard.ZstdCompressor(level=19).compress(raw)),
    ],
    ids=["gzip", "zstd"],
)
def test_max_size_refuses_a_decompression_bomb(media_type: str, compress: object) -> None:
    bomb = b"\0" * (64 << 20)
    blob = compress(bomb)  # type: ignore[operator]
    assert len(blob) < len(bomb) // 500  # a real bomb: hundreds of times smaller
    layer = layer_of(blob, media_type, raw=bomb, max_size=1 << 20)
    got: list[int] = []
    with pytest.raises(SizeMismatch, match=r"src: layer \S+: decompressed size exceeds the limit"):
        drain(layer.open_uncompressed(), got)
    assert 0 < sum(got) <= 1 << 20  # not one byte past the limit reached the reader


def test_the_limit_parameter_and_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    blob = gzip.compress(RAW, mtime=0)
    assert layer_of(blob, max_size=len(RAW)).open_uncompressed().read() == RAW  # at the limit
    with pytest.raises(SizeMismatch, match=f"limit of {len(RAW) - 1} bytes"):
        layer_of(blob, max_size=len(RAW) - 1).open_uncompressed().read()
    # An explicit limit wins over max_size.
    assert layer_of(blob, max_size=10).open_uncompressed(limit=len(RAW)).read() == RAW
    with pytest.raises(SizeMismatch, match="limit of 100 bytes"):
        layer_of(blob).open_uncompressed(limit=100).read()
    # Without either, OCIFORGE_MAX_LAYER_SIZE decides.
    monkeypatch.setenv("OCIFORGE_MAX_LAYER_SIZE", "1K")
    with pytest.raises(SizeMismatch, match="limit of 1024 bytes"):
        layer_of(blob).open_uncompressed().read()
    assert layer_of(blob, max_size=len(RAW)).open_uncompressed().read() == RAW


def test_layers_are_equal_by_identity_not_by_source() -> None:
    blob = gzip.compress(RAW, mtime=0)
    a, b = layer_of(blob), layer_of(blob, max_size=5)
    assert a == b  # source and max_size are not part of a layer's identity
    assert layer_of(blob) != layer_of(blob, raw=RAW + b"\0")
