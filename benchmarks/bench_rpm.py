"""RPM injection: ``append --rpm`` of a ~100 MB package into a 2 GiB COSA-shaped archive, vs ``cp``.

The package is built with rpmbuild (one incompressible 100 MiB file, zstd level 3 payload so
building it stays quick; the payload codec barely matters to injection). ``OCIFORGE_BENCH_
RPM_ARCHIVE_BYTES`` / ``..._RPM_BYTES`` shrink the data for a quick run.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

from .data import ensure
from .harness import Row, measure, ociforge

ARCHIVE_BYTES = int(os.environ.get("OCIFORGE_BENCH_RPM_ARCHIVE_BYTES", str(2 << 30)))
RPM_BYTES = int(os.environ.get("OCIFORGE_BENCH_RPM_BYTES", str(100 << 20)))

_SPEC = """\
Name: bigpkg
Version: 1.0
Release: 1
Summary: benchmark payload
License: MIT
BuildArch: x86_64
%global debug_package %{{nil}}
%description
One incompressible file.
%install
mkdir -p %{{buildroot}}/usr/share/big
head -c {size} /dev/urandom > %{{buildroot}}/usr/share/big/blob
%files
/usr/share/big/blob
"""


def build_rpm(workdir: Path, size: int) -> Path:
    """A package holding ``size`` random bytes (built once, reused)."""
    out = workdir / f"bigpkg-{size}.rpm"
    if out.exists():
        return out
    top = workdir / "rpmbuild"
    (top / "SPECS").mkdir(parents=True, exist_ok=True)
    spec = top / "SPECS" / "bigpkg.spec"
    spec.write_text(textwrap.dedent(_SPEC.format(size=size)))
    env = {**os.environ, "HOME": str(workdir)}
    subprocess.run(
        ["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {top}",
         "--define", "_binary_payload w3.zstdio", "--define", "_build_id_links none",
         "--define", "__os_install_post %{nil}", str(spec)],
        check=True, env=env,
    )  # fmt: skip
    built = next((top / "RPMS").rglob("*.rpm"))
    built.rename(out)
    return out


def run(workdir: Path) -> list[Row]:
    workdir.mkdir(parents=True, exist_ok=True)
    archive = ensure(
        "cosa", workdir / f"cosa-{ARCHIVE_BYTES}.ociarchive", "--size", str(ARCHIVE_BYTES)
    )
    package = build_rpm(workdir, RPM_BYTES)
    gib = archive.stat().st_size / (1 << 30)
    mib = package.stat().st_size / (1 << 20)
    dst = workdir / "out.ociarchive"
    src = f"oci-archive:{archive}"
    out = f"oci-archive:{dst}"
    peer = measure(["cp", str(archive), str(dst)], repeat=3)
    dst.unlink()
    note = f"{gib:.2f} GiB archive, 51 gzip layers; {mib:.0f} MiB RPM"
    rows = []
    for operation, argv in (
        ("append --rpm (scan base, verify, layer, rpmdb, write)", ["--rpm", str(package)]),
        ("append --add of the same bytes as a plain file (no RPM work)",
         ["--add", f"{package}:/usr/share/big.rpm"]),
    ):  # fmt: skip
        ours = measure(ociforge("append", "-q", src, out, *argv), repeat=2)
        dst.unlink()
        rows.append(Row(operation, ours, "cp", peer, note))
    ours = measure(ociforge("copy", "-q", src, out), repeat=2)
    dst.unlink()
    rows.append(Row("copy (the same write path, no new layer)", ours, "cp", peer, note))
    return rows
