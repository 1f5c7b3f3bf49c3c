"""``ociforge repack``: the bundle's image plus one layer of what changed in its rootfs."""

from __future__ import annotations

import argparse
import sys

from ..mutate import HistoryEntry
from ..recipes.bundle import refresh_bundle, repack_bundle
from ._save import add_layer_options, save_and_report, warn

__all__ = ["register"]


def run(args: argparse.Namespace) -> int:
    """Repack one bundle and print the new manifest digest."""
    result = repack_bundle(
        args.bundle,
        source=args.source,
        compression=args.compression,
        history=HistoryEntry(created_by=args.created_by),
        warn=warn(args),
        max_layer_size=args.max_layer_size,
    )
    changes = result.changes
    assert changes is not None  # a repack always compares
    if not args.quiet:
        print(
            f"repack: {changes.added} added, {changes.changed} changed, {changes.deleted} deleted",
            file=sys.stderr,
        )
    save_and_report(
        result,
        args,
        verb="repack",
        destination=args.destination,
        extra={
            "changes": {
                "added": changes.added,
                "changed": changes.changed,
                "deleted": changes.deleted,
            }
        },
    )
    if args.refresh_bundle:
        refresh_bundle(args.bundle, result.image, source=args.destination)
        if not args.quiet:
            print(f"repack: {args.bundle} now records {args.destination}", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    parser = sub.add_parser(
        "repack", help="write a bundle's changes as one new layer", description=__doc__
    )
    parser.add_argument("bundle", metavar="BUNDLE")
    parser.add_argument("destination", metavar="DST")
    parser.add_argument(
        "--source",
        metavar="IMAGE",
        help="open the base from IMAGE instead of the reference recorded at unpack (it must"
        " have the recorded manifest digest: a copy of it moved elsewhere)",
    )
    parser.add_argument(
        "--refresh-bundle",
        action="store_true",
        help="afterwards, point the bundle at DST: the next repack starts from it and holds"
        " only what changed after this one (as umoci's --refresh-bundle)",
    )
    add_layer_options(parser, created_by="ociforge repack")
    parser.set_defaults(func=run)
