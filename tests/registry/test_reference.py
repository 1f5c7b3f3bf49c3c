"""Registry reference parsing: Docker Hub normalisation and validation before any URL."""

from __future__ import annotations

import pytest

from ociforge import InvalidReference
from ociforge.digest import Digest
from ociforge.registry.reference import RegistryReference, parse_registry_reference

HEX = "a" * 64


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag"),
    [
        ("alpine", "docker.io", "library/alpine", ""),
        ("docker://alpine:3.20", "docker.io", "library/alpine", "3.20"),
        ("docker.io/alpine", "docker.io", "library/alpine", ""),
        ("index.docker.io/fedora/coreos:stable", "docker.io", "fedora/coreos", "stable"),
        ("registry-1.docker.io/library/busybox", "docker.io", "library/busybox", ""),
        ("quay.io/fedora/fedora-coreos:stable", "quay.io", "fedora/fedora-coreos", "stable"),
        ("localhost/x", "localhost", "x", ""),
        ("localhost:5000/a/b/c:v1", "localhost:5000", "a/b/c", "v1"),
        ("127.0.0.1:5000/ns/img", "127.0.0.1:5000", "ns/img", ""),
        ("[::1]:5000/img:t", "[::1]:5000", "img", "t"),
        ("Registry.Example.COM/a", "registry.example.com", "a", ""),
        ("user/repo", "docker.io", "user/repo", ""),
        ("a.b/c__d/e-f.g_h:T_1.x-y", "a.b", "c__d/e-f.g_h", "T_1.x-y"),
    ],
)
def test_parses_and_normalises(text: str, registry: str, repository: str, tag: str) -> None:
    ref = parse_registry_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, None)


def test_docker_hub_api_host_and_reference_defaults() -> None:
    ref = parse_registry_reference("alpine")
    assert ref.host == "registry-1.docker.io"
    assert ref.reference == "latest"
    assert ref.name == "docker.io/library/alpine"
    assert parse_registry_reference("quay.io/a/b").host == "quay.io"


def test_tag_and_digest_together() -> None:
    ref = parse_registry_reference(f"quay.io/a/b:v1@sha256:{HEX}")
    assert ref.tag == "v1"
    assert ref.digest == Digest("sha256", HEX)
    assert ref.reference == f"sha256:{HEX}"  # the digest wins for pulls
    assert str(ref) == f"quay.io/a/b:v1@sha256:{HEX}"
    assert ref.with_digest(Digest("sha256", "b" * 64)).pinned() == f"quay.io/a/b@sha256:{'b' * 64}"


def test_pinned_needs_a_digest() -> None:
    with pytest.raises(InvalidReference):
        RegistryReference("quay.io", "a").pinned()


@pytest.mark.parametrize(
    "text",
    [
        "quay.io/a@sha256:../../x",
        f"quay.io/a@sha256:{HEX.upper()}",
        "quay.io/a@sha256:abc",
        f"quay.io/a@md5:{HEX}",
        "quay.io/a@",
        "quay.io/A",
        "quay.io/a//b",
        "quay.io/a/../b",
        "quay.io/-a",
        "quay.io/a:",
        "quay.io/a:-bad",
        "quay.io/a:" + "t" * 129,
        "quay.io:99999/a",
        "-bad.io/a",
        "host name/a",
        "",
        "docker://",
        "quay.io/a?x=1",
        "quay.io/a#frag",
        "quay.io/" + "a" * 256,
    ],
)
def test_refuses_bad_references(text: str) -> None:
    with pytest.raises(InvalidReference):
        parse_registry_reference(text)
