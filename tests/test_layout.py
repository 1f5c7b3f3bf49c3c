import json
import os
from pathlib import Path

import pytest

from ociforge.digest import Digest
from ociforge.errors import ArchiveError
from ociforge.layout import LayoutWriter, OciLayout, collect_garbage
from ociforge.sink import write_image
from ociforge.transports import copy_image
from ociforge.validate import validate_image
from tests.support import images


def blob_path(layout: Path, digest: str) -> Path:
    return layout / "blobs" / "sha256" / digest.split(":")[1]


def test_read_layout(tmp_path: Path, small_image: images.BuiltImage) -> None:
    images.write_layout(str(tmp_path / "l"), [(small_image, "v1")])
    with OciLayout(str(tmp_path / "l")) as layout:
        image = layout.image("v1")
        assert str(image.digest) == small_image.digest
        validate_image(image)


def test_symlinked_blob_is_refused(tmp_path: Path, small_image: images.BuiltImage) -> None:
    # ggcr #2306: a layout blob that is a symlink reads an arbitrary host file.
    layout = tmp_path / "l"
    images.write_layout(str(layout), [(small_image, "")])
    blob = blob_path(layout, small_image.layers[0].digest)
    blob.unlink()
    blob.symlink_to("/etc/passwd")
    with OciLayout(str(layout)) as src, pytest.raises(ArchiveError, match="symlink; refused"):
        validate_image(src.image())


def test_symlinked_blob_directory_is_refused(
    tmp_path: Path, small_image: images.BuiltImage
) -> None:
    real = tmp_path / "elsewhere"
    images.write_layout(str(real), [(small_image, "")])
    layout = tmp_path / "l"
    images.write_layout(str(layout), [(small_image, "")])
    import shutil

    shutil.rmtree(layout / "blobs" / "sha256")
    (layout / "blobs" / "sha256").symlink_to(real / "blobs" / "sha256")
    with OciLayout(str(layout)) as src, pytest.raises(ArchiveError, match="symlink; refused"):
        src.image()


def test_fifo_blob_is_refused_without_blocking(
    tmp_path: Path, small_image: images.BuiltImage
) -> None:
    layout = tmp_path / "l"
    images.write_layout(str(layout), [(small_image, "")])
    blob = blob_path(layout, small_image.layers[0].digest)
    blob.unlink()
    os.mkfifo(blob)
    with OciLayout(str(layout)) as src, pytest.raises(ArchiveError, match="not a regular file"):
        validate_image(src.image())


def test_writer_adds_to_existing_layout_and_replaces_same_ref(
    tmp_path: Path, small_image: images.BuiltImage, cosa_image: images.BuiltImage
) -> None:
    layout = tmp_path / "l"
    images.write_layout(str(layout), [(small_image, "v1")])
    archive = images.write_archive(str(tmp_path / "c.tar"), [(cosa_image, "")])
    copy_image(f"oci-archive:{archive}", f"oci:{layout}:v2")
    copy_image(f"oci-archive:{archive}", f"oci:{layout}:v1")  # v1 now points at the cosa image
    index = json.loads((layout / "index.json").read_text())
    refs = {
        m["annotations"]["org.opencontainers.image.ref.name"]: m["digest"]
        for m in index["manifests"]
    }
    assert refs == {"v1": cosa_image.digest, "v2": cosa_image.digest}
    with OciLayout(str(layout)) as src:
        validate_image(src.image("v1"))


def test_writer_abort_removes_new_blobs_and_new_directory(
    tmp_path: Path, small_image: images.BuiltImage
) -> None:
    src_dir = tmp_path / "src"
    images.write_layout(str(src_dir), [(small_image, "")])
    image = OciLayout(str(src_dir)).image()
    writer = LayoutWriter(str(tmp_path / "new"))
    write_image(image, writer)
    writer.abort()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]

    existing = tmp_path / "existing"
    other = images.image([images.layer([images.file("x", "y")])])
    images.write_layout(str(existing), [(other, "keep")])
    before = sorted(p.name for p in (existing / "blobs" / "sha256").iterdir())
    writer = LayoutWriter(str(existing))
    write_image(image, writer)
    writer.abort()
    assert sorted(p.name for p in (existing / "blobs" / "sha256").iterdir()) == before


def test_refuses_non_layout_directory(tmp_path: Path, small_image: images.BuiltImage) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "precious.txt").write_text("x")
    with pytest.raises(ArchiveError, match="not empty and not an OCI layout"):
        LayoutWriter(str(tmp_path / "d"))


def test_garbage_collection(
    tmp_path: Path, small_image: images.BuiltImage, cosa_image: images.BuiltImage
) -> None:
    layout = tmp_path / "l"
    images.write_layout(str(layout), [(small_image, "a"), (cosa_image, "b")])
    (layout / "index.json").write_bytes(images.index_json([(small_image, "a")]))
    (layout / "blobs" / "sha256" / ".tmp-stale").write_bytes(b"partial")
    removed = collect_garbage(str(layout))
    expected = {Digest.parse(d) for d in cosa_image.blobs()} - {
        Digest.parse(d) for d in small_image.blobs()
    }
    assert set(removed) == expected
    left = {p.name for p in (layout / "blobs" / "sha256").iterdir()}
    assert left == {d.split(":")[1] for d in small_image.blobs()}
    with OciLayout(str(layout)) as src:
        validate_image(src.image("a"))
