"""A rootless unpack, edit and repack done by an unprivileged user, as CI runners do it.

The test forks, drops to ``nobody`` in the child and works in a directory that user owns;
the parent (root) then checks the tree and the repacked layer.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ociforge.recipes.bundle import repack_bundle, unpack_reference
from ociforge.transports import open_image, save_image
from tests.support import images
from tests.support import layers as oracle
from tests.support.images import directory, file, hardlink

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become nobody")

NOBODY = 65534


@pytest.fixture
def workdir() -> Iterator[Path]:
    # Not under pytest's tmp_path: its parents are private to root.
    path = Path(tempfile.mkdtemp(prefix="ociforge-nobody-", dir="/tmp"))
    os.chmod(path, 0o755)
    os.chown(path, NOBODY, NOBODY)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def as_nobody(action: Callable[[], None]) -> None:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            action()
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the unprivileged child failed (see stderr)"


def test_rootless_round_trip_as_nobody(workdir: Path) -> None:
    base = images.layer(
        [
            directory("etc"),
            file("etc/shadow", "secret", mode=0o000),
            directory("usr", mode=0o555),
            file("usr/su", "su", uid=1000, gid=1000, mode=0o4755),
            hardlink("usr/su-link", "usr/su"),
            directory("locked", mode=0o000),
            file("locked/inside", "i", mode=0o400),
            images.Entry("dev/null", type=b"3", mode=0o666),
        ]
    )
    images.write_layout(str(workdir / "layout"), [(images.image([base]), "v1")])
    for dirpath, dirs, files in os.walk(workdir):
        for name in [*dirs, *files]:
            os.chown(os.path.join(dirpath, name), NOBODY, NOBODY)
    bundle = workdir / "bundle"
    warnings: list[str] = []

    def work() -> None:
        unpack_reference(
            f"oci:{workdir}/layout:v1", str(bundle), rootless=True, warn=warnings.append
        )
        rootfs = bundle / "rootfs"
        os.chmod(rootfs / "etc/shadow", 0o600)
        (rootfs / "etc/shadow").write_text("changed")
        os.chmod(rootfs / "etc/shadow", 0o000)
        os.chmod(rootfs / "locked", 0o700)
        (rootfs / "locked/inside").unlink()
        (rootfs / "locked/new").write_text("n")
        os.chmod(rootfs / "locked/new", 0o000)
        os.chmod(rootfs / "locked", 0o000)
        save_image(repack_bundle(str(bundle)).image, f"oci:{workdir}/layout:v2")

    as_nobody(work)
    rootfs = bundle / "rootfs"
    su = os.lstat(rootfs / "usr/su")
    assert (su.st_uid, su.st_mode & 0o7777) == (NOBODY, 0o4755)
    assert os.lstat(rootfs / "etc/shadow").st_mode & 0o777 == 0
    assert os.lstat(rootfs / "locked").st_mode & 0o777 == 0  # modes given back after repack
    assert not (rootfs / "dev/null").exists()
    top = open_image(f"oci:{workdir}/layout:v2").layers[-1]
    entries = {m.name: m for m in oracle.members(oracle.decompress(oracle.layer_blob(top)))}
    assert entries["etc/shadow"].data == b"changed"
    assert entries["etc/shadow"].info.mode == 0
    assert (entries["locked/new"].data, entries["locked/new"].info.uid) == (b"n", 0)
    assert "locked/.wh.inside" in entries
    assert "usr/su" not in entries  # untouched, so not repacked
