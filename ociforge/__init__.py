"""ociforge: build, layer and ship CoreOS-style OCI operating-system images without a runtime.

The public API is what ``__all__`` lists; everything else is internal and may change.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
    RetryPolicy,
    find_credentials,
    parse_registry_reference,
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

if TYPE_CHECKING:
    from .registry import RegistrySink, RemoteBlobSource, open_remote_image, resolve_digest

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


_LAZY = frozenset({"RegistrySink", "RemoteBlobSource", "open_remote_image", "resolve_digest"})


def __getattr__(name: str) -> Any:
    # The registry's network half loads requests; only code that pushes or pulls needs it.
    if name in _LAZY:
        return getattr(importlib.import_module(".registry", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
