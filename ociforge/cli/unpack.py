"""``ociforge unpack``: flatten an image into BUNDLE/rootfs, with what ``repack`` needs."""

from __future__ import annotations

import argparse

from ..recipes.bundle import unpack_reference
from ._output import print_json
from ._save import warn

__all__ = ["register"]


def run(args: argparse.Namespace) -> int:
    """Unpack one image into a new bundle directory."""
    info = unpack_reference(
        args.image,
        args.bundle,
        rootless=args.rootless,
        rootless_xattr=args.rootless_xattr,
        warn=warn(args),
        max_layer_size=args.max_layer_size,
    )
    if args.json:
        print_json(
            {
                "bundle": info.path,
                "rootfs": info.rootfs,
                "source": info.source,
                "digest": str(info.manifest_digest),
                "rootless": info.rootless,
            }
        )
    else:
        print(info.rootfs)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    parser = sub.add_parser("unpack", help="unpack an image to a bundle", description=__doc__)
    parser.add_argument("image", metavar="IMAGE")
    parser.add_argument("bundle", metavar="BUNDLE", help="a directory that does not exist yet")
    parser.add_argument(
        "--rootless",
        action="store_true",
        help="no chown or mknod: owners are recorded for repack, device nodes are skipped",
    )
    parser.add_argument(
        "--rootless-xattr",
        action="store_true",
        help="with --rootless, also keep owners in user.rootlesscontainers (as umoci does)",
    )
    parser.set_defaults(func=run)
