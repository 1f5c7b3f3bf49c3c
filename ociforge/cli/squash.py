"""``ociforge squash``: fold the layers above a base into one, dropping deleted content."""

from __future__ import annotations

import argparse

from ..mutate import HistoryEntry
from ..recipes.squash import squash_image
from ..transports import open_image
from ._save import add_layer_options, save_and_report

__all__ = ["register"]


def run(args: argparse.Namespace) -> int:
    """Squash one image and print the new manifest digest."""
    image = open_image(args.source, max_layer_size=args.max_layer_size)
    squashed = squash_image(
        image,
        base=args.base,
        compression=args.compression,
        history=HistoryEntry(created_by=args.created_by),
    )
    extra = {"layers": {"before": len(image.layers), "after": len(squashed.image.layers)}}
    save_and_report(squashed, args, verb="squash", destination=args.destination, extra=extra)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    parser = sub.add_parser(
        "squash", help="fold the layers above a base into one", description=__doc__
    )
    parser.add_argument("source", metavar="SRC")
    parser.add_argument("destination", metavar="DST")
    parser.add_argument(
        "--base",
        metavar="N",
        type=int,
        help="keep the bottom N layers as they are (default: the ostree layers named by"
        " ostree.final-diffid, or 0)",
    )
    add_layer_options(parser, created_by="ociforge squash")
    parser.set_defaults(func=run)
