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
_VMLINUZ: Final = re.compile(r"^/usr/lib/modules/[^/]+/vmlinuz$|^/boot/vmlinuz-")


def kernel_reason(package: RpmPackage) -> str:
    """Why ``package`` is a kernel ('' if it is not)."""
    for f in package.files:
        if _VMLINUZ.match(f.path):
            return f"it ships {f.path}"
    provides = set(package.header.strings(Tag.PROVIDENAME))
    for name in sorted(provides & _KERNEL_NAMES):
        return f"it provides {name}"
    return ""
