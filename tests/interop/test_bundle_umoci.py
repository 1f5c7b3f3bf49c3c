"""Bundles against umoci and ostree: each reads what the other writes, to the same tree.

The edits stay away from writing through a symlinked directory, the one case where umoci
(symlinks followed inside the rootfs) and ociforge (overlayfs: never followed) differ by design.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from ociforge.recipes.bundle import repack_bundle, unpack_reference
from ociforge.transports import open_image, save_image
from tests.support import images
from tests.support import layers as oracle
from tests.support.cli import ociforge
from tests.support.images import directory, file, hardlink, symlink
from tests.support.tools import need, ostree_import, run, skopeo
from tests.support.trees import snapshot

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="comparing owners needs root")


def base_image() -> images.BuiltImage:
    xattr = {"SCHILY.xattr.user.origin": "base"}
    lower = images.layer(
        [
            directory("etc"),
            file("etc/hosts", "127.0.0.1 localhost\n", mtime=1000),
            file("etc/shadow", "root:*:1::::::\n", mode=0o400),
            file("etc/tagged", "x", pax=xattr),
            directory("usr"),
            directory("usr/bin"),
            file("usr/bin/su", "#!/bin/sh\n", mode=0o4755),
            file("usr/bin/tool", "tool v1\n", mode=0o755),
            hardlink("usr/bin/tool-alias", "usr/bin/tool"),
            symlink("usr/bin/sh", "bash"),
            directory("usr/share"),
            directory("usr/share/doc"),
            file("usr/share/doc/a", "a"),
            file("usr/share/doc/b", "b"),
            directory("var"),
            directory("var/lib"),
            directory("var/lib/svc", uid=990, gid=990, mode=0o750),
            file("var/lib/svc/state", "s", uid=990, gid=990, mode=0o640),
            directory("srv"),
            file("srv/old", "old"),
        ]
    )
    upper = images.layer(
        [
            file("etc/.wh.hosts", b""),
            file("etc/hosts", "10.0.0.1 upper\n"),
            directory("srv"),
            file("srv/.wh..wh..opq", b""),
            file("srv/new", "new"),
            hardlink("usr/bin/tool-copy", "usr/bin/tool"),
        ]
    )
    return images.image([lower, upper], labels={"ostree.bootable": "true"})


def edit(rootfs: Path) -> None:
    (rootfs / "etc/hosts").write_text("192.168.0.1 edited\n")
    os.chmod(rootfs / "usr/bin/tool", 0o700)
    (rootfs / "etc/motd").write_text("welcome\n")
    os.chown(rootfs / "etc/motd", 1234, 4321)
    os.unlink(rootfs / "usr/share/doc/a")
    shutil.rmtree(rootfs / "var/lib/svc")
    os.mkdir(rootfs / "var/lib/svc", 0o700)
    (rootfs / "var/lib/svc/fresh").write_text("f")
    os.symlink("../share/doc/b", rootfs / "usr/bin/doc")
    os.link(rootfs / "etc/motd", rootfs / "usr/share/doc/motd")
    os.setxattr(rootfs / "etc/tagged", "user.origin", b"edited")
    os.setxattr(rootfs / "etc/motd", "user.note", b"new")


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    need("umoci")
    path = tmp_path / "layout"
    images.write_layout(str(path), [(base_image(), "v1")])
    return path


def test_base_unpacks_the_same_with_umoci_and_ociforge(tmp_path: Path, layout: Path) -> None:
    run(["umoci", "unpack", "--image", f"{layout}:v1", str(tmp_path / "u")])
    unpack_reference(f"oci:{layout}:v1", str(tmp_path / "o"))
    theirs = snapshot(tmp_path / "u/rootfs", xattrs=True)
    assert snapshot(tmp_path / "o/rootfs", xattrs=True) == theirs
    assert theirs["srv/new"].kind == "file"
    assert "srv/old" not in theirs


def test_umoci_unpacks_an_ociforge_repack_to_the_same_tree(tmp_path: Path, layout: Path) -> None:
    bundle = tmp_path / "edit"
    unpack_reference(f"oci:{layout}:v1", str(bundle))
    edit(bundle / "rootfs")
    repacked = repack_bundle(str(bundle)).image
    save_image(repacked, f"oci:{layout}:v2")
    skopeo("inspect", f"oci:{layout}:v2")  # a peer reads the layout we wrote

    run(["umoci", "unpack", "--image", f"{layout}:v2", str(tmp_path / "u")])
    unpack_reference(f"oci:{layout}:v2", str(tmp_path / "o"))
    theirs = snapshot(tmp_path / "u/rootfs", xattrs=True)
    assert snapshot(tmp_path / "o/rootfs", xattrs=True) == theirs
    assert theirs == snapshot(bundle / "rootfs", xattrs=True)  # and both are the edited tree


def test_ociforge_unpacks_a_umoci_repack_like_umoci(tmp_path: Path, layout: Path) -> None:
    bundle = tmp_path / "edit"
    run(["umoci", "unpack", "--image", f"{layout}:v1", str(bundle)])
    edit(bundle / "rootfs")
    run(["umoci", "repack", "--image", f"{layout}:v3", str(bundle)])

    run(["umoci", "unpack", "--image", f"{layout}:v3", str(tmp_path / "u")])
    unpack_reference(f"oci:{layout}:v3", str(tmp_path / "o"))
    theirs = snapshot(tmp_path / "u/rootfs", xattrs=True)
    assert snapshot(tmp_path / "o/rootfs", xattrs=True) == theirs
    assert theirs["var/lib/svc/fresh"].kind == "file"
    assert "usr/share/doc/a" not in theirs


def test_rootless_unpack_matches_umoci_rootless(tmp_path: Path, layout: Path) -> None:
    run(["umoci", "unpack", "--rootless", "--image", f"{layout}:v1", str(tmp_path / "u")])
    unpack_reference(f"oci:{layout}:v1", str(tmp_path / "o"), rootless=True, rootless_xattr=True)
    theirs = snapshot(tmp_path / "u/rootfs", xattrs=True)
    ours = snapshot(tmp_path / "o/rootfs", xattrs=True)
    assert ours == theirs
    assert dict(theirs["var/lib/svc/state"].xattrs)["user.rootlesscontainers"]


def test_rootless_repack_restores_owners_that_umoci_then_sees(tmp_path: Path, layout: Path) -> None:
    bundle = tmp_path / "edit"
    unpack_reference(f"oci:{layout}:v1", str(bundle), rootless=True)
    (bundle / "rootfs/var/lib/svc/state").write_text("changed")
    save_image(repack_bundle(str(bundle)).image, f"oci:{layout}:v4")
    run(["umoci", "unpack", "--image", f"{layout}:v4", str(tmp_path / "u")])
    state = os.lstat(tmp_path / "u/rootfs/var/lib/svc/state")
    assert (state.st_uid, state.st_gid) == (990, 990)
    assert (tmp_path / "u/rootfs/var/lib/svc/state").read_text() == "changed"


def test_ostree_accepts_a_repacked_layer(tmp_path: Path, layout: Path) -> None:
    need("ostree")
    bundle = tmp_path / "edit"
    unpack_reference(f"oci:{layout}:v1", str(bundle))
    edit(bundle / "rootfs")
    top = repack_bundle(str(bundle)).image.layers[-1]
    repo = ostree_import(oracle.layer_blob(top), tmp_path / "ostree")
    listing = run(["ostree", "ls", f"--repo={repo}", "-R", "layer"]).stdout
    assert "/etc/motd" in listing
    assert "/usr/share/doc/motd" in listing


def second_edit(rootfs: Path) -> None:
    (rootfs / "etc/motd").write_text("second\n")
    os.unlink(rootfs / "srv/new")
    (rootfs / "srv/later").write_text("later")


def test_refresh_bundle_chain_gives_umoci_s_tree_and_layer_count(
    tmp_path: Path, layout: Path
) -> None:
    """``repack --refresh-bundle`` twice, by ociforge's CLI and by umoci, from one base."""
    ours = tmp_path / "ours"
    ociforge("unpack", f"oci:{layout}:v1", str(ours))
    edit(ours / "rootfs")
    done = ociforge("repack", "--refresh-bundle", str(ours), f"oci:{layout}:o2")
    assert done.code == 0, done.err
    second_edit(ours / "rootfs")
    assert ociforge("repack", str(ours), f"oci:{layout}:o3").code == 0

    theirs = tmp_path / "theirs"
    run(["umoci", "unpack", "--image", f"{layout}:v1", str(theirs)])
    edit(theirs / "rootfs")
    run(["umoci", "repack", "--refresh-bundle", "--image", f"{layout}:u2", str(theirs)])
    second_edit(theirs / "rootfs")
    run(["umoci", "repack", "--image", f"{layout}:u3", str(theirs)])

    for tag in ("o3", "u3"):
        run(["umoci", "unpack", "--image", f"{layout}:{tag}", str(tmp_path / tag)])
    assert snapshot(tmp_path / "o3/rootfs", xattrs=True) == snapshot(
        tmp_path / "u3/rootfs", xattrs=True
    )
    layers = {
        tag: len(json.loads(skopeo("inspect", f"oci:{layout}:{tag}").stdout)["Layers"])
        for tag in ("v1", "o3", "u3")
    }
    assert layers["o3"] == layers["u3"] == layers["v1"] + 2
    top = open_image(f"oci:{layout}:o3").layers[-1]
    names = {m.name for m in oracle.members(oracle.decompress(oracle.layer_blob(top)))}
    assert "etc/hosts" not in names  # the first edit is in the layer below, not again
    assert {"etc/motd", "srv/later", "srv/.wh.new"} <= names
