"""Our rpmdb entries against rpm's: byte-identical headers, identical index rows, rpm reads them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ociforge.errors import RpmError, UnsupportedError
from ociforge.rpm.header import parse_header
from ociforge.rpm.installed import InstallInfo, installed_header
from ociforge.rpm.package import read_package
from ociforge.rpm.rpmdb import INDEX_TAGS, Rpmdb
from ociforge.rpm.tags import FileState, Tag
from tests.support import rpms
from tests.support.rpmroot import rpm_install
from tests.support.tools import need, run


def rpm_rows(db_path: Path) -> dict[str, list[tuple[object, int, int]]]:
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    return {
        table: sorted((k, h, i) for k, h, i in db.execute(f"SELECT key, hnum, idx FROM '{table}'"))
        for table, _ in INDEX_TAGS
    }


def test_same_bytes_and_rows_as_rpm(
    tmp_path: Path, tiny_rpms: dict[str, Path], signed_rpms: dict[str, Path], rpm_dir: Path
) -> None:
    packages = [
        signed_rpms["rsa"],
        rpms.build(rpms.DEPS, rpm_dir),
        rpms.build(rpms.KERNEL, rpm_dir),
    ]
    root = tmp_path / "root"
    rpm_install(root, *packages)
    theirs_db = root / "usr/share/rpm/rpmdb.sqlite"
    conn = sqlite3.connect(f"file:{theirs_db}?mode=ro", uri=True)
    theirs = {h: bytes(b) for h, b in conn.execute("SELECT hnum, blob FROM Packages")}
    ours = Rpmdb(None)
    try:
        for hnum in sorted(theirs):
            installed = parse_header(theirs[hnum], magic=False, dribbles=True)
            name = installed.string(Tag.NAME)
            path = next(p for p in packages if p.name.startswith(f"{name}-"))
            with path.open("rb") as fh:
                package = read_package(fh, what=str(path))
            # What rpm decided at install time is the input; everything else must match.
            info = InstallInfo(
                time=installed.integer(Tag.INSTALLTIME) or 0,
                tid=installed.integer(Tag.INSTALLTID) or 0,
                color=installed.integer(Tag.INSTALLCOLOR) or 0,
                file_states=[FileState(s) for s in installed.integers(Tag.FILESTATES)],
            )
            header = installed_header(package, info)
            assert header.blob == theirs[hnum], name
            assert ours.add(header) == hnum
        out = tmp_path / "ours.sqlite"
        out.write_bytes(ours.finish())
    finally:
        ours.close()
    assert rpm_rows(out) == rpm_rows(theirs_db)
    # Rollback-journal mode: the file header's read/write versions are 1, not WAL's 2.
    assert out.read_bytes()[18:20] == b"\x01\x01"


def test_rpm_reads_what_we_write(tmp_path: Path, tiny_rpms: dict[str, Path]) -> None:
    need("rpm")
    with tiny_rpms["xz"].open("rb") as fh:
        package = read_package(fh)
    header = installed_header(
        package, InstallInfo(1700000000, 1700000000, 3, [FileState.NORMAL] * len(package.files))
    )
    with Rpmdb(None) as db:
        db.add(header)
        data = db.finish()
    root = tmp_path / "root"
    (root / "usr/share/rpm").mkdir(parents=True)
    (root / "usr/share/rpm/rpmdb.sqlite").write_bytes(data)
    env = rpms.env(tmp_path)
    query = ["rpm", "--root", str(root), "--dbpath", "/usr/share/rpm"]
    assert run([*query, "-qa"], env=env).stdout.split() == ["tiny-1.0-1.x86_64"]
    assert "/usr/share/tiny/owned" in run([*query, "-ql", "tiny"], env=env).stdout
    assert (
        run([*query, "-q", "--whatprovides", "user(tinyd)"], env=env).stdout.strip()
        == "tiny-1.0-1.x86_64"
    )
    assert run([*query, "-qf", "/usr/bin/tinycap"], env=env).stdout.strip() == "tiny-1.0-1.x86_64"
    assert not list(root.glob("usr/share/rpm/*-wal"))


def test_remove_matches_rpm_erase(
    tmp_path: Path, tiny_rpms: dict[str, Path], rpm_dir: Path
) -> None:
    need("rpm")
    deps = rpms.build(rpms.DEPS, rpm_dir)
    root = tmp_path / "root"
    rpm_install(root, tiny_rpms["zstd"], deps, justdb=True)
    before = (root / "usr/share/rpm/rpmdb.sqlite").read_bytes()
    with Rpmdb(before) as db:
        [tiny] = db.find("tiny")
        db.remove(tiny.hnum)
        assert [p.name for p in db.packages()] == ["deps"]
        (tmp_path / "ours.sqlite").write_bytes(db.finish())
    run(
        [
            "rpm",
            "--root",
            str(root),
            "--dbpath",
            "/usr/share/rpm",
            "--nodeps",
            "--noscripts",
            "--justdb",
            "-e",
            "tiny",
        ],
        env=rpms.env(tmp_path),
    )
    assert rpm_rows(tmp_path / "ours.sqlite") == rpm_rows(root / "usr/share/rpm/rpmdb.sqlite")


def test_berkeley_db_is_not_supported() -> None:
    # A BDB hash database starts with its page header; the magic 0x00061561 sits at offset 12.
    bdb = b"\0" * 12 + (0x00061561).to_bytes(4, "little") + b"\0" * 4080
    with pytest.raises(UnsupportedError, match="Berkeley DB"):
        Rpmdb(bdb)


def test_not_an_rpmdb() -> None:
    with pytest.raises(RpmError):
        Rpmdb(b"SQLite format 3\0" + b"\xff" * 100)
