"""RPM version comparison: ``rpmvercmp``, ``[epoch:]version[-release]`` and dependency ranges.

The rules are rpm's (``rpmio/rpmvercmp.cc``, ``lib/rpmds.cc``): versions compare segment by
segment, digits beating letters, ``~`` sorting before everything and ``^`` after the end; an
absent epoch is 0 and a release is compared only when both sides have one. Two ranges such as
``foo < 2`` and ``foo = 1.5-1`` overlap when some version satisfies both.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from enum import IntFlag
from typing import Final

from .header import Header
from .tags import Tag

__all__ = ["Dependency", "Evr", "Sense", "dependencies", "package_evr", "ranges_overlap", "vercmp"]

_DIGITS: Final = frozenset(string.digits)
_LETTERS: Final = frozenset(string.ascii_letters)
_ALNUM: Final = _DIGITS | _LETTERS


class Sense(IntFlag):
    """The comparison bits of a dependency's flags (``RPMSENSE_LESS`` …)."""

    ANY = 0
    LESS = 1 << 1
    GREATER = 1 << 2
    EQUAL = 1 << 3


_SENSES: Final = Sense.LESS | Sense.GREATER | Sense.EQUAL


def _segment(text: str, start: int, digits: bool) -> int:
    end = start
    while end < len(text) and text[end] in (_DIGITS if digits else _LETTERS):
        end += 1
    return end


def vercmp(a: str, b: str) -> int:
    """-1, 0 or 1 as version (or release) ``a`` is older than, equal to or newer than ``b``."""
    if a == b:
        return 0
    i = j = 0
    while i < len(a) or j < len(b):
        while i < len(a) and a[i] not in _ALNUM and a[i] not in "~^":
            i += 1
        while j < len(b) and b[j] not in _ALNUM and b[j] not in "~^":
            j += 1
        ca, cb = a[i : i + 1], b[j : j + 1]
        if "~" in (ca, cb):  # a tilde sorts before anything, even the end
            if ca != "~":
                return 1
            if cb != "~":
                return -1
            i, j = i + 1, j + 1
            continue
        if "^" in (ca, cb):  # a caret sorts after the end but before anything else
            if not ca:
                return -1
            if not cb:
                return 1
            if ca != "^":
                return 1
            if cb != "^":
                return -1
            i, j = i + 1, j + 1
            continue
        if not (ca and cb):
            break
        digits = ca in _DIGITS
        end_a, end_b = _segment(a, i, digits), _segment(b, j, digits)
        seg_a, seg_b = a[i:end_a], b[j:end_b]
        if not seg_b:  # segments of different kinds: a number is newer than letters
            return 1 if digits else -1
        if digits:
            seg_a, seg_b = seg_a.lstrip("0"), seg_b.lstrip("0")
            if len(seg_a) != len(seg_b):
                return 1 if len(seg_a) > len(seg_b) else -1
        if seg_a != seg_b:
            return 1 if seg_a > seg_b else -1
        i, j = end_a, end_b
    if i >= len(a) and j >= len(b):
        return 0
    return -1 if i >= len(a) else 1


@dataclass(frozen=True, slots=True)
class Evr:
    """``[epoch:]version[-release]``; an empty release is not compared."""

    epoch: int = 0
    version: str = ""
    release: str = ""

    @classmethod
    def parse(cls, text: str) -> Evr:
        """Split ``1:2.0-3`` as rpm does (the release follows the last ``-``)."""
        epoch = 0
        head, colon, rest = text.partition(":")
        if colon and head.isdigit():
            epoch, text = int(head), rest
        version, dash, release = text.rpartition("-")
        if not dash:
            version, release = release, ""
        return cls(epoch, version, release)

    def compare(self, other: Evr) -> int:
        """-1, 0 or 1 as ``self`` is older than, equal to or newer than ``other``."""
        if self.epoch != other.epoch:
            return 1 if self.epoch > other.epoch else -1
        sense = vercmp(self.version, other.version)
        if sense == 0 and self.release and other.release:
            sense = vercmp(self.release, other.release)
        return sense

    def __str__(self) -> str:
        text = f"{self.epoch}:{self.version}" if self.epoch else self.version
        return f"{text}-{self.release}" if self.release else text


@dataclass(frozen=True, slots=True)
class Dependency:
    """One entry of a Provides/Conflicts/Obsoletes list: name, sense and version."""

    name: str
    sense: Sense = Sense.ANY
    version: str = ""

    def __str__(self) -> str:
        if not self.version or not self.sense & _SENSES:
            return self.name
        op = {
            Sense.LESS: "<",
            Sense.GREATER: ">",
            Sense.EQUAL: "=",
            Sense.LESS | Sense.EQUAL: "<=",
            Sense.GREATER | Sense.EQUAL: ">=",
        }.get(self.sense & _SENSES, "?")
        return f"{self.name} {op} {self.version}"


def ranges_overlap(a: Dependency, b: Dependency) -> bool:
    """Whether some version satisfies both ``a`` and ``b`` (same name), as ``rpmdsCompare``."""
    if a.name != b.name:
        return False
    sa, sb = a.sense & _SENSES, b.sense & _SENSES
    if not sa or not sb or not a.version or not b.version:
        return True
    sense = Evr.parse(a.version).compare(Evr.parse(b.version))
    if sense < 0:
        return bool(sa & Sense.GREATER or sb & Sense.LESS)
    if sense > 0:
        return bool(sa & Sense.LESS or sb & Sense.GREATER)
    return any(sa & bit and sb & bit for bit in (Sense.EQUAL, Sense.LESS, Sense.GREATER))


def package_evr(header: Header) -> Evr:
    """The package's own EVR (EPOCH, VERSION, RELEASE)."""
    return Evr(
        header.integer(Tag.EPOCH) or 0,
        header.string(Tag.VERSION) or "",
        header.string(Tag.RELEASE) or "",
    )


def dependencies(header: Header, names: Tag, flags: Tag, versions: Tag) -> list[Dependency]:
    """The dependency list stored in three parallel arrays (e.g. OBSOLETENAME/FLAGS/VERSION)."""
    found = header.strings(names)
    senses = header.integers(flags)
    evrs = header.strings(versions)
    return [
        Dependency(
            name,
            Sense(senses[i] & _SENSES) if i < len(senses) else Sense.ANY,
            evrs[i] if i < len(evrs) else "",
        )
        for i, name in enumerate(found)
    ]
