"""systemd presets offline: which units a package's ``systemctl preset`` enables, and the links.

This is what ``%systemd_post`` does inside ``rpm-ostree install`` (its systemctl wrapper runs
``preset`` and nothing else), computed from the image's own preset files. The rules are
systemd's, checked against ``systemctl --root=DIR preset`` (systemd 252):

- Preset files are ``*.preset`` in ``/etc``, ``/run``, ``/usr/local/lib`` and ``/usr/lib``
  (``systemd/system-preset``, or ``systemd/user-preset`` for ``--global``). A file name in an
  earlier directory hides the same name in later ones; a link to ``/dev/null`` hides it
  without replacement. All files are then read in lexical order of their names, whatever
  their directory, and the **first** line matching a unit decides.
- ``enable PATTERN`` and ``disable PATTERN`` take a shell glob (matched against the real unit
  name, never an alias). ``enable TEMPLATE@.service A B`` enables those instances; such a line
  needs an exact template name. ``disable`` takes the rest of the line as its pattern, so
  ``disable a b`` matches nothing. Keywords are lowercase; a line systemd cannot parse
  (``ENABLE x``, ``enable x # comment``) is skipped, with a note. ``ignore PATTERN`` (systemd
  newer than 252) leaves a unit alone; systemd 252 (RHEL 9) skips such a line as unparsable, which
  ``ignore_directive=False`` reproduces.
- **No matching line means enable** (also when no preset file exists at all): Fedora and
  RHEL ship ``99-default-disable.preset`` with ``disable *`` to turn that around.
- Enabling creates the ``[Install]`` links (:mod:`.units`) and follows ``Also=`` without
  asking the presets again. Disabling removes every link in ``/etc/systemd/system`` named
  after the unit, pointing to it, or (for a template) naming one of its instances; it does not
  follow ``Also=``. One call fails as a whole, changing nothing, if a named unit is missing or
  masked; an alias name is left alone.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Literal, Protocol

from .units import (
    CONFIG_DIRS,
    Scope,
    find_unit,
    install_links,
    instance_of,
    template_of,
    valid_unit_name,
)
from .view import TreeReader

__all__ = [
    "PRESET_DIRS",
    "apply_presets",
    "PresetAction",
    "PresetCall",
    "PresetPolicy",
    "PresetResult",
    "PresetRule",
    "glob_match",
    "load_presets",
    "parse_preset",
    "preset_links",
]

PresetAction = Literal["enable", "disable", "ignore"]

#: Preset directories in override order (an earlier directory's file hides a later one's).
_ROOTS: Final = ("/etc", "/run", "/usr/local/lib", "/usr/lib")
PRESET_DIRS: Final[Mapping[Scope, tuple[str, ...]]] = {
    "system": tuple(f"{root}/systemd/system-preset" for root in _ROOTS),
    "user": tuple(f"{root}/systemd/user-preset" for root in _ROOTS),
}
_MAX_DEPTH: Final = 8


@dataclass(frozen=True, slots=True)
class PresetRule:
    """One preset line: its action, glob (or template), instances and ``file:line``."""

    action: PresetAction
    pattern: str
    instances: tuple[str, ...] = ()
    source: str = ""

    def text(self) -> str:
        """The line as written, normalised."""
        return " ".join([self.action, self.pattern, *self.instances])


@lru_cache(maxsize=512)
def _glob(pattern: str) -> re.Pattern[str]:
    """A regex for glibc's ``fnmatch(pattern, name, 0)``: backslash quotes, ``*`` spans ``/``."""
    out = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            end = i + 1
            if end < len(pattern) and pattern[end] in "!^":
                end += 1
            if end < len(pattern) and pattern[end] == "]":
                end += 1
            end = pattern.find("]", end)
            if end < 0:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1 : end]
                negate = body[:1] in ("!", "^")
                body = body[1:] if negate else body
                escaped = body.replace("\\", "\\\\").replace("^", "\\^")
                out.append(f"[{'^' if negate else ''}{escaped}]")
                i = end + 1
                continue
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out), re.S)


def glob_match(pattern: str, name: str) -> bool:
    """Whether ``name`` matches the preset glob ``pattern`` (glibc ``fnmatch`` rules)."""
    return _glob(pattern).fullmatch(name) is not None


def _after(line: str, word: str) -> str | None:
    """The rest of ``line`` after the keyword ``word`` and whitespace (None without them)."""
    if not line.startswith(word) or len(line) == len(word) or not line[len(word)].isspace():
        return None
    return line[len(word) :].lstrip()


def parse_preset(
    text: str, *, source: str, ignore_directive: bool = True
) -> tuple[list[PresetRule], list[str]]:
    """The rules of one preset file and a note for each line systemd would skip."""
    rules: list[PresetRule] = []
    notes: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        where = f"{source}:{number}"
        rest = _after(line, "enable")
        if rest:
            words = rest.split()
            if len(words) == 1:
                rules.append(PresetRule("enable", words[0], (), where))
                continue
            if instance_of(words[0]) == "" and valid_unit_name(words[0]):
                rules.append(PresetRule("enable", words[0], tuple(words[1:]), where))
                continue
        elif rest := _after(line, "disable"):
            rules.append(PresetRule("disable", rest, (), where))
            continue
        elif ignore_directive and (rest := _after(line, "ignore")):
            rules.append(PresetRule("ignore", rest, (), where))
            continue
        notes.append(f"{where}: preset line {line!r} cannot be parsed; systemd skips it")
    return rules, notes


@dataclass(frozen=True, slots=True)
class PresetPolicy:
    """All preset rules of a tree, in the order systemd consults them."""

    rules: tuple[PresetRule, ...] = ()
    notes: tuple[str, ...] = ()

    def decide(self, unit: str) -> tuple[PresetAction, tuple[str, ...] | None, PresetRule | None]:
        """What presets say for ``unit``: action, template instances to enable, deciding rule."""
        instance = instance_of(unit)
        for rule in self.rules:
            if rule.instances:
                if instance == "" and rule.pattern == unit:
                    return rule.action, rule.instances, rule
                if instance and template_of(unit) == rule.pattern and instance in rule.instances:
                    return rule.action, None, rule
            elif glob_match(rule.pattern, unit):
                return rule.action, None, rule
        return "enable", None, None


def load_presets(
    tree: TreeReader, *, scope: Scope = "system", ignore_directive: bool = True
) -> PresetPolicy:
    """The preset policy of ``tree`` for ``scope`` (``user`` is ``systemctl --global``)."""
    chosen: dict[str, str] = {}
    for directory in PRESET_DIRS[scope]:
        for name in tree.listdir(directory):
            if name.endswith(".preset") and name not in chosen:
                chosen[name] = f"{directory}/{name}"
    rules: list[PresetRule] = []
    notes: list[str] = []
    for name in sorted(chosen):
        path = chosen[name]
        if tree.readlink(path) == "/dev/null":
            continue
        data = tree.read(path)
        if data is None:
            continue
        found, skipped = parse_preset(
            data.decode("utf-8", "replace"), source=path, ignore_directive=ignore_directive
        )
        rules += found
        notes += skipped
    return PresetPolicy(tuple(rules), tuple(notes))


@dataclass(frozen=True, slots=True)
class PresetResult:
    """Links to create (path → target) and to remove, and what happened, unit by unit."""

    add: Mapping[str, str]
    remove: tuple[str, ...]
    notes: tuple[str, ...]
    decisions: Mapping[str, PresetAction]


def _existing_links(tree: TreeReader, directory: str, depth: int = 0) -> dict[str, str]:
    links: dict[str, str] = {}
    if depth > _MAX_DEPTH:
        return links
    for name in tree.listdir(directory):
        path = f"{directory}/{name}"
        target = tree.readlink(path)
        if target is not None:
            links[path] = target
        else:
            links.update(_existing_links(tree, path, depth + 1))
    return links


class _Presetter:
    def __init__(self, tree: TreeReader, scope: Scope, policy: PresetPolicy) -> None:
        self.tree = tree
        self.scope = scope
        self.policy = policy
        self.existing = _existing_links(tree, CONFIG_DIRS[scope])
        self.state = dict(self.existing)
        self.notes: list[str] = []
        self.decisions: dict[str, PresetAction] = {}

    def enable(self, unit: str, instances: tuple[str, ...] | None, seen: set[str]) -> None:
        if unit in seen:
            return
        seen.add(unit)
        found = find_unit(unit, self.tree, scope=self.scope)
        if found is None or found.state != "file":
            why = "does not exist" if found is None else f"is {found.state}"
            self.notes.append(f"preset: {unit} {why}; not enabled (systemctl ignores it too)")
            return
        plan = install_links(unit, found.text, found.path, scope=self.scope, instances=instances)
        self.notes += [f"preset: {problem}; link not created" for problem in plan.problems]
        if plan.static:
            self.notes.append(f"preset: {unit} has no [Install] section; enabling it does nothing")
        for path, target in plan.links.items():
            self.state[path] = target
        for also in plan.also:
            self.enable(also, None, seen)

    def disable(self, unit: str) -> None:
        template = instance_of(unit) == ""
        for path, target in list(self.state.items()):
            name = posixpath.basename(path)
            if (
                name == unit
                or posixpath.basename(target) == unit
                or (template and "@" in name and template_of(name) == unit)
            ):
                del self.state[path]

    def run(self, units: list[str]) -> None:
        failures = []
        aliases = set()
        for unit in units:
            found = find_unit(unit, self.tree, scope=self.scope) if valid_unit_name(unit) else None
            if found is None:
                failures.append(f"unit {unit} does not exist")
            elif found.state == "masked":
                failures.append(f"unit {found.path} is masked")
            elif found.state == "alias":
                aliases.add(unit)
        if failures:
            self.notes += [f"preset: {failure}" for failure in failures]
            self.notes.append(f"preset: systemctl preset {' '.join(units)} fails; nothing changed")
            return
        for unit in units:
            if unit in aliases:
                self.notes.append(f"preset: {unit} is an alias; presets leave it alone")
                continue
            action, instances, rule = self.policy.decide(unit)
            self.decisions[unit] = action
            why = f"{rule.text()!r} in {rule.source}" if rule else "no preset line matches"
            self.notes.append(f"preset: {action} {unit} ({why})")
            if action == "enable":
                self.enable(unit, instances, set())
            elif action == "disable":
                self.disable(unit)


class PresetCall(Protocol):
    """One ``systemctl preset`` call, as a scriptlet plan lists it."""

    @property
    def units(self) -> tuple[str, ...]:
        """The units named."""
        ...

    @property
    def scope(self) -> Scope:
        """``system``, or ``user`` for ``--global``."""
        ...


def apply_presets(
    calls: Iterable[PresetCall], *, tree: TreeReader, ignore_directive: bool = True
) -> PresetResult:
    """What a series of ``systemctl [--global] preset`` calls would change in ``tree``.

    Each call sees the links the earlier ones made and fails on its own (a missing unit
    changes nothing for that call only), as separate systemctl runs would.
    """
    runs: dict[Scope, _Presetter] = {}
    notes: list[str] = []
    decisions: dict[str, PresetAction] = {}
    for call in calls:
        run = runs.get(call.scope)
        if run is None:
            policy = load_presets(tree, scope=call.scope, ignore_directive=ignore_directive)
            run = runs[call.scope] = _Presetter(tree, call.scope, policy)
            notes += policy.notes
        start = len(run.notes)
        run.run(list(call.units))
        notes += run.notes[start:]
        decisions.update(run.decisions)
    add: dict[str, str] = {}
    remove: list[str] = []
    for run in runs.values():
        add.update((p, t) for p, t in run.state.items() if run.existing.get(p) != t)
        remove += [p for p in run.existing if p not in run.state]
    return PresetResult(dict(sorted(add.items())), tuple(sorted(remove)), tuple(notes), decisions)


@dataclass(frozen=True, slots=True)
class _Call:
    units: tuple[str, ...]
    scope: Scope


def preset_links(
    units: Iterable[str],
    *,
    tree: TreeReader,
    scope: Scope = "system",
    policy: PresetPolicy | None = None,
    ignore_directive: bool = True,
) -> PresetResult:
    """What ``systemctl [--global] preset UNIT…`` would change in ``tree``, as one call.

    ``policy`` defaults to the tree's own preset files. Links are absolute paths in the image;
    ``remove`` lists existing links to delete (whiteouts in a layer).
    """
    if policy is None:
        return apply_presets(
            [_Call(tuple(units), scope)], tree=tree, ignore_directive=ignore_directive
        )
    run = _Presetter(tree, scope, policy)
    run.notes += policy.notes
    run.run(list(units))
    add = {p: t for p, t in sorted(run.state.items()) if run.existing.get(p) != t}
    remove = tuple(sorted(p for p in run.existing if p not in run.state))
    return PresetResult(add, remove, tuple(run.notes), dict(run.decisions))
