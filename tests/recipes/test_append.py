"""Derive recipes: base + one layer of files; labels, media-type family, file placement."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ociforge import mediatypes as mt
from ociforge.errors import InvalidReference, NotFound
from ociforge.recipes.append import FileAddition, append_content
from ociforge.tar.build import LayerBuilder
from ociforge.transports import open_image
from ociforge.validate import validate_image
from tests.support import images
from tests.support import layers as oracle


def entries(image: object) -> dict[str, oracle.Member]:
    top = image.layers[-1]  # type: ignore[attr-defined]
    return {m.name: m for m in oracle.members(oracle.decompress(oracle.layer_blob(top)))}


@pytest.fixture
def base(tmp_path: Path, small_image: images.BuiltImage) -> str:
    images.write_layout(str(tmp_path / "base"), [(small_image, "v1")])
    return f"oci:{tmp_path / 'base'}:v1"


def test_parse_additions() -> None:
    assert FileAddition.parse("a:b:/etc/x") == FileAddition("a:b", "/etc/x")
    for bad in ("nocolon", ":/etc/x", "file:relative/path", "file:"):
        with pytest.raises(InvalidReference):
            FileAddition.parse(bad)


def test_file_into_directory_and_tree_contents(tmp_path: Path, base: str) -> None:
    (tmp_path / "tool").write_text("t")
    (tmp_path / "tree/sub").mkdir(parents=True)
    (tmp_path / "tree/sub/f").write_text("f")
    image = append_content(
        open_image(base),
        additions=[
            FileAddition(str(tmp_path / "tool"), "/usr/bin/"),
            FileAddition(str(tmp_path / "tree"), "/opt/app"),
        ],
        labels={"ostree.bootable": "false", "new": "1"},
    ).image
    names = set(entries(image))
    assert {"usr/bin/tool", "opt/app/sub/f"} <= names
    assert image.labels["ostree.bootable"] == "false"  # labels given override
    assert image.labels["containers.bootc"] == "1"  # the others stay
    validate_image(image)


def test_missing_local_file(tmp_path: Path, base: str) -> None:
    with pytest.raises(NotFound, match="nope"):
        append_content(open_image(base), additions=[FileAddition(str(tmp_path / "nope"), "/x")])


def test_docker_base_gets_a_docker_layer(tmp_path: Path) -> None:
    built = images.layer([images.file("a", "a")])
    oci = images.image([built])
    manifest = json.loads(oci.manifest)
    manifest["mediaType"] = mt.DOCKER_MANIFEST
    manifest["config"]["mediaType"] = mt.DOCKER_CONFIG
    manifest["layers"][0]["mediaType"] = mt.DOCKER_LAYER_GZIP
    docker = images.BuiltImage(json.dumps(manifest).encode(), oci.config, [built])
    images.write_layout(str(tmp_path / "d"), [(docker, "v1")])
    index = tmp_path / "d/index.json"
    index.write_text(index.read_text().replace(mt.OCI_MANIFEST, mt.DOCKER_MANIFEST))

    def step(builder: LayerBuilder) -> None:
        builder.add_bytes("/etc/motd", b"hi\n")

    image = append_content(open_image(f"oci:{tmp_path / 'd'}:v1"), steps=[step]).image
    assert image.media_type == mt.DOCKER_MANIFEST
    assert image.layers[-1].media_type == mt.DOCKER_LAYER_GZIP
    assert entries(image)["etc/motd"].data == b"hi\n"
