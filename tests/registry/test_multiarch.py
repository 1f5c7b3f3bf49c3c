"""Multi-platform indexes against the real registry and skopeo: kept byte for byte, picked from."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from tests.support import images
from tests.support.cli import assert_clean_error, ociforge
from tests.support.registry import Registry
from tests.support.tools import skopeo

TLS = "--tls-verify=false"


def _raw_digest(reference: str) -> str:
    """``skopeo inspect --raw REF | sha256sum``: the digest skopeo sees for what REF names."""
    raw = subprocess.run(
        ["skopeo", "inspect", "--raw", TLS, reference], capture_output=True, check=True
    ).stdout
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _seed(registry: Registry, tmp_path: Path, index: images.BuiltIndex, repo: str) -> str:
    """skopeo (not ociforge) puts the hand-built index and its images into the registry."""
    layout = images.write_index_layout(str(tmp_path / "seed"), index, ref="v1")
    reference = registry.ref(repo)
    if index.media_type == images.OCI_INDEX:
        skopeo(
            "copy",
            "--all",
            "--preserve-digests",
            "--dest-tls-verify=false",
            f"oci:{layout}:v1",
            reference,
        )
    else:
        # skopeo's oci: transport does not read a Docker list; the digest check below is skopeo's.
        assert ociforge("copy", "--all", "-q", TLS, f"oci:{layout}:v1", reference).code == 0
    assert _raw_digest(reference) == index.digest
    return reference


@pytest.mark.parametrize("kind", [images.OCI_INDEX, images.DOCKER_MANIFEST_LIST])
def test_copy_all_keeps_the_index_digest_registry_archive_registry(
    registry: Registry, tmp_path: Path, kind: str
) -> None:
    index = images.two_platform_index(media_type=kind)
    source = _seed(registry, tmp_path, index, "multi/src:v1")
    archive = tmp_path / "all.ociarchive"
    pulled = ociforge("copy", "--all", TLS, source, f"oci-archive:{archive}")
    assert pulled.code == 0, pulled.err
    assert pulled.out.strip() == index.digest
    # skopeo reads the archive ociforge wrote, every platform of it (it cannot write a Docker
    # list into an OCI layout unchanged, so only the OCI index is checked this way).
    if kind == images.OCI_INDEX:
        skopeo(
            "copy",
            "--all",
            "--preserve-digests",
            f"oci-archive:{archive}",
            f"oci:{tmp_path / 'check'}:x",
        )
    pushed = ociforge(
        "copy", "--multi-arch", "all", TLS, f"oci-archive:{archive}", registry.ref("multi/dst:v2")
    )
    assert pushed.code == 0, pushed.err
    assert pushed.out.strip() == f"{registry.host}/multi/dst@{index.digest}"
    assert _raw_digest(registry.ref("multi/dst:v2")) == index.digest
    for img in index.images:
        child = registry.ref(f"multi/dst@{img.digest}")
        assert _raw_digest(child) == img.digest
    # inspect --raw prints the index, as skopeo does; --platform picks one image.
    raw = ociforge("inspect", "--raw", TLS, registry.ref("multi/dst:v2"))
    assert raw.out.encode() == index.raw
    arm = ociforge(
        "inspect", "--raw", TLS, "--platform", "linux/aarch64", registry.ref("multi/dst:v2")
    )
    assert arm.code == 0, arm.err
    assert arm.out.encode() == index.images[1].manifest
    described = json.loads(ociforge("inspect", TLS, registry.ref("multi/dst:v2")).out)
    assert described["Digest"] == index.digest
    assert described["index"]["platforms"] == ["linux/amd64", "linux/arm64/v8"]


def test_copy_without_all_keeps_one_platform_and_index_only_needs_the_children(
    registry: Registry, tmp_path: Path
) -> None:
    index = images.two_platform_index()
    source = _seed(registry, tmp_path, index, "multi/one:v1")
    single = ociforge(
        "copy", TLS, "--platform", "linux/x86_64", source, registry.ref("multi/amd:v1")
    )
    assert single.code == 0, single.err
    assert _raw_digest(registry.ref("multi/amd:v1")) == index.images[0].digest
    # The index alone into a repository lacking its images: the registry refuses it.
    bare = ociforge(
        "copy", "--multi-arch", "index-only", TLS, source, registry.ref("multi/bare:v1")
    )
    assert_clean_error(bare, "manifest")
    assert ociforge("copy", "--all", "-q", TLS, source, registry.ref("multi/full:v1")).code == 0
    again = ociforge(
        "copy", "--multi-arch", "index-only", TLS, source, registry.ref("multi/full:v2")
    )
    assert again.code == 0, again.err
    assert _raw_digest(registry.ref("multi/full:v2")) == index.digest
    contradicting = ociforge(
        "copy", "--all", "--platform", "linux/amd64", TLS, source, registry.ref("x/y:z")
    )
    assert_clean_error(contradicting, "--platform")


def test_a_missing_platform_is_refused_in_one_line(registry: Registry, tmp_path: Path) -> None:
    index = images.two_platform_index()
    source = _seed(registry, tmp_path, index, "multi/p:v1")
    missing = ociforge("inspect", TLS, "--platform", "linux/s390x", source)
    assert_clean_error(missing, "linux/s390x", "linux/amd64, linux/arm64/v8")
    assert missing.code == 3
    single = registry.ref(f"multi/p@{index.images[1].digest}")
    other = ociforge("inspect", TLS, "--platform", "linux/amd64", single)
    assert_clean_error(other, "linux/amd64", "linux/arm64")
    assert other.code == 3
    # Without --platform a single image of another platform is what the name names: no refusal.
    assert ociforge("inspect", TLS, single).code == 0


def test_append_all_platforms_derives_each_image_and_a_new_index(
    registry: Registry, tmp_path: Path
) -> None:
    index = images.two_platform_index()
    source = _seed(registry, tmp_path, index, "multi/base:v1")
    motd = tmp_path / "motd"
    motd.write_text("hello\n")
    result = ociforge(
        "append",
        "--all-platforms",
        "--json",
        TLS,
        source,
        registry.ref("multi/derived:v1"),
        "--add",
        f"{motd}:/etc/motd",
    )
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert [p["platform"] for p in report["platforms"]] == ["linux/amd64", "linux/arm64/v8"]
    new_index = json.loads(
        subprocess.run(
            ["skopeo", "inspect", "--raw", TLS, registry.ref("multi/derived:v1")],
            capture_output=True,
            check=True,
        ).stdout
    )
    assert report["digest"] == _raw_digest(registry.ref("multi/derived:v1"))
    assert [m["platform"] for m in new_index["manifests"]] == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm64", "os": "linux", "variant": "v8"},
    ]
    tops = set()
    for entry, base in zip(new_index["manifests"], index.images, strict=True):
        view = json.loads(
            skopeo("inspect", TLS, registry.ref(f"multi/derived@{entry['digest']}")).stdout
        )
        assert view["Layers"][:-1] == [lay.digest for lay in base.layers]
        tops.add(view["Layers"][-1])
    assert len(tops) == 1  # the same files, one layer blob shared by both platforms
    single = ociforge(
        "append",
        "--all-platforms",
        TLS,
        f"{source}@{index.images[0].digest}".replace(":v1@", "@"),
        registry.ref("multi/x:v1"),
        "--add",
        f"{motd}:/etc/motd",
    )
    assert_clean_error(single, "needs an index")
