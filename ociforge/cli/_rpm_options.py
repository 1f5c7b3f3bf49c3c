"""The ``--rpm`` family of options (for ``append``) and how they become injection options."""

from __future__ import annotations

import argparse

from ..rpm.inject import InjectOptions
from ..rpm.signature import PublicKey, load_keys

__all__ = ["add_rpm_options", "inject_options"]


def add_rpm_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--rpm`` and the signature, scriptlet, kernel and lint switches."""
    group = parser.add_argument_group("RPM packages")
    group.add_argument(
        "--rpm", metavar="FILE", action="append", default=[], help="install a package (repeatable)"
    )
    group.add_argument(
        "--rpm-key",
        metavar="FILE",
        action="append",
        default=[],
        help="an OpenPGP public key (armored or binary) to check package signatures with",
    )
    group.add_argument(
        "--require-signatures",
        action="store_true",
        help="refuse unsigned packages and packages signed by a key not given with --rpm-key",
    )
    group.add_argument(
        "--skip-scriptlets",
        action="store_true",
        help="install packages whose scriptlets do more than the harmless set, without them",
    )
    group.add_argument(
        "--allow-kernel",
        action="store_true",
        help="install kernel packages although their initramfs cannot be rebuilt here",
    )
    group.add_argument(
        "--unknown-owner-root",
        action="store_true",
        help="files owned by users/groups the image lacks go to root (rpm's fallback)",
    )
    group.add_argument(
        "--strict", action="store_true", help="fail when the new layer has any lint finding"
    )
    group.add_argument(
        "--allow-lint-errors",
        action="store_true",
        help="write the layer although lint finds errors in it (private keys, entitlement"
        " certificates, /usr/etc …); warnings never fail the append",
    )


def inject_options(args: argparse.Namespace) -> InjectOptions:
    """The injection options the parsed arguments ask for."""
    keys: list[PublicKey] = []
    for path in args.rpm_key:
        with open(path, "rb") as fh:
            keys.extend(load_keys(fh.read(), what=path))
    return InjectOptions(
        keys=tuple(keys),
        require_signatures=args.require_signatures,
        skip_scriptlets=args.skip_scriptlets,
        allow_kernel=args.allow_kernel,
        unknown_owner_root=args.unknown_owner_root,
    )
