"""systemd, accounts and alternatives commands: what each becomes offline.

``systemctl preset`` and ``systemd-update-helper install-*-units`` become presets (any other
systemctl verb is a no-op with a note, as rpm-ostree's wrapper ignores it); ``systemd-sysusers``
with a here-document, ``useradd``, ``groupadd``, ``usermod -a -G`` and ``gpasswd -a`` become
sysusers entries; ``alternatives``/``update-alternatives`` become alternatives actions.
"""

from __future__ import annotations

from typing import Final

from ...errors import PolicyError
from ...ostree.accounts import SysusersEntry, parse_sysusers_line
from ...ostree.alternatives import AlternativeRemove, parse_alternatives
from ...ostree.units import UNIT_SUFFIXES, Scope, valid_unit_name
from .actions import Preset
from .walk import Call, Status, Walker, options

__all__ = ["HANDLERS"]

_SYSUSERS_DIR: Final = "/usr/lib/sysusers.d"
_USERADD_ARGS: Final = {
    "-b": "-b", "--base-dir": "-b", "-c": "-c", "--comment": "-c", "-d": "-d", "--home-dir": "-d",
    "-e": "-e", "--expiredate": "-e", "-f": "-f", "--inactive": "-f", "-g": "-g", "--gid": "-g",
    "-G": "-G", "--groups": "-G", "-k": "-k", "--skel": "-k", "-K": "-K", "--key": "-K",
    "-p": "-p", "--password": "-p", "-R": "-R", "--root": "-R", "-P": "-P", "--prefix": "-P",
    "-s": "-s", "--shell": "-s", "-u": "-u", "--uid": "-u", "-Z": "-Z", "--selinux-user": "-Z",
}  # fmt: skip
_USERADD_FLAGS: Final = frozenset({
    "-l", "--no-log-init", "-m", "--create-home", "-M", "--no-create-home", "-N",
    "--no-user-group", "-o", "--non-unique", "-r", "--system", "-U", "--user-group", "-D",
})  # fmt: skip
_GROUPADD_ARGS: Final = {
    "-g": "-g", "--gid": "-g", "-K": "-K", "--key": "-K", "-p": "-p", "--password": "-p",
    "-R": "-R", "--root": "-R", "-P": "-P", "--prefix": "-P",
}  # fmt: skip
_GROUPADD_FLAGS: Final = frozenset({"-f", "--force", "-o", "--non-unique", "-r", "--system"})
_USERMOD_FLAGS: Final = frozenset({"-a", "--append"})


def _systemctl(w: Walker, c: Call) -> Status:
    argv, command = c.argv, c.command
    args = argv[1:]
    if "preset" not in args:
        verb = next((a for a in args if a is not None and not a.startswith("-")), "?")
        w.note(command, f"not run: rpm-ostree's systemctl runs only 'preset' (this is {verb!r})")
        return True
    scope: Scope = "system"
    units = []
    for arg in args:
        if arg is None:
            w.refuse(command.text, "a unit name is not known offline")
            return None
        if arg in ("--global", "--user"):
            scope = "user"
        elif arg.startswith("--root") or (
            arg.startswith("--preset-mode") and not arg.endswith("=full")
        ):
            w.refuse(command.text, f"{arg} is not translated")
            return None
        elif not arg.startswith("-") and arg != "preset":
            # systemctl mangles a bare name into a service, as here
            unit = arg if arg.endswith(UNIT_SUFFIXES) else f"{arg}.service"
            if not valid_unit_name(unit):
                w.refuse(command.text, f"{arg!r} is not a unit name")
                return None
            units.append(unit)
    if not units:
        w.refuse(command.text, "preset without units")
        return None
    w.found.presets.append(Preset(tuple(units), scope))
    return True


def _update_helper(w: Walker, c: Call) -> Status:
    argv, command = c.argv, c.command
    verb = argv[1] if len(argv) > 1 else None
    units = argv[2:]
    if verb in ("install-system-units", "install-user-units"):
        if any(u is None for u in units) or not units:
            w.refuse(command.text, "the unit names are not known offline")
            return None
        names = tuple(u for u in units if u is not None)
        if not all(valid_unit_name(u) for u in names):
            w.refuse(command.text, "the unit names are not valid")
            return None
        scope: Scope = "system" if verb == "install-system-units" else "user"
        w.found.presets.append(Preset(names, scope))
        return True
    w.note(command, f"not run: {verb} is not an install-time action")
    return True


def _sysusers(w: Walker, c: Call) -> Status:
    argv, command, stdin = c.argv, c.command, c.stdin
    files = [a for a in argv[1:] if a is None or not a.startswith("-")]
    if "-" in argv[1:]:
        if stdin is None:
            w.refuse(command.text, "the sysusers lines are not known offline")
            return None
        for line in stdin.splitlines():
            if line.strip().startswith("r "):
                w.note(command, f"id range {line.strip()!r} not needed: ids are chosen now")
                continue
            try:
                entry = parse_sysusers_line(line, what=command.text)
            except PolicyError as exc:
                w.refuse(command.text, str(exc))
                return None
            if entry is not None:
                w.found.accounts.append(entry)
        return True
    if any(f is None for f in files):
        w.refuse(command.text, "the sysusers file is not known offline")
        return None
    if not files:
        w.note(command, "not run: systemd-sysusers runs at boot")
        return True
    for name in files:
        assert name is not None
        w.found.sysusers_files.append(name if name.startswith("/") else f"{_SYSUSERS_DIR}/{name}")
    return True


def _journalctl(w: Walker, c: Call) -> Status:
    argv, command = c.argv, c.command
    if "--update-catalog" in argv:
        w.note(command, "not run: the journal catalog is rebuilt at boot")
        return True
    return None  # reading the journal


def _useradd(w: Walker, c: Call) -> Status:
    command = c.command
    opts = options(w, c, _USERADD_ARGS, _USERADD_FLAGS)
    if opts is None:
        return None
    values, names = opts
    if len(names) != 1 or any(k in values for k in ("-R", "-P", "-D")):
        w.refuse(command.text, "useradd needs exactly one user name (and no other root)")
        return None
    if "-N" in values and "-g" not in values:
        w.refuse(command.text, "useradd -N without -g: the primary group is a local default")
        return None
    name = names[0]
    group = values.get("-g", "")
    uid = values.get("-u", "-")
    ident = f"{uid}:{group}" if group else uid
    w.found.accounts.append(
        SysusersEntry(
            "u", name, ident, values.get("-c", ""), values.get("-d", ""), values.get("-s", "")
        )
    )
    for extra in filter(None, values.get("-G", "").split(",")):
        w.found.accounts.append(SysusersEntry("m", name, extra))
    return True


def _groupadd(w: Walker, c: Call) -> Status:
    command = c.command
    opts = options(w, c, _GROUPADD_ARGS, _GROUPADD_FLAGS)
    if opts is None:
        return None
    values, names = opts
    if len(names) != 1 or any(k in values for k in ("-R", "-P")):
        w.refuse(command.text, "groupadd needs exactly one group name (and no other root)")
        return None
    w.found.accounts.append(SysusersEntry("g", names[0], values.get("-g", "-")))
    return True


def _usermod(w: Walker, c: Call) -> Status:
    command = c.command
    opts = options(w, c, {"-G": "-G", "--groups": "-G"}, _USERMOD_FLAGS)
    if opts is None:
        return None
    values, names = opts
    if set(values) != {"-a", "-G"} or len(names) != 1:
        w.refuse(command.text, "only usermod -a -G GROUPS USER is translated")
        return None
    for group in filter(None, values["-G"].split(",")):
        w.found.accounts.append(SysusersEntry("m", names[0], group))
    return True


def _gpasswd(w: Walker, c: Call) -> Status:
    argv, command = c.argv, c.command
    args = argv[1:]
    if len(args) == 3 and args[0] in ("-a", "--add") and None not in args:
        user, group = str(args[1]), str(args[2])
        w.found.accounts.append(SysusersEntry("m", user, group))
        return True
    w.refuse(command.text, "only gpasswd -a USER GROUP is translated")
    return None


def _alternatives(w: Walker, c: Call) -> Status:
    argv, command = c.argv, c.command
    if any(a is None for a in argv):
        w.refuse(command.text, "its arguments are not known offline")
        return None
    try:
        action = parse_alternatives([a for a in argv if a is not None])
    except ValueError as exc:
        w.refuse(command.text, str(exc))
        return None
    if action is None:
        return None
    if isinstance(action, AlternativeRemove):
        w.note(command, "not run: removing an alternative is not an install-time action")
        return True
    w.found.alternatives.append(action)
    if getattr(action, "initscript", None):
        w.note(command, "--initscript not applied: rpm-ostree's systemctl ignores what it runs")
    return True


HANDLERS: Final = {
    "systemctl": _systemctl,
    "systemd-update-helper": _update_helper,
    "systemd-sysusers": _sysusers,
    "journalctl": _journalctl,
    "useradd": _useradd,
    "groupadd": _groupadd,
    "usermod": _usermod,
    "gpasswd": _gpasswd,
    "alternatives": _alternatives,
    "update-alternatives": _alternatives,
}
