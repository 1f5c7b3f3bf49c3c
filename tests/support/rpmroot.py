"""Base root filesystems for RPM injection tests, and rpm's own install as the oracle.

Roots are plain directories: turned into image layers with the stdlib's tarfile, installed
into with the real rpm, and our layer is applied with tarfile too (whiteouts handled here).
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import stat
import tarfile
from pathlib import Path

from tests.support import images, rpms
from tests.support.tools import need, run

PASSWD = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:2:2:daemon:/sbin:/sbin/nologin\n"
GROUP = "root:x:0:\ndaemon:x:2:\n"
USRLIB_PASSWD = "adm:x:3:4:adm:/var/adm:/sbin/nologin\n"
USRLIB_GROUP = "adm:x:4:\n"


_SYSTEM_RPMS: list[Path] = []


def system_rpm(workdir: Path) -> Path:
    """The ``base-system`` package (built once per test process)."""
    if not _SYSTEM_RPMS or not _SYSTEM_RPMS[0].exists():
        _SYSTEM_RPMS[:] = [rpms.build(rpms.SYSTEM, workdir)]
    return _SYSTEM_RPMS[0]


def make_root(root: Path, *, coreos: bool = True, system: bool = True) -> Path:
    """A skeleton OS tree; ``coreos`` adds the CoreOS symlinks (/opt, /usr/local, /var/run…).

    ``system`` records ``base-system`` in the rpmdb (``--justdb``): what a real base provides
    to the packages installed on it (``/bin/sh``, ``ldconfig``…), so dependency checks pass.
    """
    for d in (
        "etc",
        "usr/bin",
        "usr/lib",
        "usr/share",
        "var/lib",
        "var/log",
        "run",
        "tmp",
        "dev",
        "proc",
        "sys",
        "boot",
        "usr/share/rpm",
        "sysroot",
    ):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "etc/passwd").write_text(PASSWD)
    (root / "etc/group").write_text(GROUP)
    (root / "etc/shadow").write_text("root:*::::::\ndaemon:*::::::\n")
    (root / "etc/shadow").chmod(0)
    (root / "usr/lib/passwd").write_text(USRLIB_PASSWD)
    (root / "usr/lib/group").write_text(USRLIB_GROUP)
    (root / "usr/bin/existing").write_text("#!/bin/sh\n")
    if coreos:
        (root / "var/opt").mkdir()
        (root / "opt").symlink_to("var/opt")
        (root / "var/usrlocal").mkdir()
        (root / "usr/local").symlink_to("../var/usrlocal")
        (root / "var/run").symlink_to("../run")
        (root / "usr/lib/sysimage").mkdir()
        (root / "usr/lib/sysimage/rpm").symlink_to("../../share/rpm")
        (root / "var/lib/rpm").symlink_to("../../usr/share/rpm")
    if system:
        rpm_install(root, system_rpm(root.parent / "system-rpm"), justdb=True)
    return root


def rpm_install(root: Path, *packages: Path, justdb: bool = False) -> None:
    need("rpm")
    extra = ["--justdb"] if justdb else []
    run(
        [
            "rpm",
            "--root",
            str(root),
            "--dbpath",
            "/usr/share/rpm",
            "--nodeps",
            "--noscripts",
            "--force-debian",
            "-i",
            *extra,
            *map(str, packages),
        ],
        env=rpms.env(root.parent),
    )
    for junk in ("rpmdb.sqlite-shm", "rpmdb.sqlite-wal", ".rpm.lock"):
        path = root / "usr/share/rpm" / junk
        if path.exists():
            path.unlink()


def checkpoint(root: Path) -> None:
    """Fold rpm's WAL into the database file so a copy of the directory is complete."""
    import sqlite3

    db = root / "usr/share/rpm/rpmdb.sqlite"
    if db.exists():
        conn = sqlite3.connect(db)
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.close()


def tar_of(root: Path) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for path in sorted(root.rglob("*")):
            tf.add(path, arcname=str(path.relative_to(root)), recursive=False)
    return out.getvalue()


def layer_of(root: Path) -> images.BuiltLayer:
    raw = tar_of(root)
    return images.BuiltLayer(gzip.compress(raw, mtime=0), images.sha256(raw))


def write_base_archive(
    root: Path, archive: Path, *, labels: dict[str, str] | None = None
) -> images.BuiltImage:
    checkpoint(root)
    built = images.image(
        [layer_of(root)], labels=labels or {"containers.bootc": "1", "ostree.bootable": "true"}
    )
    images.write_archive(str(archive), [(built, "")])
    return built


def apply_tar(root: Path, data: bytes) -> dict[str, tarfile.TarInfo]:
    """Extract one layer over ``root`` (whiteouts applied); returns its members by path."""
    members = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        for info in tf:
            name = info.name.lstrip("./")
            base = os.path.basename(name)
            target = root / name
            if base.startswith(".wh."):
                gone = target.parent / base[4:]
                if gone.is_dir() and not gone.is_symlink():
                    shutil.rmtree(gone)
                elif gone.exists() or gone.is_symlink():
                    gone.unlink()
                continue
            members["/" + name] = info
            if info.isdir():
                if target.is_symlink() or (target.exists() and not target.is_dir()):
                    target.unlink()
                target.mkdir(exist_ok=True)
                os.chmod(target, info.mode)
                os.chown(target, info.uid, info.gid)
                continue
            if target.is_symlink() or target.exists():
                target.unlink()
            target.parent.mkdir(parents=True, exist_ok=True)
            if info.issym():
                os.symlink(info.linkname, target)
                os.lchown(target, info.uid, info.gid)
                os.utime(target, (info.mtime, info.mtime), follow_symlinks=False)
            elif info.islnk():
                os.link(root / info.linkname.lstrip("./"), target)
            else:
                extracted = tf.extractfile(info)
                assert extracted is not None
                target.write_bytes(extracted.read())
                os.chown(target, info.uid, info.gid)
                os.chmod(target, info.mode)
                os.utime(target, (info.mtime, info.mtime))
                cap = info.pax_headers.get("SCHILY.xattr.security.capability")
                if cap is not None:
                    os.setxattr(
                        target, "security.capability", cap.encode("utf-8", "surrogateescape")
                    )
    return members


def apply_tmpfiles(root: Path, conf: str) -> None:
    """What systemd-tmpfiles --create does for the d/L/f lines ociforge writes."""
    users = {
        line.split(":")[0]: int(line.split(":")[2])
        for line in (root / "etc/passwd").read_text().splitlines()
    }
    groups = {
        line.split(":")[0]: int(line.split(":")[2])
        for line in (root / "etc/group").read_text().splitlines()
    }
    for line in conf.splitlines():
        kind, path, mode, user, group, _age, *arg = line.split()
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if kind == "d":
            target.mkdir(exist_ok=True)
        elif kind == "L":
            if not target.is_symlink():
                os.symlink(arg[0], target)
            continue
        elif kind == "f":
            target.touch()
        os.chmod(target, int(mode, 8))
        os.chown(target, users[user], groups[group])


def describe(path: Path) -> tuple[object, ...]:
    st = os.lstat(path)
    kind = stat.S_IFMT(st.st_mode)
    extra: object = None
    if stat.S_ISLNK(st.st_mode):
        extra = os.readlink(path)
    elif stat.S_ISREG(st.st_mode):
        extra = path.read_bytes()
    return (
        kind,
        stat.S_IMODE(st.st_mode) if not stat.S_ISLNK(st.st_mode) else 0,
        st.st_uid,
        st.st_gid,
        extra,
    )
