"""Indexes in the model: platforms normalised, an index kept whole, nesting and self-listing refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import ociforge
from ociforge.blobs import BytesSource
from ociforge.digest import Digest
from ociforge.image import resolve_document
from tests.support import images
from tests.support.cli import assert_clean_error
from tests.support.cli import ociforge as run


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("linux/aarch64", "linux/arm64"),
        ("linux/x86_64", "linux/amd64"),
        ("Linux/ARM64/v8", "linux/arm64"),
        ("linux/armhf", "linux/arm/v7"),
        ("linux/arm/7", "linux/arm/v7"),
    ],
)
def test_platforms_are_normalised(text: str, expected: str) -> None:
    assert str(ociforge.Platform.parse(text)) == expected


def test_a_layout_index_is_copied_whole_with_every_platform(tmp_path: Path) -> None:
    index = images.two_platform_index()
    layout = images.write_index_layout(str(tmp_path / "in"), index, ref="v1")
    document = ociforge.open_image_or_index(f"oci:{layout}:v1")
    assert isinstance(document, ociforge.ImageIndex)
    assert [str(p) for p in document.platforms()] == ["linux/amd64", "linux/arm64/v8"]
    saved = ociforge.save_image(document, f"oci-archive:{tmp_path / 'out.ociarchive'}")
    assert str(saved.digest) == index.digest
    arm = ociforge.open_image(
        f"oci-archive:{tmp_path / 'out.ociarchive'}",
        platform=ociforge.Platform.parse("linux/aarch64"),
    )
    assert str(arm.digest) == index.images[1].digest
    # Without --all the host's image is what copy takes.
    one = run("copy", f"oci:{layout}:v1", f"oci:{tmp_path / 'one'}:x")
    assert one.code == 0, one.err
    assert one.out.strip() in {img.digest for img in index.images}


def _nested(depth: int) -> tuple[images.BuiltIndex, list[images.BuiltIndex]]:
    """An index of an index of … (``depth`` levels) of one image."""
    img = images.platform_image("amd64")
    inner = images.image_index([(img, {"architecture": "amd64", "os": "linux"})])
    chain = [inner]
    for _ in range(depth - 1):
        document = {
            "schemaVersion": 2,
            "mediaType": images.OCI_INDEX,
            "manifests": [
                {
                    "mediaType": images.OCI_INDEX,
                    "digest": chain[-1].digest,
                    "size": len(chain[-1].raw),
                }
            ],
        }
        chain.append(images.BuiltIndex(json.dumps(document).encode(), [img]))
    return chain[-1], chain


def test_an_index_nested_too_deep_is_refused(tmp_path: Path) -> None:
    top, chain = _nested(10)
    layout = images.write_index_layout(str(tmp_path / "deep"), top)
    for level in chain:  # every level's bytes, not only the top's
        (tmp_path / "deep" / "blobs" / "sha256" / level.digest.split(":")[1]).write_bytes(level.raw)
    result = run("copy", "--all", f"oci:{layout}", f"oci-archive:{tmp_path / 'x.ociarchive'}")
    assert_clean_error(result, "nested more than 8 deep")
    assert not (tmp_path / "x.ociarchive").exists()
    inspect = run("inspect", f"oci:{layout}")
    assert_clean_error(inspect, "nested more than 8 deep")


def test_an_index_that_lists_itself_is_refused() -> None:
    # A source that checks no digests could serve an index as its own child; the walk refuses.
    index = images.two_platform_index()
    parsed = ociforge.Index.parse(index.raw)

    def fetch(descriptor: ociforge.Descriptor) -> bytes:
        return index.raw

    source = BytesSource({Digest.parse(d): b for d, b in index.blobs().items()})
    with pytest.raises(ociforge.ManifestError, match="lists itself"):
        resolve_document(index.raw, fetch=fetch, source=source, what="test")
    assert parsed.digest == Digest.parse(index.digest)


def test_rpm_files_are_chosen_by_the_architecture_in_their_names() -> None:
    from ociforge.cli.append import rpms_for

    files = ["a-1-1.noarch.rpm", "k-1-1.x86_64.rpm", "k-1-1.aarch64.rpm", "local.rpm"]
    assert rpms_for(files, "amd64") == ["a-1-1.noarch.rpm", "k-1-1.x86_64.rpm", "local.rpm"]
    assert rpms_for(files, "arm64") == ["a-1-1.noarch.rpm", "k-1-1.aarch64.rpm", "local.rpm"]
