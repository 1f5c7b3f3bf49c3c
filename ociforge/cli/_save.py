"""Write what a command derived to its destination and report it the way ``copy`` does."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from ..recipes import Derived
from ..registry.options import RegistryOptions
from ..registry.reference import RegistryReference
from ..spec import Descriptor
from ..tar.unpack import Warn
from ..transports import ImageReference, parse_reference, save_image, sink_verifies_copies
from ._machineconfig import MachineConfigRequest
from ._output import print_json, write_digestfile
from ._progress import BlobProgress

__all__ = [
    "add_layer_options",
    "print_notes",
    "report_saved",
    "save_and_report",
    "verify_while_reading",
    "warn",
]


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
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help="do not re-hash base blobs copied byte for byte from a local source (sizes are"
        " still checked; new content is always hashed)",
    )


def save_and_report(
    result: Derived,
    args: argparse.Namespace,
    *,
    verb: str,
    destination: str,
    extra: dict[str, Any] | None = None,
    registry: RegistryOptions | None = None,
    machineconfig: MachineConfigRequest | None = None,
) -> Descriptor:
    """Save ``result.image``; print its digest (or, with ``--json``, a document) on stdout."""
    image = result.image
    reference = parse_reference(destination)
    progress = BlobProgress(verb, [d for d, _ in image.blobs()], quiet=args.quiet)
    descriptor = save_image(
        image,
        reference,
        progress=progress,
        registry=registry,
        verify=not getattr(args, "no_verify", False),
    )
    progress.finish()
    top = result.layer
    layer: dict[str, Any] = {}
    if top is not None:
        layer["layer"] = {
            "mediaType": top.media_type,
            "digest": str(top.digest),
            "size": top.size,
            "diffID": str(top.diff_id),
        }
    report_saved(
        args,
        descriptor,
        reference,
        destination=destination,
        machineconfig=machineconfig,
        extra={**layer, **(extra or {})},
    )
    return descriptor


def report_saved(
    args: argparse.Namespace,
    descriptor: Descriptor,
    reference: ImageReference,
    *,
    destination: str,
    machineconfig: MachineConfigRequest | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """After a save: ``--digestfile``, the MachineConfig, then the result on stdout.

    A registry destination is reported as its pull spec, ``HOST/REPO@DIGEST``, which is what
    ``machineconfig`` (checked before the save) points at; anything else by its digest.
    """
    write_digestfile(args.digestfile, str(descriptor.digest))
    pinned = (
        reference.with_digest(descriptor.digest).pinned()
        if isinstance(reference, RegistryReference)
        else ""
    )
    if machineconfig is not None:
        machineconfig.write(pinned)
    if args.json:
        document: dict[str, Any] = {
            "digest": str(descriptor.digest),
            "mediaType": descriptor.media_type,
            "size": descriptor.size,
            "destination": destination,
        }
        if pinned:
            document["reference"] = pinned
        if machineconfig is not None:
            document["machineconfig"] = machineconfig.path
        document.update(extra or {})
        print_json(document)
    else:
        print(pinned or descriptor.digest)


def verify_while_reading(args: argparse.Namespace, destination: ImageReference) -> bool:
    """Whether the recipe must hash the base blobs it reads (the sink will not, or --no-verify)."""
    return not sink_verifies_copies(destination, verify=not getattr(args, "no_verify", False))


def print_notes(
    args: argparse.Namespace, notes: Sequence[object], warnings: Sequence[object]
) -> None:
    """``ociforge: note:`` and ``ociforge: warning:`` lines on stderr (none with --quiet/--json)."""
    if args.quiet or args.json:
        return
    for note in notes:
        print(f"ociforge: note: {note}", file=sys.stderr)
    for warning in warnings:
        print(f"ociforge: warning: {warning}", file=sys.stderr)


def warn(args: argparse.Namespace) -> Warn:
    """A callback printing ``ociforge: warning: …`` lines on stderr (none with ``--quiet``)."""

    def emit(message: str) -> None:
        if not args.quiet:
            print(f"ociforge: warning: {message}", file=sys.stderr)

    return emit
