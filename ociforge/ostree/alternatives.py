"""The alternatives system offline: what ``alternatives --install`` in a scriptlet would leave.

Fedora and RHEL ship chkconfig's ``alternatives`` (``update-alternatives`` is the same program).
A group ``NAME`` is two links per member, ``LINK → /etc/alternatives/NAME → PATH`` (followers,
spelled ``--slave`` or ``--follower``, likewise), and a state file in the admin directory.
The rules below are chkconfig's, read from its documentation and source (never copied):

- In ``auto`` mode the highest priority wins; on a tie the member registered first stays.
  A group turns ``manual`` when its ``/etc/alternatives/NAME`` link points at another member
  than the best (someone chose), and manual groups keep their links when members are added.
- Re-installing a registered path replaces that member and re-applies the links (even in
  manual mode); followers no member provides any more are dropped.
- A leader or follower link that exists as a regular file is left alone (chkconfig reports
  the conflict and carries on); a follower the chosen member lacks loses its links.
- The state file (``auto``/``manual``, the leader link, follower ``name``/``link`` pairs, a
  blank line, then per member: path, ``[@family@]priority[ initscript]``, one follower path
  per line, blank when missing) is written exactly as chkconfig writes it; priorities are
  read as C ``strtol(…, 0)`` reads them (``0x10``, ``010`` octal).

**Where the state file goes.** chkconfig's default admin directory is ``/var/lib/alternatives``,
but ``/var`` in a derived image only reaches a machine on its first install (bootc), so state
written there would be missing on every updated node. rpm-ostree links
``/var/lib/alternatives`` to ``/usr/lib/alternatives`` when it composes (``rootfs_prepare_links``)
and chkconfig ≥ 1.29 falls back to ``/etc/alternatives-admindir`` on ostree systems. So
:func:`admin_dir` follows the image: wherever ``/var/lib/alternatives`` points, else the
directory that already holds state files, else ``/usr/lib/alternatives``, with a tmpfiles
line linking ``/var/lib/alternatives`` there so ``alternatives --display`` works on the node.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Final, Literal

from ..errors import FormatError
from .view import TreeReader

__all__ = [
    "ALTDIR",
    "AlternativeAuto",
    "AlternativeCommand",
    "AlternativeGroup",
    "AlternativeInstall",
    "AlternativeRemove",
    "AlternativeSet",
    "AlternativesResult",
    "Choice",
    "Follower",
    "admin_dir",
    "alternatives_entries",
    "parse_alternatives",
]

ALTDIR: Final = "/etc/alternatives"
_VAR_ADMIN: Final = "/var/lib/alternatives"
_ADMIN_CANDIDATES: Final = ("/usr/lib/alternatives", "/etc/alternatives-admindir", _VAR_ADMIN)
_SPEC: Final = re.compile(r"(\s*\S*)\s*(.*)", re.S)  # priority, then an initscript
_PRIORITY: Final = re.compile(r"\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")


@dataclass(frozen=True, slots=True)
class Follower:
    """A follower (Debian: slave) link of a member: ``link → /etc/alternatives/name → path``."""

    link: str
    name: str
    path: str


@dataclass(frozen=True, slots=True)
class AlternativeInstall:
    """``alternatives --install link name path priority [--follower link name path]…``."""

    link: str
    name: str
    path: str
    priority: int
    followers: tuple[Follower, ...] = ()
    family: str | None = None
    initscript: str | None = None


@dataclass(frozen=True, slots=True)
class AlternativeSet:
    """``alternatives --set name path`` (or a family): that member, manual mode."""

    name: str
    path: str


@dataclass(frozen=True, slots=True)
class AlternativeAuto:
    """``alternatives --auto name``: back to the best member."""

    name: str


@dataclass(frozen=True, slots=True)
class AlternativeRemove:
    """``--remove name path`` / ``--remove-all name``: only reported at install time."""

    name: str
    path: str | None


AlternativeCommand = AlternativeInstall | AlternativeSet | AlternativeAuto | AlternativeRemove
#: Actions that only read (``--display``, ``--list``, ``--query``): no effect to translate.
_READ_ONLY: Final = frozenset({"--display", "--list", "--query", "--get-selections", "--help"})
_FLAGS: Final = frozenset({"--verbose", "--quiet", "--test", "--keep-missing", "--keep-foreign"})


def _strtol(text: str) -> int | None:
    """``text`` as C ``strtol(text, &end, 0)`` reads it, or None unless it is all consumed."""
    match = _PRIORITY.fullmatch(text)
    if match is None:
        return None
    sign, digits = match.groups()
    base = 16 if digits[:2].lower() == "0x" else 8 if digits.startswith("0") else 10
    value = int(digits[2:] if base == 16 else digits, base)
    return -value if sign == "-" else value


def _path(value: str, what: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"{what} must be an absolute path, not {value!r}")
    return re.sub("/{2,}", "/", value)  # chkconfig squeezes repeated slashes, nothing more


def parse_alternatives(argv: Sequence[str]) -> AlternativeCommand | None:
    """The command an ``alternatives``/``update-alternatives`` argv asks for.

    None for read-only queries. Raises :class:`ValueError` for what cannot be translated:
    ``--config`` (interactive), another ``--altdir``/``--admindir``, malformed arguments.
    """
    args = list(argv[1:])
    command: str | None = None
    install: list[str] = []
    followers: list[Follower] = []
    family = initscript = None
    operands: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in _FLAGS:
            i += 1
        elif arg in ("--altdir", "--admindir", "--root", "--instdir", "--log"):
            raise ValueError(f"{arg} {' '.join(args[i + 1 : i + 2])}: only the image's defaults")
        elif arg == "--install":
            command, install = arg, args[i + 1 : i + 5]
            if len(install) != 4:
                raise ValueError("--install needs link, name, path and priority")
            i += 5
        elif arg in ("--slave", "--follower"):
            if len(args) < i + 4:
                raise ValueError(f"{arg} needs link, name and path")
            link, name, path = args[i + 1 : i + 4]
            followers.append(Follower(_path(link, f"{arg} link"), name, _path(path, f"{arg} path")))
            i += 4
        elif arg in ("--family", "--initscript"):
            if len(args) < i + 2:
                raise ValueError(f"{arg} needs a value")
            if arg == "--family":
                family = args[i + 1]
            else:
                initscript = args[i + 1]
            i += 2
        elif arg in _READ_ONLY:
            return None
        elif arg.startswith("--"):
            if command is not None:
                raise ValueError(f"{arg} after {command}")
            command = arg
            i += 1
        else:
            operands.append(arg)
            i += 1
    if command == "--install":
        link, name, path, priority = install
        value = _strtol(priority)
        if value is None or name.startswith("/"):
            raise ValueError(f"--install {' '.join(install)}: bad name or priority")
        if family is not None and "@" in family:
            raise ValueError("--family cannot contain '@'")
        return AlternativeInstall(
            _path(link, "link"),
            name,
            _path(path, "path"),
            value,
            tuple(followers),
            family,
            initscript,
        )
    if command == "--set" and len(operands) == 2:
        return AlternativeSet(operands[0], operands[1])
    if command == "--auto" and len(operands) == 1:
        return AlternativeAuto(operands[0])
    if command == "--remove" and len(operands) == 2:
        return AlternativeRemove(operands[0], operands[1])
    if command == "--remove-all" and len(operands) == 1:
        return AlternativeRemove(operands[0], None)
    raise ValueError(f"cannot translate alternatives {' '.join(args)}")


@dataclass(frozen=True, slots=True)
class Choice:
    """One member of a group: its path, priority and follower paths (by follower name)."""

    path: str
    priority: int
    followers: Mapping[str, str | None] = field(default_factory=dict)
    family: str | None = None
    initscript: str | None = None


@dataclass(frozen=True, slots=True)
class AlternativeGroup:
    """A group's state: mode, leader link, follower (name, link) pairs and members in order."""

    name: str
    mode: Literal["auto", "manual"]
    link: str
    followers: tuple[tuple[str, str], ...]
    choices: tuple[Choice, ...]

    def best(self) -> int:
        """The index of the highest-priority member (the earliest on a tie)."""
        best = 0
        for index, choice in enumerate(self.choices):
            if choice.priority > self.choices[best].priority:
                best = index
        return best

    def format(self) -> bytes:
        """The state file, byte for byte as chkconfig's ``alternatives`` writes it."""
        lines = [self.mode, self.link]
        for name, link in self.followers:
            lines += [name, link]
        lines.append("")
        for choice in self.choices:
            prio = (f"@{choice.family}@" if choice.family else "") + str(choice.priority)
            if choice.initscript:
                prio += f" {choice.initscript}"
            lines += [choice.path, prio]
            lines += [choice.followers.get(name) or "" for name, _link in self.followers]
        return ("\n".join(lines) + "\n").encode()

    @classmethod
    def parse(cls, name: str, data: bytes, *, what: str = "alternatives state") -> AlternativeGroup:
        """Read a state file as chkconfig does (leading blanks of each line are ignored)."""
        lines = [line.lstrip() for line in data.decode("utf-8", "replace").split("\n")]
        if lines and lines[-1] == "":
            lines.pop()  # the newline that ends the last line
        pos = 0

        def take() -> str | None:
            nonlocal pos
            if pos >= len(lines):
                return None
            pos += 1
            return lines[pos - 1]

        mode = take()
        if mode not in ("auto", "manual"):
            raise FormatError(f"{what}: bad mode {mode!r} on line 1")
        link = take()
        if not link or not link.startswith("/"):
            raise FormatError(f"{what}: bad primary link {link!r}")
        followers: list[tuple[str, str]] = []
        line = take()
        while line:
            if line.startswith("/"):
                raise FormatError(f"{what}: path {line!r} where a follower name belongs")
            follower_link = take()
            if not follower_link:
                raise FormatError(f"{what}: missing link for follower {line}")
            followers.append((line, follower_link))
            line = take()
        if line is None:
            raise FormatError(f"{what}: unexpected end of file")
        choices: list[Choice] = []
        line = take()
        while line:
            if not line.startswith("/"):
                raise FormatError(f"{what}: path to an alternative expected, got {line!r}")
            path, spec = line, take() or ""
            family = None
            if spec.startswith("@"):
                close = spec.find("@", 1)
                if close <= 1:
                    raise FormatError(f"{what}: closing '@' missing or empty family in {spec!r}")
                family, spec = spec[1:close], spec[close + 1 :]
            number, initscript = _SPEC.fullmatch(spec).groups()  # type: ignore[union-attr]
            priority = _strtol(number)
            if priority is None:
                raise FormatError(f"{what}: numeric priority expected, got {spec!r}")
            targets: dict[str, str | None] = {}
            for follower_name, _link in followers:
                target = take() or ""
                if target and not target.startswith("/"):
                    raise FormatError(f"{what}: follower path expected, got {target!r}")
                targets[follower_name] = target or None
            choices.append(Choice(path, priority, targets, family, initscript.strip() or None))
            line = take()
        while (line := take()) is not None:
            if line:
                raise FormatError(f"{what}: unexpected line {line!r}")
        return cls(
            name, "manual" if mode == "manual" else "auto", link, tuple(followers), tuple(choices)
        )


@dataclass(frozen=True, slots=True)
class AlternativesResult:
    """Links to create (path → target) and remove, state files (path → bytes), tmpfiles, notes."""

    links: Mapping[str, str]
    remove: tuple[str, ...]
    files: Mapping[str, bytes]
    tmpfiles: tuple[str, ...]
    notes: tuple[str, ...]


def admin_dir(tree: TreeReader) -> str:
    """Where this image keeps alternatives state (see the module docstring for why)."""
    target = tree.readlink(_VAR_ADMIN)
    if target is not None:
        return posixpath.normpath(posixpath.join(posixpath.dirname(_VAR_ADMIN), target))
    for candidate in _ADMIN_CANDIDATES:
        if tree.listdir(candidate):
            return candidate
    return _ADMIN_CANDIDATES[0]


class _Alternatives:
    def __init__(self, tree: TreeReader) -> None:
        self.tree = tree
        self.admin = admin_dir(tree)
        self.links: dict[str, str | None] = {}  # None: removed
        self.groups: dict[str, AlternativeGroup | None] = {}
        self.notes: list[str] = []

    def readlink(self, path: str) -> str | None:
        if path in self.links:
            return self.links[path]
        return self.tree.readlink(path)

    def group(self, name: str) -> AlternativeGroup | None:
        if name not in self.groups:
            data = self.tree.read(f"{self.admin}/{name}")
            group = None
            if data is not None:
                group = AlternativeGroup.parse(name, data, what=f"{self.admin}/{name}")
                current = self.readlink(f"{ALTDIR}/{name}")
                paths = [c.path for c in group.choices]
                # A link pointed elsewhere is someone's choice; chkconfig keeps the file's mode
                # only when the link cannot be read at all.
                if current is not None and (
                    current not in paths or paths.index(current) != group.best()
                ):
                    group = replace(group, mode="manual")
            self.groups[name] = group
        return self.groups[name]

    def current(self, group: AlternativeGroup) -> int:
        """The member the links follow when written (chkconfig's index, -1 → the first)."""
        if group.mode == "auto":
            return group.best()
        target = self.readlink(f"{ALTDIR}/{group.name}")
        paths = [c.path for c in group.choices]
        return paths.index(target) if target in paths else 0

    def link(self, facility: str, title: str, target: str | None) -> None:
        slot = f"{ALTDIR}/{title}"
        if target is None:
            self.links[slot] = None
            if self.readlink(facility) is not None:
                self.links[facility] = None
            return
        if self.readlink(facility) is None and self.tree.read(facility) is not None:
            self.notes.append(f"alternatives: {facility} exists and is not a symlink; left alone")
        else:
            self.links[facility] = slot
        self.links[slot] = target

    def write(self, group: AlternativeGroup, force: bool, index: int | None = None) -> None:
        self.groups[group.name] = group
        if not (force or group.mode == "auto"):
            self.notes.append(f"alternatives: {group.name} is in manual mode; links unchanged")
            return
        choice = group.choices[self.current(group) if index is None else index]
        self.link(group.link, group.name, choice.path)
        for name, follower_link in group.followers:
            self.link(follower_link, name, choice.followers.get(name))
        self.notes.append(
            f"alternatives: {group.name} → {choice.path} ({group.mode}, priority {choice.priority})"
        )

    def install(self, action: AlternativeInstall) -> None:
        new = Choice(
            action.path,
            action.priority,
            {f.name: f.path for f in action.followers},
            action.family,
            action.initscript,
        )
        group = self.group(action.name)
        if group is None or not group.choices:
            followers = tuple({f.name: f.link for f in action.followers}.items())
            self.write(AlternativeGroup(action.name, "auto", action.link, followers, (new,)), False)
            return
        if action.link != group.link:
            raise ValueError(f"the primary link for {action.name} must be {group.link}")
        template = dict(group.followers)
        for follower in action.followers:
            template.setdefault(follower.name, follower.link)
        for follower in action.followers:
            if template[follower.name] != follower.link:
                raise ValueError(
                    f"link {template[follower.name]} incorrect for follower {follower.name}"
                    f" ({follower.link})"
                )
        paths = [c.path for c in group.choices]
        replacing = action.path in paths
        if replacing:
            choices = [new if c.path == action.path else c for c in group.choices]
            provided = {n for c in choices for n, p in c.followers.items() if p}
            for name in [n for n in template if n not in provided]:
                self.link(template.pop(name), name, None)  # nobody provides it any more
        else:
            choices = [*group.choices, new]
        followers = tuple(sorted(template.items(), key=lambda item: item[1]))
        group = replace(group, followers=followers, choices=tuple(choices))
        self.write(group, replacing)

    def apply(self, action: AlternativeCommand) -> None:
        if isinstance(action, AlternativeInstall):
            self.install(action)
            return
        if isinstance(action, AlternativeRemove):
            what = (
                f"--remove {action.name} {action.path}"
                if action.path
                else f"--remove-all {action.name}"
            )
            self.notes.append(f"alternatives: {what} at install time ignored")
            return
        group = self.group(action.name)
        if group is None or not group.choices:
            raise ValueError(f"alternatives: no group {action.name} registered")
        if isinstance(action, AlternativeAuto):
            self.write(replace(group, mode="auto"), False)
            return
        paths = [c.path for c in group.choices]
        if action.path in paths:
            index = paths.index(action.path)
        else:
            family = [i for i, c in enumerate(group.choices) if c.family == action.path]
            if not family:
                raise ValueError(f"{action.path} is not an alternative for {action.name}")
            index = max(family, key=lambda i: (group.choices[i].priority, -i))
        self.write(replace(group, mode="manual"), True, index)


def alternatives_entries(
    actions: Iterable[AlternativeCommand], *, tree: TreeReader
) -> AlternativesResult:
    """Links and state files that running ``actions`` in order would leave in ``tree``.

    Groups the base already registered are read from its state files, so a new member wins
    only with a higher priority. Raises :class:`ValueError` for a command chkconfig refuses
    (another leader link for a known group, a follower name bound to another link).
    """
    run = _Alternatives(tree)
    for action in actions:
        run.apply(action)
    links = {p: t for p, t in sorted(run.links.items()) if t is not None and tree.readlink(p) != t}
    remove = tuple(
        sorted(p for p, t in run.links.items() if t is None and tree.readlink(p) is not None)
    )
    files = {
        f"{run.admin}/{name}": group.format()
        for name, group in sorted(run.groups.items())
        if group is not None and tree.read(f"{run.admin}/{name}") != group.format()
    }
    tmpfiles: tuple[str, ...] = ()
    if files and tree.readlink(_VAR_ADMIN) is None and run.admin != _VAR_ADMIN:
        relative = posixpath.relpath(run.admin, posixpath.dirname(_VAR_ADMIN))
        tmpfiles = (f"L {_VAR_ADMIN} - - - - {relative}",)
    return AlternativesResult(links, remove, files, tmpfiles, tuple(run.notes))
