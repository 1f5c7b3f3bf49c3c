"""The validated ``algorithm:hex`` content digest and the hashers behind it."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

from .errors import InvalidDigest

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["ALGORITHMS", "Digest", "Hasher"]

#: Supported algorithms and the length of their lowercase hex encoding.
ALGORITHMS: Final = {"sha256": 64, "sha512": 128}

_HEX = re.compile(r"[0-9a-f]+")


class Hasher(Protocol):
    """What ``hashlib`` objects offer; used to type incremental hashing."""

    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...
    def hexdigest(self) -> str: ...


@dataclass(frozen=True, slots=True, order=True)
class Digest:
    """A content digest such as ``sha256:<64 hex>``; valid once constructed.

    Strings from any input are parsed with :meth:`parse` before they reach a URL or a file path,
    so ``sha256:../../x`` can never name a file.
    """

    algorithm: str
    hex: str

    def __post_init__(self) -> None:
        length = ALGORITHMS.get(self.algorithm)
        if length is None:
            raise InvalidDigest(f"unsupported digest algorithm {self.algorithm!r}")
        if len(self.hex) != length or not _HEX.fullmatch(self.hex):
            raise InvalidDigest(
                f"invalid {self.algorithm} digest {_shorten(self.hex)!r}: "
                f"expected {length} lowercase hex characters"
            )

    @classmethod
    def parse(cls, text: object) -> Digest:
        """Parse ``algorithm:hex``; raise :class:`InvalidDigest` for anything else."""
        if not isinstance(text, str):
            raise InvalidDigest(f"digest must be a string, not {type(text).__name__}")
        algorithm, sep, hex_ = text.partition(":")
        if not sep:
            raise InvalidDigest(f"invalid digest {_shorten(text)!r}: missing 'algorithm:'")
        return cls(algorithm, hex_)

    @classmethod
    def of_bytes(cls, data: bytes | bytearray | memoryview, algorithm: str = "sha256") -> Digest:
        """Digest of an in-memory byte string."""
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    @classmethod
    def of_chunks(cls, chunks: Iterable[bytes], algorithm: str = "sha256") -> Digest:
        """Digest of a sequence of byte chunks, hashed incrementally."""
        hasher = hashlib.new(algorithm)
        for chunk in chunks:
            hasher.update(chunk)
        return cls(algorithm, hasher.hexdigest())

    def hasher(self) -> Hasher:
        """A fresh incremental hasher of this digest's algorithm."""
        return hashlib.new(self.algorithm)

    @property
    def encoded(self) -> str:
        """The hex part, as used in ``blobs/<algorithm>/<encoded>`` paths."""
        return self.hex

    def short(self, length: int = 12) -> str:
        """The first ``length`` hex characters, for humans."""
        return self.hex[:length]

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
