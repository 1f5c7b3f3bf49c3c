"""ociforge: build, layer and ship CoreOS-style OCI operating-system images without a runtime.

The public API is what ``__all__`` lists; everything else is internal and may change.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .archive import ArchiveWriter, OciArchive
    from .blobs import BlobSource, BytesSource, FileBlobSource
    from .bundle import BundleInfo, Repacked, repack_bundle, unpack_bundle, unpack_reference
    from .compression import LayerDigests, LayerWriter, open_compressor, open_decompressor
    from .copy import copy_image, save_image
    from .derive import (
        AppendResult,
        FileAddition,
        add_files,
        append_content,
        append_files,
        derive_image,
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
    from .image import Image, host_platform
    from .layer import Layer, SpooledLayerWriter
    from .layout import LayoutWriter, OciLayout, collect_garbage
    from .machineconfig import machineconfig_name, render_machineconfig
    from .mutate import HistoryEntry, append_layers, keep_layers
    from .ostree.lint import Finding, lint_tree
    from .rebase import RebasePlan, plan_rebase, rebase_image
    from .rebase_fixup import RebaseResult, rebase_content
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
    from .release import (
        ReleaseComponent,
        ReleasePayload,
        parse_image_references,
        parse_release_metadata,
        read_release,
    )
    from .rpm.inject import InjectOptions, InjectReport, inject_rpms
    from .rpm.package import RpmPackage, read_package
    from .rpm.payload import iter_payload
    from .rpm.recipe import append_rpms
    from .rpm.rpmdb import Rpmdb
    from .rpm.signature import load_keys
    from .sink import ImageSink, ParallelImageSink, write_image
    from .spec import Descriptor, ImageConfig, Index, Manifest, Platform
    from .squash import squash_image
    from .tar.build import LayerBuilder
    from .tar.unpack import unpack_layers
    from .transports import ImageReference, LocalReference, open_image, open_sink, parse_reference

__version__ = "0.1.0"

__all__ = [
    "AppendResult",
    "ArchiveError",
    "ArchiveWriter",
    "AuthError",
    "BlobSource",
    "BundleInfo",
    "BytesSource",
    "CompressionError",
    "Credentials",
    "Descriptor",
    "Digest",
    "DigestMismatch",
    "FileAddition",
    "FileBlobSource",
    "Finding",
    "FormatError",
    "HistoryEntry",
    "IgnitionError",
    "Image",
    "ImageConfig",
    "ImageReference",
    "ImageSink",
    "Index",
    "InjectOptions",
    "InjectReport",
    "IntegrityError",
    "InvalidDigest",
    "InvalidReference",
    "Layer",
    "LayerBuilder",
    "LayerDigests",
    "LayerWriter",
    "LayoutWriter",
    "LocalReference",
    "Manifest",
    "ManifestError",
    "NotFound",
    "OciArchive",
    "OciLayout",
    "OciforgeError",
    "ParallelImageSink",
    "PathConflict",
    "Platform",
    "PolicyError",
    "RebasePlan",
    "RebaseResult",
    "RegistryError",
    "RegistryOptions",
    "RegistryReference",
    "RegistryResponseError",
    "RegistrySink",
    "ReleaseComponent",
    "ReleasePayload",
    "RemoteBlobSource",
    "Repacked",
    "RetryPolicy",
    "RpmError",
    "RpmPackage",
    "Rpmdb",
    "SignatureError",
    "SizeMismatch",
    "SpooledLayerWriter",
    "TarError",
    "TransportError",
    "UnsafePath",
    "UnsupportedError",
    "__version__",
    "add_files",
    "append_content",
    "append_files",
    "append_layers",
    "append_rpms",
    "collect_garbage",
    "copy_image",
    "derive_image",
    "find_credentials",
    "host_platform",
    "inject_rpms",
    "iter_payload",
    "keep_layers",
    "lint_tree",
    "load_keys",
    "machineconfig_name",
    "open_compressor",
    "open_decompressor",
    "open_image",
    "open_remote_image",
    "open_sink",
    "parse_image_references",
    "parse_reference",
    "parse_registry_reference",
    "parse_release_metadata",
    "plan_rebase",
    "read_package",
    "read_release",
    "rebase_content",
    "rebase_image",
    "render_machineconfig",
    "repack_bundle",
    "resolve_digest",
    "save_image",
    "squash_image",
    "unpack_bundle",
    "unpack_layers",
    "unpack_reference",
    "write_image",
]

#: Where each public name lives. Imports happen on first use, so ``import ociforge`` (and any
#: submodule) stays cheap, and code that never pushes or verifies RPM signatures never loads
#: requests or cryptography.
_EXPORTS: dict[str, str] = {
    "AppendResult": "derive",
    "ArchiveError": "errors",
    "ArchiveWriter": "archive",
    "AuthError": "errors",
    "BlobSource": "blobs",
    "BundleInfo": "bundle",
    "BytesSource": "blobs",
    "CompressionError": "errors",
    "Credentials": "registry",
    "Descriptor": "spec",
    "Digest": "digest",
    "DigestMismatch": "errors",
    "FileAddition": "derive",
    "FileBlobSource": "blobs",
    "Finding": "ostree.lint",
    "FormatError": "errors",
    "HistoryEntry": "mutate",
    "IgnitionError": "errors",
    "Image": "image",
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
    "LayerDigests": "compression",
    "LayerWriter": "compression",
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
    "RebasePlan": "rebase",
    "RebaseResult": "rebase_fixup",
    "RegistryError": "errors",
    "RegistryOptions": "registry",
    "RegistryReference": "registry",
    "RegistryResponseError": "errors",
    "RegistrySink": "registry",
    "ReleaseComponent": "release",
    "ReleasePayload": "release",
    "RemoteBlobSource": "registry",
    "Repacked": "bundle",
    "RetryPolicy": "registry",
    "RpmError": "errors",
    "RpmPackage": "rpm.package",
    "Rpmdb": "rpm.rpmdb",
    "SignatureError": "errors",
    "SizeMismatch": "errors",
    "SpooledLayerWriter": "layer",
    "TarError": "errors",
    "TransportError": "errors",
    "UnsafePath": "errors",
    "UnsupportedError": "errors",
    "add_files": "derive",
    "append_content": "derive",
    "append_files": "derive",
    "append_layers": "mutate",
    "append_rpms": "rpm.recipe",
    "collect_garbage": "layout",
    "copy_image": "copy",
    "derive_image": "derive",
    "find_credentials": "registry",
    "host_platform": "image",
    "inject_rpms": "rpm.inject",
    "iter_payload": "rpm.payload",
    "keep_layers": "mutate",
    "lint_tree": "ostree.lint",
    "load_keys": "rpm.signature",
    "machineconfig_name": "machineconfig",
    "open_compressor": "compression",
    "open_decompressor": "compression",
    "open_image": "transports",
    "open_remote_image": "registry",
    "open_sink": "transports",
    "parse_image_references": "release",
    "parse_reference": "transports",
    "parse_registry_reference": "registry",
    "parse_release_metadata": "release",
    "plan_rebase": "rebase",
    "read_package": "rpm.package",
    "read_release": "release",
    "rebase_content": "rebase_fixup",
    "rebase_image": "rebase",
    "render_machineconfig": "machineconfig",
    "repack_bundle": "bundle",
    "resolve_digest": "registry",
    "save_image": "copy",
    "squash_image": "squash",
    "unpack_bundle": "bundle",
    "unpack_layers": "tar.unpack",
    "unpack_reference": "bundle",
    "write_image": "sink",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
