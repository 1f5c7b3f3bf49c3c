"""The packages installed in an image (``rpm -qa``), read from its rpmdb without unpacking it."""

from __future__ import annotations

from dataclasses import dataclass

from ..image import Image
from ..rpm.inject import BASE_FILES, find_rpmdb
from ..rpm.rpmdb import Rpmdb, db_byteorder
from ..rpm.tags import Tag
from ..tar.flatten import FlatTree, flatten_image, wanted_paths

__all__ = ["InstalledRpm", "image_packages", "tree_packages"]


@dataclass(frozen=True, slots=True, order=True)
class InstalledRpm:
    """One installed package: what ``rpm -q --qf '%{NAME} %{EPOCH} …'`` prints."""

    name: str
    epoch: int | None
    version: str
    release: str
    arch: str

    @property
    def evr(self) -> str:
        """``[epoch:]version-release``."""
        head = f"{self.epoch}:" if self.epoch is not None else ""
        return f"{head}{self.version}-{self.release}"

    @property
    def nevra(self) -> str:
        """``name-[epoch:]version-release.arch``, as ``rpm -qa`` prints it."""
        return f"{self.name}-{self.evr}.{self.arch}"


def tree_packages(tree: FlatTree, *, architecture: str) -> list[InstalledRpm]:
    """The packages the rpmdb of a flattened tree records, sorted (empty without an rpmdb)."""
    db_dir, data = find_rpmdb(tree)
    if data is None:
        return []
    with Rpmdb(data, what=f"{db_dir}/rpmdb.sqlite", byteorder=db_byteorder(architecture)) as db:
        rows = db.packages()
    return sorted(
        InstalledRpm(
            p.name,
            p.header.integer(Tag.EPOCH),
            p.header.string(Tag.VERSION) or "",
            p.header.string(Tag.RELEASE) or "",
            p.header.string(Tag.ARCH) or "",
        )
        for p in rows
        if p.name != "gpg-pubkey"
    )


def image_packages(image: Image) -> list[InstalledRpm]:
    """The packages installed in ``image`` (its layers are read once, nothing is unpacked)."""
    tree = flatten_image(image, wanted=wanted_paths(BASE_FILES))
    try:
        return tree_packages(tree, architecture=image.config.architecture)
    finally:
        tree.close()
