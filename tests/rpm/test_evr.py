"""Version comparison against rpm's own ``rpm.vercmp`` (its Lua binding), and range overlaps."""

from __future__ import annotations

import random
import string

import pytest

from ociforge.rpm.evr import Dependency, Evr, Sense, ranges_overlap, vercmp
from tests.support.tools import need, run

_ALPHABET = string.digits[:4] + "ab.Z_~^"


def test_vercmp_agrees_with_rpm() -> None:
    need("rpm")
    rng = random.Random(6)
    pairs = [
        ("1.0", "1.0a"),
        ("1.0~rc1", "1.0"),
        ("1.0^git1", "1.0"),
        ("1.0^git1", "1.0.1"),
        ("1.0~rc1", "1.0~rc1^post"),
        ("010", "10"),
        ("a", "1"),
        ("1.0", "1.0.0"),
        ("2.0", "10.0"),
        ("1.0.b", "1.0.1"),
    ]
    for _ in range(1500):
        pairs.append(
            tuple("".join(rng.choice(_ALPHABET) for _ in range(rng.randint(1, 6))) for _ in "ab")  # type: ignore[arg-type]
        )
    table = ",".join(f'{{"{a}","{b}"}}' for a, b in pairs)
    script = (
        f"local t = {{}} for _, p in ipairs({{{table}}}) do"
        " t[#t + 1] = tostring(rpm.vercmp(p[1], p[2])) end print(table.concat(t, ' '))"
    )
    theirs = run(["rpm", "--eval", f"%{{lua: {script}}}"]).stdout.split()
    assert len(theirs) == len(pairs)
    ours = [str(vercmp(a, b)) for a, b in pairs]
    assert [p for p, x, y in zip(pairs, ours, theirs, strict=True) if x != y] == []


@pytest.mark.parametrize(
    ("text", "evr"),
    [
        ("1.0", Evr(0, "1.0", "")),
        ("1.0-2.fc40", Evr(0, "1.0", "2.fc40")),
        ("3:1.0-2", Evr(3, "1.0", "2")),
        ("1.0-beta-2", Evr(0, "1.0-beta", "2")),
    ],
)
def test_evr_parse(text: str, evr: Evr) -> None:
    assert Evr.parse(text) == evr
    assert str(evr) == text


def test_evr_compare() -> None:
    assert Evr.parse("1:1.0").compare(Evr.parse("2.0")) == 1  # the epoch wins
    assert Evr.parse("1.0").compare(Evr.parse("1.0-5")) == 0  # no release: not compared
    assert Evr.parse("1.0-10").compare(Evr.parse("1.0-9")) == 1


L, G, E = Sense.LESS, Sense.GREATER, Sense.EQUAL


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        (Dependency("x", L, "2"), Dependency("x", E, "1.5-1"), True),
        (Dependency("x", L, "2"), Dependency("x", E, "2.0-1"), False),
        (Dependency("x", L | E, "2"), Dependency("x", E, "2-1"), True),  # release ignored
        (Dependency("x", G | E, "1.0"), Dependency("x", E, "1.0-1"), True),
        (Dependency("x", G, "1.0"), Dependency("x", E, "1.0-1"), False),
        (Dependency("x", G, "1.0"), Dependency("x", L, "2.0"), True),
        (Dependency("x", G, "2.0"), Dependency("x", L, "1.0"), False),
        (Dependency("x"), Dependency("x", E, "1.0"), True),  # unversioned matches any
        (Dependency("x", E, "1"), Dependency("y", E, "1"), False),
    ],
)
def test_ranges_overlap(a: Dependency, b: Dependency, overlap: bool) -> None:
    assert ranges_overlap(a, b) is overlap
    assert ranges_overlap(b, a) is overlap
