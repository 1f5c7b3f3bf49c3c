"""Path rules inside an image: splitting member names and user paths, joining, writing order."""

from __future__ import annotations

import io
import tarfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ociforge.errors import UnsafePath
from ociforge.tar.names import (
    OPAQUE_MARKER,
    Parts,
    entry_name,
    join,
    sort_key,
    split_image_path,
    split_member_name,
)

_component = st.text(st.sampled_from([*"abAB09-._", "é", "\udcff"]), min_size=1, max_size=6).filter(
    lambda c: c not in (".", "..")
)
_parts = st.lists(_component, max_size=5).map(tuple)


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("usr", ("usr",)),
        ("./usr/", ("usr",)),
        ("usr/./", ("usr",)),
        ("usr//bin///ls", ("usr", "bin", "ls")),
        ("./usr/./bin/", ("usr", "bin")),
        ("...", ("...",)),  # three dots are a name, not a step up
        ("a/..b/c..", ("a", "..b", "c..")),
        ("", ()),
        (".", ()),
        ("./", ()),
        ("././/.", ()),
    ],
)
def test_member_names_are_split_into_clean_components(name: str, parts: Parts) -> None:
    assert split_member_name(name) == parts


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("/etc/passwd", "absolute name"),
        ("//etc", "absolute name"),
        ("/", "absolute name"),
        ("..", "contains '..'"),
        ("../etc/passwd", "contains '..'"),
        ("usr/../../etc", "contains '..'"),
        ("usr/lib/..", "contains '..'"),
        ("./a/./../b", "contains '..'"),
        ("etc/pass\0wd", "contains a NUL byte"),
    ],
)
def test_escaping_member_names_are_refused_by_name(name: str, reason: str) -> None:
    with pytest.raises(UnsafePath) as caught:
        split_member_name(name, what="layer 2: entry")
    assert str(caught.value) == f"layer 2: entry {name!r}: {reason}"


def test_image_paths_are_rooted_at_the_image() -> None:
    assert split_image_path("/usr/bin") == ("usr", "bin")
    assert split_image_path("usr/bin/") == ("usr", "bin")
    assert split_image_path("/") == ()
    assert split_image_path("//etc/./hosts") == ("etc", "hosts")
    with pytest.raises(UnsafePath, match=r"^--remove '/\.\./etc': contains '\.\.'$"):
        split_image_path("/../etc", what="--remove")
    with pytest.raises(UnsafePath, match="NUL"):
        split_image_path("/etc/\0")


def test_join_and_entry_name_by_hand() -> None:
    assert join(()) == ""
    assert join(("usr", "bin", "ls")) == "usr/bin/ls"
    assert entry_name((), directory=True) == "./"
    assert entry_name(("usr", "bin"), directory=True) == "usr/bin/"
    assert entry_name(("usr", "bin", "ls"), directory=False) == "usr/bin/ls"


@settings(max_examples=200, deadline=None)
@given(_parts, st.booleans())
def test_names_round_trip(parts: Parts, directory: bool) -> None:
    assert split_member_name(join(parts)) == parts
    assert split_image_path("/" + join(parts)) == parts
    name = entry_name(parts, directory=directory)
    assert split_member_name(name) == parts
    assert name.endswith("/") == (directory or not parts)


@settings(max_examples=50, deadline=None)
@given(st.lists(_parts.filter(bool), min_size=1, max_size=5, unique=True))
def test_tarfile_reads_entry_names_as_the_same_paths(paths: list[Parts]) -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for parts in paths:
            info = tarfile.TarInfo(entry_name(parts, directory=True))
            info.type = tarfile.DIRTYPE
            tf.addfile(info)
    out.seek(0)
    with tarfile.open(fileobj=out) as tf:
        assert [tuple(n.split("/")) for n in tf.getnames()] == paths


def test_sort_key_by_hand() -> None:
    paths = [
        ("a-b",),
        ("a", "b"),
        ("a",),
        ("B",),
        ("é",),
        ("z",),
        ("d", "z"),
        ("d", ".wh.a"),
        ("d", OPAQUE_MARKER),
        ("d", "b"),
        ("d",),
        (),
    ]
    # Parents first, each subtree in one run ("a/b" before "a-b", which plain string order
    # would put first), bytes not locale ("B" < "a", "é" after "z"), and within a directory
    # the opaque marker, then whiteouts, then everything else.
    assert sorted(paths, key=sort_key) == [
        (),
        ("B",),
        ("a",),
        ("a", "b"),
        ("a-b",),
        ("d",),
        ("d", OPAQUE_MARKER),
        ("d", ".wh.a"),
        ("d", "b"),
        ("d", "z"),
        ("z",),
        ("é",),
    ]
    assert sorted(["a/b", "a-b", "a"]) == ["a", "a-b", "a/b"]  # what sort_key avoids


def _within(path: Parts, directory: Parts) -> bool:
    return path[: len(directory)] == directory


@settings(max_examples=200, deadline=None)
@given(st.lists(_parts, min_size=1, max_size=25, unique=True))
def test_sort_key_puts_parents_first_and_keeps_subtrees_together(paths: list[Parts]) -> None:
    ordered = sorted(paths, key=sort_key)
    position = {p: i for i, p in enumerate(ordered)}
    for path in ordered:
        for depth in range(len(path)):
            parent = path[:depth]
            if parent in position:
                assert position[parent] < position[path]  # ostree needs the parent first
    for i, head in enumerate(ordered):
        inside = [j for j, p in enumerate(ordered) if _within(p, head)]
        assert inside == list(range(i, i + len(inside)))  # one contiguous run


@settings(max_examples=100, deadline=None)
@given(st.lists(_component, min_size=2, max_size=10, unique=True))
def test_siblings_are_ordered_by_their_bytes(names: list[str]) -> None:
    plain = [n for n in names if not n.startswith(".wh.")]
    ordered = [p[-1] for p in sorted((("d", n) for n in plain), key=sort_key)]
    assert ordered == sorted(plain, key=lambda n: n.encode("utf-8", "surrogateescape"))
