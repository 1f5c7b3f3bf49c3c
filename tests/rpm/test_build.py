"""Packages written by ociforge.rpm.build, checked by rpm itself and by our reader."""

import subprocess
from pathlib import Path

import pytest

from ociforge.errors import RpmError
from ociforge.rpm.package import read_package
from ociforge.rpm.tags import FileFlag
from ociforge.samples.rpm import PackageFile, build_rpm
from tests.support import rpmroot, rpms
from tests.support.tools import need

FILES = [
    PackageFile("/usr/bin/tool", b"#!/bin/sh\necho tool\n", mode=0o755),
    PackageFile("/usr/bin/t", kind="symlink", target="tool"),
    PackageFile("/usr/share/tool", kind="dir"),
    PackageFile("/usr/share/tool/data", b"x" * 5000),
    PackageFile("/etc/tool.conf", b"a=1\n", flags=FileFlag.CONFIG | FileFlag.NOREPLACE),
]


def write(tmp_path: Path) -> Path:
    path = tmp_path / "tool-2.1-3.noarch.rpm"
    path.write_bytes(
        build_rpm(
            name="tool",
            version="2.1",
            release="3",
            summary="s",
            description="d",
            license="MIT",
            files=FILES,
            buildtime=1_700_000_000,
        )
    )
    return path


def test_rpm_reads_checks_and_installs_it(tmp_path: Path) -> None:
    need("rpm")
    package = write(tmp_path)
    env = rpms.env(tmp_path)

    def rpm(*args: str) -> str:
        return subprocess.run(
            ["rpm", *args], env=env, capture_output=True, text=True, check=True
        ).stdout

    assert (
        rpm("-qp", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH} %{LICENSE}\\n", str(package))
        == "tool-2.1-3.noarch MIT\n"
    )
    checked = rpm("-Kv", str(package))
    assert (
        "Header SHA256 digest: OK" in checked
        and "Payload SHA256 digest: OK" in checked
        and "MD5 digest: OK" in checked
    )
    assert rpm("-qpl", str(package)).split() == sorted(f.path for f in FILES)
    assert rpm("-qpc", str(package)).split() == ["/etc/tool.conf"]
    root = tmp_path / "root"
    root.mkdir()
    rpmroot.rpm_install(root, package)
    assert (root / "usr/share/tool/data").read_bytes() == b"x" * 5000
    assert rpm("--root", str(root), "--dbpath", "/usr/share/rpm", "-V", "tool") == ""


def test_our_reader_accepts_it(tmp_path: Path) -> None:
    with write(tmp_path).open("rb") as fh:
        package = read_package(fh)
    assert package.name == "tool"
    assert sorted(f.path for f in package.files) == sorted(f.path for f in FILES)


def test_deterministic(tmp_path: Path) -> None:
    a = write(tmp_path).read_bytes()
    assert write(tmp_path).read_bytes() == a


@pytest.mark.parametrize(("field", "value"), [("name", "a b"), ("version", "1-2"), ("release", "")])
def test_bad_names(field: str, value: str) -> None:
    args = {"name": "n", "version": "1", "release": "1", field: value}
    with pytest.raises(RpmError, match=f"invalid package {field}"):
        build_rpm(**args, summary="s", description="d", license="MIT", files=[])  # type: ignore[arg-type]
