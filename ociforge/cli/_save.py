"""Write an image a command derived to its destination and report it the way ``copy`` does."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..copy import save_image
from ..image import Image
from ..spec import Descriptor
from ..tar.unpack import Warn
from ._output import print_json, write_digestfile
from ._progress import BlobProgress

__all__ = ["add_layer_options", "save_and_report", "warn"]


def add_layer_options(parser: argparse.ArgumentParser, *, created_by: str) -> None:
    """The options of commands that write one new layer."""
    parser.add_argument(
        "--compression",
        choices=["gzip", "zstd"],
        default="gzip",
        help="compression of the new layer (default gzip; base layers are never recompressed)",
    )
    parser.add_argument(
        "--created-by",
        metavar="TEXT",
        default=created_by,
        help=f"history entry of the new layer (default {created_by!r})"
        if created_by
        else "history entry of the new layer (default: says what the layer holds)",
    )
    parser.add_argument(
        "--digestfile", metavar="FILE", help="also write the manifest digest to FILE"
    )


def save_and_report(
    image: Image,
    args: argparse.Namespace,
    *,
    verb: str,
    destination: str,
    extra: dict[str, Any] | None = None,
) -> Descriptor:
    """Save ``image``; print its digest (or, with ``--json``, a document) on stdout."""
    progress = BlobProgress(verb, [d for d, _ in image.blobs()], quiet=args.quiet)
    descriptor = save_image(image, destination, progress=progress)
    progress.finish()
    write_digestfile(args.digestfile, str(descriptor.digest))
    if args.json:
        top = image.layers[-1] if image.layers else None
        document: dict[str, Any] = {
            "digest": str(descriptor.digest),
            "mediaType": descriptor.media_type,
            "size": descriptor.size,
            "destination": destination,
        }
        if top is not None:
            document["layer"] = {
                "mediaType": top.media_type,
                "digest": str(top.digest),
                "size": top.size,
                "diffID": str(top.diff_id),
            }
        document.update(extra or {})
        print_json(document)
    else:
        print(descriptor.digest)
    return descriptor


def warn(args: argparse.Namespace) -> Warn:
    """A callback printing ``ociforge: warning: …`` lines on stderr (none with ``--quiet``)."""

    def emit(message: str) -> None:
        if not args.quiet:
            print(f"ociforge: warning: {message}", file=sys.stderr)

    return emit
