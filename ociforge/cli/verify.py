"""``ociforge verify``: read every blob of an image and check digests, sizes and diff_ids."""

from __future__ import annotations

import argparse
import sys

from ..transports import open_image
from ..validate import validate_image
from ._output import print_json
from ._registry import add_platform_flag, add_registry_flags, registry_options

__all__ = ["register"]


def run(args: argparse.Namespace) -> int:
    """Verify one image."""
    image = open_image(
        args.image,
        platform=args.platform,
        registry=registry_options(args),
        max_layer_size=args.max_layer_size,
    )
    tty = sys.stderr.isatty() and not args.quiet

    def on_layer(i: int, n: int) -> None:
        if tty:
            sys.stderr.write(f"\r\x1b[Kverify: layer {i + 1}/{n}")
            sys.stderr.flush()

    report = validate_image(image, uncompressed=not args.fast, on_layer=on_layer)
    if tty:
        sys.stderr.write("\r\x1b[K")
    summary = {
        "digest": str(image.digest),
        "layers": report.layers,
        "compressedBytes": report.compressed_bytes,
        "uncompressedBytes": report.uncompressed_bytes if not args.fast else None,
        "verified": "digests and diff_ids" if not args.fast else "digests",
    }
    if args.json:
        print_json(summary)
    elif not args.quiet:
        print(f"{image.digest}: {report.layers} layers verified ({summary['verified']})")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    parser = sub.add_parser("verify", help="check every blob of an image", description=__doc__)
    parser.add_argument("image", metavar="IMAGE")
    parser.add_argument(
        "--fast",
        action="store_true",
        help="check compressed digests only, not the uncompressed diff_ids",
    )
    add_platform_flag(parser)
    add_registry_flags(parser)
    parser.set_defaults(func=run)
