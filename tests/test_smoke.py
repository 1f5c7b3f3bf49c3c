from pathlib import Path

from tests.support import images
from tests.support.cli import ociforge


def test_copy_archive_to_layout_keeps_digest(
    tmp_path: Path, small_image: images.BuiltImage
) -> None:
    src = images.write_archive(str(tmp_path / "in.ociarchive"), [(small_image, "")])
    result = ociforge("copy", f"oci-archive:{src}", f"oci:{tmp_path / 'out'}:v1")
    assert result.code == 0, result.err
    assert result.out.strip() == small_image.digest
