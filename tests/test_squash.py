"""Squash: one layer with the same effect as the stack it replaces, minus deleted content."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ociforge.errors import OciforgeError, PolicyError, UnsupportedError
from ociforge.recipes.bundle import unpack_bundle
from ociforge.recipes.squash import squash_image
from ociforge.transports import open_image, save_image
from ociforge.validate import validate_image
from tests.support import images
from tests.support import layers as oracle
from tests.support.cli import assert_clean_error, ociforge
from tests.support.images import directory, file, hardlink, symlink
from tests.support.stacks import base_layer, stacks
from tests.support.tools import need, ostree_import, run, skopeo
from tests.support.trees import snapshot

SECRET = b"hunter2-registry-token"


def stack() -> images.BuiltImage:
    ostree = images.layer(
        [
            directory("usr"),
            directory("usr/bin"),
            file("usr/bin/base", "base tool"),
            directory("etc"),
            file("etc/base.conf", "base"),
            directory("var"),
            directory("var/cache"),
            file("var/cache/old", "old"),
            symlink("opt", "var/opt"),
        ]
    )
    add = images.layer(
        [
            directory("etc"),
            file("etc/creds", SECRET),
            file("usr/bin/tool", "tool v1"),
            hardlink("usr/bin/tool-link", "usr/bin/tool"),
            file("usr/bin/data", "data"),
            hardlink("usr/bin/data-link", "usr/bin/data"),
        ]
    )
    clean = images.layer(
        [
            wh("etc/.wh.creds"),
            file("usr/bin/tool", "tool v2"),  # overwrites a link target (ggcr #2002)
            wh("usr/bin/.wh.data"),  # deletes a link target (ggcr #977)
            wh("etc/.wh.base.conf"),  # deletes content below the stack
            directory("var/cache"),
            wh("var/cache/.wh..wh..opq"),  # hides content below the stack
            file("var/cache/new", "new"),
            directory("opt"),  # a directory replaces the base's symlink
            file("opt/app", "app"),
        ]
    )
    final = images.layer([file("usr/bin/late", "late")])
    labels = {"ostree.final-diffid": ostree.diff_id, "ostree.bootable": "true"}
    return images.image([ostree, add, clean, final], labels=labels)


def wh(name: str) -> images.Entry:
    return file(name, b"")


def unpacked(image: object, where: Path) -> dict[str, object]:
    unpack_bundle(image, str(where), source="test")  # type: ignore[arg-type]
    return snapshot(where / "rootfs")  # type: ignore[return-value]


@pytest.fixture
def layout(tmp_path: Path) -> str:
    images.write_layout(str(tmp_path / "in"), [(stack(), "v1")])
    return f"oci:{tmp_path / 'in'}:v1"


def test_squash_keeps_the_effect_and_drops_deleted_content(tmp_path: Path, layout: str) -> None:
    image = open_image(layout)
    squashed = squash_image(image).image
    assert len(squashed.layers) == 2  # the ostree layer, then everything else folded
    assert squashed.layers[0] == image.layers[0]
    assert squashed.labels["ostree.final-diffid"] == image.labels["ostree.final-diffid"]
    assert [h["created_by"] for h in squashed.config.history] == ["layer 0", "ociforge squash"]
    raw = oracle.decompress(oracle.layer_blob(squashed.layers[-1]))
    assert SECRET not in raw
    names = {m.name for m in oracle.members(raw)}
    assert "etc/.wh.base.conf" in names
    assert "var/cache/.wh..wh..opq" in names
    # The base layers are not read, so a whiteout of a path the stack both added and deleted
    # stays (harmless: the name, never the content).
    assert "etc/creds" not in names
    assert unpacked(squashed, tmp_path / "s") == unpacked(image, tmp_path / "o")
    save_image(squashed, f"oci:{tmp_path / 'out'}:v2")
    validate_image(open_image(f"oci:{tmp_path / 'out'}:v2"))


def test_ostree_accepts_the_squashed_layer(tmp_path: Path, layout: str) -> None:
    top = squash_image(open_image(layout)).image.layers[-1]
    repo = ostree_import(oracle.layer_blob(top), tmp_path / "ostree")
    listing = run(["ostree", "ls", f"--repo={repo}", "-R", "layer"]).stdout
    assert "/usr/bin/tool-link" in listing
    assert "/etc/creds" not in listing


def test_links_whose_targets_changed_keep_their_content(tmp_path: Path, layout: str) -> None:
    tree = unpacked(squash_image(open_image(layout)).image, tmp_path / "s")
    assert (tmp_path / "s/rootfs/usr/bin/tool-link").read_text() == "tool v1"
    assert (tmp_path / "s/rootfs/usr/bin/tool").read_text() == "tool v2"
    assert (tmp_path / "s/rootfs/usr/bin/data-link").read_text() == "data"
    assert "usr/bin/data" not in tree


def test_umoci_sees_the_same_tree_in_both(tmp_path: Path, layout: str) -> None:
    need("umoci")
    src = layout.split(":")[1]
    save_image(squash_image(open_image(layout)).image, f"oci:{src}:squashed")
    run(["umoci", "unpack", "--image", f"{src}:v1", str(tmp_path / "a")])
    run(["umoci", "unpack", "--image", f"{src}:squashed", str(tmp_path / "b")])
    assert snapshot(tmp_path / "a/rootfs") == snapshot(tmp_path / "b/rootfs")


def test_base_rules(layout: str) -> None:
    image = open_image(layout)
    with pytest.raises(PolicyError, match="ostree"):
        squash_image(image, base=0)
    with pytest.raises(OciforgeError, match="has 4 layers"):
        squash_image(image, base=9)
    nothing = squash_image(image, base=3)  # one layer above: nothing to fold
    assert nothing.image is image and nothing.layer is None
    assert len(squash_image(image, base=2).image.layers) == 3


def test_squash_cli(tmp_path: Path, layout: str) -> None:
    out = tmp_path / "out.ociarchive"
    result = ociforge("squash", layout, f"oci-archive:{out}", "--json")
    assert result.code == 0, result.err
    assert '"after": 2' in result.out
    validate_image(open_image(f"oci-archive:{out}"))
    skopeo("inspect", f"oci-archive:{out}")
    refused = ociforge("squash", layout, f"oci-archive:{tmp_path / 'no.ociarchive'}", "--base", "0")
    assert_clean_error(refused, "ostree content")
    assert not (tmp_path / "no.ociarchive").exists()


def test_property_squash_unpacks_like_the_stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    compared: list[int] = []
    refused: list[str] = []

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(layers=stacks(), base=st.sampled_from([0, 1]))
    def check(layers: list[list[images.Entry]], base: int) -> None:
        tmp = tmp_path_factory.mktemp("prop")
        built = images.image([images.layer(base_layer()), *(images.layer(e) for e in layers)])
        images.write_layout(str(tmp / "in"), [(built, "v1")])
        image = open_image(f"oci:{tmp / 'in'}:v1")
        try:
            expected = unpacked(image, tmp / "o")
        except OciforgeError:
            assume(False)  # the stack itself is not unpackable (e.g. a link to nothing)
        try:
            squashed = squash_image(image, base=base).image
        except UnsupportedError as exc:
            refused.append(str(exc))
            assume(False)
        assert unpacked(squashed, tmp / "s") == expected
        compared.append(base)

    check()
    # Refused stacks are retried, not counted: the property held for this many real squashes.
    assert len(compared) >= 30, f"only {len(compared)} squashed stacks were compared"
    assert set(compared) == {0, 1}
    # Only a link into the unread base whose target the stack then changes is refused.
    assert all("points to" in message for message in refused), refused


def test_a_link_into_the_base_whose_target_the_stack_changes_is_refused(tmp_path: Path) -> None:
    built = images.image(
        [
            images.layer(base_layer()),
            images.layer([hardlink("h", "a/x")]),
            images.layer([directory("a"), file("a/x", "changed")]),
        ]
    )
    images.write_layout(str(tmp_path / "in"), [(built, "v1")])
    image = open_image(f"oci:{tmp_path / 'in'}:v1")
    with pytest.raises(UnsupportedError, match="hard link /h points to /a/x below the squashed"):
        squash_image(image, base=1)
    # Folding the base in too reads the link's target, so nothing needs refusing.
    assert unpacked(squash_image(image, base=0).image, tmp_path / "s") == unpacked(
        image, tmp_path / "o"
    )
