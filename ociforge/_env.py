"""Every input ociforge takes from the process rather than from its callers, in one place.

``SOURCE_DATE_EPOCH`` and the wall clock (timestamps of new layers and history), the
per-layer decompression limit (``OCIFORGE_MAX_LAYER_SIZE``), the CPUs this process may use and
the machine's platform. Library functions take these as parameters; only the edges (the CLI,
a recipe's defaults, ``open_image``) call here, so the pure code stays pure and a test can
pin every one of them.
"""

from __future__ import annotations

import datetime as _dt
import os
from typing import Final

from .errors import ManifestError, UnsupportedError
from .spec import Platform

__all__ = [
    "DEFAULT_MAX_LAYER_SIZE",
    "MAX_LAYER_SIZE_ENV",
    "build_time",
    "cpu_count",
    "host_platform",
    "max_layer_size",
    "parse_size",
    "source_date_epoch",
]

#: Upper bound on one layer's uncompressed size unless a caller (or the environment) says otherwise.
DEFAULT_MAX_LAYER_SIZE: Final = 64 * 1024**3
#: Environment variable overriding :data:`DEFAULT_MAX_LAYER_SIZE` (bytes, or with K/M/G/T).
MAX_LAYER_SIZE_ENV: Final = "OCIFORGE_MAX_LAYER_SIZE"


def source_date_epoch() -> int | None:
    """``SOURCE_DATE_EPOCH`` (reproducible-builds.org) as seconds, or ``None`` when unset."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not epoch:
        return None
    try:
        value = int(epoch)
        _dt.datetime.fromtimestamp(value, _dt.UTC)
    except (ValueError, OverflowError, OSError):
        raise ManifestError(f"SOURCE_DATE_EPOCH={epoch!r} is not a Unix timestamp") from None
    return value


def build_time() -> _dt.datetime:
    """``SOURCE_DATE_EPOCH`` when set (reproducible builds), else now to the second; UTC."""
    epoch = source_date_epoch()
    if epoch is not None:
        return _dt.datetime.fromtimestamp(epoch, _dt.UTC)
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0)


def parse_size(text: str) -> int:
    """Parse ``123``, ``64K``, ``512M``, ``16G`` or ``1T`` (powers of 1024) as a byte count."""
    units = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
    cleaned = text.strip().upper().removesuffix("IB").removesuffix("B")
    number, unit = (cleaned[:-1], cleaned[-1]) if cleaned[-1:] in units else (cleaned, "")
    try:
        value = int(number) * units[unit]
    except (ValueError, KeyError):
        raise ValueError(
            f"invalid size {text!r}: expected a number of bytes such as 512M or 16G"
        ) from None
    if value <= 0:
        raise ValueError(f"invalid size {text!r}: must be positive")
    return value


def max_layer_size() -> int:
    """The default per-layer decompression limit: ``OCIFORGE_MAX_LAYER_SIZE`` or 64 GiB."""
    text = os.environ.get(MAX_LAYER_SIZE_ENV, "")
    if not text:
        return DEFAULT_MAX_LAYER_SIZE
    try:
        return parse_size(text)
    except ValueError as exc:
        raise UnsupportedError(f"{MAX_LAYER_SIZE_ENV}: {exc}") from None


def cpu_count() -> int:
    """CPUs this process may run on (at least 1): its affinity mask, not the machine's total."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def host_platform() -> Platform:
    """The platform of this machine in OCI terms (``linux/amd64`` …)."""
    machine = os.uname().machine.lower()
    arch = {
        "x86_64": "amd64",
        "amd64": "amd64",
        "aarch64": "arm64",
        "arm64": "arm64",
        "ppc64le": "ppc64le",
        "s390x": "s390x",
        "i686": "386",
        "i386": "386",
        "riscv64": "riscv64",
    }.get(machine, machine)
    variant = "v8" if arch == "arm64" else ""
    return Platform("linux", arch, variant)
