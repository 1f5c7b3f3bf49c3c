import json
from pathlib import Path

from ociforge.archive import OciArchive
from ociforge.validate import validate_image
from tests.support.cli import ociforge
from tests.support.tools import skopeo


def test_demo_runs_offline_and_its_output_is_valid(tmp_path: Path) -> None:
    result = ociforge("demo", "--json", "-o", str(tmp_path / "demo"))
    assert result.code == 0, result.err
    steps = json.loads(result.out)
    derived = Path(steps[1]["path"])
    with OciArchive(str(derived)) as archive:
        image = archive.image()
        validate_image(image)
        assert str(image.digest) == steps[1]["digest"]
        assert image.labels["containers.bootc"] == "1"
    assert (
        json.loads(skopeo("inspect", f"oci-archive:{derived}").stdout)["Digest"]
        == steps[1]["digest"]
    )


def test_demo_is_reproducible(tmp_path: Path) -> None:
    a = json.loads(ociforge("demo", "--json", "-o", str(tmp_path / "a")).out)
    b = json.loads(ociforge("demo", "--json", "-o", str(tmp_path / "b")).out)
    assert a[0]["digest"] == b[0]["digest"]  # the sample base is byte-for-byte reproducible
