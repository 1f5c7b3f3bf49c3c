"""``ociforge release-info``: the component images of an OpenShift release payload, by digest."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ..transports import open_image
from ._output import print_json
from ._registry import add_platform_flag, add_registry_flags, registry_options

if TYPE_CHECKING:
    from ..coreos.release import ReleaseComponent

__all__ = ["register"]


def _component(component: ReleaseComponent) -> dict[str, Any]:
    digest = str(component.digest) if component.digest is not None else None
    return {"name": component.name, "pullSpec": component.pull_spec, "digest": digest}


def run(args: argparse.Namespace) -> int:
    """Print one component's pull spec (``--image-for``) or every component."""
    from ..coreos.release import read_release  # noqa: PLC0415 - loaded only when the command runs

    image = open_image(
        args.release,
        platform=args.platform,
        registry=registry_options(args),
        max_layer_size=args.max_layer_size,
    )
    payload = read_release(image)
    about = {
        "release": args.release,
        "releaseDigest": str(image.digest),
        "version": payload.version,
    }
    if args.image_for is not None:
        pull_spec = payload.image_for(args.image_for)
        if args.json:
            print_json({**about, **_component(payload.component(args.image_for))})
        else:
            print(pull_spec)
        return 0
    if args.json:
        print_json({**about, "components": [_component(c) for c in payload.components]})
    else:
        for component in payload.components:
            print(f"{component.name} {component.pull_spec}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    parser = sub.add_parser(
        "release-info",
        help="list a release payload's component images, or print one by digest",
        description=__doc__,
    )
    parser.add_argument(
        "release", metavar="RELEASE", help="the payload: docker://REF, oci:DIR or oci-archive:PATH"
    )
    parser.add_argument(
        "--image-for",
        metavar="NAME",
        help="print only this component's pull spec (e.g. rhel-coreos); refused unless by digest",
    )
    add_platform_flag(parser)
    add_registry_flags(parser)
    parser.set_defaults(func=run)
