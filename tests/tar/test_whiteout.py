"""OCI whiteout names (image-spec layer.md "Whiteouts"): what each deletes, what is refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ociforge.errors import UnsafePath
from ociforge.tar.names import Parts, split_member_name
from ociforge.tar.whiteout import (
    Whiteout,
    classify,
    is_whiteout_name,
    opaque_parts,
    whiteout_parts,
)


def parts(name: str) -> Parts:
    return split_member_name(name)


@pytest.mark.parametrize("name", ["", "etc", "etc/hosts", "a/b.wh.c", "x/wh.y", "a/.whx", "..wh.a"])
def test_ordinary_names_are_content(name: str) -> None:
    assert classify(parts(name)) is None


@pytest.mark.parametrize(
    ("name", "expected", "target"),
    [
        ("etc/.wh.hosts", Whiteout(("etc",), "hosts", "file"), ("etc", "hosts")),
        (".wh.etc", Whiteout((), "etc", "file"), ("etc",)),
        ("a/b/.wh..hidden", Whiteout(("a", "b"), ".hidden", "file"), ("a", "b", ".hidden")),
        ("a/.wh....", Whiteout(("a",), "...", "file"), ("a", "...")),  # "..." is a name
        ("a/.wh..wh", Whiteout(("a",), ".wh", "file"), ("a", ".wh")),
        ("var/cache/.wh..wh..opq", Whiteout(("var", "cache"), "", "opaque"), ("var", "cache")),
        (".wh..wh..opq", Whiteout((), "", "opaque"), ()),
        ("d/.wh..wh.plnk", Whiteout(("d",), ".wh..wh.plnk", "meta"), ("d",)),
        ("d/.wh..wh.aufs", Whiteout(("d",), ".wh..wh.aufs", "meta"), ("d",)),
        (".wh..wh..tmp", Whiteout((), ".wh..wh..tmp", "meta"), ()),
    ],
)
def test_whiteouts_by_the_spec(name: str, expected: Whiteout, target: Parts) -> None:
    got = classify(parts(name))
    assert got == expected
    assert got.target == target


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("etc/.wh.", "whiteout without a valid target name"),
        ("etc/.wh..", "whiteout without a valid target name"),  # would delete etc itself
        ("etc/.wh...", "whiteout without a valid target name"),  # would delete /
        (".wh...", "whiteout without a valid target name"),
        (".wh.etc/passwd", "a whiteout name used as a directory"),
        ("a/.wh.../x", "a whiteout name used as a directory"),  # ".wh..." stripped is ".."
        ("a/.wh..wh..opq/x", "a whiteout name used as a directory"),
        ("a/.wh..wh.plnk/x", "a whiteout name used as a directory"),
    ],
)
def test_escaping_whiteouts_are_refused_by_name(name: str, reason: str) -> None:
    with pytest.raises(UnsafePath) as caught:
        classify(parts(name), what="layer 4: entry")
    assert str(caught.value) == f"layer 4: entry {name!r}: {reason}"


def test_is_whiteout_name() -> None:
    assert is_whiteout_name(".wh.x")
    assert is_whiteout_name(".wh.")
    assert not is_whiteout_name("wh.x")
    assert not is_whiteout_name("x.wh.")


def test_naming_deletions_by_hand() -> None:
    assert whiteout_parts(("etc", "hosts")) == ("etc", ".wh.hosts")
    assert whiteout_parts(("etc",)) == (".wh.etc",)
    assert opaque_parts(("var", "cache")) == ("var", "cache", ".wh..wh..opq")
    assert opaque_parts(()) == (".wh..wh..opq",)
    with pytest.raises(UnsafePath, match="root directory cannot be whited out"):
        whiteout_parts(())


_component = st.text(st.sampled_from("abz09._-"), min_size=1, max_size=8).filter(
    lambda c: c not in (".", "..") and not c.startswith(".wh.")
)
_paths = st.lists(_component, max_size=5).map(tuple)


@settings(max_examples=200, deadline=None)
@given(_paths.filter(bool))
def test_a_named_deletion_deletes_exactly_its_target(target: Parts) -> None:
    got = classify(whiteout_parts(target))
    assert got is not None
    assert (got.kind, got.target, got.directory) == ("file", target, target[:-1])


@settings(max_examples=200, deadline=None)
@given(_paths)
def test_an_opaque_marker_hides_exactly_its_directory(directory: Parts) -> None:
    got = classify(opaque_parts(directory))
    assert got is not None
    assert (got.kind, got.target) == ("opaque", directory)


@settings(max_examples=200, deadline=None)
@given(_paths)
def test_names_without_the_prefix_are_never_whiteouts(path: Parts) -> None:
    assert classify(path) is None
