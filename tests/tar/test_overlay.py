"""The one-layer plan of a stack (tar/overlay): what survives, under which paths, what stays deleted.

Small stacks are checked against plans worked out by hand from the OCI whiteout rules; random
stacks are checked against umoci: unpacking the base plus the stack, and the base plus one
layer built (with tarfile) from the plan, must give the same tree, hard links included.
"""

from __future__ import annotations

import dataclasses
import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings

from ociforge.errors import TarError, UnsafePath, UnsupportedError
from ociforge.tar.header import TarHeader
from ociforge.tar.overlay import Member, Overlay, Plan
from ociforge.tar.reader import iter_members
from tests.support import images
from tests.support.images import Entry, directory, file, hardlink
from tests.support.stacks import base_layer, stacks, whiteout
from tests.support.tools import need
from tests.support.trees import Node, snapshot


def headers(entries: list[Entry]) -> Iterator[TarHeader]:
    """The entries as ociforge's reader decodes them from a tarfile-written layer."""
    for member, _data in iter_members(io.BytesIO(images.tar_bytes(entries))):
        yield member.header


def plan_of(*layers: list[Entry]) -> Plan:
    overlay = Overlay()
    for number, entries in enumerate(layers):
        for index, header in enumerate(headers(entries)):
            overlay.add(Member(number, index), header)
    return overlay.plan()


def names(plan: Plan) -> dict[str, list[str]]:
    """The plan in words: member -> paths, plus the entries, whiteouts and opaques."""
    out = {
        f"{m.layer}.{m.index}": ["/".join(p) for p in paths] for m, paths in plan.members.items()
    }
    out["entries"] = [
        f"{h.name}{'/' if h.is_dir else ''}{'=' + h.linkname if h.linkname else ''}"
        for h in plan.entries
    ]
    out["whiteouts"] = ["/".join(p) for p in plan.whiteouts]
    out["opaques"] = ["/".join(p) for p in plan.opaques]
    return out


def test_a_later_layer_wins() -> None:
    plan = plan_of(
        [file("f", "one"), directory("d", mode=0o700)],
        [file("f", "two"), directory("d", mode=0o711)],
    )
    assert names(plan) == {"1.0": ["f"], "entries": ["d/"], "whiteouts": [], "opaques": []}
    assert plan.entries[0].mode == 0o711  # the last directory entry's metadata


def test_content_added_then_deleted_disappears() -> None:
    plan = plan_of([directory("etc"), file("etc/creds", "secret")], [whiteout("etc/.wh.creds")])
    # The whiteout stays: the layers below the stack may have had etc/creds too.
    assert names(plan) == {"entries": ["etc/"], "whiteouts": ["etc/creds"], "opaques": []}


def test_whiteouts_of_content_below_the_stack_remain() -> None:
    plan = plan_of([whiteout(".wh.c"), whiteout("a/.wh.x")], [file("z", "z")])
    assert names(plan) == {"1.0": ["z"], "entries": [], "whiteouts": ["a/x", "c"], "opaques": []}


def test_a_whiteout_inside_a_deleted_directory_is_dropped() -> None:
    plan = plan_of([whiteout("a/.wh.x")], [whiteout(".wh.a")])
    assert names(plan)["whiteouts"] == ["a"]


def test_a_recreated_directory_keeps_the_whiteout_of_the_old_one() -> None:
    # The old a/* of the layers below must stay deleted under the new directory a.
    plan = plan_of([whiteout(".wh.a")], [directory("a"), file("a/q", "q")])
    assert names(plan) == {"1.1": ["a/q"], "entries": ["a/"], "whiteouts": ["a"], "opaques": []}


def test_an_opaque_directory_hides_lower_content_only() -> None:
    plan = plan_of(
        [directory("d"), file("d/old", "o"), directory("d/sub"), file("d/sub/x", "x")],
        [directory("d"), file("d/new", "n"), whiteout("d/.wh..wh..opq"), file("d/late", "l")],
    )
    # Its own layer's d/new survives even though the marker comes after it.
    assert names(plan) == {
        "1.1": ["d/new"],
        "1.3": ["d/late"],
        "entries": ["d/"],
        "whiteouts": [],
        "opaques": ["d"],
    }


def test_an_opaque_marker_needs_no_directory_entry() -> None:
    assert names(plan_of([whiteout("v/.wh..wh..opq")], [file("z", "z")]))["opaques"] == ["v"]


def test_meta_whiteouts_and_the_root_entry_change_nothing() -> None:
    plan = plan_of([directory("."), directory("d"), whiteout("d/.wh..wh.plnk")], [file("d/f", "f")])
    assert names(plan) == {"1.0": ["d/f"], "entries": ["d/"], "whiteouts": [], "opaques": []}


def test_a_file_replacing_a_directory_takes_its_subtree() -> None:
    plan = plan_of([directory("d"), file("d/x", "x")], [file("d", "now a file")])
    assert names(plan) == {"1.0": ["d"], "entries": [], "whiteouts": [], "opaques": []}


def test_a_directory_replacing_a_file_hides_the_base_below_it() -> None:
    # The file had replaced whatever the base had at x; the new directory must not let the
    # base's old x/* show through again, so x becomes opaque.
    plan = plan_of([file("x", "file")], [directory("x"), file("x/c", "c")])
    assert names(plan) == {"1.1": ["x/c"], "entries": ["x/"], "whiteouts": [], "opaques": ["x"]}


def test_hard_links_across_layers_share_one_member() -> None:
    plan = plan_of([file("t", "data")], [hardlink("h1", "t")], [hardlink("h2", "h1")])
    assert names(plan) == {"0.0": ["h1", "h2", "t"], "entries": [], "whiteouts": [], "opaques": []}


def test_a_link_keeps_the_content_its_target_had() -> None:
    # go-containerregistry #2002: overwriting the target must not change the link.
    replaced = plan_of([file("t", "old"), hardlink("h", "t")], [file("t", "new")])
    assert names(replaced) == {
        "0.0": ["h"],
        "1.0": ["t"],
        "entries": [],
        "whiteouts": [],
        "opaques": [],
    }
    # go-containerregistry #977: deleting the target must not delete the link's content.
    deleted = plan_of([file("t", "data"), hardlink("h", "t")], [whiteout(".wh.t")])
    assert names(deleted) == {"0.0": ["h"], "entries": [], "whiteouts": ["t"], "opaques": []}


def test_links_to_content_below_the_stack() -> None:
    plan = plan_of([hardlink("h", "a/x")], [file("z", "z")])
    assert names(plan)["entries"] == ["h=a/x"]
    with pytest.raises(UnsupportedError, match="hard link /h points to /a/x below the squashed"):
        plan_of([hardlink("h", "a/x")], [file("a/x", "changed")])
    with pytest.raises(UnsupportedError, match="points to /a/x"):
        plan_of([hardlink("h", "a/x")], [whiteout("a/.wh.x")])
    with pytest.raises(UnsupportedError, match="points to /a/x"):
        plan_of([hardlink("h", "a/x")], [whiteout("a/.wh..wh..opq")])


@pytest.mark.parametrize(
    ("layers", "error", "message"),
    [
        (
            [[file("t", "t")], [whiteout(".wh.t")], [hardlink("h", "t")]],
            TarError,
            "target 't' is gone",
        ),
        (
            [[directory("d")], [hardlink("h", "d")]],
            TarError,
            "hard link 'h': target is a directory",
        ),
        ([[file("f", "f")], [hardlink("h", "f/inner")]], TarError, "target 'f/inner' is gone"),
        ([[hardlink("h", "../etc/shadow")]], UnsafePath, r"hard link 'h' target '\.\./etc/shadow'"),
        ([[file("../escape", "x")]], UnsafePath, r"'\.\./escape': contains '\.\.'"),
        ([[whiteout("a/.wh...")]], UnsafePath, "whiteout without a valid target name"),
    ],
)
def test_impossible_stacks_are_refused_by_name(
    layers: list[list[Entry]], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        plan_of(*layers)


def test_a_link_to_itself_changes_nothing() -> None:
    assert names(plan_of([hardlink("h", "h")], [file("z", "z")]))["entries"] == []


# -- against umoci -----------------------------------------------------------------------

_OPAQUE = ".wh..wh..opq"


def _order(entry: Entry) -> tuple[tuple[int, str], ...]:
    # Parents before children; in a directory the opaque marker, then whiteouts, then the rest.
    parts = entry.name.split("/")
    return tuple((0 if p == _OPAQUE else 1 if p.startswith(".wh.") else 2, p) for p in parts)


def folded(plan: Plan, stack: list[list[Entry]]) -> list[Entry]:
    """The plan as one layer's entries, written with the stdlib."""
    out: list[Entry] = []
    for header in plan.entries:
        if header.is_dir:
            out.append(directory(header.name, mode=header.mode, uid=header.uid, gid=header.gid))
        else:
            out.append(hardlink(header.name, header.linkname))
    links: list[Entry] = []
    for member, paths in plan.members.items():
        first = "/".join(paths[0])
        out.append(dataclasses.replace(stack[member.layer][member.index], name=first))
        links += [hardlink("/".join(p), first) for p in paths[1:]]
    out += [whiteout("/".join((*p[:-1], ".wh." + p[-1]))) for p in plan.whiteouts]
    out += [whiteout("/".join((*p, _OPAQUE))) for p in plan.opaques]
    return sorted(out, key=_order) + links


def _links(root: Path) -> set[frozenset[str]]:
    """Paths that share an inode, as sets."""
    groups: dict[int, set[str]] = {}
    for path in snapshot(root):
        st = os.lstat(root / path)
        if st.st_nlink > 1 and not os.path.isdir(root / path):
            groups.setdefault(st.st_ino, set()).add(path)
    return {frozenset(g) for g in groups.values() if len(g) > 1}


def umoci_tree(
    layout: Path, tag: str, where: Path
) -> tuple[dict[str, Node], set[frozenset[str]]] | None:
    """umoci's unpack of ``layout:tag``, or None when umoci refuses the image."""
    done = subprocess.run(
        ["umoci", "unpack", "--image", f"{layout}:{tag}", str(where)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        return None
    return snapshot(where / "rootfs"), _links(where / "rootfs")


def test_property_the_plan_unpacks_like_the_stack(tmp_path_factory: pytest.TempPathFactory) -> None:
    need("umoci")
    compared: list[int] = []

    # Every entry names its parents first, so no layer writes through a symlink (where umoci,
    # which follows it, and ociforge, which replaces it by a directory, would differ).
    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(stack=stacks(metadata=True))
    def check(stack: list[list[Entry]]) -> None:
        try:
            plan = plan_of(*stack)
        except (TarError, UnsupportedError):
            assume(False)  # a link to nothing, or into the base the stack then changes
        tmp = tmp_path_factory.mktemp("overlay")
        base = images.layer(base_layer())
        built = images.image([base, *(images.layer(e) for e in stack)])
        one = images.image([base, images.layer(folded(plan, stack))])
        images.write_layout(str(tmp / "layout"), [(built, "stack"), (one, "plan")])
        expected = umoci_tree(tmp / "layout", "stack", tmp / "s")
        assume(expected is not None)
        assert umoci_tree(tmp / "layout", "plan", tmp / "p") == expected
        compared.append(1)

    check()
    assert len(compared) >= 25, f"only {len(compared)} stacks were compared"
