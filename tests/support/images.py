"""Build OCI layouts, ociarchives and COSA-shaped images with the stdlib alone.

These builders are the independent side of every round-trip test: they never import ociforge,
so a digest ociforge computes is checked against hashlib over bytes made by tarfile and gzip.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
REF_NAME = "org.opencontainers.image.ref.name"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Entry:
    """One tar entry for :func:`tar_bytes`."""

    name: str
    data: bytes = b""
    type: bytes = tarfile.REGTYPE
    mode: int = 0o644
    linkname: str = ""
    uid: int = 0
    gid: int = 0
    mtime: int = 0
    pax: dict[str, str] = field(default_factory=dict)


def file(name: str, data: bytes | str, mode: int = 0o644, **kw: object) -> Entry:
    return Entry(name, data.encode() if isinstance(data, str) else data, mode=mode, **kw)  # type: ignore[arg-type]


def directory(name: str, mode: int = 0o755, **kw: object) -> Entry:
    return Entry(name, type=tarfile.DIRTYPE, mode=mode, **kw)  # type: ignore[arg-type]


def symlink(name: str, target: str, **kw: object) -> Entry:
    return Entry(name, type=tarfile.SYMTYPE, mode=0o777, linkname=target, **kw)  # type: ignore[arg-type]


def hardlink(name: str, target: str, **kw: object) -> Entry:
    return Entry(name, type=tarfile.LNKTYPE, linkname=target, **kw)  # type: ignore[arg-type]


def tar_bytes(entries: Iterable[Entry], *, format: int = tarfile.PAX_FORMAT) -> bytes:
    """An uncompressed tar of ``entries`` in the order given."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=format) as tf:
        for e in entries:
            info = tarfile.TarInfo(e.name)
            info.type = e.type
            info.mode = e.mode
            info.uid, info.gid = e.uid, e.gid
            info.mtime = e.mtime
            info.linkname = e.linkname
            info.pax_headers = dict(e.pax)
            if e.type == tarfile.REGTYPE:
                info.size = len(e.data)
                tf.addfile(info, io.BytesIO(e.data))
            else:
                tf.addfile(info)
    return out.getvalue()


@dataclass
class BuiltLayer:
    """A layer blob with both identities computed by hashlib."""

    blob: bytes
    diff_id: str
    media_type: str = LAYER_GZIP

    @property
    def digest(self) -> str:
        return sha256(self.blob)

    def descriptor(self) -> dict[str, object]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.blob)}


def layer(entries: Iterable[Entry], *, compress: bool = True) -> BuiltLayer:
    raw = tar_bytes(entries)
    if compress:
        return BuiltLayer(gzip.compress(raw, compresslevel=6, mtime=0), sha256(raw))
    return BuiltLayer(raw, sha256(raw), LAYER_TAR)


@dataclass
class BuiltImage:
    """Manifest, config and layer blobs of one image, plus its digest."""

    manifest: bytes
    config: bytes
    layers: list[BuiltLayer]

    @property
    def digest(self) -> str:
        return sha256(self.manifest)

    def blobs(self) -> dict[str, bytes]:
        out = {sha256(self.manifest): self.manifest, sha256(self.config): self.config}
        out.update({lay.digest: lay.blob for lay in self.layers})
        return out


def image(
    layers: list[BuiltLayer],
    *,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    architecture: str = "amd64",
    history: list[dict[str, object]] | None = None,
) -> BuiltImage:
    config = {
        "created": "2026-01-01T00:00:00Z",
        "architecture": architecture,
        "os": "linux",
        "config": {"Labels": dict(labels or {}), "Cmd": ["/sbin/init"]},
        "rootfs": {"type": "layers", "diff_ids": [lay.diff_id for lay in layers]},
        "history": history
        if history is not None
        else [{"created_by": f"layer {i}"} for i in range(len(layers))],
    }
    config_bytes = json.dumps(config, indent=None, separators=(",", ":")).encode()
    manifest: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": OCI_CONFIG,
            "digest": sha256(config_bytes),
            "size": len(config_bytes),
        },
        "layers": [lay.descriptor() for lay in layers],
    }
    if annotations:
        manifest["annotations"] = dict(annotations)
    return BuiltImage(json.dumps(manifest).encode(), config_bytes, layers)


def index_json(images: Iterable[tuple[BuiltImage, str]]) -> bytes:
    manifests = []
    for img, ref in images:
        desc: dict[str, object] = {
            "mediaType": OCI_MANIFEST,
            "digest": img.digest,
            "size": len(img.manifest),
        }
        if ref:
            desc["annotations"] = {REF_NAME: ref}
        manifests.append(desc)
    return json.dumps({"schemaVersion": 2, "manifests": manifests}).encode()


def write_layout(path: str, images: Iterable[tuple[BuiltImage, str]]) -> str:
    """An OCI layout directory holding ``images`` (each with a ref name or "")."""
    images = list(images)
    os.makedirs(os.path.join(path, "blobs", "sha256"), exist_ok=True)
    for img, _ in images:
        for digest, data in img.blobs().items():
            with open(os.path.join(path, "blobs", "sha256", digest.split(":")[1]), "wb") as fh:
                fh.write(data)
    with open(os.path.join(path, "oci-layout"), "w") as fh:
        fh.write('{"imageLayoutVersion": "1.0.0"}')
    with open(os.path.join(path, "index.json"), "wb") as fh:
        fh.write(index_json(images))
    return path


def write_archive(
    path: str,
    images: Iterable[tuple[BuiltImage, str]],
    *,
    prefix: str = "",
    format: int = tarfile.PAX_FORMAT,
) -> str:
    """An ociarchive like containers/image writes: uncompressed, uid 0, sorted names.

    ``prefix="./"`` gives GNU-tar-style names; the default has none, as COSA archives do.
    """
    images = list(images)
    members: dict[str, bytes] = {}
    for img, _ in images:
        for digest, data in img.blobs().items():
            members["blobs/sha256/" + digest.split(":")[1]] = data
    members["index.json"] = index_json(images)
    members["oci-layout"] = b'{"imageLayoutVersion": "1.0.0"}'
    with tarfile.open(path, "w", format=format) as tf:
        for d in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(prefix + d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tf.addfile(info)
        for name in sorted(members):
            info = tarfile.TarInfo(prefix + name)
            info.size = len(members[name])
            info.mode = 0o644
            tf.addfile(info, io.BytesIO(members[name]))
    return path


def cosa_image(
    *, layers: int = 50, seed: int = 7, files_per_layer: int = 4, file_size: int = 2048
) -> BuiltImage:
    """A COSA-shaped ostree native container image.

    Layer 0 holds ``sysroot/ostree/repo`` (config, objects) and a ``usr/`` tree whose files are
    hardlinks into the repo objects, as ostree-rs-ext exports it; the other layers are package
    chunks. Labels and manifest annotations carry the ostree keys, and ``ostree.final-diffid``
    names the last chunk.
    """
    rng = random.Random(seed)
    entries = [
        directory("sysroot"),
        directory("sysroot/ostree"),
        directory("sysroot/ostree/repo"),
        file("sysroot/ostree/repo/config", "[core]\nrepo_version=1\nmode=bare-split-xattrs\n"),
        directory("sysroot/ostree/repo/objects"),
        directory("usr"),
        directory("usr/bin"),
        directory("usr/lib"),
    ]
    for i in range(8):
        content = rng.randbytes(file_size)
        csum = hashlib.sha256(content).hexdigest()
        obj = f"sysroot/ostree/repo/objects/{csum[:2]}/{csum[2:]}.file"
        entries.append(directory(f"sysroot/ostree/repo/objects/{csum[:2]}"))
        entries.append(file(obj, content, mode=0o755))
        entries.append(hardlink(f"usr/bin/tool{i}", obj))
    chunks = [layer(entries)]
    for n in range(1, layers):
        chunk = [directory("usr"), directory("usr/lib"), directory(f"usr/lib/pkg{n}")]
        for f in range(files_per_layer):
            chunk.append(file(f"usr/lib/pkg{n}/file{f}", rng.randbytes(file_size)))
        chunks.append(layer(chunk))
    labels = {
        "containers.bootc": "1",
        "ostree.bootable": "true",
        "ostree.commit": hashlib.sha256(b"commit").hexdigest(),
        "ostree.final-diffid": chunks[-1].diff_id,
        "org.opencontainers.image.version": "43.20261122.0",
        "com.coreos.osname": "fedora-coreos",
    }
    return image(chunks, labels=labels, annotations=labels)


def image_references(components: Mapping[str, str], *, version: str = "4.99.0") -> bytes:
    """An OpenShift ``ImageStream`` document naming each component's pull spec."""
    tags = [
        {
            "name": name,
            "annotations": {"io.openshift.build.source-location": ""},
            "from": {"kind": "DockerImage", "name": pull_spec},
            "generation": None,
            "importPolicy": {},
            "referencePolicy": {"type": "Source"},
        }
        for name, pull_spec in components.items()
    ]
    document = {
        "kind": "ImageStream",
        "apiVersion": "image.openshift.io/v1",
        "metadata": {"name": version, "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"lookupPolicy": {"local": False}, "tags": tags},
        "status": {"dockerImageRepository": ""},
    }
    return json.dumps(document, indent=2).encode()


def release_payload(
    components: Mapping[str, str] | None = None,
    *,
    version: str | None = "4.99.0",
    references: bytes | None = None,
) -> BuiltImage:
    """A release payload: a base layer, then ``release-manifests/`` with the two documents.

    ``references`` replaces the generated ``image-references`` bytes (for malformed ones);
    ``version=None`` leaves ``release-metadata`` out.
    """
    base = layer(
        [
            directory("usr"),
            directory("usr/bin"),
            file("usr/bin/cluster-version-operator", b"\x7fELF" + b"\0" * 60, mode=0o755),
        ]
    )
    entries = [
        directory("release-manifests"),
        file("release-manifests/0000_00_cluster-version-operator_00_namespace.yaml", "kind: x\n"),
        file(
            "release-manifests/image-references",
            references
            if references is not None
            else image_references(components or {}, version=version or "0.0.0"),
        ),
    ]
    if version is not None:
        metadata = {"kind": "cincinnati-metadata-v0", "version": version, "previous": []}
        entries.append(file("release-manifests/release-metadata", json.dumps(metadata)))
    labels = {"io.openshift.release": version or ""}
    return image([base, layer(entries)], labels=labels)


DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def as_docker(img: BuiltImage) -> BuiltImage:
    """The same image with Docker schema 2 media types (manifest, config, layers)."""
    manifest = json.loads(img.manifest)
    manifest["mediaType"] = DOCKER_MANIFEST
    manifest["config"]["mediaType"] = DOCKER_CONFIG
    for descriptor in manifest["layers"]:
        descriptor["mediaType"] = DOCKER_LAYER_GZIP
    layers = [BuiltLayer(lay.blob, lay.diff_id, DOCKER_LAYER_GZIP) for lay in img.layers]
    return BuiltImage(json.dumps(manifest, indent=3).encode(), img.config, layers)


@dataclass
class BuiltIndex:
    """An image index (or manifest list) over platform images, its bytes made by json."""

    raw: bytes
    images: list[BuiltImage]
    media_type: str = OCI_INDEX

    @property
    def digest(self) -> str:
        return sha256(self.raw)

    def blobs(self) -> dict[str, bytes]:
        out = {self.digest: self.raw}
        for img in self.images:
            out.update(img.blobs())
        return out


def platform_image(architecture: str, variant: str = "", *, text: str = "") -> BuiltImage:
    """A one-layer image for one platform; its file says which, so layers differ per platform."""
    content = text or f"built for {architecture}{variant}\n"
    top = layer([directory("etc"), file("etc/arch", content)])
    img = image([top], architecture=architecture, labels={"ostree.bootable": "true"})
    if variant:
        config = json.loads(img.config)
        config["variant"] = variant
        config_bytes = json.dumps(config, separators=(",", ":")).encode()
        manifest = json.loads(img.manifest)
        manifest["config"]["digest"] = sha256(config_bytes)
        manifest["config"]["size"] = len(config_bytes)
        img = BuiltImage(json.dumps(manifest).encode(), config_bytes, img.layers)
    return img


def image_index(
    entries: Iterable[tuple[BuiltImage, Mapping[str, str]]],
    *,
    media_type: str = OCI_INDEX,
    annotations: Mapping[str, str] | None = None,
) -> BuiltIndex:
    """An index naming each image with its platform (``{"architecture", "os", …}``)."""
    entries = list(entries)
    manifests = []
    for img, platform in entries:
        kind = json.loads(img.manifest).get("mediaType", OCI_MANIFEST)
        manifests.append(
            {
                "mediaType": kind,
                "digest": img.digest,
                "size": len(img.manifest),
                "platform": dict(platform),
            }
        )
    document: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": manifests,
    }
    if annotations:
        document["annotations"] = dict(annotations)
    # indent=2: bytes no re-serialiser would produce, so a kept digest means kept bytes.
    raw = json.dumps(document, indent=2).encode()
    return BuiltIndex(raw, [img for img, _ in entries], media_type)


def two_platform_index(*, media_type: str = OCI_INDEX) -> BuiltIndex:
    """linux/amd64 and linux/arm64/v8 images under one index (Docker types for a list)."""
    amd64, arm64 = platform_image("amd64"), platform_image("arm64")
    if media_type == DOCKER_MANIFEST_LIST:
        amd64, arm64 = as_docker(amd64), as_docker(arm64)
    return image_index(
        [
            (amd64, {"architecture": "amd64", "os": "linux"}),
            (arm64, {"architecture": "arm64", "os": "linux", "variant": "v8"}),
        ],
        media_type=media_type,
    )


def write_index_layout(path: str, index: BuiltIndex, *, ref: str = "") -> str:
    """An OCI layout whose ``index.json`` names ``index`` (as skopeo copy --all writes one)."""
    os.makedirs(os.path.join(path, "blobs", "sha256"), exist_ok=True)
    for digest, data in index.blobs().items():
        with open(os.path.join(path, "blobs", "sha256", digest.split(":")[1]), "wb") as fh:
            fh.write(data)
    entry: dict[str, object] = {
        "mediaType": index.media_type,
        "digest": index.digest,
        "size": len(index.raw),
    }
    if ref:
        entry["annotations"] = {REF_NAME: ref}
    with open(os.path.join(path, "oci-layout"), "w") as fh:
        fh.write('{"imageLayoutVersion": "1.0.0"}')
    with open(os.path.join(path, "index.json"), "w") as fh:
        json.dump({"schemaVersion": 2, "manifests": [entry]}, fh)
    return path
