"""A self-contained sample: a small COSA-shaped base image and a derivation of it, offline."""

from __future__ import annotations

import hashlib
import io
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from . import mediatypes as mt
from .archive import OciArchive
from .blobs import BytesSource
from .copy import save_image
from .image import Image
from .layer import Layer, SpooledLayerWriter
from .mutate import HistoryEntry, append_layers
from .spec import Descriptor, ImageConfig, Manifest, encode_json
from .tar.header import DIR, LNK, REG, SYM, TarHeader, encode_header, end_of_archive, padding
from .validate import validate_image

__all__ = ["DemoStep", "run_demo", "sample_base_image"]

_EPOCH = 1_700_000_000  # fixed mtimes: the sample is byte-for-byte reproducible


def _tar(entries: list[tuple[TarHeader, bytes]]) -> bytes:
    out = io.BytesIO()
    for header, data in entries:
        out.write(encode_header(header))
        out.write(data + b"\0" * padding(len(data)))
    out.write(end_of_archive())
    return out.getvalue()


def _dir(name: str, mode: int = 0o755) -> tuple[TarHeader, bytes]:
    return TarHeader(name, type=DIR, mode=mode, mtime=_EPOCH), b""


def _file(name: str, data: bytes, mode: int = 0o644) -> tuple[TarHeader, bytes]:
    return TarHeader(name, type=REG, mode=mode, size=len(data), mtime=_EPOCH), data


def _layer(entries: list[tuple[TarHeader, bytes]]) -> Layer:
    writer = SpooledLayerWriter("gzip", threads=1)
    writer.write(_tar(entries))
    return writer.finish()


def _commit_layer() -> Layer:
    """Layer 0 as ostree-rs-ext exports it: the repo objects, and the tree as hardlinks to them."""
    files = {
        "usr/bin/bash": b"\x7fELF demo shell\n" * 64,
        "usr/lib/os-release": b'NAME="Fedora Linux"\nID=fedora\nVARIANT_ID=coreos\nVERSION_ID=43\n',
        "usr/lib/systemd/systemd": b"\x7fELF demo init\n" * 64,
    }
    entries = [
        _dir("sysroot"),
        _dir("sysroot/ostree"),
        _dir("sysroot/ostree/repo"),
        _file("sysroot/ostree/repo/config", b"[core]\nrepo_version=1\nmode=bare-split-xattrs\n"),
        _dir("sysroot/ostree/repo/objects"),
    ]
    links: list[tuple[TarHeader, bytes]] = []
    for path, data in files.items():
        csum = hashlib.sha256(data).hexdigest()
        obj = f"sysroot/ostree/repo/objects/{csum[:2]}/{csum[2:]}.file"
        entries += [_dir(obj.rsplit("/", 1)[0]), _file(obj, data, 0o755)]
        links.append((TarHeader(path, type=LNK, linkname=obj, mtime=_EPOCH), b""))
    entries += [_dir("usr"), _dir("usr/bin"), _dir("usr/lib"), _dir("usr/lib/systemd"), *links]
    entries += [
        _dir("etc"),
        (
            TarHeader("etc/os-release", type=SYM, linkname="../usr/lib/os-release", mtime=_EPOCH),
            b"",
        ),
        _dir("var"),
        (TarHeader("var/run", type=SYM, linkname="../run", mtime=_EPOCH), b""),
        (TarHeader("opt", type=SYM, linkname="var/opt", mtime=_EPOCH), b""),
        _dir("sysroot/ostree/repo/refs"),
    ]
    return _layer(entries)


def sample_base_image(*, chunks: int = 6) -> Image:
    """A small COSA-shaped base: a commit layer, package chunks, and the ostree labels."""
    layers = [_commit_layer()]
    for n in range(1, chunks + 1):
        body = (f"package chunk {n}\n" * 200).encode()
        layers.append(
            _layer(
                [
                    _dir("usr"),
                    _dir("usr/share"),
                    _dir(f"usr/share/pkg{n}"),
                    _file(f"usr/share/pkg{n}/data", body),
                ]
            )
        )
    labels = {
        "containers.bootc": "1",
        "ostree.bootable": "true",
        "ostree.final-diffid": str(layers[-1].diff_id),
        "org.opencontainers.image.version": "43.20261122.0",
        "com.coreos.osname": "fedora-coreos",
    }
    config = encode_json(
        {
            "created": "2026-11-22T00:00:00Z",
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": labels, "Cmd": ["/sbin/init"]},
            "rootfs": {"type": "layers", "diff_ids": [str(layer.diff_id) for layer in layers]},
            "history": [{"created_by": f"ostree chunk {i}"} for i in range(len(layers))],
        }
    )
    parsed_config = ImageConfig.parse(config)
    config_desc = Descriptor(mt.OCI_CONFIG, parsed_config.digest, len(config))
    manifest = encode_json(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_MANIFEST,
            "config": config_desc.to_json(),
            "layers": [layer.descriptor.to_json() for layer in layers],
            "annotations": labels,
        }
    )
    return Image(
        Manifest.parse(manifest),
        parsed_config,
        tuple(layers),
        name="sample base",
        _config_source=BytesSource({parsed_config.digest: config}, name="sample base"),
    )


@dataclass(frozen=True, slots=True)
class DemoStep:
    """One step of the demo: what was done, how long it took, and what it produced."""

    title: str
    seconds: float
    details: dict[str, object] = field(default_factory=dict)


@contextmanager
def _timed(
    steps: list[DemoStep], title: str, report: Callable[[DemoStep], None] | None
) -> Iterator[dict[str, object]]:
    details: dict[str, object] = {}
    start = time.perf_counter()
    yield details
    step = DemoStep(title, time.perf_counter() - start, details)
    steps.append(step)
    if report is not None:
        report(step)


def run_demo(workdir: str, *, report: Callable[[DemoStep], None] | None = None) -> list[DemoStep]:
    """Build a base, derive an image with new files, write and verify both as ociarchives."""
    os.makedirs(workdir, exist_ok=True)
    steps: list[DemoStep] = []
    base_path = os.path.join(workdir, "base.ociarchive")
    derived_path = os.path.join(workdir, "derived.ociarchive")
    with _timed(steps, "build a COSA-shaped base image", report) as d:
        base = sample_base_image()
        save_image(base, f"oci-archive:{base_path}")
        d.update(path=base_path, digest=str(base.digest), layers=len(base.layers))
    with _timed(steps, "append one layer of files (base blobs copied byte for byte)", report) as d:
        source = OciArchive(base_path).image()
        files = [
            _dir("etc"),
            _file("etc/motd", b"Derived with ociforge: no container runtime involved.\n"),
            _dir("usr"),
            _dir("usr/lib"),
            _dir("usr/lib/systemd"),
            _dir("usr/lib/systemd/system"),
            _file(
                "usr/lib/systemd/system/hello.service",
                b"[Unit]\nDescription=Hello\n\n[Service]\nExecStart=/usr/bin/echo hello\n\n"
                b"[Install]\nWantedBy=multi-user.target\n",
            ),
        ]
        layer = _layer(files)
        derived = append_layers(
            source,
            [layer],
            history=[HistoryEntry(created_by="ociforge demo: add motd and hello.service")],
        )
        save_image(derived, f"oci-archive:{derived_path}")
        d.update(path=derived_path, digest=str(derived.digest), layer=str(layer.digest))
    with _timed(steps, "verify the derived archive (every digest and diff_id)", report) as d:
        image = OciArchive(derived_path).image()
        result = validate_image(image)
        labels = image.labels
        d.update(
            layers=result.layers,
            uncompressed_bytes=result.uncompressed_bytes,
            kept_labels={
                k: labels[k] for k in ("ostree.final-diffid", "ostree.bootable", "containers.bootc")
            },
        )
    return steps
