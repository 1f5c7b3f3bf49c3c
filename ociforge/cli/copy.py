"""``ociforge copy``: copy an image between transports, verifying every blob."""

from __future__ import annotations

import argparse

from ..copy import save_image
from ..transports import open_image
from ._output import print_json, write_digestfile
from ._progress import BlobProgress

__all__ = ["register"]


def run(args: argparse.Namespace) -> int:
    """Copy one image and print its manifest digest."""
    image = open_image(args.source)
    progress = BlobProgress("copy", [d for d, _ in image.blobs()], quiet=args.quiet)
    descriptor = save_image(image, args.destination, progress=progress, verify=not args.no_verify)
    progress.finish()
    write_digestfile(args.digestfile, str(descriptor.digest))
    if args.json:
        print_json(
            {
                "digest": str(descriptor.digest),
                "mediaType": descriptor.media_type,
                "size": descriptor.size,
                "destination": args.destination,
            }
        )
    else:
        print(descriptor.digest)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    parser = sub.add_parser("copy", help="copy an image between transports", description=__doc__)
    parser.add_argument("source", metavar="SRC")
    parser.add_argument("destination", metavar="DST")
    parser.add_argument(
        "--digestfile", metavar="FILE", help="also write the manifest digest to FILE"
    )
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help="do not re-hash blobs copied byte for byte from a local source (sizes are still"
        " checked)",
    )
    parser.set_defaults(func=run)
