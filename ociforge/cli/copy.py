"""``ociforge copy``: copy an image between transports, verifying every blob."""

from __future__ import annotations

import argparse

from ..copy import copy_image
from ._output import write_digestfile

__all__ = ["register"]


def run(args: argparse.Namespace) -> int:
    """Copy one image and print its manifest digest."""
    descriptor = copy_image(args.source, args.destination)
    write_digestfile(args.digestfile, str(descriptor.digest))
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
    parser.set_defaults(func=run)
