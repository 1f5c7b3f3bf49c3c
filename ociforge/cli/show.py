"""``ociforge manifest|config|digest``: an image's exact manifest, its config, or its digest.

Small verbs for scripts, as crane has them::

    ociforge digest docker://quay.io/fedora/fedora-coreos:stable
    ociforge manifest oci-archive:fcos.ociarchive | jq .layers
    ociforge config --raw oci:layout:v1 > config.json
"""

from __future__ import annotations

import argparse
import sys

from ..transports import open_image, open_image_or_index
from ._output import print_json
from ._registry import add_platform_flag, add_registry_flags, registry_options

__all__ = ["register"]


def _image(args: argparse.Namespace) -> object:
    return open_image(
        args.image,
        platform=args.platform,
        registry=registry_options(args),
        max_layer_size=args.max_layer_size,
    )


def _named(args: argparse.Namespace) -> object:
    """What the reference names: an index stays an index unless --platform picks one image."""
    if args.platform is not None:
        return _image(args)
    return open_image_or_index(
        args.image, registry=registry_options(args), max_layer_size=args.max_layer_size
    )


def run_manifest(args: argparse.Namespace) -> int:
    """The exact manifest bytes (of an index, the index's, as crane and skopeo print it)."""
    image = _named(args)
    sys.stdout.buffer.write(image.raw_manifest)  # type: ignore[attr-defined]
    sys.stdout.flush()
    return 0


def run_config(args: argparse.Namespace) -> int:
    """The config: exact bytes with ``--raw``, else indented JSON."""
    image = _image(args)
    if args.raw:
        sys.stdout.buffer.write(image.raw_config)  # type: ignore[attr-defined]
        sys.stdout.flush()
    else:
        print_json(image.config.json())  # type: ignore[attr-defined]
    return 0


def run_digest(args: argparse.Namespace) -> int:
    """The manifest digest (of an index, the index's: what a pull by that name resolves to)."""
    image = _named(args)
    digest = str(image.digest)  # type: ignore[attr-defined]
    if args.json:
        print_json({"digest": digest})
    else:
        print(digest)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommands."""
    for name, func, text in (
        ("manifest", run_manifest, "print an image's exact manifest"),
        ("config", run_config, "print an image's config (--raw: its exact bytes)"),
        ("digest", run_digest, "print an image's manifest digest"),
    ):
        parser = sub.add_parser(
            name,
            help=text,
            description=__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        parser.add_argument("image", metavar="IMAGE")
        if name == "config":
            parser.add_argument("--raw", action="store_true", help="the exact config bytes")
        add_platform_flag(parser)
        add_registry_flags(parser)
        parser.set_defaults(func=func)
