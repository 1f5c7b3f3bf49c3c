"""Three-way merge of account files (passwd, group, shadow, gshadow) onto a new base's copies.

The entries (lines keyed by name) a derived image added, changed or removed relative to its old
base are applied to the new base's file, whose own lines and order stay; added entries go at
the end, as ``useradd`` and ociforge's package installs put them. An added user or group whose
id the new base gives to another name, or whose name the new base already has with another
id, is a clash: files in the derived layers are owned by numbers, so it is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from ..errors import PolicyError

__all__ = ["ACCOUNT_FILES", "AccountKind", "IdMap", "id_map", "merge_account_file"]

AccountKind = Literal["passwd", "group", "shadow", "gshadow"]

#: The account files an image may carry, and what each holds.
ACCOUNT_FILES: Final[Mapping[str, AccountKind]] = {
    "/etc/passwd": "passwd",
    "/usr/lib/passwd": "passwd",
    "/etc/group": "group",
    "/usr/lib/group": "group",
    "/etc/shadow": "shadow",
    "/etc/gshadow": "gshadow",
}
_NOUN: Final = {"passwd": "user", "group": "group", "shadow": "user", "gshadow": "group"}


@dataclass(frozen=True, slots=True)
class IdMap:
    """The names and numeric ids one kind of account has across all of an image's files."""

    by_name: Mapping[str, int]
    by_id: Mapping[int, str]


def _entries(text: str) -> dict[str, str]:
    """Name → line, for lines that are entries (not blank, comments or NIS ``+``/``-``)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith(("#", "+", "-")) and ":" in line:
            out.setdefault(line.split(":", 1)[0], line)
    return out


def _id(line: str) -> int | None:
    fields = line.split(":")
    return int(fields[2]) if len(fields) > 2 and fields[2].isdigit() else None


def id_map(texts: list[str]) -> IdMap:
    """Names and ids over several passwd (or group) files, earlier files first."""
    by_name: dict[str, int] = {}
    by_id: dict[int, str] = {}
    for text in texts:
        for name, line in _entries(text).items():
            number = _id(line)
            if number is not None:
                by_name.setdefault(name, number)
                by_id.setdefault(number, name)
    return IdMap(by_name, by_id)


def _members(line: str, field: int) -> list[str]:
    fields = line.split(":")
    return [m for m in fields[field].split(",") if m] if len(fields) > field else []


def _with_members(line: str, field: int, members: list[str]) -> str:
    fields = line.split(":")
    while len(fields) <= field:
        fields.append("")
    fields[field] = ",".join(members)
    return ":".join(fields)


def _merge_change(kind: AccountKind, name: str, old: str, derived: str, new: str, path: str) -> str:
    """The new base's line for ``name`` with the derived image's change to it applied."""
    if new in (old, derived):
        return derived
    field = {"group": 3, "gshadow": 3}.get(kind)
    if field is not None:
        # Both sides changed a group: apply the members the derived image added or dropped.
        stripped = [_with_members(x, field, []) for x in (old, derived, new)]
        if stripped[0] == stripped[1]:
            added = [m for m in _members(derived, field) if m not in _members(old, field)]
            dropped = set(_members(old, field)) - set(_members(derived, field))
            members = [m for m in _members(new, field) if m not in dropped]
            return _with_members(new, field, members + [m for m in added if m not in members])
    raise PolicyError(
        f"{path}: {_NOUN[kind]} {name} was changed by the derived image and by the new base;"
        " cannot merge the two"
    )


def _check_added(kind: AccountKind, name: str, line: str, ids: IdMap, path: str) -> bool:
    """Whether the added entry still needs adding (False: the new base has it, same id)."""
    number = _id(line) if kind in ("passwd", "group") else None
    noun = _NOUN[kind]
    what = "uid" if kind == "passwd" else "gid"
    if name in ids.by_name:
        if number is not None and ids.by_name[name] != number:
            raise PolicyError(
                f"{path}: {noun} {name} is {what} {number} in the derived image but"
                f" {ids.by_name[name]} in the new base; files of the derived layers are owned"
                f" by {number}"
            )
        return False
    if number is not None and number in ids.by_id:
        raise PolicyError(
            f"{path}: {what} {number} of {noun} {name} (added by the derived image) belongs to"
            f" {noun} {ids.by_id[number]} in the new base"
        )
    return True


def merge_account_file(
    kind: AccountKind, *, old: str, derived: str, new: str, ids: IdMap, path: str
) -> str:
    """``new`` with what ``derived`` changed relative to ``old``; ``ids`` are the new base's.

    ``ids`` covers the new base's users (for passwd and shadow) or groups (for group and
    gshadow) across its files (``/etc`` and ``/usr/lib``), so an entry another file of the new
    base already defines is not added twice. Raises :class:`PolicyError` on a clash or on a
    change both sides made differently.
    """
    before, after, theirs = _entries(old), _entries(derived), _entries(new)
    lines = new.splitlines()
    out: list[str] = []
    for line in lines:
        name = line.split(":", 1)[0] if ":" in line else None
        if name is None or theirs.get(name) != line:
            out.append(line)  # comments, blanks and repeated names stay as they are
        elif name in before and name not in after:
            if line != before[name]:
                out.append(line)  # dropped by the derived image, changed by the new base: kept
        elif name in before and after[name] != before[name]:
            out.append(_merge_change(kind, name, before[name], after[name], line, path))
        else:
            out.append(line)
    for name, line in after.items():
        if name in before:
            continue
        if kind in ("shadow", "gshadow"):
            if name not in theirs and name not in ids.by_name:  # its user or group is added too
                out.append(line)
        elif _check_added(kind, name, line, ids, path):
            out.append(line)
    if out == lines:
        return new
    return "".join(line + "\n" for line in out)
