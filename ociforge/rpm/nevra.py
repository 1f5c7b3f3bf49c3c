"""A package's identity: name, epoch, version, release and architecture (NEVRA)."""

from __future__ import annotations

from dataclasses import dataclass

from .header import Header
from .tags import Tag

__all__ = ["Nevra"]


@dataclass(frozen=True, slots=True, order=True)
class Nevra:
    """A package's name, epoch, version, release and architecture."""

    name: str
    epoch: int
    version: str
    release: str
    arch: str

    @property
    def evr(self) -> str:
        """``[epoch:]version-release`` (epoch only when not 0), as rpm prints it."""
        head = f"{self.epoch}:" if self.epoch else ""
        return f"{head}{self.version}-{self.release}"

    def __str__(self) -> str:
        return f"{self.name}-{self.evr}.{self.arch}"

    @classmethod
    def of_header(cls, header: Header) -> Nevra:
        """The NEVRA a header describes."""
        return cls(
            header.string(Tag.NAME) or "",
            header.integer(Tag.EPOCH) or 0,
            header.string(Tag.VERSION) or "",
            header.string(Tag.RELEASE) or "",
            header.string(Tag.ARCH) or "noarch",
        )
