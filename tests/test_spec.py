import json

import pytest

from ociforge import mediatypes as mt
from ociforge.digest import Digest
from ociforge.errors import ManifestError
from ociforge.spec import (
    Descriptor,
    ImageConfig,
    Index,
    Manifest,
    Platform,
    parse_manifest_or_index,
)
from tests.support import images


def test_manifest_keeps_exact_bytes(small_image: images.BuiltImage) -> None:
    # Spaces and key order that a re-serialiser would change.
    raw = small_image.manifest.replace(b'"schemaVersion": 2', b'"schemaVersion" :  2')
    m = Manifest.parse(raw)
    assert m.raw == raw
    assert str(m.digest) == images.sha256(raw)
    assert len(m.layers) == 2
    assert m.layers[0].media_type == mt.OCI_LAYER_GZIP


def test_config_fields(small_image: images.BuiltImage) -> None:
    c = ImageConfig.parse(small_image.config)
    assert c.labels["ostree.bootable"] == "true"
    assert [str(d) for d in c.diff_ids] == [lay.diff_id for lay in small_image.layers]
    assert c.platform == Platform("linux", "amd64")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda m: m.update(schemaVersion=1), "schemaVersion"),
        (lambda m: m["layers"][0].update(digest="sha256:../../x"), "invalid sha256 digest"),
        (lambda m: m["layers"][0].update(size=-1), "invalid size"),
        (lambda m: m["layers"][0].update(size="12"), "invalid size"),
        (lambda m: m["layers"][0].update(size=True), "invalid size"),
        (lambda m: m.update(layers={}), "'layers' must be a list"),
        (lambda m: m.update(mediaType=mt.OCI_INDEX), "not an image manifest"),
        (lambda m: m.update(annotations={"a": 1}), "annotations"),
    ],
)
def test_bad_manifests(small_image: images.BuiltImage, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(small_image.manifest)
    mutate(doc)
    with pytest.raises(ManifestError, match=message):
        Manifest.parse(json.dumps(doc).encode())


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b"\xff\xfe", b"null", b"1" * 10])
def test_not_json_objects(raw: bytes) -> None:
    with pytest.raises(ManifestError):
        Manifest.parse(raw)


def test_oversized_manifest_refused() -> None:
    with pytest.raises(ManifestError, match="larger than"):
        Manifest.parse(b" " * (4 * 1024 * 1024 + 1))


def test_deeply_nested_json_is_a_clean_error() -> None:
    with pytest.raises(ManifestError):
        Manifest.parse(b"[" * 100_000)


def test_served_media_type_must_agree(small_image: images.BuiltImage) -> None:
    with pytest.raises(ManifestError, match="served as"):
        Manifest.parse(small_image.manifest, media_type=mt.DOCKER_MANIFEST)


def test_index_and_detection(small_image: images.BuiltImage) -> None:
    raw = images.index_json([(small_image, "v1")])
    doc = parse_manifest_or_index(raw)
    assert isinstance(doc, Index)
    assert doc.manifests[0].ref_name == "v1"
    assert isinstance(parse_manifest_or_index(small_image.manifest), Manifest)


def test_descriptor_json_round_trip() -> None:
    d = Descriptor(
        mt.OCI_MANIFEST,
        Digest.of_bytes(b"m"),
        1,
        annotations={"k": "v"},
        platform=Platform("linux", "arm64", "v8"),
    )
    assert Descriptor.from_json(d.to_json()) == d
    assert d.to_json()["platform"] == {"architecture": "arm64", "os": "linux", "variant": "v8"}


def test_config_layer_count_fields_checked() -> None:
    with pytest.raises(ManifestError, match="rootfs"):
        ImageConfig.parse(b'{"rootfs": {"type": "other", "diff_ids": []}}')
    with pytest.raises(ManifestError, match="diff_ids"):
        ImageConfig.parse(b'{"rootfs": {"type": "layers", "diff_ids": ["sha256:zz"]}}')


def test_platform_parse() -> None:
    # Normalised as containers/image does: arm64's only variant, v8, is left out.
    assert Platform.parse("linux/arm64/v8") == Platform("linux", "arm64")
    assert Platform.parse("linux/arm/v6") == Platform("linux", "arm", "v6")
    with pytest.raises(ValueError, match="OS/ARCH"):
        Platform.parse("linux")
