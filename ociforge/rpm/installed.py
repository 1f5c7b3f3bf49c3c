"""The header rpm stores for an installed package: region unchanged, install-time tags after it.

The package's immutable region is followed by the merged signature tags and the tags rpm adds
at install time. Mirrors ``headerMergeLegacySigs`` and ``applyRetrofits`` (``lib/package.cc``)
and ``dbAdd`` (``lib/psm.cc``). Keeping the region byte-identical keeps rpm's own digest and
signature checks of the database passing.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from ..errors import RpmError
from .header import Header, encode_entries, parse_header
from .package import RpmPackage
from .tags import FileState, SigTag, Tag, TagType

__all__ = [
    "MERGED_SIGNATURE_TAGS",
    "InstallInfo",
    "installed_header",
    "rpm_architecture",
    "transaction_color",
]

#: Signature tag → the main-header tag it becomes on install.
MERGED_SIGNATURE_TAGS: Final = {
    SigTag.SIZE: Tag.SIGSIZE,
    SigTag.PGP: Tag.SIGPGP,
    SigTag.MD5: Tag.SIGMD5,
    SigTag.GPG: Tag.SIGGPG,
    SigTag.PAYLOADSIZE: Tag.ARCHIVESIZE,
    SigTag.FILESIGNATURES: Tag.FILESIGNATURES,
    SigTag.FILESIGNATURELENGTH: Tag.FILESIGNATURELENGTH,
    SigTag.DSA: Tag.DSAHEADER,
    SigTag.RSA: Tag.RSAHEADER,
    SigTag.SHA1: Tag.SHA1HEADER,
    SigTag.LONGSIZE: Tag.LONGSIGSIZE,
    SigTag.LONGARCHIVESIZE: Tag.LONGARCHIVESIZE,
    SigTag.SHA256: Tag.SHA256HEADER,
    SigTag.VERITYSIGNATURES: Tag.VERITYSIGNATURES,
    SigTag.VERITYSIGNATUREALGO: Tag.VERITYSIGNATUREALGO,
    SigTag.OPENPGP: Tag.OPENPGP,
    SigTag.SHA3_256: Tag.SHA3_256HEADER,
}

#: ``%_transaction_color`` of the multilib platforms (elf32 = 1 | elf64 = 2).
_MULTILIB: Final = frozenset({"x86_64", "ppc64", "ppc64le", "s390x", "sparc64", "aarch64"})


#: OCI ``architecture`` values (GOARCH) whose RPM name differs.
_RPM_ARCH: Final = {"amd64": "x86_64", "arm64": "aarch64", "386": "i686", "arm": "armv7hl"}


def rpm_architecture(arch: str) -> str:
    """The RPM name of an architecture given in either vocabulary (``amd64`` → ``x86_64``)."""
    return _RPM_ARCH.get(arch, arch)


def transaction_color(arch: str) -> int:
    """The transaction color rpm uses on an ``arch`` host (OCI or RPM architecture name)."""
    return 3 if rpm_architecture(arch) in _MULTILIB else 0


@dataclass(frozen=True, slots=True)
class InstallInfo:
    """What rpm records about an install: when, which transaction, which color, file states."""

    time: int
    tid: int
    color: int
    file_states: Sequence[FileState]


def installed_header(package: RpmPackage, info: InstallInfo) -> Header:
    """The installed header for ``package``, as ``rpmdbAdd`` would store it."""
    header, what = package.header, package.what
    extra: list[tuple[int, TagType, int, bytes]] = []
    present = set(header.entries)
    for stag, mtag in MERGED_SIGNATURE_TAGS.items():
        if stag in package.signature and mtag not in present:
            kind, count, value = package.signature.raw_value(stag)
            extra.append((mtag, kind, count, value))
            present.add(mtag)
    if Tag.SOURCERPM not in present and Tag.SOURCEPACKAGE not in present:
        extra.append((Tag.SOURCERPM, TagType.STRING, 1, b"(none)\0"))
    if len(info.file_states) != len(package.files):
        raise RpmError(
            f"{what}: {len(info.file_states)} file states for {len(package.files)} files"
        )
    extra.append((Tag.INSTALLTIME, TagType.INT32, 1, struct.pack(">I", info.time)))
    extra.append((Tag.INSTALLCOLOR, TagType.INT32, 1, struct.pack(">I", info.color)))
    extra.append((Tag.INSTALLTID, TagType.INT32, 1, struct.pack(">I", info.tid)))
    if info.file_states:
        states = bytes(int(s) for s in info.file_states)
        extra.append((Tag.FILESTATES, TagType.CHAR, len(states), states))
    for tag, *_ in extra:
        if tag in header.entries:
            raise RpmError(f"{what}: main header already has install-time tag {tag}")
    blob = encode_entries(header, extra)
    return parse_header(blob, what=f"{what} (installed)", magic=False, dribbles=True)
