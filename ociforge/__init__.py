"""ociforge: build, layer and ship CoreOS-style OCI operating-system images without a runtime.

The public API is what ``__all__`` lists; everything else is internal and may change.
"""

from __future__ import annotations

from .archive import ArchiveWriter, OciArchive
from .blobs import BlobSource, BytesSource, FileBlobSource
from .bundle import BundleInfo, Repacked, repack_bundle, unpack_bundle, unpack_reference
from .compression import LayerDigests, LayerWriter, open_compressor, open_decompressor
from .copy import copy_image, save_image
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
from .mutate import HistoryEntry, append_layers
from .ostree.lint import Finding, lint_tree
from .rpm.inject import InjectOptions, InjectReport, inject_rpms
from .rpm.package import RpmPackage, read_package
from .rpm.payload import iter_payload
from .rpm.recipe import RpmAppendResult, append_rpms
from .rpm.rpmdb import Rpmdb
from .rpm.signature import load_keys
from .sink import ImageSink, write_image
from .spec import Descriptor, ImageConfig, Index, Manifest, Platform
from .tar.build import LayerBuilder
from .tar.unpack import unpack_layers
from .transports import LocalReference, open_image, open_sink, parse_reference

__version__ = "0.1.0"

__all__ = [
    "ArchiveError",
    "ArchiveWriter",
    "AuthError",
    "BlobSource",
    "BundleInfo",
    "BytesSource",
    "CompressionError",
    "Descriptor",
    "Digest",
    "DigestMismatch",
    "FileBlobSource",
    "Finding",
    "FormatError",
    "HistoryEntry",
    "IgnitionError",
    "Image",
    "ImageConfig",
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
    "PathConflict",
    "Platform",
    "PolicyError",
    "RegistryError",
    "RegistryResponseError",
    "Repacked",
    "RpmAppendResult",
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
    "append_layers",
    "append_rpms",
    "collect_garbage",
    "copy_image",
    "host_platform",
    "inject_rpms",
    "iter_payload",
    "lint_tree",
    "load_keys",
    "open_compressor",
    "open_decompressor",
    "open_image",
    "open_sink",
    "parse_reference",
    "read_package",
    "repack_bundle",
    "save_image",
    "unpack_bundle",
    "unpack_layers",
    "unpack_reference",
    "write_image",
]
