"""``ociforge index create``: assemble a multi-platform index from single-platform images.

Each IMAGE is named in the index with the platform its config declares; an IMAGE that is an
index itself contributes every image it holds. The destination receives every image, then the
index, and ``ociforge`` prints the index digest (a registry: ``HOST/REPO@DIGEST``).
"""

from __future__ import annotations

import argparse

from ._registry import add_registry_flags, registry_options

__all__ = ["register"]


def run_create(args: argparse.Namespace) -> int:
    """Open every IMAGE, build the index, write it all to DST."""
    from ..image import Image, ImageIndex  # noqa: PLC0415 - loaded only when the command runs
    from ..mutate.index import build_index  # noqa: PLC0415
    from ..transports import open_image_or_index, parse_reference, save_image  # noqa: PLC0415
    from ._progress import BlobProgress  # noqa: PLC0415
    from ._save import report_saved  # noqa: PLC0415
    from .append import parse_labels  # noqa: PLC0415

    options = registry_options(args)
    images: list[Image] = []
    for text in args.images:
        document = open_image_or_index(text, registry=options, max_layer_size=args.max_layer_size)
        if isinstance(document, ImageIndex):
            images.extend(image for _, image in document.images())
        elif isinstance(document, Image):
            images.append(document)
    index = build_index(
        images,
        annotations=parse_labels(args.annotation),
        docker=args.format == "docker",
        what=args.destination,
    )
    destination = parse_reference(args.destination)
    progress = BlobProgress("index", [d for d, _ in index.blobs()], quiet=args.quiet)
    descriptor = save_image(index, destination, progress=progress, registry=options)
    progress.finish()
    report_saved(
        args,
        descriptor,
        destination,
        destination=args.destination,
        extra={"platforms": [str(p) for p in index.platforms()]},
    )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand (``index create``)."""
    parser = sub.add_parser(
        "index", help="assemble a multi-platform index (index create)", description=__doc__
    )
    parser.add_argument("verb", metavar="create", choices=["create"], help="what to do")
    parser.add_argument("destination", metavar="DST")
    parser.add_argument("images", metavar="IMAGE", nargs="+", help="images, one per platform")
    parser.add_argument(
        "--annotation",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="an annotation of the index (repeatable)",
    )
    parser.add_argument(
        "--format",
        choices=["oci", "docker"],
        default="oci",
        help="an OCI image index (default) or a Docker manifest list",
    )
    parser.add_argument("--digestfile", metavar="FILE", help="also write the index digest to FILE")
    add_registry_flags(parser)
    parser.set_defaults(func=run_create)
