"""``ociforge machineconfig``: the MachineConfig pointing a pool at an image, always by digest."""

from __future__ import annotations

import argparse
import sys

from .._fs import write_file_atomic
from ..coreos.machineconfig import DEFAULT_POOL, render_machineconfig
from ..errors import InvalidReference
from ..registry.reference import DOCKER_PREFIX, RegistryReference, parse_registry_reference
from ._machineconfig import add_pool_and_name_flags
from ._output import print_json
from ._registry import add_registry_flags, registry_options

__all__ = ["register"]


def _pinned(args: argparse.Namespace) -> RegistryReference:
    """The image as ``HOST/REPO@DIGEST``; a ``docker://`` tag is asked of the registry."""
    text: str = args.image
    if text.startswith(("oci:", "oci-archive:")):
        raise InvalidReference(
            f"{text}: a MachineConfig points at an image in a registry; push it first"
            " (ociforge push … --machineconfig FILE)"
        )
    reference = parse_registry_reference(text)
    if reference.digest is not None:
        return reference
    if not text.startswith(DOCKER_PREFIX):
        raise InvalidReference(
            f"{text}: a MachineConfig must point at a digest, never a moving tag; give"
            f" {DOCKER_PREFIX}{text} to resolve the tag through the registry"
        )
    from ..registry.source import resolve_digest  # noqa: PLC0415 - requests loads lazily

    return resolve_digest(reference, options=registry_options(args))


def run(args: argparse.Namespace) -> int:
    """Render the MachineConfig; write it to ``--output`` or stdout."""
    reference = _pinned(args)
    pinned = reference.pinned()
    text = render_machineconfig(pinned, pool=args.pool or DEFAULT_POOL, name=args.name)
    if args.output:
        write_file_atomic(args.output, text.encode())
    if args.json:
        print_json({"osImageURL": pinned, "digest": str(reference.digest), "yaml": text})
    elif not args.output:
        sys.stdout.write(text)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    parser = sub.add_parser(
        "machineconfig",
        help="write the MachineConfig that points a pool at an image by digest",
        description=__doc__,
    )
    parser.add_argument(
        "image",
        metavar="IMAGE",
        help="HOST/REPO@sha256:HEX, or docker://HOST/REPO:TAG to resolve a tag to its digest",
    )
    add_pool_and_name_flags(parser)
    parser.add_argument("--output", "-o", metavar="FILE", help="write the YAML to FILE")
    add_registry_flags(parser)
    parser.set_defaults(func=run)
