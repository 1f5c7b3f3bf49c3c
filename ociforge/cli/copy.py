"""``ociforge copy``: copy an image between transports, verifying every blob."""

from __future__ import annotations

import argparse

from ..errors import InvalidReference
from ..image import Artifact, Image, ImageIndex
from ..registry.reference import RegistryReference
from ..spec import Descriptor
from ..transports import (
    ImageReference,
    MultiArch,
    open_image,
    open_image_or_index,
    parse_reference,
    save_image,
)
from ._machineconfig import add_machineconfig_flags, machineconfig_request
from ._progress import BlobProgress
from ._registry import add_platform_flag, add_registry_flags, registry_options
from ._save import report_saved

__all__ = ["add_transfer_flags", "multi_arch_mode", "register", "transfer"]


def transfer(
    args: argparse.Namespace, source: ImageReference, destination: ImageReference, *, verb: str
) -> int:
    """Copy one image as the flags say; print the digest (``REPO@DIGEST`` for a registry)."""
    machineconfig = machineconfig_request(args, destination)
    remote_dest = isinstance(destination, RegistryReference)
    progress: BlobProgress | None = None

    def moved(descriptor: Descriptor, done: int) -> None:
        # The blob list (and so the progress display) is known only once the image is open.
        if progress is not None:
            progress.transferred(descriptor, done)

    # Bytes are counted on the side that talks to a registry, the destination if both do.
    source_options = registry_options(args, "src", progress=moved if not remote_dest else None)
    multi_arch = multi_arch_mode(args)
    image: Image | ImageIndex | Artifact
    if multi_arch == "system" or args.platform is not None:
        image = open_image(source, platform=args.platform, registry=source_options)
    else:
        image = open_image_or_index(source, registry=source_options)
    progress = BlobProgress(verb, [d for d, _ in image.blobs()], quiet=args.quiet)
    descriptor = save_image(
        image,
        destination,
        progress=progress,
        verify=not args.no_verify,
        registry=registry_options(args, "dest", progress=moved if remote_dest else None),
        index_only=multi_arch == "index-only",
    )
    progress.finish()
    report_saved(
        args,
        descriptor,
        destination,
        destination=str(args.destination),
        machineconfig=machineconfig,
    )
    return 0


def run(args: argparse.Namespace) -> int:
    """Copy one image and print its manifest digest."""
    return transfer(
        args, parse_reference(args.source), parse_reference(args.destination), verb="copy"
    )


def multi_arch_mode(args: argparse.Namespace) -> MultiArch:
    """``--multi-arch`` (``--all`` is ``--multi-arch all``), checked against ``--platform``."""
    mode: MultiArch = "all" if args.all else args.multi_arch
    if args.all and args.multi_arch not in ("system", "all"):
        raise InvalidReference(f"--all contradicts --multi-arch {args.multi_arch}")
    if mode != "system" and args.platform is not None:
        raise InvalidReference(
            f"--platform picks one image; it cannot be combined with --multi-arch {mode}"
        )
    return mode


def add_transfer_flags(parser: argparse.ArgumentParser, *, sides: bool) -> None:
    """``--digestfile``, ``--no-verify``, ``--platform``, the registry and MachineConfig flags."""
    parser.add_argument(
        "--digestfile", metavar="FILE", help="also write the manifest digest to FILE"
    )
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help="do not re-hash blobs copied byte for byte from a local source (sizes are still"
        " checked)",
    )
    add_platform_flag(parser)
    parser.add_argument(
        "--multi-arch",
        choices=["system", "all", "index-only"],
        default="system",
        help="what to copy of an index: the image for this machine (or --platform; default),"
        " all of it with every platform's image (the index digest is kept), or the index alone",
    )
    parser.add_argument(
        "-a", "--all", action="store_true", help="copy an index whole: --multi-arch all"
    )
    add_registry_flags(parser, prefixes=("src", "dest") if sides else (), push=True)
    add_machineconfig_flags(parser)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    parser = sub.add_parser("copy", help="copy an image between transports", description=__doc__)
    parser.add_argument("source", metavar="SRC")
    parser.add_argument("destination", metavar="DST")
    add_transfer_flags(parser, sides=True)
    parser.set_defaults(func=run)
