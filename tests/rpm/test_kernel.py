"""The kernel rule: kernel content under any of its names makes a package a kernel package."""

from __future__ import annotations

import io

import pytest

from ociforge.rpm.kernel import kernel_reason
from ociforge.rpm.package import read_package
from ociforge.samples.rpm import PackageFile, build_rpm


def _package(path: str) -> bytes:
    return build_rpm(
        name="sneaky",
        version="1",
        release="1",
        summary="s",
        description="d",
        license="MIT",
        files=[PackageFile(path, b"\x7fELF kernel-ish")],
    )


@pytest.mark.parametrize(
    "path",
    [
        "/usr/lib/modules/6.1.0/vmlinuz",
        "/boot/vmlinuz-6.1.0",
        "/usr/lib/ostree-boot/vmlinuz-6.1.0-0123abcd",
        "/usr/lib/modules/6.1.0/initramfs.img",
        "/boot/initramfs-6.1.0.img",
        "/usr/lib/ostree-boot/initramfs-6.1.0.img-0123abcd",
    ],
)
def test_kernel_content_under_other_names_is_caught(path: str) -> None:
    package = read_package(io.BytesIO(_package(path)))
    assert kernel_reason(package) == f"it ships {path}"


def test_ordinary_files_are_not_kernels() -> None:
    package = read_package(io.BytesIO(_package("/usr/share/doc/vmlinuz-notes.txt")))
    assert kernel_reason(package) == ""
