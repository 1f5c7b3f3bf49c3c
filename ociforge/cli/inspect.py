"""``ociforge inspect``: describe an image as JSON, or print its exact manifest or config."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from ._output import print_json
from ._registry import add_platform_flag, add_registry_flags, registry_options

if TYPE_CHECKING:
    from ..image import Image

__all__ = ["describe", "register"]


def describe(image: Image) -> dict[str, Any]:
    """The JSON document ``inspect`` prints: ociforge's fields, then skopeo's (capitalised).

    Scripts written against ``skopeo inspect`` find ``Name``, ``Digest``, ``Created``,
    ``Architecture``, ``Os``, ``Labels``, ``Layers``, ``LayersData`` and ``Env`` as skopeo
    names them.
    """
    config = image.config
    env = config.json().get("config", {}).get("Env") or []
    return {
        "name": image.name,
        "digest": str(image.digest),
        "mediaType": image.media_type,
        "created": config.created,
        "architecture": config.architecture,
        "os": config.os,
        "labels": dict(config.labels),
        "annotations": dict(image.manifest.annotations),
        "config": {
            "mediaType": image.manifest.config.media_type,
            "digest": str(image.manifest.config.digest),
            "size": image.manifest.config.size,
        },
        "layers": [
            {
                "mediaType": layer.media_type,
                "digest": str(layer.digest),
                "size": layer.size,
                "diffID": str(layer.diff_id),
            }
            for layer in image.layers
        ],
        "Name": image.name,
        "Digest": str(image.digest),
        "Created": config.created,
        "Architecture": config.architecture,
        "Os": config.os,
        "Labels": dict(config.labels),
        "Layers": [str(layer.digest) for layer in image.layers],
        "LayersData": [
            {
                "MIMEType": layer.media_type,
                "Digest": str(layer.digest),
                "Size": layer.size,
                "Annotations": dict(layer.descriptor.annotations) or None,
            }
            for layer in image.layers
        ],
        "Env": list(env),
    }


def run(args: argparse.Namespace) -> int:
    """Inspect one image (of an index: this machine's, or --platform's)."""
    from .._env import host_platform  # noqa: PLC0415 - loaded only when the command runs
    from ..image import Artifact, ImageIndex  # noqa: PLC0415
    from ..transports import open_image, open_image_or_index  # noqa: PLC0415

    options = registry_options(args)
    top: Image | ImageIndex | None = None
    if args.platform is not None:
        image = open_image(args.image, platform=args.platform, registry=options)
    else:
        document = open_image_or_index(args.image, registry=options)
        assert not isinstance(document, Artifact)  # a top-level manifest is always an image
        top = document
        image = document.image(host_platform()) if isinstance(document, ImageIndex) else document
    if args.raw:
        # As skopeo: the document the reference names, an index included.
        sys.stdout.buffer.write((top or image).raw_manifest)
    elif args.config:
        sys.stdout.buffer.write(image.raw_config)
    else:
        out = describe(image)
        if isinstance(top, ImageIndex):
            out["index"] = {
                "digest": str(top.digest),
                "mediaType": top.media_type,
                "platforms": [str(p) for p in top.platforms()],
            }
            out["Digest"] = str(top.digest)  # skopeo reports the digest the name resolves to
        out["RepoTags"] = _repo_tags(args.image, options)
        print_json(out)
    sys.stdout.flush()
    return 0


def _repo_tags(text: str, options: object) -> list[str]:
    """Every tag of a ``docker://`` reference's repository, as skopeo's ``RepoTags``.

    Local references have none; a registry that will not list them (no right to) gives none
    too, as skopeo does, rather than failing the inspection.
    """
    from ..errors import AuthError, RegistryResponseError  # noqa: PLC0415
    from ..registry.options import RegistryOptions  # noqa: PLC0415
    from ..registry.reference import DOCKER_PREFIX, parse_registry_reference  # noqa: PLC0415

    if not text.startswith(DOCKER_PREFIX):
        return []
    from ..registry.client import RegistryClient  # noqa: PLC0415 - requests loads lazily

    assert isinstance(options, RegistryOptions)
    reference = parse_registry_reference(text)
    client = RegistryClient(reference, options=options, label=reference.name)
    try:
        return client.list_tags()
    except (AuthError, RegistryResponseError):
        return []
    finally:
        client.close()


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    parser = sub.add_parser("inspect", help="describe an image", description=__doc__)
    parser.add_argument(
        "image", metavar="IMAGE", help="oci-archive:PATH[:REF], oci:DIR[:REF] or docker://REF"
    )
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--raw", action="store_true", help="print the exact manifest bytes")
    what.add_argument("--config", action="store_true", help="print the exact config bytes")
    add_platform_flag(parser)
    add_registry_flags(parser)
    parser.set_defaults(func=run)
