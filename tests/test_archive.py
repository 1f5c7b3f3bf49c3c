import hashlib
import json
import random
import tarfile
from pathlib import Path

import pytest

from ociforge.archive import ArchiveWriter, OciArchive
from ociforge.errors import ArchiveError, DigestMismatch, ManifestError, NotFound, SizeMismatch
from ociforge.sink import write_image
from ociforge.transports import copy_image
from ociforge.validate import validate_image
from tests.support import images


def file_hash(path: Path | str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_reads_cosa_archive_in_place(cosa_archive: Path, cosa_image: images.BuiltImage) -> None:
    with OciArchive(str(cosa_archive)) as archive:
        image = archive.image()
        assert str(image.digest) == cosa_image.digest
        assert len(image.layers) == 50
        assert image.labels["ostree.final-diffid"] == cosa_image.layers[-1].diff_id
        assert [str(lay.diff_id) for lay in image.layers] == [
            lay.diff_id for lay in cosa_image.layers
        ]
        validate_image(image)


@pytest.mark.parametrize("prefix", ["", "./"])
@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_name_prefixes_and_tar_formats(
    tmp_path: Path, small_image: images.BuiltImage, prefix: str, fmt: int
) -> None:
    path = images.write_archive(
        str(tmp_path / "a.tar"), [(small_image, "latest")], prefix=prefix, format=fmt
    )
    with OciArchive(path) as archive:
        assert str(archive.image("latest").digest) == small_image.digest


def test_select_by_ref_name(
    tmp_path: Path, small_image: images.BuiltImage, cosa_image: images.BuiltImage
) -> None:
    path = images.write_archive(
        str(tmp_path / "a.tar"), [(small_image, "small"), (cosa_image, "cosa")]
    )
    with OciArchive(path) as archive:
        assert str(archive.image("cosa").digest) == cosa_image.digest
        assert str(archive.image("small").digest) == small_image.digest
        with pytest.raises(NotFound, match=r"no manifest named 'nope'.*cosa, small"):
            archive.image("nope")
        with pytest.raises(ManifestError, match="holds 2 manifests; name one"):
            archive.image()


def test_nested_index_is_resolved_by_platform(
    tmp_path: Path, small_image: images.BuiltImage
) -> None:
    arm = images.image(small_image.layers, architecture="arm64")
    inner = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": images.OCI_INDEX,
            "manifests": [
                {
                    "mediaType": images.OCI_MANIFEST,
                    "digest": arm.digest,
                    "size": len(arm.manifest),
                    "platform": {"os": "linux", "architecture": "arm64"},
                },
                {
                    "mediaType": images.OCI_MANIFEST,
                    "digest": small_image.digest,
                    "size": len(small_image.manifest),
                    "platform": {"os": "linux", "architecture": "amd64"},
                },
            ],
        }
    ).encode()
    layout = tmp_path / "layout"
    images.write_layout(str(layout), [(small_image, ""), (arm, "")])
    (layout / "blobs" / "sha256" / images.sha256(inner).split(":")[1]).write_bytes(inner)
    (layout / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": images.OCI_INDEX,
                        "digest": images.sha256(inner),
                        "size": len(inner),
                        "annotations": {images.REF_NAME: "multi"},
                    }
                ],
            }
        )
    )
    from ociforge.layout import OciLayout
    from ociforge.spec import Platform

    with OciLayout(str(layout)) as src:
        assert str(src.image("multi", platform=Platform("linux", "arm64")).digest) == arm.digest
        assert (
            str(src.image("multi", platform=Platform("linux", "amd64")).digest)
            == small_image.digest
        )
        with pytest.raises(NotFound, match="no manifest for platform linux/s390x"):
            src.image("multi", platform=Platform("linux", "s390x"))


def test_write_is_deterministic_and_readable_by_tarfile(tmp_path: Path, cosa_archive: Path) -> None:
    a, b = tmp_path / "a.ociarchive", tmp_path / "b.ociarchive"
    copy_image(f"oci-archive:{cosa_archive}", f"oci-archive:{a}")
    copy_image(f"oci-archive:{cosa_archive}", f"oci-archive:{b}")
    assert file_hash(a) == file_hash(b)
    with tarfile.open(a) as tf:
        names = tf.getnames()
        assert names[0] == "oci-layout" and names[-1] == "index.json"
        for member in tf.getmembers():
            if member.name.startswith("blobs/sha256/") and member.isfile():
                data = tf.extractfile(member).read()  # type: ignore[union-attr]
                assert hashlib.sha256(data).hexdigest() == member.name.rsplit("/", 1)[1]


def test_round_trip_archive_layout_archive_keeps_manifest(
    tmp_path: Path, cosa_archive: Path, cosa_image: images.BuiltImage
) -> None:
    d1 = copy_image(f"oci-archive:{cosa_archive}", f"oci:{tmp_path / 'layout'}:x")
    d2 = copy_image(f"oci:{tmp_path / 'layout'}:x", f"oci-archive:{tmp_path / 'back.ociarchive'}")
    assert str(d1.digest) == str(d2.digest) == cosa_image.digest
    with OciArchive(str(tmp_path / "back.ociarchive")) as back:
        image = back.image()
        assert image.raw_manifest == cosa_image.manifest
        assert image.raw_config == cosa_image.config
        validate_image(image)


# --- bad input: each a clear error, no output left behind, input untouched -------------------


def tamper(path: Path, needle: bytes, replacement: bytes) -> None:
    data = path.read_bytes()
    assert data.count(needle) >= 1
    path.write_bytes(data.replace(needle, replacement, 1))


def assert_no_output(directory: Path, keep: set[str]) -> None:
    left = {p.name for p in directory.iterdir()} - keep
    assert left == set(), left


def test_truncated_archive(tmp_path: Path, cosa_archive: Path) -> None:
    with tarfile.open(cosa_archive) as tf:
        last = tf.getmembers()[-1]
        end = last.offset_data + last.size + (-last.size % 512)
    # Cut inside a header, inside blob data, just before the end, and exactly at the end of the
    # last member (everything there but the end-of-archive marker).
    for cut in (100, 512, end // 2, end - 1, end):
        short = tmp_path / f"cut{cut}.tar"
        short.write_bytes(cosa_archive.read_bytes()[:cut])
        with pytest.raises((ArchiveError, NotFound)):
            OciArchive(str(short)).image()


def test_blob_bytes_not_matching_digest(
    tmp_path: Path, cosa_archive: Path, cosa_image: images.BuiltImage
) -> None:
    victim = cosa_image.layers[3].blob
    tamper(cosa_archive, victim[100:140], bytes(40))
    before = file_hash(cosa_archive)
    out = tmp_path / "out.ociarchive"
    with pytest.raises(DigestMismatch, match=cosa_image.layers[3].digest):
        copy_image(f"oci-archive:{cosa_archive}", f"oci-archive:{out}")
    assert not out.exists()
    assert_no_output(tmp_path, {cosa_archive.name})
    assert file_hash(cosa_archive) == before


def test_missing_blob(tmp_path: Path, small_image: images.BuiltImage) -> None:
    layout = tmp_path / "l"
    images.write_layout(str(layout), [(small_image, "")])
    (layout / "blobs" / "sha256" / small_image.layers[0].digest.split(":")[1]).unlink()
    with pytest.raises(NotFound, match="is missing"):
        copy_image(f"oci:{layout}", f"oci-archive:{tmp_path / 'o.tar'}")
    assert not (tmp_path / "o.tar").exists()


def test_manifest_layer_size_lies(tmp_path: Path, small_image: images.BuiltImage) -> None:
    doc = json.loads(small_image.manifest)
    doc["layers"][1]["size"] -= 1
    liar = images.BuiltImage(json.dumps(doc).encode(), small_image.config, small_image.layers)
    path = images.write_archive(str(tmp_path / "a.tar"), [(liar, "")])
    with pytest.raises(SizeMismatch, match="descriptor says"):
        copy_image(f"oci-archive:{path}", f"oci:{tmp_path / 'o'}")
    assert not (tmp_path / "o").exists()


def test_index_json_not_json(tmp_path: Path, small_image: images.BuiltImage) -> None:
    layout = tmp_path / "l"
    images.write_layout(str(layout), [(small_image, "")])
    (layout / "index.json").write_text("{not json")
    with pytest.raises(ManifestError, match=r"index\.json is not valid JSON"):
        copy_image(f"oci:{layout}", f"oci:{tmp_path / 'o'}")


def test_symlink_member_for_a_blob_is_refused(
    tmp_path: Path, small_image: images.BuiltImage
) -> None:
    layout = tmp_path / "l"
    images.write_layout(str(layout), [(small_image, "")])
    blob = layout / "blobs" / "sha256" / small_image.layers[0].digest.split(":")[1]
    blob.unlink()
    blob.symlink_to("/etc/passwd")
    path = tmp_path / "a.tar"
    with tarfile.open(path, "w") as tf:
        tf.add(layout, arcname=".")
    with pytest.raises(ArchiveError, match=r"link or special file; refused"):
        copy_image(f"oci-archive:{path}", f"oci:{tmp_path / 'o'}")


def test_not_a_tar(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar"
    bad.write_bytes(random.Random(4096).randbytes(4096))
    with pytest.raises(ArchiveError, match="checksum"):
        OciArchive(str(bad))


def test_missing_oci_layout_file(tmp_path: Path) -> None:
    path = tmp_path / "a.tar"
    with tarfile.open(path, "w") as tf:
        info = tarfile.TarInfo("index.json")
        data = b'{"schemaVersion":2,"manifests":[]}'
        info.size = len(data)
        import io

        tf.addfile(info, io.BytesIO(data))
    with pytest.raises(NotFound, match="oci-layout is missing"):
        OciArchive(str(path))


def test_writer_abort_leaves_nothing(tmp_path: Path, small_image: images.BuiltImage) -> None:
    path = images.write_archive(str(tmp_path / "src.tar"), [(small_image, "")])
    image = OciArchive(path).image()
    writer = ArchiveWriter(str(tmp_path / "dst.tar"))
    write_image(image, writer)
    writer.abort()
    assert_no_output(tmp_path, {"src.tar"})


def test_overwriting_the_source_archive_in_place(
    tmp_path: Path, small_image: images.BuiltImage
) -> None:
    path = images.write_archive(str(tmp_path / "same.tar"), [(small_image, "")])
    copy_image(f"oci-archive:{path}", f"oci-archive:{path}:renamed")
    with OciArchive(path) as archive:
        image = archive.image("renamed")
        assert str(image.digest) == small_image.digest
        validate_image(image)
