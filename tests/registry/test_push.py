"""Pushing to the real registry: skip what is there, mount what is near, chunk when asked."""

from __future__ import annotations

import json
import random
import tarfile
from pathlib import Path

import pytest
import requests

import ociforge
from ociforge import DigestMismatch, ManifestError, RegistryOptions
from ociforge.registry import RegistrySink, parse_registry_reference
from tests.support import images
from tests.support.archives import read_archive
from tests.support.faultproxy import Fault, FaultProxy
from tests.support.registry import Registry, options_for, start_registry
from tests.support.tokenserver import TokenServer
from tests.support.tools import skopeo


def _archive(tmp_path: Path, image: images.BuiltImage, name: str = "in.ociarchive") -> str:
    return images.write_archive(str(tmp_path / name), [(image, "")])


def _push(
    source: str, registry: Registry, repository: str, **options: object
) -> tuple[ociforge.Descriptor, RegistrySink]:
    reference = parse_registry_reference(registry.ref(repository))
    sink = RegistrySink(reference, options=options_for(registry, **options))
    image = ociforge.open_image(source)
    descriptor = ociforge.write_image(image, sink, ref=reference.tag)
    sink.commit()
    return descriptor, sink


def _random_layer(rng: random.Random, size: int) -> images.BuiltLayer:
    # Random bytes do not compress: the blob is as large as the file.
    return images.layer([images.file("data", rng.randbytes(size))])


def test_second_push_uploads_nothing_and_checks_one_manifest(
    registry: Registry, tmp_path: Path, cosa_image: images.BuiltImage
) -> None:
    source = f"oci-archive:{_archive(tmp_path, cosa_image)}"
    first, sink = _push(source, registry, "fcos/os:stable")
    assert str(first.digest) == cosa_image.digest
    assert sink.stats == {"skip": 0, "mount": 0, "upload": 51}
    assert len({r.uri for r in registry.uploads() if r.method == "POST"}) == 1
    assert sum(r.method == "PUT" and "/blobs/uploads/" in r.uri for r in registry.requests()) == 51
    seen = len(registry.requests())
    second, sink = _push(source, registry, "fcos/os:stable")
    assert second == first
    assert sink.stats == {"skip": 51, "mount": 0, "upload": 0}
    # What the registry saw, whatever the machine's speed: no blob request at all, one HEAD
    # of the manifest (a registry holds a manifest only with all its blobs), the two PUTs.
    manifest = f"/v2/fcos/os/manifests/{cosa_image.digest}"
    assert [(r.method, r.uri, r.status) for r in registry.requests()[seen:]] == [
        ("GET", "/v2/", 200),
        ("HEAD", manifest, 200),
        ("PUT", manifest, 201),
        ("PUT", "/v2/fcos/os/manifests/stable", 201),
    ]
    # skopeo, not ociforge, says what the tag points at.
    inspected = skopeo(
        "inspect", "--tls-verify=false", "--format", "{{.Digest}}", registry.ref("fcos/os:stable")
    )
    assert inspected.stdout.strip() == cosa_image.digest


def test_existing_blobs_are_skipped_by_head(registry: Registry, tmp_path: Path) -> None:
    rng = random.Random(3)
    base = [_random_layer(rng, 4096) for _ in range(3)]
    _push(f"oci-archive:{_archive(tmp_path, images.image(base), 'a')}", registry, "app:v1")
    derived = images.image([*base, _random_layer(rng, 4096)])
    seen = len(registry.requests())
    _, sink = _push(f"oci-archive:{_archive(tmp_path, derived, 'b')}", registry, "app:v2")
    assert sink.stats == {"skip": 3, "mount": 0, "upload": 2}  # the new layer and the config
    heads = [r for r in registry.requests()[seen:] if r.method == "HEAD" and "/blobs/" in r.uri]
    assert len(heads) == 5


def test_derived_image_in_another_repository_mounts_the_base(
    registry: Registry, tmp_path: Path
) -> None:
    rng = random.Random(5)
    base_layers = [_random_layer(rng, 8192) for _ in range(4)]
    base = images.image(base_layers)
    _push(f"oci-archive:{_archive(tmp_path, base, 'base')}", registry, "os/base:v1")
    new_layer = _random_layer(rng, 8192)
    derived = images.image([*base_layers, new_layer])
    seen = len(registry.requests())
    _, sink = _push(
        f"oci-archive:{_archive(tmp_path, derived, 'derived')}",
        registry,
        "team/derived:v1",
        mount_from=("os/base",),
    )
    assert sink.stats == {"skip": 0, "mount": 4, "upload": 2}
    log = registry.requests()[seen:]
    posts = [r for r in log if r.method == "POST"]
    assert all("mount=" in r.uri for r in posts)
    # Four base layers mounted (201); the new layer and config are not in the base (202), and
    # the session a refused mount opens is the one their bytes go to.
    assert sorted(r.status for r in posts) == [201, 201, 201, 201, 202, 202]
    uploaded = [r for r in log if r.method == "PUT" and "/blobs/uploads/" in r.uri]
    assert len(uploaded) == 2
    # The result is complete: skopeo copies it out and every blob is there.
    out = tmp_path / "derived.ociarchive"
    skopeo("copy", "--src-tls-verify=false", registry.ref("team/derived:v1"), f"oci-archive:{out}")
    assert read_archive(str(out)).manifest() == derived.manifest


def test_copy_within_a_registry_mounts_from_the_source(registry: Registry, tmp_path: Path) -> None:
    rng = random.Random(7)
    image = images.image([_random_layer(rng, 8192) for _ in range(3)])
    _push(f"oci-archive:{_archive(tmp_path, image)}", registry, "src/img:v1")
    seen = len(registry.requests())
    options = options_for(registry)
    digest = ociforge.copy_image(
        registry.ref("src/img:v1"), registry.ref("dst/img:v1"), registry=options
    )
    assert str(digest.digest) == image.digest
    log = registry.requests()[seen:]
    assert [r.status for r in log if r.method == "POST"] == [
        201,
        201,
        201,
        201,
    ]  # 3 layers + config
    # Mounted, not copied: the only blob read from the source is the config, to open it.
    reads = [r.uri for r in log if r.method == "GET" and "/blobs/" in r.uri]
    assert reads == [f"/v2/src/img/blobs/{images.sha256(image.config)}"]
    assert not [r for r in log if r.method == "PUT" and "/blobs/uploads/" in r.uri]


def test_mount_without_pull_access_falls_back_to_upload(tmp_path: Path) -> None:
    def grant(user: str, name: str, actions: list[str]) -> list[str]:
        return [] if name.startswith("secret/") and user == "other" else actions

    token = TokenServer(users={"testuser": "testpass", "other": "pw"}, grant=grant)
    registry = start_registry(tmp_path / "registry", auth="token", token=token)
    try:
        rng = random.Random(9)
        image = images.image([_random_layer(rng, 4096)])
        _push(f"oci-archive:{_archive(tmp_path, image)}", registry, "secret/base:v1")
        reference = parse_registry_reference(registry.ref("mine/img:v1"))
        options = RegistryOptions(tls_verify=False, creds="other:pw", mount_from=("secret/base",))
        sink = RegistrySink(reference, options=options)
        ociforge.write_image(ociforge.open_image(f"oci-archive:{tmp_path / 'in.ociarchive'}"), sink)
        assert sink.stats == {"skip": 0, "mount": 0, "upload": 2}
    finally:
        registry.stop()


def test_chunked_upload_honours_the_registry_minimum(registry: Registry, tmp_path: Path) -> None:
    rng = random.Random(11)
    image = images.image([_random_layer(rng, 2_600_000)])
    proxy = FaultProxy(
        registry.host,
        [
            Fault(
                "header",
                method="POST",
                path="/blobs/uploads/",
                headers={"OCI-Chunk-Min-Length": "1000000"},
                times=9,
            )
        ],
    )
    try:
        reference = parse_registry_reference(proxy.ref("chunked/img:v1"))
        sink = RegistrySink(
            reference, options=RegistryOptions(tls_verify=False, chunk_size=400_000)
        )
        ociforge.write_image(ociforge.open_image(f"oci-archive:{_archive(tmp_path, image)}"), sink)
        # 2.6 MB in chunks of at least 1,000,000 bytes: two PATCHes and a closing PUT.
        assert len(proxy.seen("PATCH")) == 2
        assert len(proxy.seen("PUT", "/blobs/uploads/")) == 2  # layer and config
    finally:
        proxy.stop()
    out = tmp_path / "back.ociarchive"
    skopeo("copy", "--src-tls-verify=false", registry.ref("chunked/img:v1"), f"oci-archive:{out}")
    assert read_archive(str(out)).blobs[image.layers[0].digest] == image.layers[0].blob


def test_push_to_a_digest_reference_must_match(
    registry: Registry, tmp_path: Path, small_image: images.BuiltImage
) -> None:
    source = f"oci-archive:{_archive(tmp_path, small_image)}"
    wrong = "sha256:" + "0" * 64
    with pytest.raises(ManifestError, match="digest"):
        _push(source, registry, f"img@{wrong}")
    descriptor, _ = _push(source, registry, f"img@{small_image.digest}")
    assert str(descriptor.digest) == small_image.digest


def test_push_without_tag_is_by_digest_only(
    registry: Registry, tmp_path: Path, small_image: images.BuiltImage
) -> None:
    _, sink = _push(f"oci-archive:{_archive(tmp_path, small_image)}", registry, "untagged")
    assert sink.pushed is not None
    assert sink.pushed.pinned() == f"{registry.host}/untagged@{small_image.digest}"
    puts = [r.uri for r in registry.requests() if r.method == "PUT" and "/manifests/" in r.uri]
    assert puts == [f"/v2/untagged/manifests/{small_image.digest}"]


@pytest.mark.parametrize("oauth_post", [True, False])
def test_identity_token_from_an_auth_file(
    oauth_post: bool, tmp_path: Path, small_image: images.BuiltImage
) -> None:
    token = TokenServer(oauth_post=oauth_post)
    token.refresh_tokens["refresh-secret"] = "testuser"
    registry = start_registry(tmp_path / "registry", auth="token", token=token)
    try:
        authfile = tmp_path / "auth.json"
        authfile.write_text(
            json.dumps({"auths": {registry.host: {"identitytoken": "refresh-secret"}}})
        )
        reference = parse_registry_reference(registry.ref("tok/img:v1"))
        sink = RegistrySink(
            reference, options=RegistryOptions(tls_verify=False, authfile=str(authfile))
        )
        ociforge.write_image(
            ociforge.open_image(f"oci-archive:{_archive(tmp_path, small_image)}"), sink
        )
        log = [(entry.method, entry.status, entry.user) for entry in token.log]
        if oauth_post:
            # The OAuth2 refresh-token grant; the token it returns serves the whole push.
            assert log == [("POST", 200, "testuser")]
            assert token.log[0].grant == "refresh_token"
        else:
            # No OAuth2 endpoint on this server: one 404, then the GET fallback, once.
            assert log == [("POST", 404, ""), ("GET", 200, "testuser")]
    finally:
        registry.stop()


def test_a_corrupt_local_blob_is_never_completed(registry: Registry, tmp_path: Path) -> None:
    rng = random.Random(13)
    image = images.image([_random_layer(rng, 600_000), _random_layer(rng, 600_000)])
    path = _archive(tmp_path, image)
    bad = image.layers[1].digest
    with tarfile.open(path) as tf:
        offset = tf.getmember("blobs/sha256/" + bad.split(":")[1]).offset_data
    with open(path, "r+b") as fh:  # flip one byte in the middle of the layer blob
        fh.seek(offset + 300_000)
        byte = fh.read(1)
        fh.seek(offset + 300_000)
        fh.write(bytes([byte[0] ^ 1]))
    with pytest.raises(DigestMismatch, match=bad):
        _push(f"oci-archive:{path}", registry, "corrupt/img:v1")
    status = requests.head(f"{registry.url}/v2/corrupt/img/blobs/{bad}", timeout=10).status_code
    assert status == 404
    assert not [r for r in registry.requests() if r.method == "PUT" and "/manifests/" in r.uri]
