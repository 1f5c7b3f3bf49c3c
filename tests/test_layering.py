"""Dependencies point one way: each tier imports only from the tiers below it, never back.

vocabulary < plumbing < model < tar < {places, ostree} < {rpm, coreos} < mutate < recipes
< {cli, samples}. Imports are read from the source (every ``import`` and ``from … import``,
also inside functions), except those under ``if TYPE_CHECKING:``, which exist for annotations
only. The same walk checks that no two top-level units import each other in a cycle and that
the library never imports the CLI.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from tests.support.cli import ROOT

PACKAGE = Path(ROOT) / "ociforge"

#: Top-level unit (module or package) -> its tier; a higher number may import a lower one.
TIERS: Mapping[str, int] = {
    **dict.fromkeys(("errors", "digest", "mediatypes", "spec"), 0),  # vocabulary
    **dict.fromkeys(("streams", "compression", "prefetch", "_env", "_fs"), 1),  # plumbing
    **dict.fromkeys(("blobs", "layer", "image", "sink", "validate"), 2),  # model
    "tar": 3,
    **dict.fromkeys(("layout", "archive", "transports", "registry"), 4),  # places
    "ostree": 4,
    **dict.fromkeys(("rpm", "repos", "transaction"), 5),  # packages
    "coreos": 5,
    "mutate": 6,
    "recipes": 7,
    "query": 7,
    "samples": 8,
    "cli": 8,
}
#: The lazy public facade and the entry point sit outside the tiers.
FACADE = frozenset({"__init__", "__main__"})


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(module: str, source: str, *, is_package: bool) -> Iterator[tuple[str, int]]:
    """Absolute ``ociforge.*`` modules ``source`` imports at run time, with line numbers."""
    tree = ast.parse(source)
    skipped = _type_checking_lines(tree)
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if getattr(node, "lineno", 0) in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                # "from . import x" names a submodule when there is one, else a name in target.
                child = f"{target}.{alias.name}"
                yield (child if _exists(child) else target), node.lineno


def _exists(module: str) -> bool:
    path = PACKAGE.parent.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def unit_of(module: str) -> str:
    """``ociforge.tar.build`` -> ``tar``; ``ociforge`` itself -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def violations(sources: Mapping[str, tuple[str, bool]]) -> list[str]:
    """Every import that goes up a tier, into the CLI from the library, or is unknown."""
    found = []
    for module, (source, is_package) in sorted(sources.items()):
        unit = unit_of(module)
        if unit in FACADE:
            continue
        for target, line in imports_of(module, source, is_package=is_package):
            if target != "ociforge" and not target.startswith("ociforge."):
                continue
            other = unit_of(target)
            where = f"{module}:{line} imports {target}"
            if other in FACADE:
                if TIERS.get(unit, 0) < TIERS["cli"]:
                    found.append(f"{where}: the library imports the package facade")
            elif unit not in TIERS or other not in TIERS:
                found.append(f"{where}: {unit if unit not in TIERS else other} has no tier")
            elif other == "cli" and unit != "cli":
                found.append(f"{where}: the library never imports the CLI")
            elif TIERS[other] > TIERS[unit]:
                found.append(f"{where}: {other} (tier {TIERS[other]}) is above {unit}")
    return found


def cycles(sources: Mapping[str, tuple[str, bool]]) -> list[list[str]]:
    """Cycles in the graph of top-level units (a unit importing itself does not count)."""
    graph: dict[str, set[str]] = {}
    for module, (source, is_package) in sources.items():
        unit = unit_of(module)
        for target, _line in imports_of(module, source, is_package=is_package):
            if target.startswith("ociforge.") and unit_of(target) != unit:
                graph.setdefault(unit, set()).add(unit_of(target))
    found: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append([*path[path.index(nxt) :], nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def package_sources() -> dict[str, tuple[str, bool]]:
    return {
        module_name(path): (path.read_text(), path.name == "__init__.py")
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def test_every_unit_has_a_tier() -> None:
    units = {unit_of(name) for name in package_sources()} - FACADE
    assert units <= set(TIERS), sorted(units - set(TIERS))


def test_imports_point_down_the_tiers() -> None:
    assert violations(package_sources()) == []


def test_no_cycle_between_top_level_units() -> None:
    assert cycles(package_sources()) == []


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("ociforge.tar.build", "from ..recipes import Derived\n", "recipes (tier 7) is above tar"),
        ("ociforge.mutate.rebase", "from ..cli import main\n", "never imports the CLI"),
        ("ociforge.spec", "def f():\n    from . import layer\n", "layer (tier 2) is above spec"),
        ("ociforge.rpm.inject", "import ociforge.tar.flatten\n", ""),
        (
            "ociforge.blobs",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .recipes import Derived\n",
            "",
        ),
    ],
)
def test_the_checker_catches_a_planted_upward_import(
    module: str, source: str, expected: str
) -> None:
    found = violations({module: (source, False)})
    if expected:
        assert len(found) == 1 and expected in found[0], found
    else:
        assert found == []


def test_the_cycle_check_sees_a_planted_cycle() -> None:
    planted = {
        "ociforge.tar.build": ("from ..rpm import inject\n", False),
        "ociforge.rpm.inject": ("from ..tar import build\n", False),
    }
    assert cycles(planted) == [["rpm", "tar", "rpm"]]
