"""systemd unit files offline: names, lookup in an image tree, and the links ``[Install]`` asks for.

Shared by Ignition's ``enabled: true`` and by presets. The rules follow ``systemctl --root``
(systemd 252, measured): a unit is looked up in ``/etc``, ``/run``, ``/usr/local/lib`` and
``/usr/lib`` (first hit wins; a link to ``/dev/null`` masks it); enabling links the unit's file
from ``WantedBy=``/``RequiredBy=``/``UpheldBy=`` targets and ``Alias=`` names under
``/etc/systemd/system`` (``/etc/systemd/user`` for ``--global``), after expanding the name
specifiers ``%n %N %p %i %j %%``; ``Also=`` names more units to enable the same way.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from .view import TreeReader

__all__ = [
    "CONFIG_DIRS",
    "UNIT_PATHS",
    "UNIT_SUFFIXES",
    "InstallLinks",
    "Scope",
    "UnitFile",
    "expand_specifiers",
    "find_unit",
    "install_links",
    "instance_of",
    "parse_install_section",
    "template_of",
    "valid_unit_name",
    "with_instance",
]

#: ``system`` units, or ``user`` units enabled for every user (``systemctl --global``).
Scope = Literal["system", "user"]

UNIT_SUFFIXES: Final = (
    ".service", ".socket", ".target", ".timer", ".path", ".mount", ".automount",
    ".swap", ".slice", ".scope", ".device",
)  # fmt: skip
#: Where ``systemctl --root`` looks for unit files, highest priority first.
UNIT_PATHS: Final[Mapping[Scope, tuple[str, ...]]] = {
    "system": (
        "/etc/systemd/system",
        "/run/systemd/system",
        "/usr/local/lib/systemd/system",
        "/usr/lib/systemd/system",
    ),
    "user": (
        "/etc/systemd/user",
        "/run/systemd/user",
        "/usr/local/lib/systemd/user",
        "/usr/lib/systemd/user",
    ),
}
#: Where enabling puts its links (the persistent configuration directory).
CONFIG_DIRS: Final[Mapping[Scope, str]] = {
    "system": "/etc/systemd/system",
    "user": "/etc/systemd/user",
}
_LINK_DIRS: Final = (("WantedBy", ".wants"), ("RequiredBy", ".requires"), ("UpheldBy", ".upholds"))
_NAME: Final = re.compile(r"[A-Za-z0-9:_.\\@-]+")
_MAX_HOPS: Final = 40


def valid_unit_name(name: str) -> bool:
    """Whether ``name`` is a unit name (plain, template ``a@.service`` or instance)."""
    if not _NAME.fullmatch(name) or not name.endswith(UNIT_SUFFIXES) or name.startswith("."):
        return False
    return name.count("@") <= 1 and not name.startswith("@") and ".." not in name


def instance_of(name: str) -> str | None:
    """The instance of ``a@i.service`` (``""`` for a template ``a@.service``), None if plain."""
    if "@" not in name:
        return None
    return name.split("@", 1)[1].rsplit(".", 1)[0]


def template_of(name: str) -> str:
    """``foo@bar.service`` → ``foo@.service``; other names unchanged."""
    if "@" not in name:
        return name
    prefix, rest = name.split("@", 1)
    return f"{prefix}@.{rest.rsplit('.', 1)[1]}"


def with_instance(name: str, instance: str) -> str:
    """``foo@.service`` (or ``foo@x.service``) with instance ``instance``."""
    prefix, rest = name.split("@", 1)
    return f"{prefix}@{instance}.{rest.rsplit('.', 1)[1]}"


def parse_install_section(text: str) -> dict[str, list[str]]:
    """The ``[Install]`` keys of a unit file, each with its space-separated values in order."""
    result: dict[str, list[str]] = {}
    section = ""
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        if section != "Install" or "=" not in line:
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        if not value:
            result.pop(key, None)  # an empty assignment resets the list, as in systemd
            continue
        result.setdefault(key, []).extend(value.split())
    return result


def expand_specifiers(value: str, name: str) -> str:
    """``value`` with the unit-name specifiers of ``name`` expanded.

    Raises :class:`ValueError` for any other specifier: the host-dependent ones (``%H``,
    ``%m``…) would take the build machine's values, and systemd 252 itself rejects ``%I``,
    ``%P`` and ``%J`` in ``[Install]``.
    """
    if "%" not in value:
        return value
    stem = name.rsplit(".", 1)[0]
    prefix = stem.split("@", 1)[0]
    table = {
        "n": name,
        "N": stem,
        "p": prefix,
        "i": instance_of(name) or "",
        "j": prefix.rsplit("-", 1)[-1],
        "%": "%",
    }
    out = []
    i = 0
    while i < len(value):
        char = value[i]
        if char != "%":
            out.append(char)
            i += 1
            continue
        key = value[i + 1 : i + 2]
        if key not in table:
            raise ValueError(f"unsupported specifier %{key} in {value!r}")
        out.append(table[key])
        i += 2
    return "".join(out)


@dataclass(frozen=True, slots=True)
class UnitFile:
    """A unit found in the tree.

    ``state`` is ``file`` (``path`` holds ``text``), ``masked`` (linked to ``/dev/null``) or
    ``alias`` (a symlink to a unit of another name, which presets leave alone).
    """

    name: str
    state: Literal["file", "masked", "alias"]
    path: str
    text: str = ""


def _follow(tree: TreeReader, path: str) -> str | None:
    """``path`` with its final symlinks followed (None on a loop)."""
    for _hop in range(_MAX_HOPS):
        target = tree.readlink(path)
        if target is None:
            return path
        path = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    return None


def find_unit(name: str, tree: TreeReader, *, scope: Scope = "system") -> UnitFile | None:
    """Where ``name`` (or, for an instance, its template) is defined, as systemctl finds it."""
    for candidate in dict.fromkeys([name, template_of(name)]):
        for directory in UNIT_PATHS[scope]:
            path = f"{directory}/{candidate}"
            link = tree.readlink(path)
            if link is None:
                text = tree.read(path)
                if text is not None:
                    return UnitFile(name, "file", path, text.decode("utf-8", "replace"))
                continue
            if link == "/dev/null":
                return UnitFile(name, "masked", path)
            real = _follow(tree, path)
            if real is None:
                return UnitFile(name, "masked", path)  # a loop cannot be loaded either
            if posixpath.basename(real) != candidate:
                return UnitFile(name, "alias", path)
            text = tree.read(real)
            if text is not None:  # a linked unit file (``systemctl link``)
                return UnitFile(name, "file", real, text.decode("utf-8", "replace"))
    return None


@dataclass(frozen=True, slots=True)
class InstallLinks:
    """What enabling one unit does: links (path → target), units to enable too, problems."""

    links: Mapping[str, str]
    also: tuple[str, ...]
    problems: tuple[str, ...]
    #: True when the unit has nothing in ``[Install]`` to act on.
    static: bool


def _alias_name(alias: str, name: str, instance: str | None) -> tuple[str | None, str]:
    """The alias link name for ``name`` (enabled as ``instance``), or None and the reason."""
    if not valid_unit_name(alias) or alias.rsplit(".", 1)[1] != name.rsplit(".", 1)[1]:
        return None, f"cannot alias {name} as {alias}"
    alias_instance = instance_of(alias)
    if instance_of(name) is None:  # a plain unit takes plain aliases only
        return (alias, "") if alias_instance is None else (None, f"cannot alias {name} as {alias}")
    if alias_instance is None:
        return None, f"cannot alias {name} as {alias}"
    if instance is None:  # the template itself: its aliases are templates (or instances) too
        return alias, ""
    if alias_instance == "":
        return with_instance(alias, instance), ""
    if alias_instance == instance:
        return alias, ""
    return None, f"cannot alias {with_instance(name, instance)} as {alias}"


def install_links(
    name: str,
    text: str,
    path: str,
    *,
    scope: Scope = "system",
    instances: Sequence[str] | None = None,
) -> InstallLinks:
    """The links enabling ``name`` creates; ``text`` is its unit file, found at ``path``.

    ``instances`` enables a template under those instance names (a preset's instance list);
    otherwise an instance name enables itself and a template its ``DefaultInstance=``, whose
    aliases stay at template level as systemctl leaves them.
    """
    install = parse_install_section(text)
    config = CONFIG_DIRS[scope]
    links: dict[str, str] = {}
    problems: list[str] = []
    own_instance = instance_of(name)
    # (name the links carry, instance aliases are made for)
    named: list[tuple[str, str | None]] = []
    if instances is not None and own_instance == "":
        named = [(with_instance(name, i), i) for i in instances]
    elif own_instance:
        named = [(name, own_instance)]
    elif own_instance == "":
        default = install.get("DefaultInstance", [])
        named = [(with_instance(name, default[-1]) if default else name, None)]
    else:
        named = [(name, None)]
    for unit_name, instance in named:
        # A template without an instance cannot be wanted; only its aliases are linked.
        wanted = _LINK_DIRS if instance_of(unit_name) != "" else ()
        for key, suffix in wanted:
            for raw in install.get(key, []):
                try:
                    target = expand_specifiers(raw, unit_name)
                except ValueError as exc:
                    problems.append(f"{name}: {key}={raw}: {exc}")
                    continue
                links[f"{config}/{target}{suffix}/{unit_name}"] = path
        for raw in install.get("Alias", []):
            try:
                alias = expand_specifiers(raw, unit_name)
            except ValueError as exc:
                problems.append(f"{name}: Alias={raw}: {exc}")
                continue
            link_name, problem = _alias_name(alias, template_of(name), instance)
            if link_name is None:
                problems.append(f"{name}: {problem}")
            elif link_name not in (unit_name, name):  # an alias of itself links nothing
                links[f"{config}/{link_name}"] = path
    also = tuple(install.get("Also", []))
    static = not any(install.get(k) for k in ("WantedBy", "RequiredBy", "UpheldBy", "Alias"))
    return InstallLinks(links, also, tuple(problems), static and not also)
