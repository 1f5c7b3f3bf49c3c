"""Carrying a derived image's package changes onto a new base's rpmdb, judged by rpm itself.

Every database here is rpm's own (``rpm --root R -i/-U/-e --justdb``); the merged one is
written back into a root and queried with ``rpm --root R -qa`` and friends.
"""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from ociforge.rpm.dbmerge import PackageDelta, merge_rpmdb, package_delta
from ociforge.rpm.rpmdb import InstalledPackage, Rpmdb
from tests.support import rpms
from tests.support.rpmroot import rpm_install
from tests.support.tools import need, run

DB = "usr/share/rpm/rpmdb.sqlite"
LIBTINY2 = dataclasses.replace(rpms.LDCONFIG, version="2.0")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    need("rpm", "rpmbuild")
    workdir = tmp_path_factory.mktemp("dbmerge-rpms")
    out = {
        "tiny": rpms.build(rpms.TINY, workdir),
        "tiny2": rpms.build(rpms.TINY2, workdir),
        "libtiny": rpms.build(rpms.LDCONFIG, workdir),
        "libtiny2": rpms.build(LIBTINY2, workdir),
        "scripted": rpms.build(rpms.SCRIPTED, workdir),
        "deps": rpms.build(rpms.DEPS, workdir),
        "kernel": rpms.build(rpms.KERNEL, workdir),
    }
    # The same name, version and release, but another build (another payload codec).
    out["tiny-gzip"] = rpms.build(rpms.TINY, workdir, payload="gzip")
    return out


def rpm(root: Path, *args: str) -> str:
    """rpm on ``root``'s database (the CoreOS location)."""
    return run(
        ["rpm", "--root", str(root), "--dbpath", "/usr/share/rpm", *args],
        env=rpms.env(root.parent),
    ).stdout


def change(root: Path, *args: str) -> None:
    """Install, upgrade or erase in the database only, as a derived image's build did."""
    rpm(root, "--nodeps", "--noscripts", "--justdb", "--force-debian", *args)
    for junk in ("rpmdb.sqlite-shm", "rpmdb.sqlite-wal", ".rpm.lock"):
        (root / "usr/share/rpm" / junk).unlink(missing_ok=True)


def installed(root: Path) -> list[str]:
    """The NEVRAs ``rpm -qa`` lists, sorted."""
    return sorted(rpm(root, "-qa", "--qf", "%{NEVRA}\n").split())


def packages(root: Path) -> list[InstalledPackage]:
    with Rpmdb((root / DB).read_bytes(), what=str(root)) as db:
        return db.packages()


def new_root(tmp_path: Path, name: str, *install: Path) -> Path:
    root = tmp_path / name
    rpm_install(root, *install, justdb=True)
    return root


@pytest.fixture
def bases(tmp_path: Path, built: dict[str, Path]) -> tuple[Path, Path, Path]:
    """(old base, derived image, new base) roots with rpm's own databases."""
    old = new_root(tmp_path, "old", built["tiny"], built["libtiny"], built["scripted"])
    derived = tmp_path / "derived"
    shutil.copytree(old, derived, symlinks=True)
    change(derived, "-U", str(built["tiny2"]))  # replaced
    change(derived, "-e", "scripted")  # erased
    change(derived, "-i", str(built["deps"]))  # added
    new = new_root(
        tmp_path, "new", built["tiny"], built["libtiny2"], built["scripted"], built["kernel"]
    )
    return old, derived, new


def nevras(items: tuple[InstalledPackage, ...] | list[InstalledPackage]) -> list[str]:
    return [p.nevra for p in items]


def test_the_delta_is_what_rpm_changed(bases: tuple[Path, Path, Path]) -> None:
    old, derived, _ = bases
    before, after = set(installed(old)), set(installed(derived))
    assert before - after == {"tiny-1.0-1.x86_64", "scripted-1.0-1.x86_64"}  # rpm's own view
    delta = package_delta(packages(old), packages(derived))
    assert sorted(nevras(delta.added)) == sorted(after - before)
    assert sorted(nevras(delta.removed)) == sorted(before - after)
    assert delta.names == {"tiny", "scripted", "deps"}


def test_added_packages_keep_the_order_they_were_installed_in(
    bases: tuple[Path, Path, Path],
) -> None:
    old, derived, _ = bases
    delta = package_delta(packages(old), packages(derived))
    assert nevras(delta.added) == ["tiny-2.0-1.x86_64", "deps-1.0-1.x86_64"]  # -U, then -i


def test_a_rebuild_of_the_same_version_is_a_change(tmp_path: Path, built: dict[str, Path]) -> None:
    old = new_root(tmp_path, "old", built["tiny"])
    derived = new_root(tmp_path, "derived", built["tiny-gzip"])
    assert installed(old) == installed(derived)  # rpm -qa cannot tell them apart
    delta = package_delta(packages(old), packages(derived))
    assert (nevras(delta.added), nevras(delta.removed)) == (
        ["tiny-1.0-1.x86_64"],
        ["tiny-1.0-1.x86_64"],
    )
    assert delta.added[0].identity != delta.removed[0].identity


def test_the_same_build_in_two_roots_is_the_same_package(
    tmp_path: Path, built: dict[str, Path]
) -> None:
    # Installed separately (another install time and transaction), so only the immutable
    # region is the same: that is what identifies a package.
    one = new_root(tmp_path, "one", built["tiny"], built["libtiny"])
    two = new_root(tmp_path, "two", built["libtiny"], built["tiny"])
    delta = package_delta(packages(one), packages(two))
    assert delta == PackageDelta((), ())
    assert delta.names == frozenset()


def merged(new: Path, delta: PackageDelta) -> list[str]:
    """Merge into ``new``'s database, write it back into the root; return what was removed."""
    with Rpmdb((new / DB).read_bytes(), what="new base") as db:
        gone = merge_rpmdb(db, delta)
        data = db.finish()
    (new / DB).write_bytes(data)
    return nevras(gone)


def test_merge_onto_the_new_base_reads_back_in_rpm(bases: tuple[Path, Path, Path]) -> None:
    old, derived, new = bases
    delta = package_delta(packages(old), packages(derived))
    # The new base's tiny (whatever its version) gives way to the derived one; its scripted
    # goes, as the derived image erased it; its own libtiny 2.0 and kernel stay.
    assert sorted(merged(new, delta)) == ["scripted-1.0-1.x86_64", "tiny-1.0-1.x86_64"]
    assert installed(new) == sorted(
        [
            "deps-1.0-1.x86_64",
            "kernel-core-6.1.0-1.fc99.x86_64",
            "libtiny-2.0-1.x86_64",
            "tiny-2.0-1.x86_64",
        ]
    )
    # rpm finds the merged packages through its indexes, not only by a table scan.
    assert rpm(new, "-qf", "/usr/share/tiny/new").strip() == "tiny-2.0-1.x86_64"
    gone = subprocess.run(
        ["rpm", "--root", str(new), "--dbpath", "/usr/share/rpm", "-q", "scripted"],
        env=rpms.env(new.parent),
        capture_output=True,
        text=True,
        check=False,
    )
    assert (gone.returncode, gone.stdout.strip()) == (1, "package scripted is not installed")
    assert rpm(new, "-q", "--whatrequires", "coreutils").strip() == "deps-1.0-1.x86_64"
    assert rpm(new, "-q", "--whatprovides", "kernel").strip() == "kernel-core-6.1.0-1.fc99.x86_64"
    # The derived headers went in as stored, install-time tags and all.
    derived_tid = rpm(derived, "-q", "--qf", "%{INSTALLTID}", "deps")
    assert rpm(new, "-q", "--qf", "%{INSTALLTID}", "deps") == derived_tid
    integrity = sqlite3.connect(new / DB).execute("PRAGMA integrity_check").fetchone()
    assert integrity == ("ok",)


def test_an_empty_delta_changes_nothing(bases: tuple[Path, Path, Path]) -> None:
    _, _, new = bases
    before = installed(new)
    assert merged(new, PackageDelta((), ())) == []
    assert installed(new) == before


def test_merged_headers_are_byte_identical_to_the_derived_ones(
    bases: tuple[Path, Path, Path],
) -> None:
    old, derived, new = bases
    delta = package_delta(packages(old), packages(derived))
    merged(new, delta)

    def blobs(root: Path) -> set[bytes]:
        rows = sqlite3.connect(root / DB).execute("SELECT blob FROM Packages")
        return {bytes(blob) for (blob,) in rows}

    added = {p.header.blob for p in delta.added}
    assert added <= blobs(new)
    assert added <= blobs(derived)
