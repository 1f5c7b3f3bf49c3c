"""Users and groups of an image: passwd/group files, sysusers.d lines, new system accounts.

Names resolve as rpm does on an ostree system with nss-altfiles: ``/etc/passwd`` first, then
``/usr/lib/passwd`` (the same for groups). New system accounts take the highest free id at or
below 999, as systemd-sysusers allocates them.
"""

from __future__ import annotations

import base64
import binascii
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from ..errors import PolicyError

__all__ = [
    "GROUP_FILES",
    "PASSWD_FILES",
    "Accounts",
    "NewAccounts",
    "SysusersEntry",
    "decode_sysusers_provide",
    "parse_sysusers_line",
]

PASSWD_FILES: Final = ("/etc/passwd", "/usr/lib/passwd")
GROUP_FILES: Final = ("/etc/group", "/usr/lib/group")
_SYSTEM_MAX: Final = 999


@dataclass(frozen=True, slots=True)
class SysusersEntry:
    """One ``sysusers.d`` line: ``u``/``g``/``m``, a name, an id spec and the user fields."""

    kind: str
    name: str
    id: str = "-"
    gecos: str = ""
    home: str = ""
    shell: str = ""

    def line(self) -> str:
        """The line in sysusers.d syntax."""
        fields = [self.kind, self.name, self.id or "-"]
        if self.kind == "u":
            fields += [shlex.quote(self.gecos) if self.gecos else "-", self.home or "-"]
            fields += [self.shell or "-"]
        return " ".join(fields)


def parse_sysusers_line(line: str, *, what: str = "sysusers line") -> SysusersEntry | None:
    """Parse one sysusers.d line (``None`` for blanks and comments)."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    try:
        fields = shlex.split(text)
    except ValueError:
        raise PolicyError(f"{what}: cannot parse {text!r}") from None
    if len(fields) < 2 or fields[0] not in ("u", "g", "m", "u!"):
        raise PolicyError(f"{what}: unsupported sysusers line {text!r}")
    fields = [("" if f == "-" else f) for f in fields] + [""] * 6
    kind = fields[0].rstrip("!")
    return SysusersEntry(kind, fields[1], fields[2] or "-", fields[3], fields[4], fields[5])


def decode_sysusers_provide(name: str, version: str, *, what: str) -> SysusersEntry | None:
    """The sysusers line rpm ≥ 4.19 encodes in a ``user(x)``/``group(x)`` provide's EVR."""
    if not (name.startswith(("user(", "group(")) and name.endswith(")")) or not version:
        return None
    evr = version.split(":", 1)[-1].rsplit("-", 1)[0] if "-" in version else version
    for candidate in (version, evr):
        try:
            raw = base64.b64decode(candidate + "=" * (-len(candidate) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        text = raw.rstrip(b"\0").decode("utf-8", "replace")
        entry = parse_sysusers_line(text, what=what)
        if entry is not None:
            return entry
    return None


def _parse(text: str, fields: int) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        if not line.strip() or line.startswith(("#", "+", "-")):
            continue
        parts = line.split(":")
        if len(parts) >= fields:
            rows.append(parts)
    return rows


@dataclass(frozen=True, slots=True)
class NewAccounts:
    """Accounts to create: the lines to append to passwd/group and the sysusers.d lines."""

    passwd: tuple[str, ...]
    group: tuple[str, ...]
    sysusers: tuple[str, ...]
    report: tuple[str, ...]


class Accounts:
    """Name → id lookups over an image's passwd and group files, earlier files first."""

    def __init__(self, passwd: Sequence[str], group: Sequence[str]) -> None:
        self._users: dict[str, tuple[int, int]] = {}
        self._groups: dict[str, int] = {}
        for text in passwd:
            for row in _parse(text, 7):
                if row[2].isdigit() and row[3].isdigit():
                    self._users.setdefault(row[0], (int(row[2]), int(row[3])))
        for text in group:
            for row in _parse(text, 4):
                if row[2].isdigit():
                    self._groups.setdefault(row[0], int(row[2]))

    def uid(self, name: str) -> int | None:
        """The uid of user ``name`` (``root`` is 0 even without a passwd file, as in rpm)."""
        found = self._users.get(name)
        if found is None:
            return 0 if name == "root" else None
        return found[0]

    def gid(self, name: str) -> int | None:
        """The gid of group ``name`` (``root`` is 0 even without a group file)."""
        return self._groups.get(name, 0 if name == "root" else None)

    def _free(self, used: set[int], also: set[int] | None = None) -> int:
        for candidate in range(_SYSTEM_MAX, 0, -1):
            if candidate not in used and (also is None or candidate not in also):
                return candidate
        raise PolicyError("no free system id left below 1000")

    def create(self, entries: Iterable[SysusersEntry], *, source: str) -> NewAccounts:
        """Add the users and groups ``entries`` declare that do not exist yet.

        The accounts become visible to :meth:`uid`/:meth:`gid` at once, so files owned by
        them resolve. ``source`` (the package) names them in the report.
        """
        passwd, group, lines, report = [], [], [], []
        for entry in entries:
            used_uids = {u for u, _ in self._users.values()}
            used_gids = set(self._groups.values())
            if entry.kind == "g" and entry.name not in self._groups:
                gid = int(entry.id) if entry.id.isdigit() else self._free(used_gids)
                self._groups[entry.name] = gid
                group.append(f"{entry.name}:x:{gid}:")
                lines.append(SysusersEntry("g", entry.name, str(gid)).line())
                report.append(f"{source}: created group {entry.name} ({gid})")
            elif entry.kind == "u" and entry.name not in self._users:
                uid_spec, _, gid_spec = entry.id.partition(":")
                # Without a group of its own to create, the uid need not match a free gid.
                pair = None if gid_spec or entry.name in self._groups else used_gids
                uid = int(uid_spec) if uid_spec.isdigit() else self._free(used_uids, pair)
                if gid_spec and not gid_spec.isdigit():
                    if gid_spec not in self._groups:
                        raise PolicyError(f"{source}: user {entry.name}: no group {gid_spec}")
                    gid = self._groups[gid_spec]
                elif gid_spec:
                    gid = int(gid_spec)
                elif entry.name in self._groups:
                    gid = self._groups[entry.name]
                else:
                    gid = uid if uid not in used_gids else self._free(used_gids)
                    self._groups[entry.name] = gid
                    group.append(f"{entry.name}:x:{gid}:")
                    report.append(f"{source}: created group {entry.name} ({gid})")
                home, shell = entry.home or "/", entry.shell or "/usr/sbin/nologin"
                self._users[entry.name] = (uid, gid)
                passwd.append(f"{entry.name}:x:{uid}:{gid}:{entry.gecos}:{home}:{shell}")
                pinned = SysusersEntry("u", entry.name, f"{uid}:{gid}", entry.gecos, home, shell)
                lines.append(pinned.line())
                report.append(f"{source}: created user {entry.name} ({uid}:{gid})")
        return NewAccounts(tuple(passwd), tuple(group), tuple(lines), tuple(report))
