"""The append recipe: base + one layer of files, packages and Ignition; what it reads, once."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from ociforge import mediatypes as mt
from ociforge.blobs import FileBlobSource
from ociforge.errors import InvalidReference, NotFound
from ociforge.recipes.append import FileAddition, append_content
from ociforge.samples.demo import sample_base_image, sample_ignition, sample_rpm
from ociforge.tar.build import LayerBuilder
from ociforge.transports import open_image
from ociforge.validate import validate_image
from tests.support import images
from tests.support import layers as oracle
from tests.support.sources import counted


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


def test_append_reads_each_base_layer_once_and_never_its_new_layer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new layer is linted from what the builder wrote, not decompressed again."""
    base, opened = counted(sample_base_image())
    new_layer_reads: list[str] = []
    for method in ("open_blob", "blob_range"):
        original = getattr(FileBlobSource, method)

        def spy(self: FileBlobSource, descriptor: object, _original: object = original) -> object:
            new_layer_reads.append(str(descriptor.digest))  # type: ignore[attr-defined]
            return _original(self, descriptor)  # type: ignore[operator]

        monkeypatch.setattr(FileBlobSource, method, spy)
    key = tmp_path / "id_ed25519"
    key.write_bytes(b"-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n")
    rpm = tmp_path / "agent.rpm"
    rpm.write_bytes(sample_rpm())
    result = append_content(
        base,
        additions=[FileAddition(str(key), "/etc/ssh/")],
        rpms=[str(rpm)],
        ignition=sample_ignition(),
        allow_lint_errors=True,
    )
    digests = [str(layer.digest) for layer in base.layers]
    # Every base layer is read once; one of them once more, for a wanted file that is a hard
    # link (flatten captures those in a second pass over just that layer).
    assert set(opened) == set(digests) and len(opened) <= len(digests) + 1, opened
    assert result.layer is not None
    assert (
        str(result.layer.digest) not in new_layer_reads
    )  # never read back  # the layer appended was never read back
    # ... and lint still saw its content: the private key's first bytes came from the builder.
    assert [f.path for f in result.findings if f.rule == "secrets"] == ["/etc/ssh/id_ed25519"]
    assert result.layer is not None and result.layer == result.image.layers[-1]
    assert result.packages == ("hello-agent-1.0-1.noarch",)


def test_each_package_is_opened_once(tmp_path: Path) -> None:
    data = sample_rpm()
    opens: list[str] = []

    def opener() -> io.BytesIO:
        opens.append("hello-agent")
        return io.BytesIO(data)

    result = append_content(sample_base_image(), rpms=[("hello-agent.rpm", opener)])
    assert opens == ["hello-agent"]
    names = {m.name for m in oracle.members(oracle.decompress(oracle.layer_blob(result.layer)))}
    assert "usr/bin/hello-agent" in names
