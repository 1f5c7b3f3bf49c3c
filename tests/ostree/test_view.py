"""Tree readers: in-memory trees, a layer over a base, and a flattened base image."""

from __future__ import annotations

from ociforge.ostree.view import FlatTreeReader, LayeredTree, MemoryTree
from ociforge.tar.tree import TreeEntry


def test_memory_tree_follows_links_in_the_middle_and_at_the_end() -> None:
    tree = MemoryTree(
        {"/usr/lib/a": b"a", "/usr/lib/d/f": b"f"},
        {"/lib": "usr/lib", "/usr/lib/b": "a", "/loop": "/loop"},
        ["/empty"],
    )
    assert tree.read("/lib/a") == b"a"
    assert tree.read("/usr/lib/b") == b"a"
    assert tree.readlink("/usr/lib/b") == "a"
    assert tree.readlink("/lib/b") == "a"
    assert tree.readlink("/usr/lib/a") is None
    assert tree.listdir("/lib") == ("a", "b", "d")
    assert tree.listdir("/") == ("empty", "lib", "loop", "usr")
    assert tree.read("/loop") is None
    assert tree.listdir("/nothing") == ()


def test_layered_tree_upper_hides_lower() -> None:
    lower = MemoryTree({"/a": b"old", "/b": b"b"}, {"/l": "/b", "/m": "/b"})
    upper = MemoryTree({"/a": b"new", "/m": b"file"}, {"/c": "/b", "/d": "d2"})
    tree = LayeredTree(upper, lower)
    assert tree.read("/a") == b"new"
    assert tree.read("/c") == b"b"  # an upper link into the lower tree
    assert tree.read("/l") == b"b"
    assert tree.readlink("/m") is None  # an upper file hides a lower link
    assert tree.readlink("/l") == "/b"
    assert tree.listdir("/") == ("a", "b", "c", "d", "l", "m")


class Flat:
    def __init__(self) -> None:
        self.entries = {
            "/etc": TreeEntry("dir"),
            "/etc/x": TreeEntry("file"),
            "/etc/l": TreeEntry("symlink", "/dev/null"),
            "/lib": TreeEntry("symlink", "usr/lib"),
            "/usr/lib": TreeEntry("dir"),
            "/usr/lib/y": TreeEntry("symlink", "x"),
        }

    def read(self, path: str) -> bytes | None:
        return b"x" if path == "/etc/x" else None

    def resolve(self, path: str) -> str:
        return "/usr/lib" if path == "/lib" else path


def test_flat_tree_reader() -> None:
    reader = FlatTreeReader(Flat())
    assert reader.read("/etc/x") == b"x"
    assert reader.readlink("/etc/l") == "/dev/null"
    assert reader.readlink("/etc/x") is None
    assert reader.readlink("/lib/y") == "x"
    assert reader.listdir("/etc") == ("l", "x")
    assert reader.listdir("/lib") == ("y",)
