"""Recognise kernel packages, which need an initramfs that only dracut can build."""

from __future__ import annotations

import re
from typing import Final

from .package import RpmPackage
from .tags import Tag

__all__ = ["kernel_reason"]

_KERNEL_NAMES: Final = frozenset(
    {"kernel", "kernel-core", "kernel-rt-core", "kernel-64k-core", "kernel-uki-virt"}
)
#: Where a kernel or an initramfs can land: the modules directory, /boot, and ostree's boot
#: copies (``/usr/lib/ostree-boot/vmlinuz-<version>-<checksum>``). Any of them replaced by a
#: package leaves the deployment's boot files out of step with each other.
_VMLINUZ: Final = re.compile(
    r"^/usr/lib/modules/[^/]+/(vmlinuz|initramfs\.img)$"
    r"|^/boot/(vmlinuz|initramfs)-"
    r"|^/usr/lib/ostree-boot/(vmlinuz|initramfs)-"
)


def kernel_reason(package: RpmPackage) -> str:
    """Why ``package`` is a kernel ('' if it is not)."""
    for f in package.files:
        if _VMLINUZ.match(f.path):
            return f"it ships {f.path}"
    provides = set(package.header.strings(Tag.PROVIDENAME))
    for name in sorted(provides & _KERNEL_NAMES):
        return f"it provides {name}"
    return ""
