"""``ociforge append``: the base image plus exactly one layer of local files and RPM packages."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

from ..copy import save_image
from ..errors import InvalidReference, NotFound
from ..mutate import HistoryEntry, append_layers
from ..rpm.recipe import append_rpms
from ..tar.build import LayerBuilder
from ..transports import open_image
from ._output import print_json, write_digestfile
from ._rpm_options import add_rpm_options, inject_options, print_report

__all__ = ["register"]


def _labels(pairs: list[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidReference(f"--label {pair!r}: expected KEY=VALUE")
        labels[key] = value
    return labels


def _add_step(text: str) -> Callable[[LayerBuilder], None]:
    local, sep, image_path = text.rpartition(":")
    if not sep or not local or not image_path.startswith("/"):
        raise InvalidReference(f"--add {text!r}: expected LOCAL:IMAGEPATH (absolute image path)")
    if not os.path.lexists(local):
        raise NotFound(f"{local}: no such file or directory")

    def step(builder: LayerBuilder) -> None:
        if os.path.isdir(local):
            builder.add_tree(local, image_path)
        else:
            builder.add_file(local, image_path)

    return step


def run(args: argparse.Namespace) -> int:
    """Append one layer and print the new manifest digest."""
    steps = [_add_step(text) for text in args.add]
    labels = _labels(args.label)
    image = open_image(args.source)
    result: dict[str, object] = {}
    if args.rpm:
        derived = append_rpms(
            image,
            args.rpm,
            options=inject_options(args),
            extra_steps=steps,
            labels=labels,
            compression=args.compression,
            created_by=args.created_by,
            strict=args.strict,
            verify_base=False,  # save_image below verifies every base blob before committing
        )
        print_report(derived.report, derived.findings, quiet=args.quiet or args.json)
        new_image = derived.image
        result["packages"] = derived.report.packages
        result["replaced"] = derived.report.replaced
        result["notes"] = derived.report.notes
        result["lint"] = [str(f) for f in derived.findings]
    elif steps:
        builder = LayerBuilder(compression=args.compression)
        try:
            for step in steps:
                step(builder)
        except BaseException:
            builder.close()
            raise
        history = HistoryEntry(created_by=args.created_by or "ociforge append")
        new_image = append_layers(image, [builder.build()], history=[history], labels=labels)
    else:
        raise InvalidReference("nothing to append: give --add LOCAL:IMAGEPATH or --rpm FILE")
    descriptor = save_image(new_image, args.destination)
    write_digestfile(args.digestfile, str(descriptor.digest))
    if args.json:
        print_json({"digest": str(descriptor.digest), **result})
    else:
        print(descriptor.digest)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    parser = sub.add_parser(
        "append", help="add one layer of files and RPM packages to an image", description=__doc__
    )
    parser.add_argument("source", metavar="SRC")
    parser.add_argument("destination", metavar="DST")
    parser.add_argument(
        "--add",
        metavar="LOCAL:IMAGEPATH",
        action="append",
        default=[],
        help="a local file or directory and where it goes in the image (repeatable)",
    )
    parser.add_argument(
        "--label", metavar="KEY=VALUE", action="append", default=[], help="set a config label"
    )
    parser.add_argument("--compression", choices=("gzip", "zstd"), default="gzip")
    parser.add_argument("--created-by", default="", help="the history entry's created_by")
    parser.add_argument(
        "--digestfile", metavar="FILE", help="also write the manifest digest to FILE"
    )
    add_rpm_options(parser)
    parser.set_defaults(func=run)
