"""Erasing installed packages: our whiteouts and rpmdb against ``rpm -e`` on the same base."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ociforge.errors import NotFound
from ociforge.rpm.erase import plan_erase
from ociforge.rpm.inject import BASE_FILES, InjectOptions, inject_rpms
from ociforge.rpm.rpmdb import Rpmdb
from ociforge.tar.build import LayerBuilder
from ociforge.tar.flatten import flatten_image, wanted_paths
from ociforge.transports import open_image
from tests.support import rpmroot, rpms
from tests.support.layers import decompress, layer_blob
from tests.support.tools import need, run
from tests.support.trees import snapshot

SHARED = rpms.Spec(
    name="shared-a",
    install="mkdir -p %{buildroot}/usr/share/shared %{buildroot}/usr/lib/a\n"
    "echo common > %{buildroot}/usr/share/shared/common\n"
    "echo a > %{buildroot}/usr/lib/a/only-a\n",
    files="%dir /usr/share/shared\n/usr/share/shared/common\n/usr/lib/a\n",
)
OTHER = rpms.Spec(
    name="shared-b",
    install="mkdir -p %{buildroot}/usr/share/shared %{buildroot}/etc\n"
    "echo common > %{buildroot}/usr/share/shared/common\n"
    "echo b > %{buildroot}/usr/share/shared/only-b\n"
    "echo 'setting=1' > %{buildroot}/etc/b.conf\n"
    "echo 'other=1' > %{buildroot}/etc/b-untouched.conf\n",
    files="%dir /usr/share/shared\n/usr/share/shared/common\n/usr/share/shared/only-b\n"
    "%config(noreplace) /etc/b.conf\n%config /etc/b-untouched.conf\n",
)


def rpm(root: Path, *args: str) -> str:
    proc = run(
        ["rpm", "--root", str(root), "--dbpath", "/usr/share/rpm", *args],
        env=rpms.env(root.parent),
    )
    return proc.stdout


def test_erase_matches_rpm_e(tmp_path: Path) -> None:
    need("rpm", "rpmbuild")
    a = rpms.build(SHARED, tmp_path / "rpms")
    b = rpms.build(OTHER, tmp_path / "rpms")
    root = rpmroot.make_root(tmp_path / "base")
    rpmroot.rpm_install(root, a, b)
    (root / "etc/b.conf").write_text("setting=2  # changed by the admin\n")
    (root / "usr/lib/a/user-file").write_text("not owned by any package\n")
    rpmroot.write_base_archive(root, tmp_path / "base.ociarchive")
    image = open_image(f"oci-archive:{tmp_path / 'base.ociarchive'}")
    tree = flatten_image(image, wanted=wanted_paths([*BASE_FILES, "/etc/*"]))
    builder = LayerBuilder()
    report = inject_rpms(
        tree, [], builder, erase=["shared-a", "shared-b"], options=InjectOptions(install_time=1)
    )
    layer = builder.build()

    theirs = tmp_path / "theirs"
    shutil.copytree(root, theirs, symlinks=True)
    rpm(theirs, "-e", "--nodeps", "shared-a", "shared-b")
    ours = tmp_path / "ours"
    shutil.copytree(root, ours, symlinks=True)
    rpmroot.apply_tar(ours, decompress(layer_blob(layer)))

    assert sorted(report.removed) == ["shared-a-1.0-1.x86_64", "shared-b-1.0-1.x86_64"]
    assert rpm(ours, "-qa") == rpm(theirs, "-qa")
    # The tree rpm -e leaves: shared files gone once both owners are, the admin's change kept
    # as .rpmsave, a directory holding an unowned file kept, the untouched %config gone.
    skip = {"usr/share/rpm"}
    ours_tree = {k: v for k, v in snapshot(ours).items() if not k.startswith(tuple(skip))}
    theirs_tree = {k: v for k, v in snapshot(theirs).items() if not k.startswith(tuple(skip))}
    assert sorted(ours_tree) == sorted(theirs_tree)
    assert (ours / "etc/b.conf.rpmsave").read_text() == "setting=2  # changed by the admin\n"
    assert not (ours / "etc/b-untouched.conf").exists()
    assert (ours / "usr/lib/a/user-file").exists()


def test_a_shared_file_stays_while_another_owner_does(tmp_path: Path) -> None:
    need("rpm", "rpmbuild")
    a = rpms.build(SHARED, tmp_path / "rpms")
    b = rpms.build(OTHER, tmp_path / "rpms")
    root = rpmroot.make_root(tmp_path / "base")
    rpmroot.rpm_install(root, a, b)
    rpmroot.write_base_archive(root, tmp_path / "base.ociarchive")
    image = open_image(f"oci-archive:{tmp_path / 'base.ociarchive'}")
    tree = flatten_image(image, wanted=wanted_paths(BASE_FILES))
    db_bytes = tree.read("/usr/share/rpm/rpmdb.sqlite")
    with Rpmdb(db_bytes, what="base") as db:
        packages = db.packages()
    erased = [p for p in packages if p.name == "shared-b"]
    owned = {f for p in packages if p.name != "shared-b" for f in _paths(p)}
    plan = plan_erase(erased, tree=tree, owned_elsewhere=owned)
    assert "/usr/share/shared/common" not in plan.whiteouts  # shared-a still owns it
    assert "/usr/share/shared" not in plan.whiteouts  # and its directory
    assert "/usr/share/shared/only-b" in plan.whiteouts


def test_removing_a_package_that_is_not_installed_is_an_error(tmp_path: Path) -> None:
    need("rpm")
    root = rpmroot.make_root(tmp_path / "base")
    rpmroot.write_base_archive(root, tmp_path / "base.ociarchive")
    image = open_image(f"oci-archive:{tmp_path / 'base.ociarchive'}")
    tree = flatten_image(image, wanted=wanted_paths(BASE_FILES))
    builder = LayerBuilder()
    with pytest.raises(NotFound, match="--remove nothere"):
        inject_rpms(tree, [], builder, erase=["nothere"])
    builder.close()


def _paths(package: object) -> set[str]:
    from ociforge.rpm.files import file_list

    return {f.path for f in file_list(package.header)}  # type: ignore[attr-defined]
