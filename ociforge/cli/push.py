"""``ociforge push``: copy an image to a registry by digest and print its pull spec."""

from __future__ import annotations

import argparse

from ..errors import InvalidReference
from ..registry.reference import RegistryReference
from ..transports import parse_reference
from .copy import add_transfer_flags, transfer

__all__ = ["register"]


def run(args: argparse.Namespace) -> int:
    """Push one image; print ``HOST/REPO@sha256:…``."""
    destination = parse_reference(args.destination)
    if not isinstance(destination, RegistryReference):
        raise InvalidReference(f"{args.destination}: push needs a docker://HOST/REPO destination")
    return transfer(args, parse_reference(args.source), destination, verb="push")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    parser = sub.add_parser(
        "push", help="push an image to a registry by digest", description=__doc__
    )
    parser.add_argument("source", metavar="SRC", help="oci-archive:PATH, oci:DIR or docker://REF")
    parser.add_argument("destination", metavar="docker://REF")
    add_transfer_flags(parser, sides=False)
    parser.set_defaults(func=run)
