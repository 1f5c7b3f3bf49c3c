"""End to end: rebasing a derived image onto a new base gives what deriving from the new base does.

Two COSA-shaped bases built with the real rpm (old and new: packages updated, a file moved
between packages, a user added); the derived image is made with ``ociforge append --rpm --add``
from the old base, rebased onto the new one, and compared with ``append`` run on the new base
directly. skopeo and umoci unpack both (independent readers); rpm queries and verifies both.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from ociforge.errors import PolicyError
from ociforge.rpm.dbmerge import merge_rpmdb, package_delta
from ociforge.rpm.recheck import recheck_packages
from ociforge.rpm.rpmdb import InstalledPackage, Rpmdb
from ociforge.transports import open_image
from tests.support import rpmroot, rpms, trees
from tests.support.cli import Result, assert_clean_error, ociforge
from tests.support.registry import Registry
from tests.support.tools import need, ostree_import, run, skopeo


def _hotfix(version: str, *names: str) -> rpms.Spec:
    """``hotfix`` at ``version``: /usr/share/hotfix/common plus one file per name."""
    lines = "".join(f"echo {version} > %{{buildroot}}/usr/share/hotfix/{n}\n" for n in names)
    return rpms.Spec(
        name="hotfix",
        version=version,
        install=f"mkdir -p %{{buildroot}}/usr/share/hotfix\n{lines}"
        f"echo {version} > %{{buildroot}}/usr/share/hotfix/common\n",
        files="%dir /usr/share/hotfix\n/usr/share/hotfix/common\n"
        + "".join(f"/usr/share/hotfix/{n}\n" for n in names),
    )


def _simple(name: str, version: str = "1.0", preamble: str = "") -> rpms.Spec:
    return rpms.Spec(
        name=name,
        version=version,
        preamble=preamble,
        install=f"mkdir -p %{{buildroot}}/usr/share/{name}\n"
        f"echo {name}-{version} > %{{buildroot}}/usr/share/{name}/data\n",
        files=f"/usr/share/{name}\n",
    )


#: In the old base, hotfix 1.0 owns ``moved``; the new base ships it in ``mover`` instead.
HOTFIX_OLD = _hotfix("1.0", "only1", "moved")
HOTFIX_NEW = _hotfix("1.5", "only15")
HOTFIX_DERIVED = _hotfix("2.0", "only2")
MOVER = rpms.Spec(
    name="mover",
    install="mkdir -p %{buildroot}/usr/share/hotfix\necho moved > %{buildroot}/usr/share/hotfix/moved\n",
    files="/usr/share/hotfix/moved\n",
)


@dataclass(frozen=True)
class Bases:
    old: Path
    new: Path
    tiny: Path
    hotfix: Path
    motd: Path
    tool: Path


def make_base(
    tmp: Path, name: str, packages: list[Path], *, version: str, passwd: str = "", motd: str = ""
) -> Path:
    root = rpmroot.make_root(tmp / name)
    rpmroot.rpm_install(root, *packages)
    if passwd:
        with (root / "etc/passwd").open("a") as fh:
            fh.write(passwd)
        name_ = passwd.split(":", 1)[0]
        gid = passwd.split(":")[3]
        with (root / "etc/group").open("a") as fh:
            fh.write(f"{name_}:x:{gid}:\n")
        with (root / "etc/shadow").open("a") as fh:
            fh.write(f"{name_}:!!:::::::\n")
    (root / "etc/motd").write_text(motd or f"welcome to {version}\n")
    (root / "usr/lib/os-release").write_text(f"ID=fedora\nVERSION_ID={version}\n")
    archive = tmp / f"{name}.ociarchive"
    labels = {
        "containers.bootc": "1",
        "ostree.bootable": "true",
        "ostree.commit": version * 4,
        "org.opencontainers.image.version": version,
    }
    rpmroot.write_base_archive(root, archive, labels=labels)
    return archive


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, rpm_dir: Path) -> dict[str, Path]:
    need("rpm", "rpmbuild")
    specs = {
        "hotfix-old": HOTFIX_OLD,
        "hotfix-new": HOTFIX_NEW,
        "hotfix-derived": HOTFIX_DERIVED,
        "mover": MOVER,
        "baselib-1": _simple("baselib", "1.0"),
        "baselib-2": _simple("baselib", "2.0"),
        "tiny": rpms.TINY,
    }
    work = tmp_path_factory.mktemp("rebase-rpms")
    return {key: rpms.build(spec, work) for key, spec in specs.items()}


@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory, built: dict[str, Path]) -> Bases:
    tmp = tmp_path_factory.mktemp("rebase-bases")
    old = make_base(tmp, "old", [built["hotfix-old"], built["baselib-1"]], version="41")
    new = make_base(
        tmp,
        "new",
        [built["hotfix-new"], built["baselib-2"], built["mover"]],
        version="42",
        passwd="newsvc:x:500:500:new service:/:/sbin/nologin\n",
    )
    motd = tmp / "motd"
    motd.write_text("custom motd\n")
    tool = tmp / "tool"
    tool.write_text("#!/bin/sh\necho tool\n")
    tool.chmod(0o755)
    return Bases(old, new, built["tiny"], built["hotfix-derived"], motd, tool)


def append(base: Path, out: Path, *args: str) -> None:
    result = ociforge("append", f"oci-archive:{base}", f"oci-archive:{out}", *args, "--quiet")
    assert result.code == 0, result.err


def rebase(derived: Path, old: Path, new: Path, out: Path, *args: str) -> Result:
    return ociforge(
        "rebase",
        f"oci-archive:{derived}",
        "--old-base",
        f"oci-archive:{old}",
        "--new-base",
        f"oci-archive:{new}",
        f"oci-archive:{out}",
        *args,
    )


def unpack(archive: Path, work: Path) -> Path:
    """skopeo copies the archive to a layout (checking every digest), umoci unpacks it."""
    need("umoci")
    layout = work / f"layout-{archive.stem}"
    skopeo("copy", f"oci-archive:{archive}", f"oci:{layout}:img")
    bundle = work / f"bundle-{archive.stem}"
    run(["umoci", "unpack", "--image", f"{layout}:img", str(bundle)])
    return bundle / "rootfs"


def rpm_out(root: Path, *args: str) -> str:
    """``rpm --root ROOT --dbpath /usr/share/rpm ARGS``: stdout and stderr, whatever the status."""
    argv = ["rpm", "--root", str(root), "--dbpath", "/usr/share/rpm", *args]
    env = rpms.env(root.parent)
    proc = subprocess.run(argv, check=False, env=env, capture_output=True, text=True)
    return proc.stdout + proc.stderr


def without_install_date(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith("Install Date")]


RPMDB = "usr/share/rpm/rpmdb.sqlite"


def assert_same_trees(ours: Path, theirs: Path) -> None:
    a, b = trees.snapshot(ours), trees.snapshot(theirs)
    assert sorted(a) == sorted(b), sorted(set(a) ^ set(b))
    for path in sorted(a):
        left, right = a[path], b[path]
        if path == RPMDB:  # compared through rpm below, not by bytes
            left, right = (
                trees.Node(n.kind, n.mode, n.uid, n.gid, "", n.target) for n in (left, right)
            )
        assert left == right, path


def test_rebase_with_rpms_matches_deriving_from_the_new_base(tmp_path: Path, bases: Bases) -> None:
    inputs = ["--rpm", str(bases.tiny), "--rpm", str(bases.hotfix)]
    inputs += ["--add", f"{bases.motd}:/etc/motd", "--add", f"{bases.tool}:/usr/bin/tool"]
    derived, direct, rebased = (tmp_path / f"{n}.ociarchive" for n in ("derived", "direct", "rb"))
    append(bases.old, derived, *inputs)
    append(bases.new, direct, *inputs)
    result = rebase(derived, bases.old, bases.new, rebased, "--json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["packages"] == ["tiny-1.0-1.x86_64", "hotfix-2.0-1.x86_64"]
    assert {"/usr/share/rpm/rpmdb.sqlite", "/etc/passwd", "/etc/group", "/etc/shadow"} <= set(
        doc["fixed"]
    )
    assert "/usr/share/hotfix/moved" in doc["fixed"]  # restored: mover owns it in the new base
    assert doc["removed"] == ["/usr/share/hotfix/only15"]
    assert any(w.startswith("/etc/motd:") for w in doc["warnings"]), doc["warnings"]

    image, new, old_derived = (
        open_image(f"oci-archive:{p}") for p in (rebased, bases.new, derived)
    )
    assert str(image.digest) == doc["digest"]
    assert image.layers[: len(new.layers)] == new.layers
    assert [lay.digest for lay in image.layers[len(new.layers) : -1]] == [
        lay.digest for lay in old_derived.layers[1:]
    ]  # the added layer is carried byte for byte; one fix-up layer on top
    assert image.labels["org.opencontainers.image.version"] == "42"
    assert image.labels["ostree.commit"] == new.labels["ostree.commit"]
    with image.layers[-1].open_compressed() as fh:
        repo = ostree_import(fh.read(), tmp_path / "ostree")  # ostree takes the fix-up layer
    listing = run(["ostree", f"--repo={repo}", "ls", "-R", "layer"]).stdout
    for path in ("/usr/share/rpm/rpmdb.sqlite", "/etc/passwd", "/usr/share/hotfix/.wh.only15"):
        assert path in listing, path

    ours, theirs = unpack(rebased, tmp_path), unpack(direct, tmp_path)
    assert_same_trees(ours, theirs)
    assert rpm_out(ours, "-qa") == rpm_out(theirs, "-qa")
    assert "hotfix-1.5-1.x86_64" not in rpm_out(ours, "-qa")
    for name in ("tiny", "hotfix", "baselib", "mover"):
        assert without_install_date(rpm_out(ours, "-qi", name)) == without_install_date(
            rpm_out(theirs, "-qi", name)
        ), name
        assert rpm_out(ours, "-ql", name) == rpm_out(theirs, "-ql", name)
    verify = [sorted(rpm_out(root, "-Va", "--nodeps").splitlines()) for root in (ours, theirs)]
    assert verify[0] == verify[1]
    for name in ("hotfix", "baselib", "mover"):
        assert rpm_out(ours, "-V", "--nodeps", name) == "", name


def test_files_only_rebase_matches_deriving_from_the_new_base(tmp_path: Path, bases: Bases) -> None:
    inputs = ["--add", f"{bases.tool}:/usr/bin/tool", "--add", f"{bases.motd}:/usr/share/motd"]
    derived, direct, rebased = (tmp_path / f"{n}.ociarchive" for n in ("derived", "direct", "rb"))
    append(bases.old, derived, *inputs)
    append(bases.new, direct, *inputs)
    result = rebase(derived, bases.old, bases.new, rebased)
    assert result.code == 0, result.err
    assert result.err == ""  # nothing stale, nothing to say
    image, new = open_image(f"oci-archive:{rebased}"), open_image(f"oci-archive:{bases.new}")
    assert len(image.layers) == len(new.layers) + 1  # no fix-up layer
    assert result.out.strip() == str(image.digest)
    assert_same_trees(unpack(rebased, tmp_path), unpack(direct, tmp_path))


def test_strict_refuses_a_stale_overwrite(tmp_path: Path, bases: Bases) -> None:
    derived, out = tmp_path / "derived.ociarchive", tmp_path / "out.ociarchive"
    append(bases.old, derived, "--add", f"{bases.motd}:/etc/motd")
    result = rebase(derived, bases.old, bases.new, out, "--strict")
    assert_clean_error(result, "--strict: /etc/motd:", "new base changed")
    assert not out.exists()
    result = rebase(derived, bases.old, bases.new, out)
    assert result.code == 0, result.err
    assert "ociforge: warning: /etc/motd: the derived layers overwrite" in result.err


def test_refuses_an_old_base_that_is_not_a_prefix(tmp_path: Path, bases: Bases) -> None:
    derived, out = tmp_path / "derived.ociarchive", tmp_path / "out.ociarchive"
    append(bases.old, derived, "--add", f"{bases.tool}:/usr/bin/tool")
    before = derived.read_bytes()
    assert_clean_error(rebase(derived, bases.new, bases.new, out), "is not built on")
    assert not out.exists()
    assert derived.read_bytes() == before


def _new_base_with(tmp: Path, built: dict[str, Path], name: str, **kw: str) -> Path:
    packages = [built["hotfix-new"], built["baselib-2"], built["mover"]]
    return make_base(tmp, name, packages, version="42", **kw)


@pytest.mark.parametrize(
    ("variant", "message", "rpm_says"),
    [
        ("downgrade", "hotfix-2.0-1.x86_64 would downgrade hotfix-3.0-1.x86_64", "is newer than"),
        (
            "obsoletes",
            "tiny-1.0-1.x86_64 is obsoleted by bigtiny-1.0-1.x86_64",
            "is obsoleted by (installed) bigtiny",
        ),
        ("conflicts", "conflicts with tiny-1.0-1.x86_64", "conflicts with"),
    ],
)
def test_refusals_name_both_packages(
    tmp_path: Path,
    bases: Bases,
    built: dict[str, Path],
    rpm_dir: Path,
    variant: str,
    message: str,
    rpm_says: str,
) -> None:
    extra = {
        "downgrade": _hotfix("3.0", "only3"),
        "obsoletes": _simple("bigtiny", preamble="Obsoletes: tiny < 2"),
        "conflicts": _simple("antitiny", preamble="Conflicts: tiny >= 1.0"),
    }[variant]
    package = rpms.build(extra, rpm_dir)
    shell = rpms.build(_simple("shell", preamble="Provides: /bin/sh"), rpm_dir)
    packages = [built["baselib-2"], built["mover"], shell, package]
    if variant != "downgrade":
        packages.append(built["hotfix-new"])
    new = make_base(tmp_path, "variant", packages, version="42")
    # rpm's own transaction check over the new base's root finds the same problem.
    root = new.parent / new.stem
    assert rpm_says in rpm_out(root, "-U", "--test", "--justdb", str(bases.tiny), str(bases.hotfix))
    derived, out = tmp_path / "derived.ociarchive", tmp_path / "out.ociarchive"
    append(bases.old, derived, "--rpm", str(bases.tiny), "--rpm", str(bases.hotfix))
    inputs = [p.read_bytes() for p in (derived, bases.old, new)]
    assert_clean_error(rebase(derived, bases.old, new, out), message)
    assert not out.exists()
    assert [p.read_bytes() for p in (derived, bases.old, new)] == inputs
    if variant == "downgrade":
        result = rebase(derived, bases.old, new, out, "--allow-downgrade", "--json")
        assert result.code == 0, result.err
        assert "hotfix-3.0-1.x86_64 of the new base replaced" in json.loads(result.out)["notes"]


def test_refuses_a_uid_clash(tmp_path: Path, bases: Bases, built: dict[str, Path]) -> None:
    derived, out = tmp_path / "derived.ociarchive", tmp_path / "out.ociarchive"
    append(bases.old, derived, "--rpm", str(bases.tiny))
    clash = _new_base_with(tmp_path, built, "clash", passwd="other:x:999:999::/:/sbin/nologin\n")
    assert_clean_error(
        rebase(derived, bases.old, clash, out),
        "/etc/passwd: uid 999 of user tinyd (added by the derived image) belongs to user other",
    )
    assert not out.exists()
    renamed = _new_base_with(
        tmp_path, built, "renamed", passwd="tinyd:x:990:990::/:/sbin/nologin\n"
    )
    assert_clean_error(
        rebase(derived, bases.old, renamed, out), "user tinyd is uid 999 in the derived image"
    )


def test_rpmdb_merge_carries_installed_headers_and_erasures(
    tmp_path: Path, built: dict[str, Path]
) -> None:
    """rpm itself erases a package from the derived root; the merge repeats both changes."""
    roots = {}
    for name, packages in (
        ("old", ["hotfix-old", "baselib-1"]),
        ("new", ["hotfix-new", "baselib-2", "mover"]),
    ):
        roots[name] = rpmroot.make_root(tmp_path / name, system=False)
        rpmroot.rpm_install(roots[name], *(built[p] for p in packages), justdb=True)
    derived = tmp_path / "derived"
    shutil.copytree(roots["old"], derived, symlinks=True)
    rpmroot.rpm_install(derived, built["tiny"], justdb=True)
    assert "baselib" not in rpm_out(derived, "-e", "--justdb", "--nodeps", "baselib")
    rpmroot.checkpoint(derived)

    def packages(root: Path) -> list[InstalledPackage]:
        with Rpmdb((root / RPMDB).read_bytes()) as db:
            return db.packages()

    delta = package_delta(packages(roots["old"]), packages(derived))
    assert [p.nevra for p in delta.added] == ["tiny-1.0-1.x86_64"]
    assert [p.nevra for p in delta.removed] == ["baselib-1.0-1.x86_64"]
    with Rpmdb((roots["new"] / RPMDB).read_bytes()) as db:
        gone = merge_rpmdb(db, delta)
        (roots["new"] / RPMDB).write_bytes(db.finish())
    assert [p.nevra for p in gone] == ["baselib-2.0-1.x86_64"]
    merged = roots["new"]
    assert sorted(rpm_out(merged, "-qa").split()) == [
        "hotfix-1.5-1.x86_64",
        "mover-1.0-1.x86_64",
        "tiny-1.0-1.x86_64",
    ]
    # The installed header is copied as rpm stored it: install time and all.
    assert rpm_out(merged, "-qi", "tiny") == rpm_out(derived, "-qi", "tiny")
    assert rpm_out(merged, "-q", "--whatprovides", "user(tinyd)") == "tiny-1.0-1.x86_64\n"
    assert rpm_out(merged, "--rebuilddb") == ""  # rpm reads every header and index back


def test_rebase_between_registries_gives_the_local_result(
    tmp_path: Path, bases: Bases, registry: Registry
) -> None:
    derived, local = tmp_path / "derived.ociarchive", tmp_path / "local.ociarchive"
    append(bases.old, derived, "--rpm", str(bases.tiny), "--add", f"{bases.tool}:/usr/bin/tool")
    refs = {}
    for name, archive in (("old", bases.old), ("new", bases.new), ("derived", derived)):
        refs[name] = registry.ref(f"os/{name}:v1")
        skopeo("copy", "--dest-tls-verify=false", f"oci-archive:{archive}", refs[name])
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}
    remote = ociforge(
        "rebase",
        refs["derived"],
        "--old-base",
        refs["old"],
        "--new-base",
        refs["new"],
        registry.ref("os/derived:next"),
        "--tls-verify=false",
        "--json",
        env=env,
    )
    assert remote.code == 0, remote.err
    result = ociforge(
        "rebase",
        f"oci-archive:{derived}",
        "--old-base",
        f"oci-archive:{bases.old}",
        "--new-base",
        f"oci-archive:{bases.new}",
        f"oci-archive:{local}",
        env=env,
    )
    assert result.code == 0, result.err
    digest = json.loads(remote.out)["digest"]
    assert digest == result.out.strip()  # the same image whichever transport it came from
    inspected = skopeo("inspect", "--tls-verify=false", registry.ref("os/derived:next")).stdout
    assert json.loads(inspected)["Digest"] == digest
    assert "/usr/share/rpm/rpmdb.sqlite" in json.loads(remote.out)["fixed"]


def test_rebase_onto_a_base_with_the_same_packages(tmp_path: Path, bases: Bases) -> None:
    """Only the accounts changed: the derived rpmdb and its whiteouts are right as they are."""
    root = tmp_path / "same"
    shutil.copytree(bases.old.parent / "old", root, symlinks=True)
    with (root / "etc/passwd").open("a") as fh:
        fh.write("newsvc:x:500:500::/:/sbin/nologin\n")
    same = tmp_path / "same.ociarchive"
    rpmroot.write_base_archive(root, same)
    inputs = ["--rpm", str(bases.tiny), "--rpm", str(bases.hotfix)]
    derived, direct, rebased = (tmp_path / f"{n}.ociarchive" for n in ("derived", "direct", "rb"))
    append(bases.old, derived, *inputs)
    append(same, direct, *inputs)
    result = rebase(derived, bases.old, same, rebased, "--json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert (doc["fixed"], doc["removed"]) == (["/etc/passwd"], [])
    ours, theirs = unpack(rebased, tmp_path), unpack(direct, tmp_path)
    assert_same_trees(ours, theirs)
    assert rpm_out(ours, "-qa") == rpm_out(theirs, "-qa")
    assert rpm_out(ours, "-V", "--nodeps", "hotfix") == ""


def installed(tmp: Path, name: str, *packages: Path) -> list[InstalledPackage]:
    """The packages rpm records when it installs ``packages`` into a fresh root."""
    root = rpmroot.make_root(tmp / name)
    rpmroot.rpm_install(root, *packages, justdb=True)
    rpmroot.checkpoint(root)
    with Rpmdb((root / RPMDB).read_bytes()) as db:
        return db.packages()


def test_recheck_path_conflicts_and_deliberate_downgrades(
    tmp_path: Path, built: dict[str, Path], rpm_dir: Path
) -> None:
    clasher = rpms.build(_simple("clasher", preamble="Conflicts: /usr/share/baselib/data"), rpm_dir)
    hotfix3 = rpms.build(_hotfix("3.0", "only3"), rpm_dir)
    rebuilt = rpms.build(dataclasses.replace(_hotfix("3.0", "only3"), release="2"), tmp_path)
    new = installed(tmp_path, "new", built["baselib-2"], hotfix3)
    added = installed(tmp_path, "added", clasher)
    with pytest.raises(
        PolicyError, match=re.escape("clasher-1.0-1.x86_64 conflicts with baselib-2.0-1")
    ):
        recheck_packages(added, new)
    rpm_says = rpm_out(tmp_path / "new", "-U", "--test", str(clasher))
    assert "/usr/share/baselib/data conflicts with clasher-1.0-1.x86_64" in rpm_says
    # The derived image held hotfix back at 2.0 on an old base that had 3.0: still its choice
    # when the new base has that same 3.0 package, not when the new base updated it.
    derived = installed(tmp_path, "derived", built["hotfix-derived"])
    old = {p.identity for p in new}
    recheck_packages(derived, new, old_base=old)
    other = installed(tmp_path, "other", rebuilt)
    with pytest.raises(PolicyError, match=re.escape("would downgrade hotfix-3.0-2.x86_64")):
        recheck_packages(derived, other, old_base=old)
    recheck_packages(derived, other, old_base=old, allow_downgrade=True)


@pytest.mark.parametrize("flags", [(), ("--no-verify",)])
def test_a_corrupt_new_base_layer_is_refused(
    tmp_path: Path, bases: Bases, flags: tuple[str, ...]
) -> None:
    derived, out = tmp_path / "derived.ociarchive", tmp_path / "out.ociarchive"
    append(bases.old, derived, "--rpm", str(bases.tiny))
    bad = tmp_path / "bad.ociarchive"
    data = bytearray(bases.new.read_bytes())
    with tarfile.open(bases.new) as archive:
        blob = max(archive.getmembers(), key=lambda m: m.size)
    data[blob.offset_data + blob.size // 2] ^= 0xFF  # inside the layer's compressed bytes
    bad.write_bytes(bytes(data))
    result = rebase(derived, bases.old, bad, out, *flags)
    assert_clean_error(result)
    assert not out.exists()
