"""Pulling from the real registry: platform selection, any sink, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

import ociforge
from ociforge import NotFound, Platform
from tests.support import images
from tests.support.archives import read_archive
from tests.support.cli import assert_clean_error
from tests.support.cli import ociforge as run_cli
from tests.support.registry import Registry, options_for
from tests.support.tools import skopeo


def _push_with_skopeo(
    registry: Registry, tmp_path: Path, image: images.BuiltImage, target: str
) -> None:
    archive = images.write_archive(
        str(tmp_path / f"{image.digest[7:19]}.ociarchive"), [(image, "")]
    )
    skopeo("copy", "--dest-tls-verify=false", f"oci-archive:{archive}", registry.ref(target))


@pytest.fixture
def multi_arch(registry: Registry, tmp_path: Path) -> dict[str, images.BuiltImage]:
    """An index with an amd64 and an arm64/v8 image, put with plain HTTP requests."""
    built = {}
    for arch in ("amd64", "arm64"):
        layer = images.layer([images.file("etc/arch", arch)])
        built[arch] = images.image([layer], architecture=arch)
        _push_with_skopeo(registry, tmp_path, built[arch], f"multi:{arch}")
    index = {
        "schemaVersion": 2,
        "mediaType": images.OCI_INDEX,
        "manifests": [
            {
                "mediaType": images.OCI_MANIFEST,
                "digest": built["amd64"].digest,
                "size": len(built["amd64"].manifest),
                "platform": {"os": "linux", "architecture": "amd64"},
            },
            {
                "mediaType": images.OCI_MANIFEST,
                "digest": built["arm64"].digest,
                "size": len(built["arm64"].manifest),
                "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"},
            },
        ],
    }
    response = requests.put(
        f"{registry.url}/v2/multi/manifests/v1",
        data=json.dumps(index).encode(),
        headers={"Content-Type": images.OCI_INDEX},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return built


def test_platform_is_picked_from_an_index(
    registry: Registry, multi_arch: dict[str, images.BuiltImage]
) -> None:
    options = options_for(registry)
    arm = ociforge.open_image(
        registry.ref("multi:v1"), platform=Platform("linux", "arm64"), registry=options
    )
    assert str(arm.digest) == multi_arch["arm64"].digest
    assert arm.config.architecture == "arm64"
    amd = ociforge.open_image(
        registry.ref("multi:v1"), platform=Platform("linux", "amd64"), registry=options
    )
    assert str(amd.digest) == multi_arch["amd64"].digest
    default = ociforge.open_image(registry.ref("multi:v1"), registry=options)
    assert default.config.architecture == ociforge.host_platform().architecture


def test_inspect_platform_from_the_cli(
    registry: Registry, multi_arch: dict[str, images.BuiltImage]
) -> None:
    result = run_cli(
        "inspect", "--tls-verify=false", "--platform", "linux/arm64/v8", registry.ref("multi:v1")
    )
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert document["digest"] == multi_arch["arm64"].digest
    assert document["architecture"] == "arm64"
    missing = run_cli(
        "inspect", "--tls-verify=false", "--platform", "linux/s390x", registry.ref("multi:v1")
    )
    assert_clean_error(
        missing, "no manifest for platform linux/s390x", "linux/amd64", "linux/arm64/v8"
    )


def test_pull_into_a_layout_and_an_archive(
    registry: Registry, tmp_path: Path, small_image: images.BuiltImage
) -> None:
    _push_with_skopeo(registry, tmp_path, small_image, "pull/img:v1")
    options = options_for(registry)
    layout = tmp_path / "layout"
    ociforge.copy_image(registry.ref("pull/img:v1"), f"oci:{layout}:v1", registry=options)
    for digest, data in small_image.blobs().items():
        assert (layout / "blobs/sha256" / digest[7:]).read_bytes() == data
    archive = tmp_path / "img.ociarchive"
    ociforge.copy_image(
        registry.ref(f"pull/img@{small_image.digest}"), f"oci-archive:{archive}", registry=options
    )
    assert read_archive(str(archive)).manifest() == small_image.manifest
    # skopeo reads what ociforge wrote.
    inspected = skopeo("inspect", "--format", "{{.Digest}}", f"oci:{layout}:v1")
    assert inspected.stdout.strip() == small_image.digest


def test_unknown_tag_is_not_found(registry: Registry) -> None:
    with pytest.raises(NotFound, match="manifest nope"):
        ociforge.open_image(registry.ref("nothing/here:nope"), registry=options_for(registry))


def test_bad_digest_never_reaches_the_registry(registry: Registry) -> None:
    result = run_cli("inspect", "--tls-verify=false", registry.ref("a/b@sha256:../../../x"))
    assert_clean_error(result, "invalid sha256 digest")
    assert registry.requests() == []
