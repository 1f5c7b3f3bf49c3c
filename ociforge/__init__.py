"""ociforge: build, layer and ship CoreOS-style OCI operating-system images without a runtime.

The public API is what ``__all__`` lists; everything else is internal and may change. Names are
loaded on first use (PEP 562) from the one table below, :data:`_EXPORTS`; ``__all__`` is made
from it, and the ``TYPE_CHECKING`` imports (for type checkers and editors) are checked against
it by the tests (``tests/test_public_api.py``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._env import host_platform
    from .archive import ArchiveWriter, OciArchive
    from .blobs import BlobSource, BytesSource
    from .compression import open_compressor, open_decompressor
    from .coreos.machineconfig import machineconfig_name, render_machineconfig
    from .coreos.release import (
        ReleaseComponent,
        ReleasePayload,
        parse_image_references,
        parse_release_metadata,
        read_release,
    )
    from .digest import Digest
    from .errors import (
        ArchiveError,
        AuthError,
        CompressionError,
        DigestMismatch,
        FormatError,
        IgnitionError,
        IntegrityError,
        InvalidDigest,
        InvalidReference,
        ManifestError,
        NotFound,
        OciforgeError,
        PathConflict,
        PolicyError,
        RegistryError,
        RegistryResponseError,
        RpmError,
        SignatureError,
        SizeMismatch,
        TarError,
        TransportError,
        UnsafePath,
        UnsupportedError,
    )
    from .image import Artifact, Image, ImageIndex
    from .layer import Layer
    from .layout import LayoutWriter, OciLayout, collect_garbage
    from .mutate import HistoryEntry, append_layers, empty_image, keep_layers
    from .mutate.index import build_index
    from .mutate.rebase import RebasePlan, plan_rebase, rebase_image, restack
    from .ostree.lint import Finding, lint_tree
    from .recipes import Derived
    from .recipes.append import FileAddition, append_content
    from .recipes.bundle import (
        BundleInfo,
        refresh_bundle,
        repack_bundle,
        unpack_bundle,
        unpack_reference,
    )
    from .recipes.rebase import rebase_content
    from .recipes.squash import squash_image
    from .registry import (
        Credentials,
        RegistryOptions,
        RegistryReference,
        RegistrySink,
        RemoteBlobSource,
        RetryPolicy,
        find_credentials,
        open_remote_image,
        parse_registry_reference,
        resolve_digest,
    )
    from .rpm.inject import InjectOptions, InjectReport, inject_rpms
    from .rpm.package import RpmPackage, read_package
    from .rpm.signature import load_keys
    from .sink import ImageSink, ParallelImageSink, write_image, write_index
    from .spec import Descriptor, ImageConfig, Index, Manifest, Platform
    from .tar.build import LayerBuilder
    from .tar.flatten import FlatTree, flatten_image
    from .tar.unpack import unpack_layers
    from .transports import (
        ImageReference,
        LocalReference,
        copy_image,
        open_image,
        open_image_or_index,
        open_sink,
        parse_reference,
        save_image,
        sink_verifies_copies,
    )
    from .validate import validate_image

__version__ = "0.1.0"

#: Where each public name lives. Imports happen on first use, so ``import ociforge`` (and any
#: submodule) stays cheap, and code that never pushes or verifies RPM signatures never loads
#: requests or cryptography.
_EXPORTS: dict[str, str] = {
    "ArchiveError": "errors",
    "ArchiveWriter": "archive",
    "AuthError": "errors",
    "BlobSource": "blobs",
    "BundleInfo": "recipes.bundle",
    "BytesSource": "blobs",
    "CompressionError": "errors",
    "Credentials": "registry",
    "Artifact": "image",
    "Derived": "recipes",
    "Descriptor": "spec",
    "Digest": "digest",
    "DigestMismatch": "errors",
    "FileAddition": "recipes.append",
    "Finding": "ostree.lint",
    "FlatTree": "tar.flatten",
    "FormatError": "errors",
    "HistoryEntry": "mutate",
    "IgnitionError": "errors",
    "Image": "image",
    "ImageIndex": "image",
    "ImageConfig": "spec",
    "ImageReference": "transports",
    "ImageSink": "sink",
    "Index": "spec",
    "InjectOptions": "rpm.inject",
    "InjectReport": "rpm.inject",
    "IntegrityError": "errors",
    "InvalidDigest": "errors",
    "InvalidReference": "errors",
    "Layer": "layer",
    "LayerBuilder": "tar.build",
    "LayoutWriter": "layout",
    "LocalReference": "transports",
    "Manifest": "spec",
    "ManifestError": "errors",
    "NotFound": "errors",
    "OciArchive": "archive",
    "OciLayout": "layout",
    "OciforgeError": "errors",
    "ParallelImageSink": "sink",
    "PathConflict": "errors",
    "Platform": "spec",
    "PolicyError": "errors",
    "RebasePlan": "mutate.rebase",
    "RegistryError": "errors",
    "RegistryOptions": "registry",
    "RegistryReference": "registry",
    "RegistryResponseError": "errors",
    "RegistrySink": "registry",
    "ReleaseComponent": "coreos.release",
    "ReleasePayload": "coreos.release",
    "RemoteBlobSource": "registry",
    "RetryPolicy": "registry",
    "RpmError": "errors",
    "RpmPackage": "rpm.package",
    "SignatureError": "errors",
    "SizeMismatch": "errors",
    "TarError": "errors",
    "TransportError": "errors",
    "UnsafePath": "errors",
    "UnsupportedError": "errors",
    "append_content": "recipes.append",
    "append_layers": "mutate",
    "collect_garbage": "layout",
    "empty_image": "mutate",
    "build_index": "mutate.index",
    "copy_image": "transports",
    "find_credentials": "registry",
    "flatten_image": "tar.flatten",
    "host_platform": "_env",
    "inject_rpms": "rpm.inject",
    "keep_layers": "mutate",
    "lint_tree": "ostree.lint",
    "load_keys": "rpm.signature",
    "machineconfig_name": "coreos.machineconfig",
    "open_compressor": "compression",
    "open_decompressor": "compression",
    "open_image": "transports",
    "open_image_or_index": "transports",
    "open_remote_image": "registry",
    "open_sink": "transports",
    "parse_image_references": "coreos.release",
    "parse_reference": "transports",
    "parse_registry_reference": "registry",
    "parse_release_metadata": "coreos.release",
    "plan_rebase": "mutate.rebase",
    "read_package": "rpm.package",
    "read_release": "coreos.release",
    "rebase_content": "recipes.rebase",
    "rebase_image": "mutate.rebase",
    "render_machineconfig": "coreos.machineconfig",
    "refresh_bundle": "recipes.bundle",
    "repack_bundle": "recipes.bundle",
    "resolve_digest": "registry",
    "restack": "mutate.rebase",
    "save_image": "transports",
    "sink_verifies_copies": "transports",
    "squash_image": "recipes.squash",
    "unpack_bundle": "recipes.bundle",
    "unpack_layers": "tar.unpack",
    "unpack_reference": "recipes.bundle",
    "validate_image": "validate",
    "write_image": "sink",
    "write_index": "sink",
}

__all__ = sorted([*_EXPORTS, "__version__"], key=lambda name: (name[0].islower(), name))


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
