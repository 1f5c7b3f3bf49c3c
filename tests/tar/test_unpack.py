"""Unpacking layers: whiteouts, replacements, hard links across layers, metadata, rootless."""

from __future__ import annotations

import io
import os
import stat
import zlib
from pathlib import Path

import pytest

from ociforge.errors import DigestMismatch, TarError, UnsupportedError
from ociforge.tar.state import (
    ROOTLESS_XATTR,
    PathState,
    decode_rootless_owner,
    encode_rootless_owner,
)
from ociforge.tar.unpack import TreeWriter
from tests.support import images
from tests.support.images import directory, file, hardlink, symlink
from tests.support.trees import read, snapshot


def whiteout(name: str) -> images.Entry:
    return file(name, b"")


def unpack(root: Path, *layers: list[images.Entry], **options: object) -> dict[str, PathState]:
    root.mkdir(parents=True, exist_ok=True)
    writer = TreeWriter(str(root), **options)  # type: ignore[arg-type]
    try:
        for n, entries in enumerate(layers):
            writer.apply(io.BytesIO(images.tar_bytes(entries)), what=f"layer {n}")
        return dict(writer.finish())
    finally:
        writer.close()


def assert_record_matches_disk(root: Path, states: dict[str, PathState]) -> None:
    """Every recorded path exists with the recorded inode and ctime; nothing is unrecorded."""
    on_disk = set(snapshot(root))
    recorded = {k for k, s in states.items() if k and s.present}
    assert on_disk == recorded
    for key, state in states.items():
        if not state.present:
            continue
        st = os.lstat(root / key) if key else os.lstat(root)
        assert (st.st_ino, st.st_ctime_ns) == (state.ino, state.ctime_ns), key
        assert stat.S_IMODE(st.st_mode) == state.mode or state.is_symlink, key
        assert st.st_mtime_ns == state.mtime * 10**9, key


def test_files_dirs_links_and_metadata(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    states = unpack(
        root,
        [
            directory("usr", mode=0o755, mtime=1000),
            directory("usr/bin", mode=0o711, mtime=2000),
            file("usr/bin/tool", "#!/bin/sh\n", mode=0o4755, mtime=3000, uid=12, gid=34),
            symlink("usr/bin/alias", "tool", mtime=4000),
            hardlink("usr/bin/copy", "usr/bin/tool"),
            file("etc/conf", "x", pax={"SCHILY.xattr.user.color": "blue"}),
            images.Entry("run/pipe", type=b"6", mode=0o640),
        ],
    )
    tree = snapshot(root)
    assert tree["usr/bin"].mode == 0o711
    assert tree["usr/bin/tool"].mode == 0o4755
    assert (tree["usr/bin/tool"].uid, tree["usr/bin/tool"].gid) == (12, 34)
    assert tree["usr/bin/alias"].target == "tool"
    assert os.lstat(root / "usr/bin/copy").st_ino == os.lstat(root / "usr/bin/tool").st_ino
    assert os.getxattr(root / "etc/conf", "user.color") == b"blue"
    assert tree["etc"].mode == 0o755  # implicit parent
    assert tree["run/pipe"].kind == "fifo"
    assert tree["run/pipe"].mode == 0o640
    assert os.lstat(root / "usr/bin").st_mtime == 2000
    assert os.lstat(root / "usr/bin/alias").st_mtime == 4000
    assert (
        states["usr/bin/tool"].crc32 == states["usr/bin/copy"].crc32 == zlib.crc32(b"#!/bin/sh\n")
    )
    assert states["etc/conf"].xattrs == {"user.color": b"blue"}
    assert_record_matches_disk(root, states)


def test_file_deleted_then_recreated(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    states = unpack(
        root,
        [file("etc/a", "one"), file("etc/b", "keep")],
        [whiteout("etc/.wh.a")],
        [file("etc/a", "two")],
    )
    assert read(root, "etc/a") == b"two"
    assert read(root, "etc/b") == b"keep"
    assert_record_matches_disk(root, states)


def test_directory_deleted_then_recreated_opaque(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    states = unpack(
        root,
        [
            directory("d"),
            file("d/x", "x"),
            directory("d/sub"),
            file("d/sub/y", "y"),
            file("e", "e"),
        ],
        [directory("d"), whiteout("d/.wh..wh..opq"), file("d/z", "z")],
    )
    assert set(snapshot(root)) == {"d", "d/z", "e"}
    assert_record_matches_disk(root, states)


def test_opaque_marker_after_siblings_keeps_them(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    unpack(
        root,
        [file("d/old", "o"), file("d/sub/old", "o")],
        [file("d/new", "n"), file("d/sub/new", "n"), whiteout("d/.wh..wh..opq")],
    )
    assert set(snapshot(root)) == {"d", "d/new", "d/sub", "d/sub/new"}


def test_whiteout_then_recreate_in_the_same_layer(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    unpack(root, [file("d/old", "o")], [whiteout(".wh.d"), directory("d"), file("d/new", "n")])
    assert set(snapshot(root)) == {"d", "d/new"}


def test_whiteout_after_the_layers_own_entry_spares_it(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    unpack(root, [file("a", "old")], [file("a", "new"), whiteout(".wh.a")])
    assert read(root, "a") == b"new"


def test_hardlink_whose_target_is_later_deleted(tmp_path: Path) -> None:
    # go-containerregistry #977: the link must keep the content after its target goes.
    root = tmp_path / "rootfs"
    states = unpack(
        root,
        [file("usr/lib/target", "payload"), hardlink("usr/bin/link", "usr/lib/target")],
        [whiteout("usr/lib/.wh.target")],
    )
    assert set(snapshot(root)) == {"usr", "usr/bin", "usr/bin/link", "usr/lib"}
    assert read(root, "usr/bin/link") == b"payload"
    assert_record_matches_disk(root, states)


def test_hardlink_whose_target_is_later_overwritten(tmp_path: Path) -> None:
    # go-containerregistry #2002: overwriting the target must not change the link.
    root = tmp_path / "rootfs"
    states = unpack(
        root,
        [file("t", "old"), hardlink("h", "t")],
        [file("t", "new")],
    )
    assert read(root, "h") == b"old"
    assert read(root, "t") == b"new"
    assert os.lstat(root / "h").st_nlink == 1
    assert_record_matches_disk(root, states)


def test_hardlink_to_content_of_an_earlier_layer(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    states = unpack(root, [file("a/t", "data", mode=0o600)], [hardlink("b/h", "a/t")])
    assert os.lstat(root / "b/h").st_ino == os.lstat(root / "a/t").st_ino
    assert states["b/h"].mode == 0o600
    assert_record_matches_disk(root, states)


def test_hardlink_to_missing_target_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TarError, match="does not exist"):
        unpack(tmp_path / "rootfs", [hardlink("h", "nowhere")])


def test_symlink_replaced_by_a_directory(tmp_path: Path) -> None:
    # CoreOS: /opt -> var/opt and /usr/local -> ../var/usrlocal; a derived layer adds real dirs.
    root = tmp_path / "rootfs"
    states = unpack(
        root,
        [
            directory("var/opt"),
            file("var/opt/keep", "k"),
            symlink("opt", "var/opt"),
            directory("usr"),
            symlink("usr/local", "../var/usrlocal"),
        ],
        [directory("opt"), file("opt/app", "a"), file("usr/local/bin/tool", "t")],
    )
    tree = snapshot(root)
    assert tree["opt"].kind == "dir"
    assert tree["usr/local"].kind == "dir"
    assert read(root, "opt/app") == b"a"
    assert read(root, "usr/local/bin/tool") == b"t"
    assert set(os.listdir(root / "var/opt")) == {"keep"}
    assert not (root / "var/usrlocal").exists()
    assert_record_matches_disk(root, states)


def test_directory_replaces_file_and_back(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    states = unpack(
        root,
        [file("x", "file"), directory("y"), file("y/inner", "i")],
        [directory("x"), file("x/child", "c"), file("y", "now a file")],
    )
    tree = snapshot(root)
    assert tree["x"].kind == "dir"
    assert tree["y"].kind == "file"
    assert set(tree) == {"x", "x/child", "y"}
    assert_record_matches_disk(root, states)


def test_rootless_records_owners_and_skips_devices(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    warnings: list[str] = []
    states = unpack(
        root,
        [
            file("home/user/f", "x", uid=1000, gid=1000, mode=0o600),
            directory("home/user", uid=1000, gid=1001),
            images.Entry("dev/null", type=b"3", mode=0o666),
        ],
        rootless=True,
        rootless_xattr=True,
        warn=warnings.append,
    )
    st = os.lstat(root / "home/user/f")
    assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid())
    assert (states["home/user/f"].uid, states["home/user/f"].gid) == (1000, 1000)
    assert os.getxattr(root / "home/user/f", ROOTLESS_XATTR) == b"\x08\xe8\x07\x10\xe8\x07"
    assert decode_rootless_owner(os.getxattr(root / "home/user", ROOTLESS_XATTR)) == (1000, 1001)
    assert not (root / "dev/null").exists()
    assert not states["dev/null"].present
    assert len(warnings) == 1
    assert "dev/null" in warnings[0]
    assert_record_matches_disk(root, states)


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod and chown need root")
def test_root_unpack_creates_devices_and_owners(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    unpack(
        root,
        [images.Entry("dev/null", type=b"3", mode=0o666), file("f", "x", uid=7, gid=8)],
    )
    st = os.lstat(root / "dev/null")
    assert stat.S_ISCHR(st.st_mode)
    assert (os.lstat(root / "f").st_uid, os.lstat(root / "f").st_gid) == (7, 8)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may chown")
def test_non_root_without_rootless_says_so(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedError, match="rootless"):
        unpack(tmp_path / "rootfs", [file("f", "x", uid=7)])


def test_rootless_owner_encoding_round_trip() -> None:
    for uid, gid in [(0, 0), (0, 5), (1000, 0), (65534, 65534), (2**32 - 2, 1)]:
        assert decode_rootless_owner(encode_rootless_owner(uid, gid)) == (uid, gid)
    assert encode_rootless_owner(0, 0) == b""


def test_corrupt_layer_digest_is_detected(tmp_path: Path) -> None:
    from ociforge.blobs import BytesSource
    from ociforge.digest import Digest
    from ociforge.layer import Layer
    from ociforge.spec import Descriptor
    from ociforge.tar.unpack import unpack_layers

    built = images.layer([file("a", "a")])
    descriptor = Descriptor(built.media_type, Digest.parse(built.digest), len(built.blob))
    wrong = Digest.parse(images.sha256(b"something else"))
    layer = Layer(descriptor, wrong, BytesSource({descriptor.digest: built.blob}))
    (tmp_path / "r").mkdir()
    with pytest.raises(DigestMismatch):
        unpack_layers([layer], str(tmp_path / "r"))
