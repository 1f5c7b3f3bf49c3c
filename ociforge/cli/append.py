"""``ociforge append``: the base image plus exactly one layer of local files and trees."""

from __future__ import annotations

import argparse

from ..derive import FileAddition, append_files
from ..errors import InvalidReference
from ..mutate import HistoryEntry
from ..transports import open_image
from ._save import add_layer_options, save_and_report

__all__ = ["parse_labels", "register"]


def parse_labels(pairs: list[str]) -> dict[str, str]:
    """``K=V`` strings as a dict (later ones win)."""
    labels: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidReference(f"--label {pair!r}: expected KEY=VALUE")
        labels[key] = value
    return labels


def run(args: argparse.Namespace) -> int:
    """Append one layer and print the new manifest digest."""
    additions = [FileAddition.parse(text) for text in args.add]
    if not additions:
        raise InvalidReference("nothing to append: give at least one --add LOCAL:IMAGEPATH")
    labels = parse_labels(args.label)
    image = append_files(
        open_image(args.source),
        additions,
        labels=labels,
        compression=args.compression,
        history=HistoryEntry(created_by=args.created_by),
    )
    save_and_report(image, args, verb="append", destination=args.destination)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    parser = sub.add_parser(
        "append", help="add one layer of local files to an image", description=__doc__
    )
    parser.add_argument("source", metavar="SRC")
    parser.add_argument("destination", metavar="DST")
    parser.add_argument(
        "--add",
        metavar="LOCAL:IMAGEPATH",
        action="append",
        default=[],
        help="a local file or directory and where it goes in the image (repeatable); a"
        " trailing / puts a file into that directory",
    )
    parser.add_argument(
        "--label",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="set a config label (repeatable); the base's labels are kept",
    )
    add_layer_options(parser, created_by="ociforge append")
    parser.set_defaults(func=run)
