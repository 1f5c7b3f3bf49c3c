"""Flattening layers in memory (tar/flatten), checked against the stdlib and against unpack.

The cross-check the architecture review asks for (§2e) is the last property here: over random
stacks, what ``flatten_image`` says is at each path (kind, mode, owner, symlink target, size,
content) must be what ``unpack_layers`` leaves on disk, as the stdlib sees it.
"""

from __future__ import annotations

import dataclasses
import io
import os
import random
import tarfile
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ociforge.blobs import BytesSource
from ociforge.digest import Digest
from ociforge.errors import DigestMismatch, OciforgeError
from ociforge.image import Image
from ociforge.tar.flatten import FlatTree, flatten_image, flatten_layers, wanted_paths
from ociforge.tar.header import TarHeader
from ociforge.tar.reader import iter_members
from ociforge.tar.tree import HEAD_BYTES, TreeEntry
from ociforge.tar.unpack import unpack_layers
from tests.support import images
from tests.support import layers as oracle
from tests.support.images import Entry, directory, file, hardlink, symlink
from tests.support.sources import image_of
from tests.support.stacks import base_layer, stacks, whiteout
from tests.support.trees import read, snapshot

LNK, DIRECTORY = tarfile.LNKTYPE, tarfile.DIRTYPE


def image(*layers: list[Entry]) -> Image:
    return image_of(images.image([images.layer(entries) for entries in layers]))


def test_entries_say_what_each_member_is() -> None:
    tree = flatten_image(
        image(
            [
                directory("usr", mode=0o711, uid=1, gid=2),
                file("usr/tool", "12345", mode=0o4755, uid=3, gid=4, mtime=99),
                symlink("usr/alias", "tool"),
                hardlink("usr/copy", "usr/tool"),
                Entry("run/pipe", type=b"6", mode=0o640),
            ]
        )
    )
    assert tree.entries == {
        "/usr": TreeEntry("dir", mode=0o711, uid=1, gid=2),
        "/usr/tool": TreeEntry("file", mode=0o4755, uid=3, gid=4, size=5, mtime=99),
        "/usr/alias": TreeEntry("symlink", "tool", mode=0o777),
        # A hard link is whatever its target is.
        "/usr/copy": TreeEntry("file", mode=0o4755, uid=3, gid=4, size=5, mtime=99),
        "/run/pipe": TreeEntry("other", mode=0o640),
    }
    assert tree.entry("usr/./tool/") == tree.entries["/usr/tool"]
    assert tree.entry("/nowhere") is None


def test_wanted_contents_and_heads() -> None:
    big = random.Random(5).randbytes(3 << 20)  # more than the 1 MiB kept in memory
    layers = [
        [directory("etc"), file("etc/passwd", "root:x:0:0\n"), file("etc/other", "o" * 100)],
        [directory("usr/lib/m"), file("usr/lib/m/big", big), file("usr/lib64", "not under lib")],
    ]
    wanted = wanted_paths(["/etc/passwd", "/usr/lib/*"])
    tree = flatten_image(image(*layers), wanted=wanted, heads=True)
    assert tree.read("/etc/passwd") == b"root:x:0:0\n"
    assert tree.read("/usr/lib/m/big") == big
    assert tree.read("/etc/other") is None  # not wanted: not kept
    assert tree.read("/usr/lib64") is None
    assert tree.entries["/etc/other"].head == b"o" * HEAD_BYTES
    assert tree.entries["/usr/lib/m/big"].head == big[:HEAD_BYTES]
    assert flatten_image(image(*layers)).entries["/etc/other"].head == b""  # heads off
    tree.close()
    assert tree.read("/etc/passwd") is None


def test_wanted_paths_predicate() -> None:
    wanted = wanted_paths(["etc/passwd", "/usr/lib/*", "/a/./b/*"])
    assert wanted("/etc/passwd")
    assert not wanted("/etc/passwd-")
    assert wanted("/usr/lib/x")
    assert wanted("/usr/lib/x/y")
    assert not wanted("/usr/lib")  # the directory itself is not "below" it
    assert not wanted("/usr/lib64/x")
    assert wanted("/a/b/c")


def test_a_later_layer_replaces_contents() -> None:
    tree = flatten_image(image([file("f", "one")], [file("f", "two")]), wanted=lambda _path: True)
    assert tree.read("/f") == b"two"


def test_wanted_hard_links_are_read_in_a_second_pass(cosa_image: images.BuiltImage) -> None:
    # ostree's export: usr/bin/tool3 is a hard link to an object under sysroot/ostree/repo.
    members = {m.name: m for m in oracle.members(oracle.decompress(cosa_image.layers[0].blob))}
    target = members["usr/bin/tool3"].info.linkname
    tree = flatten_image(image_of(cosa_image), wanted=wanted_paths(["/usr/bin/tool3"]))
    assert tree.read("/usr/bin/tool3") == members[target].data
    assert tree.read("/" + target) is None  # only what was asked for is kept
    assert tree.entries["/usr/bin/tool3"] == tree.entries["/" + target]


def test_a_wanted_hard_link_to_an_earlier_layer_is_read() -> None:
    tree = flatten_image(image([file("t", "old")], [hardlink("h", "t")]), wanted=lambda _p: True)
    assert tree.entries["/h"].size == 3
    assert tree.read("/h") == b"old"


def test_resolve_follows_symlinks() -> None:
    tree = flatten_image(
        image(
            [
                directory("etc"),
                file("etc/passwd", "root"),
                directory("usr"),
                directory("usr/lib"),
                symlink("lib", "usr/lib"),  # relative
                symlink("usr/lib64", "/usr/lib"),  # absolute
                symlink("usr/up", ".."),  # to the root, by ..
                symlink("root", "/"),  # to the root
                symlink("here", "."),
                symlink("chain", "lib"),
                symlink("usr/lib/escape", "../../../../etc"),  # .. stops at the root
                symlink("pw", "etc/passwd"),
            ]
        ),
        wanted=wanted_paths(["/etc/passwd"]),
    )
    assert tree.resolve("/lib/x") == "/usr/lib/x"
    assert tree.resolve("/usr/lib64/x") == "/usr/lib/x"
    assert tree.resolve("/chain/x") == "/usr/lib/x"
    assert tree.resolve("/usr/lib/escape/passwd") == "/etc/passwd"
    assert tree.resolve("/usr/up/etc/passwd") == "/etc/passwd"
    assert tree.resolve("/root/etc/passwd") == "/etc/passwd"
    assert tree.resolve("/here/here/etc/passwd") == "/etc/passwd"
    assert tree.resolve("/root") == "/"
    assert tree.resolve("/etc/passwd") == "/etc/passwd"
    assert tree.resolve("/nothing/there") == "/nothing/there"
    assert tree.read("/pw") == tree.read("/root/etc/passwd") == b"root"


def test_resolve_stops_in_symlink_loops() -> None:
    tree = flatten_image(
        image([symlink("a", "b"), symlink("b", "a"), symlink("me", "me"), symlink("c", "a/x")])
    )
    for path in ("/a", "/me", "/c/y"):
        resolved = tree.resolve(path)  # returns, rather than spinning
        assert tree.entries[resolved].kind == "symlink"
        assert tree.read(path) is None


def test_deletions_are_remembered() -> None:
    tree = flatten_layers(
        image([whiteout("a/.wh.x"), whiteout("b/.wh..wh..opq"), whiteout("c/.wh..wh.plnk")]).layers
    )
    assert tree.entries == {}  # over no lower layers, a whiteout removes nothing
    assert (tree.deleted, tree.opaque) == ({"/a/x"}, {"/b"})
    assert flatten_layers([]).entries == {}


def test_a_wrong_diff_id_is_refused() -> None:
    good = image([file("f", "f")])
    wrong = Digest.parse(images.sha256(b"another tar"))
    bad = dataclasses.replace(good, layers=(dataclasses.replace(good.layers[0], diff_id=wrong),))
    with pytest.raises(DigestMismatch, match=r"\(uncompressed\): content has digest"):
        flatten_image(bad)
    # verify=False hashes neither form: only for sinks that re-verify every base blob.
    assert set(flatten_image(bad, verify=False).entries) == {"/f"}


def test_tampered_layer_content_is_refused() -> None:
    # An uncompressed layer has no codec checksum: only its digest can tell. The tar's end
    # comes before the blob's, so the whole blob must be read for the digest to be checked.
    built = images.layer([file("etc/shadow", "root:good")], compress=False)
    real = image_of(images.image([built]))
    blobs = {real.layers[0].digest: built.blob.replace(b"root:good", b"root:evil")}
    layer = dataclasses.replace(real.layers[0], source=BytesSource(blobs, name="tampered"))
    tampered = dataclasses.replace(real, layers=(layer,))
    with pytest.raises(DigestMismatch, match="tampered: blob"):
        flatten_image(tampered, wanted=lambda _path: True)


# -- applying one more layer -------------------------------------------------------------

_settings = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _with_heads(entries: list[Entry]) -> list[tuple[TarHeader, bytes]]:
    """The layer's members as a builder holds them: headers and first bytes."""
    raw = images.tar_bytes(entries)
    return [(m.header, data.read(HEAD_BYTES)) for m, data in iter_members(io.BytesIO(raw))]


def _entry_paths(entries: list[Entry]) -> set[str]:
    """Paths a layer writes (not its whiteouts, not links to themselves), from the names alone."""
    out = set()
    for e in entries:
        parts = [p for p in e.name.split("/") if p not in ("", ".")]
        if (
            parts
            and not parts[-1].startswith(".wh.")
            and not (e.type == LNK and e.linkname == e.name)
        ):
            out.add("/" + "/".join(parts))
    return out


@_settings
@given(stack=stacks(metadata=True))
def test_property_overlay_and_overlay_headers_apply_a_layer_like_flattening(
    stack: list[list[Entry]],
) -> None:
    built = image(base_layer(), *stack)
    whole = flatten_layers(built.layers, heads=True)
    *lower, top = built.layers
    by_layer = flatten_layers(lower, heads=True)
    assert by_layer.overlay(top) == _entry_paths(stack[-1])
    assert by_layer.entries == whole.entries
    by_headers = flatten_layers(lower, heads=True)
    assert by_headers.overlay_headers(_with_heads(stack[-1])) == _entry_paths(stack[-1])
    assert by_headers.entries == whole.entries


# -- laying a tree over another ----------------------------------------------------------


def _replaces_a_lower_directory(lower: list[list[Entry]], upper: list[list[Entry]]) -> bool:
    """True if an upper non-directory sits where a lower layer wrote a directory (or below)."""
    directories = set()
    for e in (e for layer in lower for e in layer):
        parts = e.name.rstrip("/").split("/")
        directories.update("/".join(parts[:depth]) for depth in range(1, len(parts)))
        if e.type == DIRECTORY:
            directories.add("/".join(parts))
    return any(e.type != DIRECTORY and e.name in directories for layer in upper for e in layer)


def _links_below(upper: list[list[Entry]]) -> bool:
    """True if an upper hard link names a path no upper layer wrote before it."""
    written: set[str] = set()
    for layer in upper:
        for e in layer:
            if e.type == LNK and e.linkname not in written:
                return True
            written.add(e.name)
    return False


@_settings
@given(stack=stacks(metadata=True, layers=(2, 5)), data=st.data())
def test_property_over_is_flattening_all_layers_together(
    stack: list[list[Entry]], data: st.DataObject
) -> None:
    layers = [base_layer(), *stack]
    split = data.draw(st.integers(1, len(layers) - 1), label="split")
    built = image(*layers).layers
    assume(_unpackable(built))  # e.g. a hard link to a directory: no tree to speak of
    upper = flatten_layers(built[split:])
    assert upper.over(flatten_layers(built[:split])).entries == flatten_layers(built).entries


def _unpackable(layers: object) -> bool:
    with tempfile.TemporaryDirectory() as root:
        try:
            unpack_layers(layers, root)  # type: ignore[arg-type]
        except OciforgeError:
            return False
    return True


def test_over_drops_the_children_of_a_directory_the_upper_layers_replace() -> None:
    layers = image([directory("a"), file("a/x", "x")], [file("a", "now a file")]).layers
    assert set(flatten_layers(layers).entries) == {"/a"}
    over = flatten_layers(layers[1:]).over(flatten_layers(layers[:1]))
    assert set(over.entries) == {"/a"}


def test_over_resolves_hard_links_to_lower_content() -> None:
    layers = image([file("t", "data", mode=0o600)], [hardlink("h", "t")]).layers
    assert flatten_layers(layers).entries["/h"].mode == 0o600
    over = flatten_layers(layers[1:]).over(flatten_layers(layers[:1]))
    assert over.entries["/h"] == flatten_layers(layers).entries["/h"]


# -- against unpack ----------------------------------------------------------------------


def _flat_view(tree: FlatTree) -> dict[str, tuple[object, ...]]:
    return {
        path.lstrip("/"): (
            e.kind,
            e.mode,
            e.uid,
            e.gid,
            e.linkname if e.kind == "symlink" else "",
            e.size if e.kind == "file" else 0,
        )
        for path, e in tree.entries.items()
    }


def _disk_view(root: Path) -> dict[str, tuple[object, ...]]:
    out = {}
    for path, node in snapshot(root).items():
        size = os.lstat(root / path).st_size if node.kind == "file" else 0
        out[path] = (node.kind, node.mode, node.uid, node.gid, node.target, size)
    return out


def _whiteout_after_own_entry(stack: list[list[Entry]]) -> bool:
    """True if a layer whites out a path it wrote itself earlier (report D1)."""
    for layer in stack:
        written: list[str] = []
        for e in layer:
            head, _, name = e.name.rpartition("/")
            if name.startswith(".wh.") and name != ".wh..wh..opq":
                target = f"{head}/{name[4:]}".lstrip("/")
                if any(w == target or w.startswith(target + "/") for w in written):
                    return True
            written.append(e.name)
    return False


def test_a_whiteout_spares_the_entries_of_its_own_layer(tmp_path: Path) -> None:
    # image-spec layer.md: "Files that are present in the same layer as a whiteout file can
    # only be hidden by whiteout files in subsequent layers."
    built = image(
        [file("keep", "k"), directory("d"), file("d/f", "f")],
        [file("keep", "new"), whiteout(".wh.keep"), file("d/g", "g"), whiteout(".wh.d")],
    )
    unpack_layers(built.layers, str(tmp_path))
    assert set(snapshot(tmp_path)) == {"keep", "d", "d/g"}
    assert set(flatten_image(built).entries) == {"/keep", "/d", "/d/g"}


def test_a_hard_link_to_itself_changes_nothing(tmp_path: Path) -> None:
    built = image([directory("d", mode=0o700), file("d/x", "x")], [hardlink("d", "d")])
    unpack_layers(built.layers, str(tmp_path))
    assert _flat_view(flatten_image(built)) == _disk_view(tmp_path)


def test_property_flatten_sees_the_tree_unpack_writes(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    compared: list[str] = []

    @settings(_settings, max_examples=50)
    @given(stack=stacks(metadata=True))
    def check(stack: list[list[Entry]]) -> None:
        built = image(base_layer(), *stack)
        root = tmp_path_factory.mktemp("unpacked")
        try:
            unpack_layers(built.layers, str(root))
        except OciforgeError:
            assume(False)  # e.g. a hard link to nothing: no tree to compare
        tree = flatten_image(built, wanted=lambda _path: True)
        assert _flat_view(tree) == _disk_view(root)
        # Contents too, hard links included (their content may be in an earlier layer).
        for path, node in snapshot(root).items():
            if node.kind == "file":
                assert tree.read("/" + path) == read(root, path), path
        compared.append("x")

    check()
    assert len(compared) >= 35, f"only {len(compared)} stacks were compared"
