"""Filesystem commands on ``/var`` and ``/run``, which become ``tmpfiles.d`` lines.

A derived image's ``/var`` only reaches a machine on its first install, and ``/run`` is empty
at every boot, so ``mkdir``, ``install -d``, ``chown``, ``chmod``, ``touch`` and ``ln -s`` there
become ``d``/``z``/``f``/``L`` lines (one per path, merged). rpm's scratch directory
(``/var/lib/rpm-state``) and ``/tmp`` mean nothing in an image: notes. The same commands on
``/etc`` or ``/usr`` are refused: that content belongs in the package.
"""

from __future__ import annotations

import posixpath
import re
from typing import Final

from . import shell
from .actions import PostStep
from .walk import Argv, Call, Status, Walker, options

__all__ = ["HANDLERS"]

_SCRATCH: Final = ("/var/lib/rpm-state/", "/tmp/", "/var/tmp/")
_SELINUX_STORE: Final = ("/var/lib/selinux/", "/etc/selinux/")
_INSTALL_ARGS: Final = {
    "-m": "-m", "--mode": "-m", "-o": "-o", "--owner": "-o", "-g": "-g", "--group": "-g"
}  # fmt: skip


def _octal(mode: str) -> bool:
    return re.fullmatch(r"[0-7]{3,4}", mode) is not None


def _paths(w: Walker, argv: Argv, command: shell.Simple, what: str) -> list[str] | None:
    """The paths a filesystem command names, if all are known and under /var or /run."""
    out = []
    for arg in argv:
        if arg is None:
            w.refuse(command.text, "a path is not known offline")
            return None
        path = posixpath.normpath(arg)
        if not path.startswith(("/var/", "/run/")):
            w.refuse(
                command.text, f"it {what} {arg}, outside /var and /run (ship it in the package)"
            )
            return None
        out.append(path)
    return out


def _item(w: Walker, path: str, command: shell.Simple) -> dict[str, str] | None:
    """The tmpfiles record for ``path`` (None for rpm's scratch space)."""
    if path.startswith(_SCRATCH):
        w.note(command, f"not run: {path} is rpm's per-transaction scratch space")
        return None
    return w.found.tmpfiles.setdefault(path, {})


def _mkdir(w: Walker, c: Call) -> Status:
    command = c.command
    opts = options(w, c, {"-m": "-m", "--mode": "-m"}, {"-p", "--parents", "-v"})
    if opts is None:
        return None
    values, operands = opts
    mode = values.get("-m")
    if mode is not None and not _octal(mode):
        w.refuse(command.text, f"mode {mode} is not octal")
        return None
    for path in _paths(w, list(operands), command, "creates") or []:
        record = _item(w, path, command)
        if record is not None:
            record["type"] = "d"
            if mode:
                record["mode"] = mode.zfill(4)
    return True


def _install_dirs(w: Walker, c: Call) -> Status:
    command = c.command
    opts = options(w, c, _INSTALL_ARGS, {"-d", "--directory", "-v"})
    if opts is None:
        return None
    values, operands = opts
    if "-d" not in values and "--directory" not in values:
        w.refuse(command.text, "install copies files (the package should ship them)")
        return None
    mode = values.get("-m")
    if mode is not None and not _octal(mode):
        w.refuse(command.text, f"mode {mode} is not octal")
        return None
    for path in _paths(w, list(operands), command, "creates") or []:
        record = _item(w, path, command)
        if record is not None:
            record["type"] = "d"
            if mode:
                record["mode"] = mode.zfill(4)
            for key, option in (("user", "-o"), ("group", "-g")):
                if values.get(option):
                    record[key] = values[option]
    return True


def _chown(w: Walker, c: Call) -> Status:
    argv, command = c.argv, c.command
    opts = options(w, c, {}, {"-R", "--recursive", "-h", "--no-dereference", "-v", "-f"})
    if opts is None:
        return None
    values, operands = opts
    if len(operands) < 2:
        w.refuse(command.text, "owner and path expected")
        return None
    owner, targets = operands[0], operands[1:]
    if argv[0] is not None and argv[0].endswith("chgrp"):
        user, group = "", owner
    elif ":" in owner or "." not in owner:
        user, _sep, group = owner.partition(":")
    else:  # chown's old USER.GROUP spelling is ambiguous with dotted user names
        w.refuse(command.text, f"owner {owner!r}: write USER:GROUP")
        return None
    for path in _paths(w, list(targets), command, "changes") or []:
        record = _item(w, path, command)
        if record is not None:
            if user:
                record["user"] = user
            if group:
                record["group"] = group
            if "-R" in values or "--recursive" in values:
                record["recursive"] = "1"
    return True


def _chmod(w: Walker, c: Call) -> Status:
    command = c.command
    opts = options(w, c, {}, {"-R", "--recursive", "-v", "-f"})
    if opts is None:
        return None
    values, operands = opts
    if len(operands) < 2 or not _octal(operands[0]):
        w.refuse(command.text, "only octal chmod is translated")
        return None
    for path in _paths(w, list(operands[1:]), command, "changes") or []:
        record = _item(w, path, command)
        if record is not None:
            record["mode"] = operands[0].zfill(4)
            if "-R" in values or "--recursive" in values:
                record["recursive"] = "1"
    return True


def _touch(w: Walker, c: Call) -> Status:
    argv, command = c.argv, c.command
    if "-c" in argv or "--no-create" in argv:
        w.note(command, "not run: it only updates times")
        return True
    opts = options(w, c, {}, set())
    if opts is None:
        return None
    for path in _paths(w, list(opts[1]), command, "creates") or []:
        record = _item(w, path, command)
        if record is not None:
            record.setdefault("type", "f")
    return True


def _ln(w: Walker, c: Call) -> Status:
    command = c.command
    opts = options(w, c, {}, {"-s", "-f", "-n", "-T", "--symbolic", "--force"})
    if opts is None:
        return None
    values, operands = opts
    if "-s" not in values and "--symbolic" not in values:
        w.refuse(command.text, "only symbolic links are translated")
        return None
    if len(operands) != 2:
        w.refuse(command.text, "ln TARGET LINK expected")
        return None
    for path in _paths(w, [operands[1]], command, "creates") or []:
        record = _item(w, path, command)
        if record is not None:
            record.update(type="L", target=operands[0])
    return True


def _remove(w: Walker, c: Call) -> Status:
    command = c.command
    opts = options(w, c, {}, {"-f", "-r", "-R", "-v", "--force", "--recursive"})
    if opts is None:
        return None
    for arg in opts[1]:
        path = posixpath.normpath(arg)
        if path.startswith(_SELINUX_STORE):
            w.found.post_steps.append(
                PostStep("selinux-policy", "change the SELinux policy store", command.text)
            )
        elif path.startswith(("/var/", "/run/", "/tmp/")):
            w.note(command, f"not run: removing {path} at build time changes no machine")
        else:
            w.refuse(command.text, f"it removes {arg}")
            return None
    return True


HANDLERS: Final = {
    "mkdir": _mkdir,
    "install": _install_dirs,
    "chown": _chown,
    "chgrp": _chown,
    "chmod": _chmod,
    "touch": _touch,
    "ln": _ln,
    "rm": _remove,
}
