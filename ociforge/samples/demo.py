"""A self-contained sample: a small COSA-shaped base, derived with files, Ignition and an RPM.

Everything is made here (the base image, the sample package, the Ignition config), so the demo
needs no network and no external tool; it is byte-for-byte reproducible.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote

from .. import mediatypes as mt
from ..archive import OciArchive
from ..blobs import BytesSource
from ..coreos.machineconfig import render_machineconfig
from ..image import Image
from ..layer import Layer
from ..recipes.append import FileAddition, append_content
from ..registry.reference import parse_registry_reference
from ..rpm.inject import InjectOptions
from ..rpm.tags import FileFlag
from ..spec import Descriptor, ImageConfig, Manifest, encode_json
from ..tar.build import LayerBuilder
from ..transports import save_image
from ..validate import validate_image
from .rpm import PackageFile, build_rpm

if TYPE_CHECKING:
    from ..registry.options import RegistryOptions

__all__ = ["DemoStep", "run_demo", "sample_base_image", "sample_ignition", "sample_rpm"]

_EPOCH = 1_700_000_000  # fixed mtimes: the sample is byte-for-byte reproducible


def _builder() -> LayerBuilder:
    return LayerBuilder(compression="gzip", threads=1, source_date_epoch=None)


def _commit_layer() -> Layer:
    """Layer 0 as ostree-rs-ext exports it: the repo objects, and the tree as hardlinks to them."""
    builder = _builder()
    builder.add_bytes(
        "/sysroot/ostree/repo/config",
        b"[core]\nrepo_version=1\nmode=bare-split-xattrs\n",
        mtime=_EPOCH,
    )
    files = {
        "/usr/bin/bash": (b"\x7fELF demo shell\n" * 64, 0o755),
        "/usr/lib/systemd/systemd": (b"\x7fELF demo init\n" * 64, 0o755),
        "/usr/lib/os-release": (
            b'NAME="Fedora Linux"\nID=fedora\nVARIANT_ID=coreos\nVERSION_ID=43\n',
            0o644,
        ),
        "/usr/lib/passwd": (
            b"root:x:0:0:root:/root:/bin/bash\ncore:x:1000:1000::/var/home/core:/bin/bash\n",
            0o644,
        ),
        "/usr/lib/group": (b"root:x:0:\nwheel:x:10:core\ncore:x:1000:\n", 0o644),
        "/usr/lib/systemd/system/chronyd.service": (
            b"[Unit]\nDescription=NTP client\n\n[Service]\nExecStart=/usr/sbin/chronyd\n\n"
            b"[Install]\nWantedBy=multi-user.target\n",
            0o644,
        ),
    }
    for path, (data, mode) in files.items():
        csum = hashlib.sha256(data).hexdigest()
        obj = f"/sysroot/ostree/repo/objects/{csum[:2]}/{csum[2:]}.file"
        builder.add_bytes(obj, data, mode=mode, mtime=_EPOCH)
        builder.add_hardlink(path, obj)
    for directory in (
        "/etc",
        "/var",
        "/run",
        "/tmp",
        "/dev",
        "/proc",
        "/sys",
        "/sysroot/ostree/repo/refs",
    ):
        builder.add_directory(
            directory, mtime=_EPOCH, mode=0o1777 if directory == "/tmp" else 0o755
        )
    builder.add_symlink("/etc/os-release", "../usr/lib/os-release", mtime=_EPOCH)
    builder.add_symlink("/var/run", "../run", mtime=_EPOCH)
    builder.add_symlink("/opt", "var/opt", mtime=_EPOCH)
    return builder.build()


def sample_base_image(*, chunks: int = 6) -> Image:
    """A small COSA-shaped base: a commit layer, package chunks, and the ostree labels."""
    layers = [_commit_layer()]
    for n in range(1, chunks + 1):
        builder = _builder()
        builder.add_bytes(
            f"/usr/share/pkg{n}/data", (f"package chunk {n}\n" * 200).encode(), mtime=_EPOCH
        )
        layers.append(builder.build())
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
        config_source=BytesSource({parsed_config.digest: config}, name="sample base"),
    )


def sample_rpm() -> bytes:
    """A small noarch package: a script, a config file, a data directory and a symlink."""
    return build_rpm(
        name="hello-agent",
        version="1.0",
        release="1",
        summary="A sample agent for the ociforge demo",
        description="Prints a greeting. Built by ociforge without rpmbuild.",
        license="MIT",
        buildtime=_EPOCH,
        files=[
            PackageFile(
                "/usr/bin/hello-agent", b"#!/bin/sh\necho hello from the agent\n", mode=0o755
            ),
            PackageFile("/usr/bin/hello", kind="symlink", target="hello-agent"),
            PackageFile("/usr/share/hello-agent", kind="dir", mode=0o755),
            PackageFile("/usr/share/hello-agent/README", b"hello-agent: a demo package\n"),
            PackageFile(
                "/etc/hello-agent.conf",
                b"greeting=hello\n",
                flags=FileFlag.CONFIG | FileFlag.NOREPLACE,
            ),
        ],
    )


def sample_ignition() -> bytes:
    """An Ignition config as Butane writes it: a motd, a new unit and a base unit, enabled."""
    unit = (
        "[Unit]\nDescription=Run the hello agent\n\n[Service]\nType=oneshot\n"
        "ExecStart=/usr/bin/hello-agent\n\n[Install]\nWantedBy=multi-user.target\n"
    )
    return json.dumps(
        {
            "ignition": {"version": "3.4.0"},
            "storage": {
                "files": [
                    {
                        "path": "/etc/motd",
                        "mode": 0o644,
                        "contents": {
                            "source": "data:,"
                            + quote("Derived with ociforge: no container runtime.\n")
                        },
                    }
                ]
            },
            "systemd": {
                "units": [
                    {"name": "hello-agent.service", "enabled": True, "contents": unit},
                    {"name": "chronyd.service", "enabled": True},
                ]
            },
        },
        indent=2,
    ).encode()


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


def run_demo(
    workdir: str,
    *,
    report: Callable[[DemoStep], None] | None = None,
    push: str | None = None,
    registry: RegistryOptions | None = None,
    pool: str = "worker",
) -> list[DemoStep]:
    """Build a base, derive an image (files + Ignition + RPM), verify it, optionally push it."""
    os.makedirs(workdir, exist_ok=True)
    steps: list[DemoStep] = []
    # The names the README and the how-tos use, so their commands run in this directory.
    base_path = os.path.join(workdir, "fcos.ociarchive")
    derived_path = os.path.join(workdir, "derived.ociarchive")
    with _timed(
        steps, "build a COSA-shaped base image (ostree commit layer + chunks)", report
    ) as d:
        base = sample_base_image()
        save_image(base, f"oci-archive:{base_path}")
        d.update(path=base_path, digest=str(base.digest), layers=len(base.layers))
    with _timed(steps, "write the inputs: a local file, an Ignition config, an RPM", report) as d:
        files = os.path.join(workdir, "inputs")
        os.makedirs(files, exist_ok=True)
        local = os.path.join(files, "99-demo.conf")
        with open(local, "wb") as fh:
            fh.write(b"# dropped in by ociforge append --add\n")
        os.utime(local, (_EPOCH, _EPOCH))  # its mtime goes into the layer
        ignition = os.path.join(workdir, "config.ign")
        with open(ignition, "wb") as fh:
            fh.write(sample_ignition())
        package = os.path.join(workdir, "hello-agent-1.0-1.noarch.rpm")
        with open(package, "wb") as fh:
            fh.write(sample_rpm())
        d.update(file=local, ignition=ignition, rpm=package)
    with _timed(
        steps, "append one layer: RPM + file + Ignition, linted (base blobs untouched)", report
    ) as d:
        with open(ignition, "rb") as fh:
            config = fh.read()
        result = append_content(
            OciArchive(base_path).image(),
            additions=[FileAddition(local, "/etc/sysctl.d/99-demo.conf")],
            rpms=[package],
            rpm_options=InjectOptions(install_time=_EPOCH),
            ignition=config,
            # Fixed, like every input here: the derived digest is the same on every run.
            created=_dt.datetime.fromtimestamp(_EPOCH, _dt.UTC),
        )
        save_image(result.image, f"oci-archive:{derived_path}")
        layer = result.image.layers[-1]
        d.update(
            path=derived_path,
            digest=str(result.image.digest),
            reproducible="yes: fixed inputs and timestamps give this digest on every run",
            layer=str(layer.digest),
            packages=list(result.packages),
            lint=[str(f) for f in result.findings] or "clean",
        )
    with _timed(steps, "verify the derived archive (every digest and diff_id)", report) as d:
        image = OciArchive(derived_path).image()
        checked = validate_image(image)
        labels = image.labels
        d.update(
            layers=checked.layers,
            uncompressed_bytes=checked.uncompressed_bytes,
            kept_labels={
                k: labels[k] for k in ("ostree.final-diffid", "ostree.bootable", "containers.bootc")
            },
        )
    if push:
        with _timed(steps, "push by digest and write the MachineConfig", report) as d:
            pushed = save_image(image, push, registry=registry)
            reference = parse_registry_reference(push.removeprefix("docker://"))
            pull_spec = f"{reference.registry}/{reference.repository}@{pushed.digest}"
            yaml = render_machineconfig(pull_spec, pool=pool, name="os-layer-demo")
            path = os.path.join(workdir, "machineconfig.yaml")
            with open(path, "w") as fh:
                fh.write(yaml)
            d.update(pull_spec=pull_spec, machineconfig=path)
    return steps
