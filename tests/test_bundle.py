"""Bundles: unpack to BUNDLE/rootfs, edit, repack the difference as one new layer."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ociforge.errors import NotFound, OciforgeError, UnsupportedError
from ociforge.recipes.bundle import (
    read_bundle,
    refresh_bundle,
    repack_bundle,
    unpack_bundle,
    unpack_reference,
)
from ociforge.transports import open_image, save_image
from tests.support import images
from tests.support import layers as oracle
from tests.support.images import directory, file, hardlink, symlink
from tests.support.trees import snapshot


def base_image() -> images.BuiltImage:
    lower = images.layer(
        [
            directory("etc"),
            file("etc/hosts", "127.0.0.1 localhost\n", mtime=1000),
            file("etc/passwd", "root:x:0:0\n", mode=0o644, mtime=1000),
            directory("usr"),
            directory("usr/lib"),
            directory("usr/lib/app"),
            file("usr/lib/app/a", "a", mtime=1000),
            file("usr/lib/app/b", "b", mtime=1000),
            directory("usr/lib/gone"),
            file("usr/lib/gone/x", "x"),
            directory("home"),
            directory("home/user", uid=1000, gid=1000, mode=0o700),
            file("home/user/notes", "n", uid=1000, gid=1000, mode=0o600),
            symlink("opt", "var/opt"),
            directory("var"),
            directory("var/opt"),
            directory("data"),
        ]
    )
    upper = images.layer(
        [file("usr/lib/app/c", "c", mtime=1000), hardlink("usr/lib/app/c2", "usr/lib/app/c")]
    )
    return images.image([lower, upper], labels={"ostree.bootable": "true"})


@pytest.fixture
def layout(tmp_path: Path) -> str:
    images.write_layout(str(tmp_path / "base"), [(base_image(), "v1")])
    return f"oci:{tmp_path / 'base'}:v1"


def layer_entries(image: object) -> dict[str, oracle.Member]:
    top = image.layers[-1]  # type: ignore[attr-defined]
    return {m.name: m for m in oracle.members(oracle.decompress(oracle.layer_blob(top)))}


def test_unpack_writes_rootfs_and_metadata(tmp_path: Path, layout: str) -> None:
    bundle = tmp_path / "bundle"
    info = unpack_reference(layout, str(bundle))
    assert info.source == layout
    assert read_bundle(str(bundle)) == info
    assert str(info.manifest_digest) == base_image().digest
    assert (bundle / "image-manifest.json").read_bytes() == base_image().manifest
    assert (bundle / "image-config.json").read_bytes() == base_image().config
    assert (bundle / "rootfs/etc/hosts").read_text() == "127.0.0.1 localhost\n"
    assert (bundle / "ociforge-state.jsonl").exists()
    assert os.stat(bundle).st_mode & 0o777 == 0o700


def test_unpack_refuses_existing_bundle_and_leaves_nothing_on_failure(
    tmp_path: Path, layout: str
) -> None:
    (tmp_path / "exists").mkdir()
    with pytest.raises(OciforgeError, match="already exists"):
        unpack_reference(layout, str(tmp_path / "exists"))
    bad = images.image([images.layer([file("../escape", "x")])])
    images.write_layout(str(tmp_path / "bad"), [(bad, "v1")])
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(OciforgeError):
        unpack_reference(f"oci:{tmp_path / 'bad'}:v1", str(tmp_path / "b2"))
    assert sorted(os.listdir(tmp_path)) == before


def test_repack_without_changes_adds_an_empty_layer(tmp_path: Path, layout: str) -> None:
    bundle = tmp_path / "bundle"
    unpack_reference(layout, str(bundle))
    result = repack_bundle(str(bundle))
    assert result.changes.empty
    assert layer_entries(result.image) == {}
    base = open_image(layout)
    assert result.image.layers[:-1] == base.layers
    assert result.image.labels["ostree.bootable"] == "true"
    assert result.image.config.history[-1]["created_by"] == "ociforge repack"


def edit(rootfs: Path) -> None:
    (rootfs / "etc/hosts").write_text("10.0.0.1 changed\n")  # content
    os.chmod(rootfs / "etc/passwd", 0o600)  # mode only
    (rootfs / "etc/new.conf").write_text("new\n")  # addition
    os.unlink(rootfs / "usr/lib/app/b")  # deletion
    shutil.rmtree(rootfs / "usr/lib/gone")  # directory deletion
    # Removed and recreated: opaque. The old directory still exists while the new one is made,
    # so the new one cannot get its (freed) inode number back.
    (rootfs / "var/opt").rename(rootfs / "var/opt-old")
    (rootfs / "var/opt").mkdir()
    shutil.rmtree(rootfs / "var/opt-old")
    (rootfs / "var/opt/fresh").write_text("f")
    os.unlink(rootfs / "opt")  # symlink replaced by a directory
    (rootfs / "opt").mkdir()
    (rootfs / "opt/tool").write_text("t")
    os.link(rootfs / "etc/new.conf", rootfs / "data/linked")  # new hard link pair


def test_repack_records_each_kind_of_change(tmp_path: Path, layout: str) -> None:
    bundle = tmp_path / "bundle"
    unpack_reference(layout, str(bundle))
    edit(bundle / "rootfs")
    result = repack_bundle(str(bundle))
    entries = layer_entries(result.image)
    assert entries["etc/hosts"].data == b"10.0.0.1 changed\n"
    assert entries["etc/passwd"].info.mode == 0o600
    assert "etc/new.conf" in entries
    assert entries["usr/lib/app/.wh.b"].info.size == 0
    assert "usr/lib/.wh.gone" in entries
    assert "usr/lib/gone/.wh.x" not in entries  # one whiteout for a removed tree
    assert "var/opt/.wh..wh..opq" in entries
    assert entries["opt"].info.isdir()
    assert entries["opt/tool"].data == b"t"
    # Exactly one of the linked pair carries the data.
    pair = [entries["data/linked"], entries["etc/new.conf"]]
    assert sorted(m.info.type for m in pair) == [b"0", b"1"]
    assert "usr/lib/app/a" not in entries  # untouched paths stay out
    assert "usr/lib/app/c" not in entries
    assert result.changes.deleted == 2


def test_repacked_image_unpacks_to_the_edited_tree(tmp_path: Path, layout: str) -> None:
    bundle = tmp_path / "bundle"
    unpack_reference(layout, str(bundle))
    edit(bundle / "rootfs")
    repacked = repack_bundle(str(bundle))
    save_image(repacked.image, f"oci:{tmp_path / 'out'}:v2")
    again = tmp_path / "again"
    unpack_reference(f"oci:{tmp_path / 'out'}:v2", str(again))
    assert snapshot(again / "rootfs") == snapshot(bundle / "rootfs")


def test_unchanged_bytes_with_moved_ctime_are_not_repacked(tmp_path: Path, layout: str) -> None:
    bundle = tmp_path / "bundle"
    unpack_reference(layout, str(bundle))
    rootfs = bundle / "rootfs"
    st = os.stat(rootfs / "usr/lib/app/a")
    (rootfs / "usr/lib/app/a").write_bytes(b"a")  # same bytes, then the same mtime again
    os.utime(rootfs / "usr/lib/app/a", ns=(st.st_atime_ns, st.st_mtime_ns))
    os.chmod(rootfs / "etc/passwd", 0o644)  # chmod to the same mode: only the ctime moves
    (rootfs / "usr/lib/app/c").write_bytes(b"C")  # same size, same mtime, other bytes
    os.utime(rootfs / "usr/lib/app/c", (1000, 1000))
    result = repack_bundle(str(bundle))
    assert set(layer_entries(result.image)) == {
        "usr",
        "usr/lib",
        "usr/lib/app",
        "usr/lib/app/c",
        "usr/lib/app/c2",
    }
    assert result.changes.changed == 2  # c and its hard link c2 share the inode


def test_rootless_repack_restores_owners(tmp_path: Path, layout: str) -> None:
    bundle = tmp_path / "bundle"
    unpack_reference(layout, str(bundle), rootless=True)
    notes = bundle / "rootfs/home/user/notes"
    notes.write_text("edited")
    (bundle / "rootfs/home/user/new").write_text("new")
    entries = layer_entries(repack_bundle(str(bundle)).image)
    assert (entries["home/user/notes"].info.uid, entries["home/user/notes"].info.gid) == (
        1000,
        1000,
    )
    assert (entries["home/user"].info.uid, entries["home/user"].info.mode) == (1000, 0o700)
    assert entries["home/user/new"].info.uid == 0  # unknown to the image: root, as umoci does


def test_rootless_owner_from_rootlesscontainers_xattr(tmp_path: Path, layout: str) -> None:
    bundle = tmp_path / "bundle"
    unpack_reference(layout, str(bundle), rootless=True, rootless_xattr=True)
    target = bundle / "rootfs/etc/new"
    target.write_text("x")
    os.setxattr(target, "user.rootlesscontainers", b"\x08\x05\x10\x06")
    entries = layer_entries(repack_bundle(str(bundle)).image)
    assert (entries["etc/new"].info.uid, entries["etc/new"].info.gid) == (5, 6)
    assert "SCHILY.xattr.user.rootlesscontainers" not in entries["etc/new"].info.pax_headers


def test_repack_refuses_a_changed_source(tmp_path: Path, layout: str) -> None:
    bundle = tmp_path / "bundle"
    unpack_reference(layout, str(bundle))
    other = images.image([images.layer([file("x", "y")])])
    shutil.rmtree(tmp_path / "base")
    images.write_layout(str(tmp_path / "base"), [(other, "v1")])
    with pytest.raises(OciforgeError, match="was unpacked from"):
        repack_bundle(str(bundle))


def test_repack_refuses_whiteout_names_in_the_tree(tmp_path: Path, layout: str) -> None:
    bundle = tmp_path / "bundle"
    unpack_reference(layout, str(bundle))
    (bundle / "rootfs/etc/.wh.sneaky").write_text("")
    with pytest.raises(UnsupportedError, match=r"\.wh\."):
        repack_bundle(str(bundle))


def test_not_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="not an ociforge bundle"):
        repack_bundle(str(tmp_path))


def test_unpack_image_object_directly(tmp_path: Path, layout: str) -> None:
    info = unpack_bundle(open_image(layout), str(tmp_path / "b"), source=layout)
    assert info.rootfs == str(tmp_path / "b" / "rootfs")


def test_refreshed_bundle_repacks_only_what_changed_since(tmp_path: Path, layout: str) -> None:
    bundle = tmp_path / "bundle"
    unpack_reference(layout, str(bundle))
    edit(bundle / "rootfs")
    first = repack_bundle(str(bundle))
    v2 = f"oci:{tmp_path / 'base'}:v2"
    save_image(first.image, v2)
    info = refresh_bundle(str(bundle), first.image, source=v2)
    assert read_bundle(str(bundle)) == info
    assert info.source == v2 and info.manifest_digest == first.image.digest
    assert (bundle / "image-manifest.json").read_bytes() == first.image.raw_manifest

    assert repack_bundle(str(bundle)).changes.empty  # the first repack's edits are in v2 now
    (bundle / "rootfs/etc/second").write_text("2\n")
    os.unlink(bundle / "rootfs/etc/new.conf")  # added by the first repack, deleted now
    second = repack_bundle(str(bundle))
    entries = layer_entries(second.image)
    assert set(entries) == {"etc", "etc/second", "etc/.wh.new.conf"}
    assert second.image.layers[:-1] == open_image(v2).layers

    save_image(second.image, f"oci:{tmp_path / 'base'}:v3")
    again = tmp_path / "again"
    unpack_reference(f"oci:{tmp_path / 'base'}:v3", str(again))
    assert snapshot(again / "rootfs") == snapshot(bundle / "rootfs")


def test_refresh_keeps_rootless_owners(tmp_path: Path, layout: str) -> None:
    bundle = tmp_path / "bundle"
    unpack_reference(layout, str(bundle), rootless=True)
    (bundle / "rootfs/home/user/notes").write_text("edited")
    first = repack_bundle(str(bundle))
    v2 = f"oci:{tmp_path / 'base'}:v2"
    save_image(first.image, v2)
    refresh_bundle(str(bundle), first.image, source=v2)
    (bundle / "rootfs/home/user/notes").write_text("edited twice")
    notes = layer_entries(repack_bundle(str(bundle)).image)["home/user/notes"]
    assert (notes.info.uid, notes.info.gid, notes.data) == (1000, 1000, b"edited twice")


def test_repack_from_a_moved_copy_of_the_base(tmp_path: Path, layout: str) -> None:
    bundle = tmp_path / "bundle"
    unpack_reference(layout, str(bundle))
    shutil.move(tmp_path / "base", tmp_path / "moved")
    with pytest.raises(NotFound):
        repack_bundle(str(bundle))
    result = repack_bundle(str(bundle), source=f"oci:{tmp_path / 'moved'}:v1")
    assert result.changes.empty
    other = images.image([images.layer([file("x", "y")])])
    images.write_layout(str(tmp_path / "other"), [(other, "v1")])
    with pytest.raises(OciforgeError, match="was unpacked from"):
        repack_bundle(str(bundle), source=f"oci:{tmp_path / 'other'}:v1")
