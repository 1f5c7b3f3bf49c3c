"""What ociforge writes, skopeo and umoci read; what skopeo writes, ociforge reads."""

import json
import os
from pathlib import Path

from ociforge.archive import OciArchive
from ociforge.layout import OciLayout
from ociforge.transports import copy_image
from ociforge.validate import validate_image
from tests.support import images
from tests.support.cli import ociforge
from tests.support.tools import need, run, skopeo


def skopeo_digest(ref: str) -> str:
    return json.loads(skopeo("inspect", ref).stdout)["Digest"]


def test_cosa_round_trip_matches_skopeo(
    tmp_path: Path, cosa_archive: Path, cosa_image: images.BuiltImage
) -> None:
    layout = tmp_path / "layout"
    back = tmp_path / "back.ociarchive"
    assert ociforge("copy", f"oci-archive:{cosa_archive}", f"oci:{layout}:fcos").code == 0
    assert ociforge("copy", f"oci:{layout}:fcos", f"oci-archive:{back}").code == 0
    ours = json.loads(ociforge("inspect", f"oci-archive:{back}").out)["digest"]
    assert ours == cosa_image.digest
    assert skopeo_digest(f"oci-archive:{back}") == ours
    assert skopeo_digest(f"oci:{layout}:fcos") == ours
    assert skopeo_digest(f"oci-archive:{cosa_archive}") == ours


def test_skopeo_copies_what_we_write_verifying_digests(
    tmp_path: Path, cosa_archive: Path, cosa_image: images.BuiltImage
) -> None:
    ours_archive = tmp_path / "ours.ociarchive"
    ours_layout = tmp_path / "ours-layout"
    copy_image(f"oci-archive:{cosa_archive}", f"oci-archive:{ours_archive}:v1")
    copy_image(f"oci-archive:{cosa_archive}", f"oci:{ours_layout}:v1")
    # skopeo verifies every blob digest while copying; --preserve-digests forbids any rewrite.
    skopeo(
        "copy", "--preserve-digests", f"oci-archive:{ours_archive}:v1", f"oci:{tmp_path / 'sk1'}:x"
    )
    skopeo("copy", "--preserve-digests", f"oci:{ours_layout}:v1", f"oci:{tmp_path / 'sk2'}:x")
    for out in ("sk1", "sk2"):
        raw = skopeo("inspect", "--raw", f"oci:{tmp_path / out}:x").stdout.encode()
        assert raw == cosa_image.manifest


def test_we_read_what_skopeo_writes(
    tmp_path: Path, cosa_archive: Path, cosa_image: images.BuiltImage
) -> None:
    skopeo(
        "copy", f"oci-archive:{cosa_archive}", f"oci-archive:{tmp_path / 'sk.ociarchive'}:latest"
    )
    skopeo("copy", f"oci-archive:{cosa_archive}", f"oci:{tmp_path / 'sk-layout'}:latest")
    with OciArchive(str(tmp_path / "sk.ociarchive")) as archive:
        image = archive.image("latest")
        assert str(image.digest) == cosa_image.digest
        validate_image(image)
    with OciLayout(str(tmp_path / "sk-layout")) as layout:
        image = layout.image("latest")
        assert str(image.digest) == cosa_image.digest
        validate_image(image)


def test_skopeo_recompressed_zstd_image_reads(tmp_path: Path, cosa_archive: Path) -> None:
    skopeo(
        "copy",
        "--dest-compress-format",
        "zstd",
        "--dest-compress",
        f"oci-archive:{cosa_archive}",
        f"oci:{tmp_path / 'zstd'}:z",
    )
    with OciLayout(str(tmp_path / "zstd")) as layout:
        image = layout.image("z")
        assert {layer.compression for layer in image.layers} == {"zstd"}
        validate_image(image)


def test_umoci_unpacks_our_output(tmp_path: Path, cosa_archive: Path) -> None:
    need("umoci")
    layout = tmp_path / "layout"
    copy_image(f"oci-archive:{cosa_archive}", f"oci:{layout}:v1")
    bundle = tmp_path / "bundle"
    run(["umoci", "unpack", "--rootless", "--image", f"{layout}:v1", str(bundle)])
    rootfs = bundle / "rootfs"
    assert (rootfs / "sysroot/ostree/repo/config").read_text().startswith("[core]")
    tool = rootfs / "usr/bin/tool0"
    assert tool.is_file()
    objects = list((rootfs / "sysroot/ostree/repo/objects").rglob("*.file"))
    assert any(os.path.samestat(tool.stat(), obj.stat()) for obj in objects)  # hardlink kept
    assert len(list((rootfs / "usr/lib").iterdir())) == 49
