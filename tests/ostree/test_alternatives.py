"""Alternatives: links against Debian's update-alternatives, state files in chkconfig's format."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from ociforge.errors import FormatError
from ociforge.ostree.alternatives import (
    AlternativeAuto,
    AlternativeGroup,
    AlternativeInstall,
    AlternativeRemove,
    AlternativeSet,
    Choice,
    Follower,
    admin_dir,
    alternatives_entries,
    parse_alternatives,
)
from ociforge.ostree.view import MemoryTree
from tests.support import scratch
from tests.support.scratch import Link

NC = "alternatives --install /usr/bin/nc nc /usr/bin/ncat 10 --slave /usr/share/man/man1/nc.1.gz nc-man /usr/share/man/man1/ncat.1.gz --slave /usr/bin/nc-extra nc-extra /usr/bin/ncat-extra"
NC6 = "update-alternatives --install /usr/bin/nc nc /usr/bin/nc6 20 --slave /usr/share/man/man1/nc.1.gz nc-man /usr/share/man/man1/nc6.1.gz"
NC6_LOW = "update-alternatives --install /usr/bin/nc nc /usr/bin/nc6 5 --follower /usr/share/man/man1/nc.1.gz nc-man /usr/share/man/man1/nc6.1.gz"
NCAT_TIE = "alternatives --install /usr/bin/nc nc /usr/bin/nc6 10"
NCAT_AGAIN = "alternatives --install /usr/bin/nc nc /usr/bin/ncat 30"
NC7 = "alternatives --install /usr/bin/nc nc /usr/bin/nc7 99"
SET_NC6 = "alternatives --set nc /usr/bin/nc6"
AUTO = "alternatives --auto nc"
TARGETS = (
    "/usr/bin/ncat",
    "/usr/bin/nc6",
    "/usr/bin/nc7",
    "/usr/bin/ncat-extra",
    "/usr/share/man/man1/ncat.1.gz",
    "/usr/share/man/man1/nc6.1.gz",
)
LINK_DIRS = ("/usr/bin", "/usr/share/man/man1", "/etc/alternatives")

CASES = {
    "one-group-with-followers": [NC],
    "higher-priority-wins-and-drops-a-follower": [NC, NC6],
    "lower-priority-keeps-the-links": [NC, NC6_LOW],
    "tie-keeps-the-first": [NC, NCAT_TIE],
    "reinstall-with-a-new-priority": [NC, NC6, NCAT_AGAIN],
    "manual-choice-survives-a-higher-install": [NC6_LOW, NC, SET_NC6, NC7],
    "manual-reinstall-reapplies-the-choice": [NC6_LOW, NC, SET_NC6, NCAT_AGAIN],
    "auto-returns-to-the-best": [NC, NC6_LOW, SET_NC6, AUTO],
}


def _tree(extra: scratch.Tree | None = None) -> dict[str, str | bytes | Link]:
    tree: dict[str, str | bytes | Link] = dict.fromkeys(TARGETS, "payload\n")
    tree.update(extra or {})
    return tree


def _ours_step_by_step(tree: dict[str, str | bytes | Link], commands: list[str]) -> dict[str, str]:
    """Each command in its own call over the tree the previous one left (base, then layers)."""
    for command in commands:
        action = parse_alternatives(shlex.split(command))
        assert action is not None
        result = alternatives_entries([action], tree=scratch.memory(tree))
        for path in result.remove:
            del tree[path]
        tree.update({p: Link(t) for p, t in result.links.items()})
        tree.update(result.files)
    return {p: n.target for p, n in tree.items() if isinstance(n, Link)}


@pytest.mark.parametrize("case", sorted(CASES))
def test_links_match_debian_update_alternatives(case: str, tmp_path: Path) -> None:
    commands = CASES[case]
    root = scratch.write(tmp_path / "root", _tree())
    for command in commands:
        proc = scratch.update_alternatives(root, shlex.split(command))
        assert proc.returncode == 0, proc.stderr
    oracle = scratch.links_under(root, *LINK_DIRS)
    assert _ours_step_by_step(_tree(), commands) == oracle
    actions = [parse_alternatives(shlex.split(c)) for c in commands]
    one_call = alternatives_entries(
        [a for a in actions if a is not None], tree=scratch.memory(_tree())
    )
    assert scratch.apply({}, one_call.links, one_call.remove) == oracle


def test_known_links_so_the_comparison_cannot_pass_vacuously() -> None:
    assert _ours_step_by_step(_tree(), [NC, NC6]) == {
        "/usr/bin/nc": "/etc/alternatives/nc",
        "/etc/alternatives/nc": "/usr/bin/nc6",
        "/usr/share/man/man1/nc.1.gz": "/etc/alternatives/nc-man",
        "/etc/alternatives/nc-man": "/usr/share/man/man1/nc6.1.gz",
    }


def test_a_regular_file_at_the_link_is_left_alone(tmp_path: Path) -> None:
    extra = {"/usr/bin/nc": "a real file\n"}
    root = scratch.write(tmp_path / "root", _tree(extra))
    proc = scratch.update_alternatives(root, shlex.split(NC6))
    assert proc.returncode == 0, proc.stderr
    oracle = scratch.links_under(root, *LINK_DIRS)
    result = alternatives_entries(
        [parse_alternatives(shlex.split(NC6))], tree=scratch.memory(_tree(extra))
    )  # type: ignore[list-item]
    assert dict(result.links) == oracle
    assert "/usr/bin/nc" not in result.links
    assert any("not a symlink" in n for n in result.notes)


def test_base_state_in_usr_lib_decides_the_winner() -> None:
    base = AlternativeGroup(
        "nc", "auto", "/usr/bin/nc", (), (Choice("/usr/bin/ncat", 50),)
    ).format()
    tree = scratch.memory(
        _tree(
            {
                "/var/lib/alternatives": Link("../../usr/lib/alternatives"),
                "/usr/lib/alternatives/nc": base,
                "/usr/bin/nc": Link("/etc/alternatives/nc"),
                "/etc/alternatives/nc": Link("/usr/bin/ncat"),
            }
        )
    )
    result = alternatives_entries([parse_alternatives(shlex.split(NC6))], tree=tree)  # type: ignore[list-item]
    assert dict(result.links) == {}  # 20 < 50: the base's member stays
    assert result.tmpfiles == ()
    state = AlternativeGroup.parse("nc", result.files["/usr/lib/alternatives/nc"])
    assert [(c.path, c.priority) for c in state.choices] == [
        ("/usr/bin/ncat", 50),
        ("/usr/bin/nc6", 20),
    ]
    assert state.followers == (("nc-man", "/usr/share/man/man1/nc.1.gz"),)


@pytest.mark.parametrize("chosen", ["/usr/bin/nc6", "/usr/bin/not-a-member"])
def test_a_link_pointed_elsewhere_means_manual_mode(chosen: str) -> None:
    base = AlternativeGroup(
        "nc", "auto", "/usr/bin/nc", (), (Choice("/usr/bin/ncat", 50), Choice("/usr/bin/nc6", 5))
    ).format()
    tree = scratch.memory(
        {
            "/usr/lib/alternatives/nc": base,
            "/usr/bin/nc": Link("/etc/alternatives/nc"),
            "/etc/alternatives/nc": Link(chosen),
        }
    )
    action = AlternativeInstall("/usr/bin/nc", "nc", "/usr/bin/nc7", 99)
    result = alternatives_entries([action], tree=tree)
    assert dict(result.links) == {}
    assert result.files["/usr/lib/alternatives/nc"].startswith(b"manual\n")


def test_new_state_file_bytes_and_where_it_goes() -> None:
    result = alternatives_entries([parse_alternatives(shlex.split(NC))], tree=MemoryTree())  # type: ignore[list-item]
    assert dict(result.files) == {
        "/usr/lib/alternatives/nc": (
            b"auto\n/usr/bin/nc\nnc-man\n/usr/share/man/man1/nc.1.gz\nnc-extra\n/usr/bin/nc-extra\n"
            b"\n/usr/bin/ncat\n10\n/usr/share/man/man1/ncat.1.gz\n/usr/bin/ncat-extra\n"
        )
    }
    assert result.tmpfiles == ("L /var/lib/alternatives - - - - ../../usr/lib/alternatives",)


def test_second_member_sorts_followers_by_link_and_blanks_missing_ones() -> None:
    result = alternatives_entries(
        [parse_alternatives(shlex.split(c)) for c in (NC, NC6)],  # type: ignore[misc]
        tree=MemoryTree(),
    )
    assert result.files["/usr/lib/alternatives/nc"] == (
        b"auto\n/usr/bin/nc\nnc-extra\n/usr/bin/nc-extra\nnc-man\n/usr/share/man/man1/nc.1.gz\n"
        b"\n/usr/bin/ncat\n10\n/usr/bin/ncat-extra\n/usr/share/man/man1/ncat.1.gz\n"
        b"/usr/bin/nc6\n20\n\n/usr/share/man/man1/nc6.1.gz\n"
    )


def test_admin_dir_follows_the_image() -> None:
    assert admin_dir(MemoryTree()) == "/usr/lib/alternatives"
    assert admin_dir(MemoryTree(links={"/var/lib/alternatives": "/etc/alternatives-admindir"})) == (
        "/etc/alternatives-admindir"
    )
    assert admin_dir(MemoryTree({"/etc/alternatives-admindir/java": b"auto\n"})) == (
        "/etc/alternatives-admindir"
    )
    assert (
        admin_dir(MemoryTree({"/var/lib/alternatives/java": b"auto\n"})) == "/var/lib/alternatives"
    )


# A state file as chkconfig documents and writes it: a family, an initscript, a follower that one
# member lacks (blank line), leading blanks (ignored when read). Built from alternatives(8) and
# the writer's layout (mode, leader, follower pairs, blank, then path/priority/follower lines).
JAVA = (
    b"manual\n/usr/bin/java\njre\n/usr/lib/jvm/jre\njava.1.gz\n/usr/share/man/man1/java.1.gz\n\n"
    b"/usr/lib/jvm/java-17/bin/java\n@java-17@1700 jexec\n/usr/lib/jvm/java-17\n"
    b"/usr/share/man/man1/java-17.1.gz\n"
    b"  /usr/lib/jvm/java-21/bin/java\n0x834\n/usr/lib/jvm/java-21\n\n"
)


def test_parse_a_chkconfig_state_file() -> None:
    group = AlternativeGroup.parse("java", JAVA)
    assert group.mode == "manual"
    assert group.link == "/usr/bin/java"
    assert group.followers == (
        ("jre", "/usr/lib/jvm/jre"),
        ("java.1.gz", "/usr/share/man/man1/java.1.gz"),
    )
    assert group.choices == (
        Choice(
            "/usr/lib/jvm/java-17/bin/java",
            1700,
            {"jre": "/usr/lib/jvm/java-17", "java.1.gz": "/usr/share/man/man1/java-17.1.gz"},
            "java-17",
            "jexec",
        ),
        Choice(
            "/usr/lib/jvm/java-21/bin/java",
            2100,
            {"jre": "/usr/lib/jvm/java-21", "java.1.gz": None},
        ),
    )
    assert group.best() == 1
    reformatted = group.format()
    assert reformatted == JAVA.replace(b"  /usr", b"/usr").replace(b"0x834", b"2100")
    assert AlternativeGroup.parse("java", reformatted) == group


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "bad mode"),
        (b"automatic\n/usr/bin/x\n\n", "bad mode"),
        (b"auto\nx\n\n", "bad primary link"),
        (b"auto\n/usr/bin/x\n/usr/bin/y\n", "where a follower name belongs"),
        (b"auto\n/usr/bin/x\nman\n", "missing link"),
        (b"auto\n/usr/bin/x\n", "unexpected end"),
        (b"auto\n/usr/bin/x\n\nrelative\n10\n", "path to an alternative expected"),
        (b"auto\n/usr/bin/x\n\n/usr/bin/y\nten\n", "numeric priority"),
        (b"auto\n/usr/bin/x\n\n/usr/bin/y\n@fam10\n", "closing '@'"),
        (b"auto\n/usr/bin/x\nman\n/m\n\n/usr/bin/y\n10\nrel\n", "follower path expected"),
        (b"auto\n/usr/bin/x\n\n/usr/bin/y\n10\n\nextra\n", "unexpected line"),
    ],
)
def test_parse_rejects_what_chkconfig_rejects(data: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        AlternativeGroup.parse("x", data)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (NC6, AlternativeInstall(
            "/usr/bin/nc", "nc", "/usr/bin/nc6", 20,
            (Follower("/usr/share/man/man1/nc.1.gz", "nc-man", "/usr/share/man/man1/nc6.1.gz"),),
        )),
        ("alternatives --install //usr/bin//x x /usr/bin/y 010 --family f --initscript s",
         AlternativeInstall("/usr/bin/x", "x", "/usr/bin/y", 8, (), "f", "s")),
        ("alternatives --install /usr/bin/x x /usr/bin/y -0x10", AlternativeInstall("/usr/bin/x", "x", "/usr/bin/y", -16)),
        ("alternatives --set x /usr/bin/y", AlternativeSet("x", "/usr/bin/y")),
        ("alternatives --auto x", AlternativeAuto("x")),
        ("update-alternatives --quiet --remove x /usr/bin/y", AlternativeRemove("x", "/usr/bin/y")),
        ("alternatives --remove-all x", AlternativeRemove("x", None)),
        ("alternatives --display x", None),
        ("alternatives --list", None),
    ],
)  # fmt: skip
def test_parse_alternatives(argv: str, expected: object) -> None:
    assert parse_alternatives(shlex.split(argv)) == expected


@pytest.mark.parametrize(
    "argv",
    [
        "alternatives --install /usr/bin/x x /usr/bin/y 08",
        "alternatives --install /usr/bin/x x /usr/bin/y 1.5",
        "alternatives --install /usr/bin/x x relative 5",
        "alternatives --install /usr/bin/x /x /usr/bin/y 5",
        "alternatives --install /usr/bin/x x /usr/bin/y",
        "alternatives --config x",
        "alternatives --altdir /opt/alt --install /usr/bin/x x /usr/bin/y 5",
        "alternatives --install /usr/bin/x x /usr/bin/y 5 --slave /a b",
    ],
)
def test_parse_alternatives_refuses(argv: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - messages vary by case
        parse_alternatives(shlex.split(argv))


def test_a_known_group_keeps_its_leader_and_follower_links() -> None:
    first = AlternativeInstall(
        "/usr/bin/x", "x", "/usr/bin/a", 1, (Follower("/m/x.1", "x.1", "/m/a.1"),)
    )
    with pytest.raises(ValueError, match="primary link"):
        alternatives_entries(
            [first, AlternativeInstall("/usr/bin/y", "x", "/usr/bin/b", 2)], tree=MemoryTree()
        )
    other = AlternativeInstall(
        "/usr/bin/x", "x", "/usr/bin/b", 2, (Follower("/m/other.1", "x.1", "/m/b.1"),)
    )
    with pytest.raises(ValueError, match="incorrect for follower"):
        alternatives_entries([first, other], tree=MemoryTree())


def test_remove_at_install_time_is_only_noted() -> None:
    result = alternatives_entries([AlternativeRemove("x", "/usr/bin/y")], tree=MemoryTree())
    assert not result.links and not result.files
    assert result.notes == ("alternatives: --remove x /usr/bin/y at install time ignored",)
