"""``ociforge packages|diff``: an image's installed RPMs, or what differs between two images.

Both read the layers once (streamed, verified) and unpack nothing::

    ociforge packages oci-archive:derived.ociarchive
    ociforge diff --json oci-archive:fcos.ociarchive oci-archive:derived.ociarchive
"""

from __future__ import annotations

import argparse
import dataclasses

from ..transports import open_image
from ._output import print_json
from ._registry import add_platform_flag, add_registry_flags, registry_options

__all__ = ["register"]


def _open(args: argparse.Namespace, reference: str) -> object:
    return open_image(
        reference,
        platform=args.platform,
        registry=registry_options(args),
        max_layer_size=args.max_layer_size,
    )


def run_packages(args: argparse.Namespace) -> int:
    """List the installed packages, one NEVRA per line (``rpm -qa``)."""
    from ..query.packages import image_packages  # noqa: PLC0415 - loaded only when it runs

    packages = image_packages(_open(args, args.image))  # type: ignore[arg-type]
    if args.json:
        print_json([{**dataclasses.asdict(p), "nevra": p.nevra} for p in packages])
    else:
        for package in packages:
            print(package.nevra)
    return 0


def run_diff(args: argparse.Namespace) -> int:
    """Print what differs; exit 0 either way (``--exit-code``: 1 when something differs)."""
    from ..query.diff import diff_images  # noqa: PLC0415 - loaded only when it runs

    result = diff_images(_open(args, args.old), _open(args, args.new))  # type: ignore[arg-type]
    if args.json:
        print_json(
            {
                "layers": {"added": result.layers_added, "removed": result.layers_removed},
                "paths": {
                    "added": result.added,
                    "removed": result.removed,
                    "changed": result.changed,
                },
                "packages": {
                    "added": result.packages_added,
                    "removed": result.packages_removed,
                    "updated": [
                        {"name": n, "from": a, "to": b} for n, a, b in result.packages_updated
                    ],
                },
            }
        )
    else:
        for digest in result.layers_added:
            print(f"+layer {digest}")
        for digest in result.layers_removed:
            print(f"-layer {digest}")
        for path in result.added:
            print(f"A {path}")
        for path in result.removed:
            print(f"D {path}")
        for path in result.changed:
            print(f"M {path}")
        for nevra in result.packages_added:
            print(f"+rpm {nevra}")
        for nevra in result.packages_removed:
            print(f"-rpm {nevra}")
        for name, old, new in result.packages_updated:
            print(f"~rpm {name} {old} -> {new}")
    return 1 if args.exit_code and not result.empty else 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommands."""
    parser = sub.add_parser(
        "packages",
        help="list the RPM packages installed in an image",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("image", metavar="IMAGE")
    add_platform_flag(parser)
    add_registry_flags(parser)
    parser.set_defaults(func=run_packages)
    parser = sub.add_parser(
        "diff",
        help="layers, paths and packages that differ between two images",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("old", metavar="IMAGE_A")
    parser.add_argument("new", metavar="IMAGE_B")
    parser.add_argument(
        "--exit-code", action="store_true", help="exit 1 when the images differ (as git diff)"
    )
    add_platform_flag(parser)
    add_registry_flags(parser)
    parser.set_defaults(func=run_diff)
