"""Release payloads: the ImageStream and release-metadata parsers, and reading a payload image."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from ociforge import (
    FormatError,
    NotFound,
    OciArchive,
    PolicyError,
    parse_image_references,
    parse_release_metadata,
    read_release,
)
from tests.support import images

DIGEST = "sha256:" + hashlib.sha256(b"rhcos").hexdigest()
RHCOS = f"quay.io/openshift-release-dev/ocp-v4.0-art-dev@{DIGEST}"


def _stream(tags: object, **extra: object) -> bytes:
    return json.dumps({"kind": "ImageStream", "spec": {"tags": tags}, **extra}).encode()


def _tag(name: str, pull_spec: str, kind: str = "DockerImage") -> dict[str, object]:
    return {"name": name, "from": {"kind": kind, "name": pull_spec}}


def test_components_in_document_order_with_their_digests() -> None:
    document = images.image_references(
        {"rhel-coreos": RHCOS, "cli": "quay.io/ocp/cli:4.99", "tests": "registry.local/t@" + DIGEST}
    )
    components = parse_image_references(document)
    assert [(c.name, c.pull_spec) for c in components] == [
        ("rhel-coreos", RHCOS),
        ("cli", "quay.io/ocp/cli:4.99"),
        ("tests", "registry.local/t@" + DIGEST),
    ]
    assert [str(c.digest) if c.digest else None for c in components] == [DIGEST, None, DIGEST]


def test_no_tags_is_an_empty_release() -> None:
    assert parse_image_references(_stream([])) == ()
    assert parse_image_references(b'{"kind": "ImageStream", "spec": {}}') == ()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"", "not a JSON document"),
        (b"\xff\xfe", "not a JSON document"),
        (b"[1, 2]", "expected a JSON object, not list"),
        (json.dumps({"kind": "List", "items": []}).encode(), "kind is 'List'"),
        (json.dumps({"kind": "ImageStream", "spec": []}).encode(), "spec.tags is not a list"),
        (_stream({"rhel-coreos": RHCOS}), "spec.tags is not a list"),
        (_stream(["rhel-coreos"]), "spec.tags[0]: expected an object"),
        (_stream([{"from": {"kind": "DockerImage", "name": RHCOS}}]), "invalid or missing name"),
        (_stream([_tag("bad name", RHCOS)]), "invalid or missing name 'bad name'"),
        (_stream([{"name": "x"}]), "spec.tags[0] (x): missing 'from'"),
        (_stream([_tag("x", RHCOS, kind="ImageStreamTag")]), "from.kind is 'ImageStreamTag'"),
        (_stream([{"name": "x", "from": {"kind": "DockerImage"}}]), "from.name is not a pull"),
        (_stream([_tag("x", "quay.io/a/b@sha256:12")]), "(x): quay.io/a/b@sha256:12"),
        (_stream([_tag("x", "Quay.io/A B")]), "spec.tags[0] (x): Quay.io/A B"),
        (_stream([_tag("x", "docker://" + RHCOS)]), "a transport reference, not a pull spec"),
        (_stream([_tag("x", RHCOS), _tag("y", RHCOS), _tag("x", RHCOS)]), "'x' is listed twice"),
    ],
)
def test_malformed_image_references(document: bytes, message: str) -> None:
    with pytest.raises(FormatError) as caught:
        parse_image_references(document, what="payload")
    assert str(caught.value).startswith("payload: ")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_release_metadata_version() -> None:
    document = {"kind": "cincinnati-metadata-v0", "version": "4.18.6", "previous": ["4.18.3"]}
    assert parse_release_metadata(json.dumps(document).encode()) == "4.18.6"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"{", "not a JSON document"),
        (b'"4.1"', "expected a JSON object, not str"),
        (b'{"version": "4.1"}', "kind is None, expected 'cincinnati-metadata-v0'"),
        (b'{"kind": "cincinnati-metadata-v0"}', "invalid or missing version None"),
        (b'{"kind": "cincinnati-metadata-v0", "version": ""}', "invalid or missing version"),
        (b'{"kind": "cincinnati-metadata-v0", "version": "4 1"}', "invalid or missing version"),
        (b'{"kind": "cincinnati-metadata-v0", "version": 4}', "invalid or missing version 4"),
    ],
)
def test_malformed_release_metadata(document: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=re.escape(message)):
        parse_release_metadata(document)


def _archive(tmp_path: Path, built: images.BuiltImage) -> OciArchive:
    path = images.write_archive(str(tmp_path / "release.ociarchive"), [(built, "")])
    return OciArchive(path, name=f"oci-archive:{path}")


def test_read_release_from_an_archive(tmp_path: Path) -> None:
    built = images.release_payload({"rhel-coreos": RHCOS, "cli": "quay.io/ocp/cli:4.99"})
    payload = read_release(_archive(tmp_path, built).image())
    assert payload.version == "4.99.0"
    assert payload.image_for("rhel-coreos") == RHCOS
    with pytest.raises(PolicyError, match=r"'cli' points at quay\.io/ocp/cli:4\.99, a tag and not"):
        payload.image_for("cli")
    with pytest.raises(NotFound, match=r"no component 'rhcos' \(it has cli, rhel-coreos\)"):
        payload.image_for("rhcos")


def test_unknown_component_lists_a_few_names(tmp_path: Path) -> None:
    names = {f"component-{i:02}": RHCOS for i in range(12)}
    payload = read_release(_archive(tmp_path, images.release_payload(names)).image())
    with pytest.raises(NotFound) as caught:
        payload.component("rhel-coreos")
    assert str(caught.value).endswith(
        "(it has component-00, component-01, component-02, component-03, component-04 and 7 more)"
    )


def test_later_layers_win_and_metadata_is_optional(tmp_path: Path) -> None:
    # The flattened view counts, as on a node: the top layer replaces image-references and
    # whites out release-metadata.
    stale = images.release_payload({"rhel-coreos": "quay.io/old/rhcos@" + DIGEST})
    newer = images.layer(
        [
            images.directory("release-manifests"),
            images.file(
                "release-manifests/image-references",
                images.image_references({"rhel-coreos": RHCOS}),
            ),
            images.file("release-manifests/.wh.release-metadata", b""),
        ]
    )
    built = images.image([*stale.layers, newer])
    payload = read_release(_archive(tmp_path, built).image())
    assert payload.image_for("rhel-coreos") == RHCOS
    assert payload.version is None


def test_not_a_release_payload(tmp_path: Path, small_image: images.BuiltImage) -> None:
    archive = _archive(tmp_path, small_image)
    with pytest.raises(NotFound, match=r"release\.ociarchive: no /release-manifests/image-ref"):
        read_release(archive.image())


def test_malformed_document_in_a_payload_names_the_image_and_file(tmp_path: Path) -> None:
    built = images.release_payload(references=b'{"kind": "ImageStream", "spec": {"tags": 3}}')
    with pytest.raises(FormatError, match=r"ociarchive: /release-manifests/image-references: spec"):
        read_release(_archive(tmp_path, built).image())
