"""Packages from a repository: ``append --install`` of 10 apps (50 packages with their
dependencies) into the 2 GiB COSA-shaped archive, vs ``dnf --installroot`` into an unpacked copy.

The packages are built with rpmbuild (small data files, no scriptlets) and indexed with
createrepo_c into a local ``file://`` repository; each app requires four of forty libraries,
so resolving ten apps pulls all fifty. dnf gets what it needs to be comparable: its own
configuration (``tsflags=noscripts``, no weak deps), the same repository, and an unpacked base
(the unpack is timed on its own: dnf cannot work on an archive). Metadata caches of both are
emptied before every run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

from .data import ensure
from .harness import Measurement, Row, measure, ociforge

ARCHIVE_BYTES = int(os.environ.get("OCIFORGE_BENCH_PKG_ARCHIVE_BYTES", str(2 << 30)))
APPS = 10
LIBS = 40

_SPEC = """\
Name: {name}
Version: 1.0
Release: 1
Summary: benchmark package
License: MIT
BuildArch: noarch
AutoReqProv: no
{requires}
%description
A few small files.
%install
mkdir -p %{{buildroot}}/usr/share/{name}
for i in 1 2 3; do head -c 20000 /dev/urandom > %{{buildroot}}/usr/share/{name}/data$i; done
%files
/usr/share/{name}
"""


def _build(workdir: Path, name: str, requires: list[str]) -> Path:
    top = workdir / "rpmbuild" / name
    (top / "SPECS").mkdir(parents=True, exist_ok=True)
    spec = top / "SPECS" / f"{name}.spec"
    lines = "\n".join(f"Requires: {r}" for r in requires)
    spec.write_text(textwrap.dedent(_SPEC.format(name=name, requires=lines)))
    subprocess.run(
        ["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {top}",
         "--define", "_binary_payload w3.zstdio", "--define", "__os_install_post %{nil}",
         str(spec)],
        check=True, env={**os.environ, "HOME": str(workdir)},
    )  # fmt: skip
    return next((top / "RPMS").rglob("*.rpm"))


def make_repository(workdir: Path) -> Path:
    """The repository of 10 apps and 40 libraries (built once, reused)."""
    repo = workdir / "repo"
    if (repo / "repodata" / "repomd.xml").exists():
        return repo
    repo.mkdir(parents=True, exist_ok=True)
    for n in range(LIBS):
        shutil.copy(_build(workdir, f"benchlib{n}", []), repo)
    for n in range(APPS):
        libs = [f"benchlib{(n * 4 + k) % LIBS}" for k in range(4)]
        shutil.copy(_build(workdir, f"benchapp{n}", libs), repo)
    subprocess.run(["createrepo_c", "-q", str(repo)], check=True)
    return repo


def _dnf(root: Path, repo: Path, workdir: Path) -> list[str]:
    home = workdir / "dnf-home"
    home.mkdir(exist_ok=True)
    (home / ".rpmmacros").write_text("%_dbpath /var/lib/rpm\n")
    config = workdir / "dnf.conf"
    config.write_text(
        "[main]\ngpgcheck=0\ninstall_weak_deps=0\nreposdir=/nonexistent\n"
        f"cachedir={workdir / 'dnf-cache'}\nkeepcache=0\n"
    )
    return [
        "env", f"HOME={home}", "dnf", f"--config={config}", f"--installroot={root}",
        "--releasever=1", "--disablerepo=*", f"--repofrompath=bench,file://{repo}",
        "--setopt=tsflags=noscripts", "--nogpgcheck", "-y", "-q", "install",
        *(f"benchapp{n}" for n in range(APPS)),
    ]  # fmt: skip


def run(workdir: Path) -> list[Row]:
    workdir.mkdir(parents=True, exist_ok=True)
    archive = ensure(
        "cosa", workdir / f"cosa-{ARCHIVE_BYTES}.ociarchive", "--size", str(ARCHIVE_BYTES)
    )
    repo = make_repository(workdir)
    dst = workdir / "out.ociarchive"
    cache = workdir / "ociforge-cache"
    install = [a for n in range(APPS) for a in ("--install", f"benchapp{n}")]
    argv = ociforge(
        "append", "-q", f"oci-archive:{archive}", f"oci-archive:{dst}",
        "--disablerepo", "*", "--repo", f"bench={repo}", "--no-weak-deps", *install,
    )  # fmt: skip
    ours_runs = []
    for _ in range(2):
        shutil.rmtree(cache, ignore_errors=True)
        dst.unlink(missing_ok=True)
        ours_runs.append(measure(["env", f"XDG_CACHE_HOME={cache}", *argv]))
    ours = min(ours_runs, key=lambda m: m.seconds)

    base = workdir / "unpacked"
    shutil.rmtree(base, ignore_errors=True)
    unpack = measure(ociforge("unpack", "--rootless", f"oci-archive:{archive}", str(base)))
    root = workdir / "dnf-root"
    dnf_runs = []
    for _ in range(2):
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(workdir / "dnf-cache", ignore_errors=True)
        subprocess.run(["cp", "-a", "--reflink=auto", str(base / "rootfs"), str(root)], check=True)
        dnf_runs.append(measure(_dnf(root, repo, workdir)))
    dnf = min(dnf_runs, key=lambda m: m.seconds)
    installed = subprocess.run(
        ["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm", "-qa"],
        capture_output=True, text=True, check=True,
        env={**os.environ, "HOME": str(workdir / "dnf-home")},
    ).stdout.split()  # fmt: skip
    gib = archive.stat().st_size / (1 << 30)
    note = f"{gib:.2f} GiB archive; {len(installed)} packages resolved and installed by dnf"
    both = Measurement(unpack.seconds + dnf.seconds, max(unpack.max_rss_mib, dnf.max_rss_mib))
    return [
        Row(f"append --install {APPS} apps (resolve, download, layer, write)", ours,
            "dnf --installroot (noscripts)", dnf, note),
        Row(f"append --install {APPS} apps", ours, "unpack + dnf --installroot", both,
            "dnf needs the unpacked base; ociforge reads the archive in place"),
    ]  # fmt: skip
