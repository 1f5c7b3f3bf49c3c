import io
import json
import tarfile
from pathlib import Path

from ociforge.archive import OciArchive
from ociforge.image import Image
from ociforge.layer import Layer
from ociforge.mutate import HistoryEntry, append_layers
from ociforge.tar.build import SpooledLayerWriter
from ociforge.transports import save_image
from ociforge.validate import validate_image
from tests.support import images
from tests.support.sources import CountingSource
from tests.support.tools import skopeo


def new_layer(files: dict[str, bytes]) -> Layer:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    w = SpooledLayerWriter("gzip")
    w.write(raw.getvalue())
    return w.finish()


def test_append_is_lazy_and_keeps_everything(
    cosa_archive: Path, cosa_image: images.BuiltImage, tmp_path: Path
) -> None:
    archive = OciArchive(str(cosa_archive))
    base = archive.image()
    counting = CountingSource(archive)
    base = Image(
        base.manifest,
        base.config,
        tuple(Layer(lay.descriptor, lay.diff_id, counting) for lay in base.layers),
        name=base.name,
    )
    layer = new_layer({"etc/motd": b"hello\n"})
    derived = append_layers(
        base, [layer], history=[HistoryEntry(created_by="ociforge test")], labels={"x": "1"}
    )
    assert counting.opened == []  # building the derived image opened no base layer

    assert len(derived.layers) == 51
    assert derived.layers[:50] == base.layers
    config = json.loads(derived.raw_config)
    old = json.loads(cosa_image.config)
    assert config["rootfs"]["diff_ids"] == [*old["rootfs"]["diff_ids"], str(layer.diff_id)]
    assert config["history"][-1]["created_by"] == "ociforge test"
    assert len(config["history"]) == len(old["history"]) + 1
    labels = config["config"]["Labels"]
    for key in ("ostree.final-diffid", "ostree.bootable", "containers.bootc", "ostree.commit"):
        assert labels[key] == old["config"]["Labels"][key]
    assert labels["x"] == "1"
    assert list(config) == list(old)  # key order kept
    manifest = json.loads(derived.raw_manifest)
    assert manifest["annotations"] == json.loads(cosa_image.manifest)["annotations"]
    assert manifest["layers"][:50] == json.loads(cosa_image.manifest)["layers"]
    assert manifest["layers"][50]["digest"] == str(layer.digest)

    out = tmp_path / "derived.ociarchive"
    save_image(derived, f"oci-archive:{out}")
    with OciArchive(str(out)) as written:
        again = written.image()
        assert again.digest == derived.digest
        validate_image(again)
    inspected = json.loads(skopeo("inspect", f"oci-archive:{out}").stdout)
    assert inspected["Digest"] == str(derived.digest)
    assert len(inspected["Layers"]) == 51
