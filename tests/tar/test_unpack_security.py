"""Named regressions: nothing a layer says may write, link or delete outside the rootfs.

Each test unpacks into ``tmp/bundle/rootfs`` next to ``tmp/sentinel`` (a canary file and an
empty directory) and then proves the sentinel and everything outside the rootfs are unchanged.
Names that can only be meant as an escape are errors; a symlink met on the way is never
followed (overlayfs semantics): the path is created inside the rootfs instead.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ociforge.errors import TarError, UnsafePath
from ociforge.tar.unpack import TreeWriter
from tests.support import images
from tests.support.images import directory, file, hardlink, symlink
from tests.support.trees import read, snapshot


class Scene:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.rootfs = tmp / "bundle" / "rootfs"
        self.rootfs.mkdir(parents=True)
        self.sentinel = tmp / "sentinel"
        (self.sentinel / "empty").mkdir(parents=True)
        (self.sentinel / "canary").write_text("canary\n")

    def outside(self) -> dict[str, object]:
        """Everything under tmp except the rootfs, plus the link count of the canary."""
        tree = {k: v for k, v in snapshot(self.tmp).items() if not k.startswith("bundle/rootfs/")}
        tree["canary links"] = os.lstat(self.sentinel / "canary").st_nlink  # type: ignore[assignment]
        return tree  # type: ignore[return-value]

    def unpack(self, *layers: list[images.Entry]) -> None:
        writer = TreeWriter(str(self.rootfs), rootless=True)
        try:
            for n, entries in enumerate(layers):
                writer.apply(io.BytesIO(images.tar_bytes(entries)), what=f"layer {n}")
            writer.finish()
        finally:
            writer.close()


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    s = Scene(tmp_path)
    before = s.outside()
    yield s
    assert s.outside() == before, "something outside the rootfs changed"


def wh(name: str) -> images.Entry:
    return file(name, b"")


@pytest.mark.parametrize("name", ["../sentinel/pwned", "a/../../../sentinel/pwned", "../../x"])
def test_dotdot_names_are_refused(scene: Scene, name: str) -> None:
    with pytest.raises(UnsafePath, match=r"contains '\.\.'"):
        scene.unpack([file(name, "x")])


def test_absolute_names_are_refused(scene: Scene) -> None:
    name = str(scene.sentinel / "pwned")
    with pytest.raises(UnsafePath, match="absolute name"):
        scene.unpack([file(name, "x")])


def test_cve_2021_29136_root_replaced_by_symlink(scene: Scene) -> None:
    # umoci CVE-2021-29136: "." as a symlink made later entries land outside the rootfs.
    with pytest.raises(UnsafePath, match="would replace the root directory"):
        scene.unpack([symlink(".", str(scene.sentinel))], [file("pwned", "x")])


@pytest.mark.parametrize("target", ["/", "..", "../..", "SENTINEL"])
def test_cve_2021_29136_symlink_to_root_or_parent_then_write(scene: Scene, target: str) -> None:
    target = str(scene.sentinel) if target == "SENTINEL" else target
    scene.unpack(
        [symlink("escape", target), directory("escape/empty"), file("escape/empty/pwned", "x")]
    )
    # Not followed: the symlink became a directory inside the rootfs.
    assert read(scene.rootfs, "escape/empty/pwned") == b"x"
    assert (scene.rootfs / "escape").is_dir()
    assert not (scene.rootfs / "escape").is_symlink()


def test_cve_2025_45582_symlink_planted_in_one_layer_written_through_in_the_next(
    scene: Scene,
) -> None:
    # GNU tar CVE-2025-45582: a symlink from an earlier archive redirects a later write.
    scene.unpack(
        [symlink("etc", str(scene.sentinel)), symlink("lib", "../../sentinel")],
        [file("etc/canary", "overwritten"), file("lib/empty/pwned", "x")],
    )
    assert read(scene.rootfs, "etc/canary") == b"overwritten"
    assert read(scene.rootfs, "lib/empty/pwned") == b"x"


def test_cve_2026_50163_hardlink_to_a_path_outside(scene: Scene) -> None:
    # oras-go CVE-2026-50163: a relative Linkname resolved against the process's directory.
    os.chdir(scene.tmp / "bundle")  # as if the extractor ran from here
    for linkname in ["../sentinel/canary", "../../sentinel/canary", str(scene.sentinel / "canary")]:
        with pytest.raises(UnsafePath):
            scene.unpack([hardlink("stolen", linkname)])
    assert not (scene.rootfs / "stolen").exists()


def test_hardlink_through_a_symlinked_parent(scene: Scene) -> None:
    with pytest.raises(UnsafePath, match="through a symlink"):
        scene.unpack([symlink("esc", str(scene.sentinel))], [hardlink("stolen", "esc/canary")])
    assert not (scene.rootfs / "stolen").exists()


def test_hardlink_to_a_symlink_links_the_symlink_itself(scene: Scene) -> None:
    scene.unpack([symlink("esc", str(scene.sentinel / "canary")), hardlink("other", "esc")])
    assert os.readlink(scene.rootfs / "other") == str(scene.sentinel / "canary")
    assert os.lstat(scene.rootfs / "other").st_ino == os.lstat(scene.rootfs / "esc").st_ino


@pytest.mark.parametrize(
    "name", [".wh...", "a/.wh...", ".wh.../x", ".wh.../.wh..wh..opq", ".wh.", "a/.wh.", ".wh.."]
)
def test_whiteout_names_that_traverse_are_refused(scene: Scene, name: str) -> None:
    (scene.rootfs / "a").mkdir()
    with pytest.raises(UnsafePath, match="whiteout"):
        scene.unpack([wh(name)])
    assert (scene.rootfs / "a").is_dir()


def test_whiteout_through_a_symlink_deletes_nothing_outside(scene: Scene) -> None:
    scene.unpack([symlink("lnk", str(scene.sentinel))], [wh("lnk/.wh.canary"), wh("lnk/.wh.empty")])
    assert os.readlink(scene.rootfs / "lnk") == str(scene.sentinel)


def test_opaque_whiteout_through_a_symlink_clears_nothing_outside(scene: Scene) -> None:
    scene.unpack([symlink("lnk", str(scene.sentinel))], [wh("lnk/.wh..wh..opq")])
    assert (scene.rootfs / "lnk").is_dir()
    assert not (scene.rootfs / "lnk").is_symlink()


def test_opaque_whiteout_of_the_root_clears_only_the_rootfs(scene: Scene) -> None:
    scene.unpack([file("old", "o")], [wh(".wh..wh..opq"), file("new", "n")])
    assert set(snapshot(scene.rootfs)) == {"new"}


def test_regular_file_over_a_symlink_replaces_the_symlink(scene: Scene) -> None:
    scene.unpack([symlink("target", str(scene.sentinel / "canary"))], [file("target", "mine")])
    assert not (scene.rootfs / "target").is_symlink()
    assert read(scene.rootfs, "target") == b"mine"


def test_hardlink_named_over_a_symlinked_parent_stays_inside(scene: Scene) -> None:
    scene.unpack(
        [file("data", "d"), symlink("dir", str(scene.sentinel))], [hardlink("dir/x", "data")]
    )
    assert (scene.rootfs / "dir").is_dir()
    assert read(scene.rootfs, "dir/x") == b"d"


def test_deeply_nested_names_are_refused(scene: Scene) -> None:
    with pytest.raises(UnsafePath, match="levels deep"):
        scene.unpack([file("/".join(["d"] * 300), "x")])


def test_empty_symlink_target_is_an_error(scene: Scene) -> None:
    with pytest.raises(TarError, match="empty target"):
        scene.unpack([images.Entry("s", type=b"2", linkname="")])
