"""The layer commands as a user runs them: append, unpack, repack (and their error contract)."""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path

import pytest

from ociforge.transports import open_image
from ociforge.validate import validate_image
from tests.support import images
from tests.support import layers as oracle
from tests.support.cli import assert_clean_error, ociforge
from tests.support.tools import need, run, skopeo
from tests.support.trees import snapshot


def archive_members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tf:
        return {m.name: tf.extractfile(m).read() for m in tf if m.isreg()}  # type: ignore[union-attr]


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    root = tmp_path / "payload"
    (root / "tree/bin").mkdir(parents=True)
    (root / "tree/bin/agent").write_text("#!/bin/sh\necho agent\n")
    (root / "tree/bin/agent").chmod(0o755)
    (root / "tree/README").write_text("docs\n")
    (root / "motd").write_text("hello\n")
    return root


def test_append_files_and_trees_to_a_cosa_archive(
    tmp_path: Path, cosa_archive: Path, cosa_image: images.BuiltImage, payload: Path
) -> None:
    out = tmp_path / "out.ociarchive"
    before = cosa_archive.read_bytes()
    result = ociforge(
        "append",
        f"oci-archive:{cosa_archive}",
        f"oci-archive:{out}",
        "--add",
        f"{payload / 'motd'}:/etc/motd",
        "--add",
        f"{payload / 'tree'}:/usr/lib/agent",
        "--label",
        "org.example.agent=1.0",
        "--created-by",
        "add the agent",
    )
    assert result.code == 0, result.err
    assert cosa_archive.read_bytes() == before  # the input is never modified
    image = open_image(f"oci-archive:{out}")
    assert result.out.strip() == str(image.digest)
    validate_image(image)  # every blob and diff_id re-read and checked
    assert len(image.layers) == len(cosa_image.layers) + 1
    base_blobs = {lay.digest: lay.blob for lay in cosa_image.layers}
    members = archive_members(out)
    for layer in image.layers[:-1]:  # byte for byte, never recompressed
        assert members[f"blobs/sha256/{layer.digest.hex}"] == base_blobs[str(layer.digest)]
    labels = image.labels
    base_labels = json.loads(cosa_image.config)["config"]["Labels"]
    for key in ("ostree.final-diffid", "ostree.bootable", "containers.bootc"):
        assert labels[key] == base_labels[key]
    assert labels["org.example.agent"] == "1.0"
    assert image.config.history[-1]["created_by"] == "add the agent"
    entries = {
        m.name: m for m in oracle.members(oracle.decompress(oracle.layer_blob(image.layers[-1])))
    }
    assert entries["etc/motd"].data == b"hello\n"
    assert entries["usr/lib/agent/bin/agent"].info.mode == 0o755
    assert entries["usr/lib/agent/bin/agent"].info.uid == 0
    # A peer reads it and verifies every digest while copying.
    skopeo("copy", "--preserve-digests", f"oci-archive:{out}", f"oci:{tmp_path / 'sk'}:x")


def test_append_zstd_in_place(
    tmp_path: Path, small_image: images.BuiltImage, payload: Path
) -> None:
    path = Path(images.write_archive(str(tmp_path / "img.ociarchive"), [(small_image, "v1")]))
    ref = f"oci-archive:{path}:v1"
    result = ociforge(
        "append",
        ref,
        ref,
        "--add",
        f"{payload / 'motd'}:/etc/motd",
        "--compression",
        "zstd",
        "--json",
    )
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["layer"]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+zstd"
    image = open_image(ref)
    assert str(image.digest) == doc["digest"]
    validate_image(image)
    skopeo("inspect", ref)


def test_append_errors_are_one_line_and_leave_nothing(
    tmp_path: Path, small_image: images.BuiltImage, payload: Path
) -> None:
    src = images.write_archive(str(tmp_path / "in.ociarchive"), [(small_image, "")])
    out = tmp_path / "out.ociarchive"
    missing = ociforge("append", f"oci-archive:{src}", f"oci-archive:{out}", "--add", "/nope:/x")
    assert_clean_error(missing, "/nope")
    bad = ociforge("append", f"oci-archive:{src}", f"oci-archive:{out}", "--add", "motd")
    assert_clean_error(bad, "LOCAL:IMAGEPATH")
    climb = ociforge(
        "append", f"oci-archive:{src}", f"oci-archive:{out}", "--add", f"{payload}/motd:/../x"
    )
    assert_clean_error(climb, "'..'")
    none = ociforge("append", f"oci-archive:{src}", f"oci-archive:{out}")
    assert_clean_error(none, "--add")
    assert sorted(os.listdir(tmp_path)) == ["in.ociarchive", "payload"]


def test_unpack_edit_repack_round_trip(tmp_path: Path, small_image: images.BuiltImage) -> None:
    src = images.write_archive(str(tmp_path / "in.ociarchive"), [(small_image, "")])
    bundle = tmp_path / "bundle"
    result = ociforge("unpack", f"oci-archive:{src}", str(bundle), "--rootless")
    assert result.code == 0, result.err
    assert result.out.strip() == str(bundle / "rootfs")
    rootfs = bundle / "rootfs"
    (rootfs / "etc/os-release").write_text("ID=edited\n")
    (rootfs / "usr/hello").unlink()
    (rootfs / "usr/new").write_text("new\n")
    out = tmp_path / "out.ociarchive"
    result = ociforge("repack", str(bundle), f"oci-archive:{out}:v2", "--json")
    assert result.code == 0, result.err
    # Changed: etc/os-release, and usr, whose mtime moved when a file came and went.
    assert "1 added, 2 changed, 1 deleted" in result.err
    doc = json.loads(result.out)
    assert doc["changes"] == {"added": 1, "changed": 2, "deleted": 1}
    image = open_image(f"oci-archive:{out}:v2")
    validate_image(image)
    assert str(image.digest) == doc["digest"]
    assert [str(lay.digest) for lay in image.layers[:-1]] == [
        lay.digest for lay in small_image.layers
    ]
    again = tmp_path / "again"
    assert ociforge("unpack", f"oci-archive:{out}:v2", str(again)).code == 0
    assert snapshot(again / "rootfs", owners=False) == snapshot(rootfs, owners=False)


def test_umoci_reads_an_appended_image(
    tmp_path: Path, small_image: images.BuiltImage, payload: Path
) -> None:
    need("umoci")
    src = images.write_layout(str(tmp_path / "layout"), [(small_image, "v1")])
    result = ociforge(
        "append", f"oci:{src}:v1", f"oci:{src}:v2", "--add", f"{payload / 'tree'}:/opt/agent"
    )
    assert result.code == 0, result.err
    run(["umoci", "unpack", "--image", f"{src}:v2", str(tmp_path / "u")])
    assert (tmp_path / "u/rootfs/opt/agent/bin/agent").read_text() == "#!/bin/sh\necho agent\n"
    assert (tmp_path / "u/rootfs/etc/os-release").exists()


def test_unpack_and_repack_errors(tmp_path: Path, small_image: images.BuiltImage) -> None:
    src = images.write_archive(str(tmp_path / "in.ociarchive"), [(small_image, "")])
    (tmp_path / "exists").mkdir()
    assert_clean_error(
        ociforge("unpack", f"oci-archive:{src}", str(tmp_path / "exists")), "already exists"
    )
    evil = images.image([images.layer([images.file("../../escape", "x")])])
    bad = images.write_archive(str(tmp_path / "evil.ociarchive"), [(evil, "")])
    result = ociforge("unpack", f"oci-archive:{bad}", str(tmp_path / "b"))
    assert_clean_error(result, "'../../escape'", "'..'")
    assert not (tmp_path / "b").exists()
    assert not (tmp_path.parent / "escape").exists()
    assert_clean_error(
        ociforge("repack", str(tmp_path / "exists"), f"oci-archive:{tmp_path / 'o'}"),
        "not an ociforge bundle",
    )
