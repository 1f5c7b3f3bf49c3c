"""Interoperability on the real registry, in each auth/TLS mode, judged by skopeo and oras-py.

ociforge pushes by digest and skopeo must see that digest and return identical manifest bytes;
skopeo pushes and ociforge must pull the same image; oras-py must pull a blob ociforge pushed.
The expected bytes and digests come from the stdlib image builder, never from ociforge.
"""

from __future__ import annotations

from pathlib import Path

import oras.provider

from tests.support import images
from tests.support.archives import read_archive
from tests.support.cli import ociforge
from tests.support.registry import Registry, ociforge_flags, skopeo_flags
from tests.support.tools import skopeo


def _archive(tmp_path: Path, image: images.BuiltImage) -> Path:
    return Path(images.write_archive(str(tmp_path / "in.ociarchive"), [(image, "")]))


def test_push_by_digest_matches_skopeo(
    any_registry: Registry, tmp_path: Path, small_image: images.BuiltImage
) -> None:
    reg = any_registry
    digestfile = tmp_path / "digest"
    result = ociforge(
        "push",
        f"oci-archive:{_archive(tmp_path, small_image)}",
        reg.ref("interop/pushed:v1"),
        "--digestfile",
        str(digestfile),
        *ociforge_flags(reg),
    )
    assert result.code == 0, result.err
    assert result.out.strip() == f"{reg.host}/interop/pushed@{small_image.digest}"
    assert digestfile.read_text() == small_image.digest
    inspected = skopeo(
        "inspect", "--format", "{{.Digest}}", reg.ref("interop/pushed:v1"), *skopeo_flags(reg)
    )
    assert inspected.stdout.strip() == small_image.digest
    raw = skopeo(
        "inspect", "--raw", reg.ref(f"interop/pushed@{small_image.digest}"), *skopeo_flags(reg)
    )
    assert raw.stdout.encode() == small_image.manifest
    back = tmp_path / "back.ociarchive"
    skopeo("copy", reg.ref("interop/pushed:v1"), f"oci-archive:{back}", *skopeo_flags(reg, "src"))
    contents = read_archive(str(back))
    assert contents.manifest() == small_image.manifest
    assert contents.blobs[images.sha256(small_image.config)] == small_image.config
    for layer in small_image.layers:
        assert contents.blobs[layer.digest] == layer.blob


def test_pull_what_skopeo_pushed(
    any_registry: Registry, tmp_path: Path, cosa_image: images.BuiltImage
) -> None:
    reg = any_registry
    skopeo(
        "copy",
        f"oci-archive:{_archive(tmp_path, cosa_image)}",
        reg.ref("interop/skopeo:v1"),
        *skopeo_flags(reg, "dest"),
    )
    out = tmp_path / "pulled.ociarchive"
    result = ociforge(
        "copy", reg.ref("interop/skopeo:v1"), f"oci-archive:{out}", *ociforge_flags(reg)
    )
    assert result.code == 0, result.err
    assert result.out.strip() == cosa_image.digest
    contents = read_archive(str(out))
    assert contents.manifest_digests() == [cosa_image.digest]
    assert contents.manifest() == cosa_image.manifest
    assert set(contents.blobs) == set(cosa_image.blobs())


def test_oras_pulls_a_blob_ociforge_pushed(
    any_registry: Registry, tmp_path: Path, small_image: images.BuiltImage
) -> None:
    reg = any_registry
    result = ociforge(
        "push",
        f"oci-archive:{_archive(tmp_path, small_image)}",
        reg.ref("interop/oras:v1"),
        *ociforge_flags(reg),
    )
    assert result.code == 0, result.err
    client = oras.provider.Registry(
        hostname=reg.host,
        insecure=reg.scheme == "http",
        tls_verify=reg.ca or True,
        auth_backend="token" if reg.auth == "token" else "basic",
    )
    if reg.user:
        client.auth.set_basic_auth(reg.user, reg.password)
    layer = small_image.layers[0]
    response = client.get_blob(f"{reg.host}/interop/oras", layer.digest)
    assert response.status_code == 200
    assert response.content == layer.blob
