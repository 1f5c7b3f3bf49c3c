"""Which RPM scriptlets may be left unrun, and the accounts ``useradd``/``groupadd`` lines ask for.

ociforge runs no package code. A scriptlet that runs at install time is accepted only when
every command in it is in the harmless set below (it changes nothing a layer must carry, or
systemd redoes it at boot); ``useradd``/``groupadd`` lines become account entries instead.
Anything else is refused unless the caller chooses to skip scriptlets, and what was not run
is always reported.

Harmless: empty scripts, comments, ``exit 0``, ``:``, ``true``; ``ldconfig`` (the default
library directories are searched without the cache); ``systemctl preset`` and
``systemd-update-helper install-system-units`` (presets are applied on first boot);
``systemd-tmpfiles --create`` and ``systemd-sysusers`` (both run at boot); ``getent`` tests;
``if [ … ]; then`` / ``fi`` around those.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Final

from ..errors import PolicyError
from ..ostree.accounts import SysusersEntry
from .header import Header
from .tags import Tag

__all__ = ["INSTALL_SCRIPTLETS", "Scriptlet", "ScriptletPlan", "plan_scriptlets"]

#: Install-time scriptlets: (name, body tag, interpreter tag).
INSTALL_SCRIPTLETS: Final = (
    ("%pretrans", Tag.PRETRANS, Tag.PRETRANSPROG),
    ("%pre", Tag.PREIN, Tag.PREINPROG),
    ("%post", Tag.POSTIN, Tag.POSTINPROG),
    ("%posttrans", Tag.POSTTRANS, Tag.POSTTRANSPROG),
)
_TRIGGER_INSTALL_SENSES: Final = (1 << 16) | (1 << 25)  # TRIGGERIN, TRIGGERPREIN
_SHELLS: Final = frozenset({"/bin/sh", "/usr/bin/sh", "/bin/bash", "/usr/bin/bash"})
_LDCONFIG: Final = frozenset({"/sbin/ldconfig", "/usr/sbin/ldconfig", "ldconfig"})
_HARMLESS_PREFIXES: Final = (
    ("exit", "0"),
    (":",),
    ("true",),
    ("systemctl", "preset"),
    ("systemctl", "--no-reload", "preset"),
    ("/usr/bin/systemctl", "preset"),
    ("/usr/lib/systemd/systemd-update-helper", "install-system-units"),
    ("systemd-tmpfiles", "--create"),
    ("/usr/bin/systemd-tmpfiles", "--create"),
    ("systemd-sysusers",),
    ("/usr/bin/systemd-sysusers",),
    ("getent",),
    ("/usr/bin/getent",),
)
_KEYWORDS: Final = frozenset({"if", "elif", "then", "else", "do", "!"})
_SPLIT: Final = re.compile(r"\s*(?:\|\||&&|;)\s*")
_REDIRECT: Final = re.compile(r"\s*(?:[0-9]?>>?\s*/dev/null|2>&1)")


@dataclass(frozen=True, slots=True)
class Scriptlet:
    """One install-time script of a package: its name, interpreter and body."""

    name: str
    interpreter: str
    body: str


@dataclass(frozen=True, slots=True)
class ScriptletPlan:
    """What to do instead of running a package's scriptlets."""

    accounts: tuple[SysusersEntry, ...]
    skipped: tuple[str, ...]


def _scripts(header: Header) -> list[Scriptlet]:
    out = []
    for name, body_tag, prog_tag in INSTALL_SCRIPTLETS:
        body = header.string(body_tag, "") or ""
        prog = " ".join(header.strings(prog_tag))
        if body or (prog and prog not in _SHELLS):
            out.append(Scriptlet(name, prog or "/bin/sh", body))
    senses = header.integers(Tag.TRIGGERFLAGS)
    names = header.strings(Tag.TRIGGERNAME)
    index = header.integers(Tag.TRIGGERINDEX)
    scripts = header.strings(Tag.TRIGGERSCRIPTS)
    progs = header.strings(Tag.TRIGGERSCRIPTPROG)
    for i, sense in enumerate(senses):
        if sense & _TRIGGER_INSTALL_SENSES and i < len(index) and index[i] < len(scripts):
            prog = progs[index[i]] if index[i] < len(progs) else "/bin/sh"
            target = names[i] if i < len(names) else "?"
            out.append(Scriptlet(f"%triggerin -- {target}", prog, scripts[index[i]]))
    for kind, body_tag, prog_tag in (
        ("%filetrigger", Tag.FILETRIGGERSCRIPTS, Tag.FILETRIGGERSCRIPTPROG),
        ("%transfiletrigger", Tag.TRANSFILETRIGGERSCRIPTS, Tag.TRANSFILETRIGGERSCRIPTPROG),
    ):
        progs = header.strings(prog_tag)
        for i, body in enumerate(header.strings(body_tag)):
            out.append(Scriptlet(kind, progs[i] if i < len(progs) else "/bin/sh", body))
    return out


def _commands(body: str) -> list[str]:
    joined = re.sub(r"\\\n\s*", " ", body)
    out = []
    for line in joined.splitlines():
        text = line.split("#", 1)[0].strip() if not line.strip().startswith("#!") else ""
        if not text:
            continue
        for part in _SPLIT.split(text):
            command = _REDIRECT.sub("", part).strip()
            if command:
                out.append(command)
    return out


def _useradd(argv: list[str]) -> list[SysusersEntry]:
    opts: dict[str, str] = {}
    groups = ""
    name = ""
    i = 1
    takes = {"-g", "-d", "-s", "-c", "-u", "-G", "-K", "-k", "-e", "-f", "-p", "-b", "-Z"}
    while i < len(argv):
        arg = argv[i]
        if arg in takes and i + 1 < len(argv):
            if arg == "-G":
                groups = argv[i + 1]
            opts[arg] = argv[i + 1]
            i += 2
            continue
        if not arg.startswith("-"):
            name = arg
        i += 1
    if not name:
        raise PolicyError("useradd without a user name")
    uid = opts.get("-u", "-")
    group = opts.get("-g", "")
    ident = f"{uid}:{group}" if group else uid
    user = SysusersEntry(
        "u", name, ident, opts.get("-c", ""), opts.get("-d", ""), opts.get("-s", "")
    )
    members = [SysusersEntry("m", name, g) for g in groups.split(",") if g]
    return [user, *members]


def _groupadd(argv: list[str]) -> list[SysusersEntry]:
    gid, name, i = "-", "", 1
    while i < len(argv):
        if argv[i] == "-g" and i + 1 < len(argv):
            gid, i = argv[i + 1], i + 2
            continue
        if not argv[i].startswith("-"):
            name = argv[i]
        i += 1
    if not name:
        raise PolicyError("groupadd without a group name")
    return [SysusersEntry("g", name, gid)]


def _classify(script: Scriptlet) -> tuple[bool, list[SysusersEntry], str]:
    """(harmless, accounts, first offending command)."""
    prog = script.interpreter.split()[0] if script.interpreter else "/bin/sh"
    if prog in _LDCONFIG and not script.body.strip():
        return True, [], ""
    if prog not in _SHELLS:
        return (not script.body.strip()), [], f"{script.interpreter} script"
    accounts: list[SysusersEntry] = []
    for command in _commands(script.body):
        try:
            argv = shlex.split(command)
        except ValueError:
            return False, [], command
        while argv and argv[0] in _KEYWORDS:
            argv = argv[1:]
        # Tests have no side effects; "fi" and "done" close blocks.
        if not argv or argv[0] in ("fi", "done", "[", "[[", "test"):
            continue
        tool = argv[0].rsplit("/", 1)[-1]
        try:
            if tool == "useradd":
                accounts += _useradd(argv)
                continue
            if tool == "groupadd":
                accounts += _groupadd(argv)
                continue
        except PolicyError:
            return False, [], command
        if argv[0] in _LDCONFIG:
            continue
        if not any(tuple(argv[: len(p)]) == p for p in _HARMLESS_PREFIXES):
            return False, [], command
    return True, accounts, ""


def plan_scriptlets(header: Header, *, package: str, skip: bool) -> ScriptletPlan:
    """Accounts to create and scriptlets left unrun for a package, or a refusal.

    Raises :class:`PolicyError` naming the package, the scriptlet and the command when a
    scriptlet does something outside the harmless set and ``skip`` is false.
    """
    accounts: list[SysusersEntry] = []
    skipped: list[str] = []
    for script in _scripts(header):
        harmless, found, offending = _classify(script)
        if harmless:
            accounts += found
            what = "accounts taken from it" if found else "harmless"
            skipped.append(f"{package}: {script.name} not run ({what})")
            continue
        if not skip:
            raise PolicyError(
                f"{package}: {script.name} runs {offending!r}, which ociforge cannot run;"
                " pass --skip-scriptlets to install the package without it"
            )
        skipped.append(f"{package}: {script.name} NOT RUN (--skip-scriptlets): {offending!r}")
    return ScriptletPlan(tuple(accounts), tuple(skipped))
