"""File conflicts against rpm's own transaction test (``rpm -i --test``) on the same packages."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ociforge.errors import FileConflictError
from ociforge.rpm.header import Header
from ociforge.rpm.package import read_package
from ociforge.transaction.fileconflicts import (
    FileConflict,
    check_file_conflicts,
    find_file_conflicts,
    transaction_color,
)
from tests.support import rpmroot
from tests.support.repos import Graph, Pkg, build_pkg, installed_headers
from tests.support.tools import need

PACKAGES = {
    "same-a": Pkg("same-a", files=(("/usr/share/x/same", "one"),)),
    "same-b": Pkg("same-b", files=(("/usr/share/x/same", "one"),)),
    "content-a": Pkg("content-a", files=(("/usr/share/x/content", "one"),)),
    "content-b": Pkg("content-b", files=(("/usr/share/x/content", "two"),)),
    "mode-a": Pkg("mode-a", install="mkdir -p %{buildroot}/usr/share/x && echo m > %{buildroot}/usr/share/x/mode", listing="%attr(0644,root,root) /usr/share/x/mode"),
    "mode-b": Pkg("mode-b", install="mkdir -p %{buildroot}/usr/share/x && echo m > %{buildroot}/usr/share/x/mode", listing="%attr(0600,root,root) /usr/share/x/mode"),
    "owner-a": Pkg("owner-a", install="mkdir -p %{buildroot}/usr/share/x && echo o > %{buildroot}/usr/share/x/owner", listing="%attr(0644,root,root) /usr/share/x/owner"),
    "owner-b": Pkg("owner-b", install="mkdir -p %{buildroot}/usr/share/x && echo o > %{buildroot}/usr/share/x/owner", listing="%attr(0644,daemon,daemon) /usr/share/x/owner"),
    "link-a": Pkg("link-a", install="mkdir -p %{buildroot}/usr/share/x && ln -s one %{buildroot}/usr/share/x/link", listing="/usr/share/x/link"),
    "link-b": Pkg("link-b", install="mkdir -p %{buildroot}/usr/share/x && ln -s two %{buildroot}/usr/share/x/link", listing="/usr/share/x/link"),
    "link-c": Pkg("link-c", install="mkdir -p %{buildroot}/usr/share/x && ln -s one %{buildroot}/usr/share/x/link", listing="/usr/share/x/link"),
    "dir-a": Pkg("dir-a", install="mkdir -p %{buildroot}/usr/share/dd", listing="%dir %attr(0755,root,root) /usr/share/dd"),
    "dir-b": Pkg("dir-b", install="mkdir -p %{buildroot}/usr/share/dd", listing="%dir %attr(0700,root,root) /usr/share/dd"),
    "dir-c": Pkg("dir-c", install="mkdir -p %{buildroot}/usr/share/dd", listing="%dir %attr(0755,root,root) /usr/share/dd"),
    "file-dd": Pkg("file-dd", install="mkdir -p %{buildroot}/usr/share && echo f > %{buildroot}/usr/share/dd", listing="%attr(0755,root,root) /usr/share/dd"),
    "ghost-a": Pkg("ghost-a", files=(("/usr/share/x/ghost", "real"),)),
    "ghost-b": Pkg("ghost-b", install="mkdir -p %{buildroot}/usr/share/x", listing="%ghost %attr(0600,daemon,daemon) /usr/share/x/ghost"),
    "doc-a": Pkg("doc-a", install="mkdir -p %{buildroot}/usr/share/doc/d && echo a > %{buildroot}/usr/share/doc/d/README", listing="%doc /usr/share/doc/d/README"),
    "doc-b": Pkg("doc-b", install="mkdir -p %{buildroot}/usr/share/doc/d && echo b > %{buildroot}/usr/share/doc/d/README", listing="%doc /usr/share/doc/d/README"),
}  # fmt: skip

PAIRS = [
    ("same-a", "same-b", None),
    ("content-a", "content-b", "different content"),
    ("mode-a", "mode-b", "mode 0644 vs 0600"),
    ("owner-a", "owner-b", "owner root:root vs daemon:daemon"),
    ("link-a", "link-b", "different link targets"),
    ("link-a", "link-c", None),
    ("dir-a", "dir-b", "mode 0755 vs 0700"),
    ("dir-a", "dir-c", None),
    ("dir-a", "file-dd", "different file types"),
    ("ghost-a", "ghost-b", None),
]


@pytest.fixture(scope="module")
def built(graph: Graph, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    workdir = tmp_path_factory.mktemp("conflict-rpms")
    out = {name: build_pkg(pkg, workdir) for name, pkg in PACKAGES.items()}
    out["libmulti.x86_64"] = graph.rpm("libmulti-1.0-1.x86_64")
    out["libmulti.i686"] = graph.rpm("libmulti-1.0-1.i686")
    return out


def header(path: Path) -> Header:
    with open(path, "rb") as handle:
        return read_package(handle).header


def rpm(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    need("rpm")
    return subprocess.run(
        ["rpm", "--root", str(root), "--dbpath", "/usr/share/rpm", "--nodeps", "--noscripts",
         "--force-debian", *args],
        capture_output=True, text=True, env={"HOME": str(root.parent)}, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(("a", "b", "difference"), PAIRS)
def test_between_incoming_packages_as_rpm(
    built: dict[str, Path], tmp_path: Path, a: str, b: str, difference: str | None
) -> None:
    oracle = rpm(rpmroot.make_root(tmp_path / "root"), "-i", "--test", str(built[a]), str(built[b]))
    found = find_file_conflicts(
        installed=[], incoming=[header(built[a]), header(built[b])], architecture="x86_64"
    )
    assert (oracle.returncode != 0) == bool(found), oracle.stderr
    if difference is None:
        assert found == ()
        return
    (conflict,) = found
    assert conflict.difference == difference
    assert (
        f"conflicts between attempted installs of {a}-1.0-1.x86_64 and {b}-1.0-1.x86_64"
        in oracle.stderr
    )
    assert str(conflict).split(" (")[0] == oracle.stderr.strip().splitlines()[-1].strip()


@pytest.mark.parametrize(("a", "b", "difference"), PAIRS)
def test_against_installed_packages_as_rpm(
    built: dict[str, Path], tmp_path: Path, a: str, b: str, difference: str | None
) -> None:
    root = rpmroot.make_root(tmp_path / "root")
    assert rpm(root, "-i", str(built[a])).returncode == 0
    rpmroot.checkpoint(root)
    oracle = rpm(root, "-i", "--test", str(built[b]))
    found = find_file_conflicts(
        installed=installed_headers(root), incoming=[header(built[b])], architecture="x86_64"
    )
    assert (oracle.returncode != 0) == bool(found), oracle.stderr
    if found:
        assert found[0].other_installed and found[0].difference == difference
        assert str(found[0]).split(" (")[0] in oracle.stderr


def test_multilib_colours(built: dict[str, Path], tmp_path: Path) -> None:
    pair = [header(built["libmulti.x86_64"]), header(built["libmulti.i686"])]
    oracle = rpm(
        rpmroot.make_root(tmp_path / "root"),
        "-i",
        "--test",
        *map(str, (built["libmulti.x86_64"], built["libmulti.i686"])),
    )
    assert oracle.returncode == 0, oracle.stderr
    assert find_file_conflicts(installed=[], incoming=pair, architecture="x86_64") == ()
    assert find_file_conflicts(installed=[], incoming=pair[::-1], architecture="x86_64") == ()
    # Without a transaction colour (an i686 image) the ELF files clash.
    (conflict,) = find_file_conflicts(installed=[], incoming=pair, architecture="i686")
    assert conflict.path == "/usr/bin/multi"
    assert transaction_color("x86_64") == 3 and transaction_color("i686") == 0


def test_files_recorded_as_not_installed_do_not_count(
    built: dict[str, Path], tmp_path: Path
) -> None:
    root = rpmroot.make_root(tmp_path / "root")
    assert rpm(root, "-i", "--excludedocs", str(built["doc-a"])).returncode == 0
    rpmroot.checkpoint(root)
    oracle = rpm(root, "-i", "--test", str(built["doc-b"]))
    assert oracle.returncode == 0, oracle.stderr
    assert (
        find_file_conflicts(
            installed=installed_headers(root),
            incoming=[header(built["doc-b"])],
            architecture="x86_64",
        )
        == ()
    )
    full = rpmroot.make_root(tmp_path / "full")
    assert rpm(full, "-i", str(built["doc-a"])).returncode == 0
    rpmroot.checkpoint(full)
    assert rpm(full, "-i", "--test", str(built["doc-b"])).returncode != 0
    assert find_file_conflicts(
        installed=installed_headers(full), incoming=[header(built["doc-b"])], architecture="x86_64"
    )


def test_erased_packages_do_not_count(graph: Graph) -> None:
    installed = installed_headers(graph.base_root)
    update = header(graph.rpm("basepkg-2.0-1.x86_64"))
    base_index = next(i for i, h in enumerate(installed) if h.string(1000) == "basepkg")
    found = find_file_conflicts(installed=installed, incoming=[update], architecture="x86_64")
    assert {c.path for c in found} == {"/usr/share/base/shared.conf"}
    assert (
        find_file_conflicts(
            installed=installed, incoming=[update], erased={base_index}, architecture="x86_64"
        )
        == ()
    )


def test_one_line_error_counts_the_rest(built: dict[str, Path]) -> None:
    incoming = [header(built[n]) for n in ("content-a", "content-b", "mode-a", "mode-b")]
    with pytest.raises(FileConflictError) as caught:
        check_file_conflicts(installed=[], incoming=incoming, architecture="x86_64")
    assert str(caught.value) == (
        "file /usr/share/x/content conflicts between attempted installs of content-a-1.0-1.x86_64"
        " and content-b-1.0-1.x86_64 (different content) (and 1 more conflicts)"
    )
    check_file_conflicts(installed=[], incoming=incoming[:1] + incoming[2:3], architecture="x86_64")


def test_conflict_value() -> None:
    conflict = FileConflict("/p", "a-1-1.x86_64", "b-1-1.x86_64", True, "different content")
    assert (
        str(conflict)
        == "file /p from install of a-1-1.x86_64 conflicts with file from package b-1-1.x86_64 (different content)"
    )
