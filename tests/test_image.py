"""The Image model: its invariants, building one from a manifest, and picking one from an index."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import re

import pytest

from ociforge.blobs import BytesSource
from ociforge.digest import Digest
from ociforge.errors import DigestMismatch, ManifestError, NotFound, SizeMismatch
from ociforge.image import (
    Image,
    image_from_manifest,
    limit_layers,
    resolve_image,
    select_from_index,
)
from ociforge.spec import MAX_CONFIG_BYTES, Descriptor, ImageConfig, Index, Manifest, Platform
from tests.support import images
from tests.support.images import directory, file
from tests.support.sources import CountingSource


def source_of(built: images.BuiltImage, **replace: bytes) -> BytesSource:
    blobs = {Digest.parse(d): data for d, data in built.blobs().items()}
    blobs.update({Digest.parse(d): data for d, data in replace.items()})
    return BytesSource(blobs, name="src")


def manifest_with(built: images.BuiltImage, change: object) -> tuple[Manifest, bytes]:
    document = json.loads(built.manifest)
    change(document)  # type: ignore[operator]
    raw = json.dumps(document).encode()
    return Manifest.parse(raw), raw


@pytest.fixture
def built() -> images.BuiltImage:
    base = images.layer([directory("etc"), file("etc/os-release", "ID=fedora\n")])
    top = images.layer([file("hello", "hi")], compress=False)
    return images.image([base, top], labels={"ostree.bootable": "true"})


def test_image_from_a_manifest(built: images.BuiltImage) -> None:
    image = image_from_manifest(Manifest.parse(built.manifest), source_of(built), name="img")
    assert str(image.digest) == "sha256:" + hashlib.sha256(built.manifest).hexdigest()
    assert (image.raw_manifest, image.raw_config) == (built.manifest, built.config)
    assert image.labels == {"ostree.bootable": "true"}
    assert image.media_type == images.OCI_MANIFEST
    assert [str(layer.digest) for layer in image.layers] == [lay.digest for lay in built.layers]
    assert [str(layer.diff_id) for layer in image.layers] == [lay.diff_id for lay in built.layers]
    descriptor = image.descriptor()
    assert (str(descriptor.digest), descriptor.size) == (built.digest, len(built.manifest))
    blobs = [str(d.digest) for d, _ in image.blobs()]
    assert blobs == [*(lay.digest for lay in built.layers), images.sha256(built.config)]
    with image.open_blob(image.manifest.config) as reader:
        assert reader.read() == built.config
    with image.open_blob(image.manifest.layers[0]) as reader:
        assert gzip.decompress(reader.read()) == images.tar_bytes(
            [directory("etc"), file("etc/os-release", "ID=fedora\n")]
        )


def test_only_the_config_is_read(built: images.BuiltImage) -> None:
    opened: list[str] = []
    source = CountingSource(source_of(built), opened)
    image_from_manifest(Manifest.parse(built.manifest), source)
    assert opened == [images.sha256(built.config)]


def test_a_blob_outside_the_image_is_not_found(built: images.BuiltImage) -> None:
    image = image_from_manifest(Manifest.parse(built.manifest), source_of(built), name="img")
    other = Descriptor(images.LAYER_TAR, Digest.parse(images.sha256(b"other")), 5)
    with pytest.raises(NotFound, match=r"img: blob sha256:\w+ is not part of the image"):
        image.open_blob(other)


def test_the_config_must_match_the_manifest(built: images.BuiltImage) -> None:
    manifest = Manifest.parse(built.manifest)
    other = ImageConfig.parse(built.config.replace(b'"amd64"', b'"arm64"'))
    with pytest.raises(
        ManifestError, match=r"img: config digest \S+ does not match the manifest's"
    ):
        Image(manifest, other, (), name="img")
    with pytest.raises(ManifestError, match="does not match"):
        image_from_manifest(manifest, source_of(built), config=other.raw)


def test_a_served_config_is_verified(built: images.BuiltImage) -> None:
    config_digest = images.sha256(built.config)
    forged = built.config.replace(b'"amd64"', b'"arm64"')
    source = source_of(built, **{config_digest: forged})
    with pytest.raises(DigestMismatch, match=f"src: blob {config_digest}"):
        image_from_manifest(Manifest.parse(built.manifest), source)


def test_an_oversized_config_is_refused_unread(built: images.BuiltImage) -> None:
    def grow(document: dict[str, object]) -> None:
        document["config"]["size"] = MAX_CONFIG_BYTES + 1  # type: ignore[index]

    manifest, _ = manifest_with(built, grow)
    opened: list[str] = []
    with pytest.raises(SizeMismatch, match=f"more than the {MAX_CONFIG_BYTES} allowed"):
        image_from_manifest(manifest, CountingSource(source_of(built), opened))
    assert opened == []


def test_layer_and_diff_id_counts_must_agree(built: images.BuiltImage) -> None:
    def drop_layer(document: dict[str, object]) -> None:
        document["layers"] = document["layers"][:1]  # type: ignore[index]

    manifest, _ = manifest_with(built, drop_layer)
    with pytest.raises(ManifestError, match="img: manifest has 1 layers but the config lists 2"):
        image_from_manifest(manifest, source_of(built), name="img")


@pytest.mark.parametrize(
    "media_type",
    [
        images.OCI_CONFIG,
        "application/vnd.oci.image.layer.v1.tar+bzip2",
        "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
        "",
    ],
)
def test_non_layer_media_types_are_refused(built: images.BuiltImage, media_type: str) -> None:
    def retype(document: dict[str, object]) -> None:
        document["layers"][1]["mediaType"] = media_type  # type: ignore[index]

    manifest, _ = manifest_with(built, retype)
    with pytest.raises(ManifestError, match=re.escape(f"unsupported media type {media_type!r}")):
        image_from_manifest(manifest, source_of(built))


def test_limit_layers(built: images.BuiltImage) -> None:
    image = image_from_manifest(Manifest.parse(built.manifest), source_of(built))
    assert limit_layers(image, None) is image
    size = len(gzip.decompress(built.layers[0].blob))  # tarfile pads to 10 KiB
    limited = limit_layers(image, size)
    assert [layer.max_size for layer in limited.layers] == [size, size]
    assert limited.digest == image.digest  # the layers' identity is unchanged
    assert limited.layers == image.layers
    with limited.layers[0].open_uncompressed() as reader:
        assert len(reader.read()) == size  # exactly at the limit is allowed
    tight = limit_layers(image, size - 1)
    with pytest.raises(SizeMismatch, match=f"exceeds the limit of {size - 1} bytes"):
        tight.layers[0].open_uncompressed().read()


# -- choosing from an index --------------------------------------------------------------

AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64", "v8")


def entry(n: int, platform: dict[str, str] | None = None, ref: str = "") -> dict[str, object]:
    out: dict[str, object] = {
        "mediaType": images.OCI_MANIFEST,
        "digest": images.sha256(b"manifest %d" % n),
        "size": 100 + n,
    }
    if platform is not None:
        out["platform"] = platform
    if ref:
        out["annotations"] = {images.REF_NAME: ref}
    return out


def index(*entries: dict[str, object]) -> Index:
    return Index.parse(json.dumps({"schemaVersion": 2, "manifests": list(entries)}).encode())


def chosen(idx: Index, **kwargs: object) -> int:
    digest = select_from_index(idx, what="idx", **kwargs).digest  # type: ignore[arg-type]
    return next(n for n in range(20) if str(digest) == images.sha256(b"manifest %d" % n))


def test_select_by_ref() -> None:
    idx = index(entry(0, ref="v1"), entry(1, ref="v2"), entry(2))
    assert chosen(idx, ref="v2") == 1
    with pytest.raises(NotFound, match="idx: no manifest named 'v3'; it has v1, v2"):
        select_from_index(idx, what="idx", ref="v3")
    with pytest.raises(NotFound, match="it has no named manifests"):
        select_from_index(index(entry(0), entry(1)), what="idx", ref="v1")
    twice = index(entry(0, ref="v1"), entry(1, ref="v1"))
    with pytest.raises(ManifestError, match="several different manifests are named 'v1'"):
        select_from_index(twice, what="idx", ref="v1")
    assert chosen(index(entry(4, ref="v1"), entry(4, ref="v1")), ref="v1") == 4


def test_the_only_manifest_needs_no_choice() -> None:
    assert chosen(index(entry(3, {"os": "linux", "architecture": "s390x"})), platform=AMD64) == 3
    assert chosen(index(entry(3))) == 3
    with pytest.raises(NotFound, match="idx: contains no manifests"):
        select_from_index(index(), what="idx")


def test_several_manifests_and_no_platform_is_an_error() -> None:
    idx = index(
        entry(0, {"os": "linux", "architecture": "amd64"}),
        entry(1, {"os": "linux", "architecture": "arm64", "variant": "v8"}),
    )
    with pytest.raises(
        ManifestError, match=r"idx: holds 2 manifests \(linux/amd64, linux/arm64/v8\)"
    ):
        select_from_index(idx, what="idx")
    with pytest.raises(ManifestError, match=r"\(none declared\); name a platform"):
        select_from_index(index(entry(0), entry(1)), what="idx")


def test_a_layout_index_is_chosen_by_name() -> None:
    idx = index(entry(0, AMD64.to_json(), ref="stable"), entry(1, AMD64.to_json(), ref="next"))
    with pytest.raises(ManifestError, match=r"holds 2 manifests; name one \(e\.g\. idx:next\)"):
        select_from_index(idx, what="idx", platform=AMD64, top_level=True)
    assert chosen(idx, platform=AMD64) == 0  # nested: by platform, the first match


def test_select_by_platform_and_variant() -> None:
    idx = index(
        entry(0, {"os": "linux", "architecture": "arm", "variant": "v7"}),
        entry(1, {"os": "linux", "architecture": "amd64"}),
        entry(2, {"os": "linux", "architecture": "arm64"}),
        entry(3, {"os": "linux", "architecture": "arm64", "variant": "v8"}),
        entry(4, {"os": "windows", "architecture": "amd64"}),
        entry(5, {"os": "linux", "architecture": "arm", "variant": "v6"}),
    )
    assert chosen(idx, platform=AMD64) == 1
    assert chosen(idx, platform=Platform("windows", "amd64")) == 4
    # A variant wanted matches that variant or an entry that declares none; the first wins.
    assert chosen(idx, platform=ARM64) == 2
    assert chosen(idx, platform=Platform("linux", "arm", "v6")) == 5
    # No variant wanted matches any variant.
    assert chosen(idx, platform=Platform("linux", "arm")) == 0
    with pytest.raises(NotFound, match=r"no manifest for platform linux/arm/v5 \(available: "):
        select_from_index(idx, what="idx", platform=Platform("linux", "arm", "v5"))
    with pytest.raises(NotFound, match="linux/ppc64le"):
        select_from_index(idx, what="idx", platform=Platform("linux", "ppc64le"))


def test_entries_that_are_not_manifests_are_skipped() -> None:
    signature = {**entry(9), "mediaType": "application/vnd.dev.cosign.artifact.sig.v1+json"}
    assert chosen(index(signature, entry(1, AMD64.to_json()))) == 1


def test_resolve_descends_through_nested_indexes(built: images.BuiltImage) -> None:
    child = {
        "mediaType": images.OCI_MANIFEST,
        "digest": built.digest,
        "size": len(built.manifest),
        "platform": AMD64.to_json(),
    }
    inner = json.dumps({"schemaVersion": 2, "mediaType": images.OCI_INDEX, "manifests": [child]})
    inner_raw = inner.encode()
    outer = {
        "mediaType": images.OCI_INDEX,
        "digest": images.sha256(inner_raw),
        "size": len(inner_raw),
        "platform": AMD64.to_json(),
    }
    documents = {built.digest: built.manifest, images.sha256(inner_raw): inner_raw}
    fetched: list[str] = []

    def fetch(descriptor: Descriptor) -> bytes:
        fetched.append(str(descriptor.digest))
        return documents[str(descriptor.digest)]

    raw = json.dumps({"schemaVersion": 2, "manifests": [outer]}).encode()
    image = resolve_image(raw, fetch=fetch, source=source_of(built), what="x", platform=AMD64)
    assert str(image.digest) == built.digest
    assert fetched == [images.sha256(inner_raw), built.digest]

    loop = json.dumps(
        {"schemaVersion": 2, "manifests": [{**outer, "digest": "sha256:" + "1" * 64}]}
    )
    # A source that checks no digest serves the index as its own child: refused as a loop.
    with pytest.raises(ManifestError, match=r"x: index sha256:[0-9a-f]+ lists itself"):
        resolve_image(
            loop.encode(), fetch=lambda _d: loop.encode(), source=source_of(built), what="x"
        )


def test_image_equality_ignores_where_blobs_come_from(built: images.BuiltImage) -> None:
    a = image_from_manifest(Manifest.parse(built.manifest), source_of(built))
    b = image_from_manifest(Manifest.parse(built.manifest), source_of(built))
    assert a == b
    assert dataclasses.replace(a, name="other") != a
