import datetime
import json
from pathlib import Path

import pytest

from ociforge.archive import OciArchive
from ociforge.errors import PolicyError
from ociforge.image import Image
from ociforge.mutate.rebase import rebase_image
from ociforge.recipes.rebase import rebase_content
from ociforge.transports import save_image
from ociforge.validate import validate_image
from tests.support import images


def base(version: str, marker: str) -> images.BuiltImage:
    commit = images.layer(
        [images.directory("usr"), images.file("usr/lib/os-release", f"VERSION_ID={version}\n")]
    )
    chunk = images.layer([images.directory("usr"), images.file(f"usr/share/{marker}", marker)])
    labels = {
        "ostree.bootable": "true",
        "ostree.final-diffid": chunk.diff_id,
        "org.opencontainers.image.version": version,
        "containers.bootc": "1",
    }
    return images.image(
        [commit, chunk],
        labels=labels,
        annotations=labels,
        history=[{"created_by": "ostree commit"}, {"created_by": "chunk"}],
    )


def derive(old: images.BuiltImage) -> images.BuiltImage:
    extra = [
        images.layer([images.directory("etc"), images.file("etc/motd", "custom\n")]),
        images.layer(
            [images.directory("usr"), images.file("usr/bin/agent", "#!/bin/sh\n", mode=0o755)]
        ),
    ]
    cfg = json.loads(old.config)
    history = cfg["history"] + [
        {"created_by": "COPY motd"},
        {"created_by": "LABEL", "empty_layer": True},
        {"created_by": "RUN install agent"},
    ]
    labels = {
        **cfg["config"]["Labels"],
        "com.example.team": "infra",
        "ostree.final-diffid": "sha256:" + "0" * 64,
    }
    return images.image(
        old.layers + extra,
        labels=labels,
        history=history,
        annotations={**json.loads(old.manifest)["annotations"], "com.example.team": "infra"},
    )


def load(tmp_path: Path, built: images.BuiltImage, name: str) -> Image:
    path = images.write_archive(str(tmp_path / f"{name}.tar"), [(built, "")])
    return OciArchive(path, name=name).image()


def test_rebase_restacks_added_layers_on_new_base(tmp_path: Path) -> None:
    old, new = base("42", "old"), base("43", "new")
    derived = derive(old)
    result = rebase_image(
        load(tmp_path, derived, "derived"),
        old_base=load(tmp_path, old, "old"),
        new_base=load(tmp_path, new, "new"),
    )
    assert [str(lay.digest) for lay in result.layers] == [
        lay.digest for lay in new.layers + derived.layers[2:]
    ]
    config = json.loads(result.raw_config)
    assert [str(d) for d in result.config.diff_ids] == [
        lay.diff_id for lay in new.layers + derived.layers[2:]
    ]
    labels = config["config"]["Labels"]
    assert labels["org.opencontainers.image.version"] == "43"
    assert (
        labels["ostree.final-diffid"] == new.layers[-1].diff_id
    )  # the new base's ostree labels win
    assert labels["com.example.team"] == "infra"  # the user's label carries over
    assert [h["created_by"] for h in config["history"]] == [
        "ostree commit",
        "chunk",
        "COPY motd",
        "LABEL",
        "RUN install agent",
    ]
    assert json.loads(result.raw_manifest)["annotations"]["com.example.team"] == "infra"
    out = tmp_path / "rebased.ociarchive"
    save_image(result, f"oci-archive:{out}")
    validate_image(OciArchive(str(out)).image())


def test_rebase_refuses_an_unrelated_base(tmp_path: Path) -> None:
    old, new = base("42", "old"), base("43", "new")
    derived = derive(old)
    with pytest.raises(PolicyError, match="is not built on"):
        rebase_image(
            load(tmp_path, derived, "derived"),
            old_base=load(tmp_path, new, "wrong"),
            new_base=load(tmp_path, new, "new"),
        )


def test_rebase_content_without_stale_copies_is_the_plain_restack(tmp_path: Path) -> None:
    old, new = base("42", "old"), base("43", "new")
    images_ = [load(tmp_path, b, n) for b, n in ((derive(old), "d"), (old, "o"), (new, "n"))]
    when = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)
    plain = rebase_image(images_[0], old_base=images_[1], new_base=images_[2], created=when)
    result = rebase_content(images_[0], old_base=images_[1], new_base=images_[2], created=when)
    assert result.image.digest == plain.digest
    assert (result.rewritten, result.deleted, result.warnings) == ((), (), ())


def test_rebase_content_warns_about_a_stale_overwrite(tmp_path: Path) -> None:
    old, new = base("42", "old"), base("43", "new")
    cfg = json.loads(old.config)
    copy = images.layer(
        [images.directory("usr"), images.file("usr/lib/os-release", "VERSION_ID=42 custom\n")]
    )
    derived = images.image([*old.layers, copy], labels=cfg["config"]["Labels"])
    args = [load(tmp_path, b, n) for b, n in ((derived, "d"), (old, "o"), (new, "n"))]
    result = rebase_content(args[0], old_base=args[1], new_base=args[2])
    assert result.warnings == (
        "/usr/lib/os-release: the derived layers overwrite this file of the old base, which the"
        " new base changed; the derived version is kept",
    )
    assert len(result.image.layers) == 3  # warned, not fixed
    with pytest.raises(PolicyError, match="--strict: /usr/lib/os-release"):
        rebase_content(args[0], old_base=args[1], new_base=args[2], strict=True)


def test_rebase_content_warns_when_a_directory_hides_a_new_symlink(tmp_path: Path) -> None:
    old, new = base("42", "old"), base("43", "new")
    moved = images.layer(
        [
            images.directory("usr"),
            images.directory("usr/lib"),
            images.directory("usr/lib/sysimage"),
            images.directory("usr/lib/sysimage/rpm"),
            images.directory("usr/share"),
            images.symlink("usr/share/rpm", "../lib/sysimage/rpm"),
        ]
    )
    new = images.image([*new.layers, moved], labels=json.loads(new.config)["config"]["Labels"])
    old_tree = images.layer([images.directory("usr/share/rpm")])
    old = images.image([*old.layers, old_tree], labels=json.loads(old.config)["config"]["Labels"])
    added = images.layer([images.directory("usr/share/rpm"), images.file("usr/share/rpm/x", "x")])
    derived = images.image([*old.layers, added])
    args = [load(tmp_path, b, n) for b, n in ((derived, "d"), (old, "o"), (new, "n"))]
    result = rebase_content(args[0], old_base=args[1], new_base=args[2])
    assert result.warnings == (
        "/usr/share/rpm: the derived layers make this a directory; the new base has a symlink"
        " to ../lib/sysimage/rpm here, which they hide",
    )
