"""Walk a parsed scriptlet and say, command by command, what it does offline, running nothing.

Each simple command is classified by its tool: **plumbing** (tests, ``echo``, ``getent``,
read-only tools: no effect a layer carries), a **translation** (accounts, presets,
alternatives, tmpfiles lines), a **no-op with a note** (what rpm-ostree's wrappers ignore or
the machine redoes at boot: ``systemctl start``, ``restorecon``, ``systemd-tmpfiles``…), a
**post-step** (``depmod``, ``semodule``, ``dracut``: work that needs code run later), or a
**refusal** (anything else). Conditions are evaluated as far as the build knows them: ``$1`` is
the instance count (1 for a fresh install), paths under ``/run`` do not exist (a build has an
empty ``/run``), ``selinuxenabled`` is false (no policy is loaded while building; ostree labels
at import) and ``systemctl`` verbs other than ``preset`` succeed (rpm-ostree's wrapper exits 0).
A branch known to be dead is skipped; one that might run is classified like any other code.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from ...accounts import SysusersEntry, parse_sysusers_line
from ...errors import PolicyError
from ...ostree.alternatives import AlternativeCommand, AlternativeRemove, parse_alternatives
from ...ostree.units import UNIT_SUFFIXES, Scope
from . import shell
from .actions import PostStep, PostStepKind, Preset

__all__ = ["Findings", "recognise"]

Status = bool | None  # exit status: True (0), False (non-zero), None (cannot tell offline)
Argv = list[str | None]  # None: a word whose value is unknown offline

_BIN_DIRS: Final = frozenset(
    {
        "/bin",
        "/sbin",
        "/usr/bin",
        "/usr/sbin",
        "/usr/lib/systemd",
        "/lib/systemd",
        "/usr/libexec/selinux",
    }
)
_HARMLESS_OUTPUT: Final = frozenset({"/dev/null", "/dev/stderr", "/dev/stdout", "/dev/tty"})
_SOURCED_CONFIG: Final = frozenset(
    {"/etc/selinux/config", "/etc/sysconfig/selinux", "/etc/os-release", "/usr/lib/os-release"}
)
#: Tools that only read, whose output feeds tests, pipes or variables.
_READERS: Final = frozenset(
    {"grep", "egrep", "fgrep", "cat", "head", "tail", "cut", "tr", "sort", "uniq", "wc",
     "basename", "dirname", "uname", "readlink", "realpath", "stat", "ls", "getent", "id",
     "arch", "nproc", "pidof", "systemd-detect-virt", "matchpathcon", "getenforce", "sestatus"}
)  # fmt: skip
_FIND_WRITES: Final = frozenset(
    {"-delete", "-exec", "-execdir", "-ok", "-okdir", "-fprint", "-fprint0", "-fprintf", "-fls"}
)
#: Tools whose work the machine redoes by itself (at boot, or when ostree imports the layer).
_NOOPS: Final[dict[str, str]] = {
    "systemd-tmpfiles": "tmpfiles.d entries are applied at boot (systemd-tmpfiles-setup.service)",
    "udevadm": "udev rules and hwdb are reloaded at boot",
    "systemd-hwdb": "hwdb.bin is rebuilt at boot (systemd-hwdb-update.service)",
    "systemd-binfmt": "binfmt_misc entries are registered at boot",
    "systemd-sysctl": "sysctl.d settings are applied at boot",
    "restorecon": "SELinux labels are applied when ostree imports the layer",
    "chcon": "SELinux labels are applied when ostree imports the layer",
    "fixfiles": "SELinux labels are applied when ostree imports the layer",
    "load_policy": "no policy is loaded while building an image",
    "setenforce": "no policy is loaded while building an image",
    "gtk-update-icon-cache": "desktop cache, not needed on CoreOS",
    "glib-compile-schemas": "desktop cache, not needed on CoreOS",
    "update-desktop-database": "desktop cache, not needed on CoreOS",
    "update-mime-database": "desktop cache, not needed on CoreOS",
    "gio-querymodules": "desktop cache, not needed on CoreOS",
    "gio-querymodules-64": "desktop cache, not needed on CoreOS",
    "gdk-pixbuf-query-loaders": "desktop cache, not needed on CoreOS",
    "gdk-pixbuf-query-loaders-64": "desktop cache, not needed on CoreOS",
    "fc-cache": "font cache, rebuilt on demand",
    "install-info": "the info directory index is not maintained in images",
    "mandb": "the man page index is rebuilt on demand",
    "ldconfig": "the default library directories need no cache",
}
_SYSUSERS_DIR: Final = "/usr/lib/sysusers.d"
_SCRATCH: Final = ("/var/lib/rpm-state/", "/tmp/", "/var/tmp/")
_SELINUX_STORE: Final = ("/var/lib/selinux/", "/etc/selinux/")


@dataclass(slots=True)
class Findings:
    """What one scriptlet amounts to."""

    accounts: list[SysusersEntry] = field(default_factory=list)
    sysusers_files: list[str] = field(default_factory=list)
    presets: list[Preset] = field(default_factory=list)
    alternatives: list[AlternativeCommand] = field(default_factory=list)
    tmpfiles: dict[str, dict[str, str]] = field(default_factory=dict)
    post_steps: list[PostStep] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    refused: tuple[str, str] | None = None  # (command, why)

    def tmpfiles_lines(self) -> list[str]:
        """One ``tmpfiles.d`` line per path, in first-mention order."""
        lines = []
        for path, item in self.tmpfiles.items():
            kind = item.get("type") or ("Z" if item.get("recursive") else "z")
            argument = item.get("target", "-")
            fields = [
                kind,
                path,
                item.get("mode", "-"),
                item.get("user", "-"),
                item.get("group", "-"),
                "-",
            ]
            lines.append(" ".join(fields + ([argument] if kind == "L" else [])))
        return lines


class _Exit(Exception):
    """``exit`` reached on every path: the rest of the script never runs."""


class _Walker:
    def __init__(self, instances: int) -> None:
        self.env: dict[str, str | None] = {"1": str(instances)}
        self.found = Findings()
        self.handlers: dict[str, Callable[[Argv, shell.Simple, str | None, bool], Status]] = {
            ":": lambda *_: True,
            "true": lambda *_: True,
            "false": lambda *_: False,
            "echo": lambda *_: True,
            "printf": lambda *_: True,
            "set": self.set_builtin,
            "export": self.export,
            "readonly": self.export,
            "local": self.export,
            "unset": self.unset,
            "command": self.command_builtin,
            "type": lambda *_: None,
            "which": lambda *_: None,
            "hash": lambda *_: None,
            "[": self.test,
            "test": self.test,
            "[[": self.test,
            ".": self.source,
            "source": self.source,
            "exit": self.exit,
            "find": self.find,
            "sed": self.sed,
            "rpm": self.rpm,
            "selinuxenabled": lambda *_: False,
            "systemctl": self.systemctl,
            "systemd-update-helper": self.update_helper,
            "systemd-sysusers": self.sysusers,
            "journalctl": self.journalctl,
            "useradd": self.useradd,
            "groupadd": self.groupadd,
            "usermod": self.usermod,
            "gpasswd": self.gpasswd,
            "alternatives": self.alternatives,
            "update-alternatives": self.alternatives,
            "depmod": self.depmod,
            "weak-modules": self.weak_modules,
            "dracut": self.post("dracut", "regenerate the initramfs with the image's dracut"),
            "kernel-install": self.kernel_install,
            "semodule": self.semodule,
            "semanage": self.semanage,
            "setsebool": self.setsebool,
            "varrun-convert.sh": self.post("selinux-policy", "convert /var/run file contexts"),
            "mkdir": self.mkdir,
            "install": self.install,
            "chown": self.chown,
            "chgrp": self.chown,
            "chmod": self.chmod,
            "touch": self.touch,
            "ln": self.ln,
            "rm": self.rm,
        }

    # --- bookkeeping -----------------------------------------------------------------------

    def refuse(self, command: str, why: str) -> None:
        if self.found.refused is None:
            self.found.refused = (command, why)

    def note(self, command: shell.Simple, what: str) -> None:
        self.found.notes.append(f"{command.text!r}: {what}")

    def post(
        self, kind: PostStepKind, detail: str
    ) -> Callable[[Argv, shell.Simple, str | None, bool], Status]:
        def handler(argv: Argv, command: shell.Simple, stdin: str | None, maybe: bool) -> Status:
            self.found.post_steps.append(PostStep(kind, detail, command.text))
            return True

        return handler

    # --- expansion -------------------------------------------------------------------------

    def substitution(self, script: str, where: str) -> None:
        """Check that ``$(script)`` only reads; its output is unknown offline."""
        try:
            tree = shell.parse(script)
        except shell.ShellError as exc:
            self.refuse(where, f"cannot parse $({script}): {exc}")
            return
        inner = _Walker(1)
        inner.env = dict(self.env)
        try:
            inner.sequence(tree, True)
        except _Exit:
            pass
        effects = inner.found
        if (
            effects.refused
            or effects.accounts
            or effects.presets
            or effects.alternatives
            or (effects.tmpfiles or effects.post_steps or effects.sysusers_files)
        ):
            why = effects.refused[1] if effects.refused else "it changes the system"
            self.refuse(where, f"the substitution $({script}) is not read-only: {why}")

    def expand(self, word: shell.Word, where: str) -> list[str] | None:
        """The fields ``word`` expands to, or None when a value is unknown offline."""
        fields: list[str] = []
        current: str | None = ""
        started = False
        for part in word.parts:
            if part.kind in ("cmd", "array"):
                if part.kind == "cmd":
                    self.substitution(part.text, where)
                else:
                    for inner in _array_words(part.text):
                        self.expand(inner, where)
                current = None
                continue
            if part.kind == "opaque":
                current = None
                continue
            if part.kind == "lit":
                if current is not None:
                    current += part.text
                started = started or part.quoted or bool(part.text)
                continue
            value = self.variable(part)
            if value is None:
                current = None
            elif current is not None:
                if part.quoted:
                    current += value
                    started = True
                else:  # unquoted: split into fields on blanks
                    pieces = value.split()
                    if not pieces:
                        continue
                    if value[:1].isspace() and (current or started):
                        fields.append(current)
                        current = ""
                    current += pieces[0]
                    for piece in pieces[1:]:
                        fields.append(current)
                        current = piece
                    if value[-1:].isspace():
                        fields.append(current)
                        current, started = "", False
                        continue
                    started = True
        if current is None:
            return None
        if current or started:
            fields.append(current)
        return fields

    def variable(self, part: shell.Part) -> str | None:
        value = self.env.get(part.text)
        modifier = part.modifier
        if not modifier:
            return value
        match = re.fullmatch(r"(:?)([-=+?])(.*)", modifier, re.S)
        if match is None:
            return None  # ${x#…}, ${x%…}, ${x/…}: not evaluated
        colon, op, alternative = match.groups()
        if value is None and part.text in self.env:
            return None
        unset = part.text not in self.env or (colon and value == "")
        if op in "-=":
            if unset and not any(c in alternative for c in "$`"):
                return alternative
            return None if unset else value
        if op == "+":
            return None if any(c in alternative for c in "$`") else ("" if unset else alternative)
        return value

    def argv(self, command: shell.Simple) -> Argv:
        out: Argv = []
        for word in command.words:
            fields = self.expand(word, command.text)
            if fields is None:
                out.append(None)
            else:
                out.extend(fields)
        return out

    # --- tree walking ----------------------------------------------------------------------

    def sequence(self, node: shell.Sequence, maybe: bool) -> Status:
        status: Status = True
        for item in node.items:
            status = self.and_or(item, maybe)
        return status

    def and_or(self, node: shell.AndOr, maybe: bool) -> Status:
        status = self.pipeline(node.first, maybe)
        for op, pipeline in node.rest:
            if (op == "&&" and status is False) or (op == "||" and status is True):
                continue  # never runs; the status stands
            sure = status is (True if op == "&&" else False)
            after = self.pipeline(pipeline, maybe or not sure)
            if sure:
                status = after
            elif op == "&&":
                status = False if after is False else None
            else:
                status = True if after is True else None
        return status

    def pipeline(self, node: shell.Pipeline, maybe: bool) -> Status:
        status: Status = True
        for command in node.commands:
            status = self.node(command, maybe)
        if node.negated and status is not None:
            return not status
        return status

    def node(self, node: shell.Node, maybe: bool) -> Status:
        if isinstance(node, shell.Simple):
            return self.simple(node, maybe)
        if isinstance(node, shell.Unsupported):
            self.refuse(node.text, node.reason)
            return None
        self.redirects(node.redirects, _describe(node))
        if isinstance(node, shell.If):
            later_maybe = maybe
            for condition, body in node.branches:
                status = self.sequence(condition, later_maybe)
                if status is False:
                    continue
                self.sequence(body, later_maybe or status is None)
                if status is True:
                    return None
                later_maybe = True
            if node.otherwise is not None:
                self.sequence(node.otherwise, later_maybe)
            return None
        if isinstance(node, shell.For):
            values: list[str] | None = [] if node.words is not None else None
            for word in node.words or ():
                fields = self.expand(word, f"for {node.name} in …")
                if fields is None or values is None:
                    values = None
                else:
                    values += fields
            if values is None:
                self.env[node.name] = None
                self.sequence(node.body, True)
            for value in values or ():
                self.env[node.name] = value
                self.sequence(node.body, maybe)
            return None
        saved = dict(self.env)
        status = self.sequence(node.body, maybe)
        if node.subshell:
            self.env = saved
        return status

    def redirects(self, redirects: Sequence[shell.Redirect], where: str) -> str | None:
        """Refuse writes to files; return a here-document's text (stdin) if there is one."""
        stdin = None
        for redirect in redirects:
            if redirect.heredoc is not None:
                stdin = redirect.heredoc
                if redirect.expands and any(c in stdin for c in "$`"):
                    stdin = None  # expansions inside: the text is not known offline
                continue
            target = redirect.target.literal if redirect.target else None
            if (
                redirect.op in (">&", "<&")
                and target is not None
                and (target.isdigit() or target == "-")
            ):
                continue
            if redirect.op in ("<", "<<<", "<&"):
                continue
            if target not in _HARMLESS_OUTPUT:
                self.refuse(where, f"it writes {target or 'a file'}")
        return stdin

    def simple(self, command: shell.Simple, maybe: bool) -> Status:
        stdin = self.redirects(command.redirects, command.text)
        status: Status = True
        values = {}
        for name, word in command.assignments:
            fields = self.expand(word, command.text)
            values[name] = None if fields is None else " ".join(fields)
            if any(p.kind == "cmd" for p in word.parts):
                status = None
        if not command.words:
            self.env.update(values)
            return status
        argv = self.argv(command)
        tool = argv[0] if argv else None
        if tool is None:
            self.refuse(command.text, "the command name is not known offline")
            return None
        directory, name = posixpath.split(tool)
        if directory and directory not in _BIN_DIRS:
            self.refuse(command.text, f"{tool} is not a tool ociforge knows")
            return None
        handler = self.handlers.get(name)
        if handler is not None:
            return handler(argv, command, stdin, maybe)
        if name in _READERS:
            return None
        if name in _NOOPS:
            self.note(command, f"not run: {_NOOPS[name]}")
            return True
        self.refuse(command.text, f"{name} is not a command ociforge can translate")
        return None

    # --- plumbing ----------------------------------------------------------------------------

    def set_builtin(
        self, argv: Argv, command: shell.Simple, stdin: str | None, maybe: bool
    ) -> Status:
        if any(a is None or not a.startswith(("-", "+")) or a == "--" for a in argv[1:]):
            for key in [k for k in self.env if k.isdigit()]:
                self.env[key] = None  # set -- …: new positional parameters
        return True

    def export(self, argv: Argv, command: shell.Simple, stdin: str | None, maybe: bool) -> Status:
        for arg in argv[1:]:
            if arg is not None and "=" in arg and not arg.startswith("-"):
                key, value = arg.split("=", 1)
                self.env[key] = value
        for word in command.words[1:]:  # export X=$(…): the value is unknown
            if word.literal is None and "=" in word.raw:
                self.env[word.raw.split("=", 1)[0]] = None
        return True

    def unset(self, argv: Argv, command: shell.Simple, stdin: str | None, maybe: bool) -> Status:
        for arg in argv[1:]:
            if arg is not None:
                self.env.pop(arg, None)
        return True

    def command_builtin(
        self, argv: Argv, command: shell.Simple, stdin: str | None, maybe: bool
    ) -> Status:
        if len(argv) > 1 and argv[1] in ("-v", "-V"):
            return None
        rest = shell.Simple((), command.words[1:], command.redirects, command.text)
        return self.simple(rest, maybe) if rest.words else True

    def source(self, argv: Argv, command: shell.Simple, stdin: str | None, maybe: bool) -> Status:
        if len(argv) == 2 and argv[1] in _SOURCED_CONFIG:
            return None  # sets variables this walk leaves unknown (SELINUXTYPE…)
        self.refuse(command.text, "it runs another script")
        return None

    def exit(self, argv: Argv, command: shell.Simple, stdin: str | None, maybe: bool) -> Status:
        code = argv[1] if len(argv) > 1 else "0"
        if code != "0":
            self.refuse(command.text, "it makes the scriptlet fail")
            return None
        if not maybe:
            raise _Exit
        return True

    def find(self, argv: Argv, command: shell.Simple, stdin: str | None, maybe: bool) -> Status:
        if any(a is None or a in _FIND_WRITES for a in argv[1:]):
            self.refuse(command.text, "find may change or run things here")
        return None

    def sed(self, argv: Argv, command: shell.Simple, stdin: str | None, maybe: bool) -> Status:
        if any(a is None or a.startswith(("-i", "--in-place")) for a in argv[1:]):
            self.refuse(command.text, "it edits files in place")
        return None

    def rpm(self, argv: Argv, command: shell.Simple, stdin: str | None, maybe: bool) -> Status:
        first = argv[1] if len(argv) > 1 else None
        if first is not None and (first.startswith("-q") or first in ("--query", "-E", "--eval")):
            return None
        self.refuse(command.text, "rpm can only be queried here")
        return None

    def test(self, argv: Argv, command: shell.Simple, stdin: str | None, maybe: bool) -> Status:
        args = argv[1:]
        closing = {"[": "]", "[[": "]]"}.get(argv[0] or "")
        if closing is not None:
            if not args or args[-1] != closing:
                self.refuse(command.text, "unbalanced test")
                return None
            args = args[:-1]
        return _evaluate(args, self.env)

    # --- systemd -----------------------------------------------------------------------------

    def systemctl(
        self, argv: Argv, command: shell.Simple, stdin: str | None, maybe: bool
    ) -> Status:
        args = argv[1:]
        if "preset" not in args:
            verb = next((a for a in args if a is not None and not a.startswith("-")), "?")
            self.note(
                command, f"not run: rpm-ostree's systemctl runs only 'preset' (this is {verb!r})"
            )
            return True
        scope: Scope = "system"
        units = []
        for arg in args:
            if arg is None:
                self.refuse(command.text, "a unit name is not known offline")
                return None
            if arg in ("--global", "--user"):
                scope = "user"
            elif (
                arg.startswith("--root")
                or arg.startswith("--preset-mode")
                and not arg.endswith("=full")
            ):
                self.refuse(command.text, f"{arg} is not translated")
                return None
            elif not arg.startswith("-") and arg != "preset":
                units.append(arg if arg.endswith(UNIT_SUFFIXES) else f"{arg}.service")
        if not units:
            self.refuse(command.text, "preset without units")
            return None
        self.found.presets.append(Preset(tuple(units), scope))
        return True

    def update_helper(
        self, argv: Argv, command: shell.Simple, stdin: str | None, maybe: bool
    ) -> Status:
        verb = argv[1] if len(argv) > 1 else None
        units = argv[2:]
        if verb in ("install-system-units", "install-user-units"):
            if any(u is None for u in units) or not units:
                self.refuse(command.text, "the unit names are not known offline")
                return None
            scope: Scope = "system" if verb == "install-system-units" else "user"
            self.found.presets.append(Preset(tuple(u for u in units if u is not None), scope))
            return True
        self.note(command, f"not run: {verb} is not an install-time action")
        return True

    def sysusers(self, argv: Argv, command: shell.Simple, stdin: str | None, maybe: bool) -> Status:
        files = [a for a in argv[1:] if a is None or not a.startswith("-")]
        if "-" in argv[1:]:
            if stdin is None:
                self.refuse(command.text, "the sysusers lines are not known offline")
                return None
            for line in stdin.splitlines():
                if line.strip().startswith("r "):
                    self.note(command, f"id range {line.strip()!r} not needed: ids are chosen now")
                    continue
                try:
                    entry = parse_sysusers_line(line, what=command.text)
                except PolicyError as exc:
                    self.refuse(command.text, str(exc))
                    return None
                if entry is not None:
                    self.found.accounts.append(entry)
            return True
        if any(f is None for f in files):
            self.refuse(command.text, "the sysusers file is not known offline")
            return None
        if not files:
            self.note(command, "not run: systemd-sysusers runs at boot")
            return True
        for name in files:
            assert name is not None
            self.found.sysusers_files.append(
                name if name.startswith("/") else f"{_SYSUSERS_DIR}/{name}"
            )
        return True

    def journalctl(
        self, argv: Argv, command: shell.Simple, stdin: str | None, maybe: bool
    ) -> Status:
        if "--update-catalog" in argv:
            self.note(command, "not run: the journal catalog is rebuilt at boot")
            return True
        return None  # reading the journal

    # --- accounts ------------------------------------------------------------------------

    def useradd(self, argv: Argv, command: shell.Simple, stdin: str | None, maybe: bool) -> Status:
        opts = _options(argv, command, self, _USERADD_ARGS, _USERADD_FLAGS)
        if opts is None:
            return None
        values, names = opts
        if len(names) != 1 or any(k in values for k in ("-R", "-P", "-D")):
            self.refuse(command.text, "useradd needs exactly one user name (and no other root)")
            return None
        if "-N" in values and "-g" not in values:
            self.refuse(command.text, "useradd -N without -g: the primary group is a local default")
            return None
        name = names[0]
        group = values.get("-g", "")
        uid = values.get("-u", "-")
        ident = f"{uid}:{group}" if group else uid
        self.found.accounts.append(
            SysusersEntry(
                "u", name, ident, values.get("-c", ""), values.get("-d", ""), values.get("-s", "")
            )
        )
        for extra in filter(None, values.get("-G", "").split(",")):
            self.found.accounts.append(SysusersEntry("m", name, extra))
        return True

    def groupadd(self, argv: Argv, command: shell.Simple, stdin: str | None, maybe: bool) -> Status:
        opts = _options(argv, command, self, _GROUPADD_ARGS, _GROUPADD_FLAGS)
        if opts is None:
            return None
        values, names = opts
        if len(names) != 1 or any(k in values for k in ("-R", "-P")):
            self.refuse(command.text, "groupadd needs exactly one group name (and no other root)")
            return None
        self.found.accounts.append(SysusersEntry("g", names[0], values.get("-g", "-")))
        return True

    def usermod(self, argv: Argv, command: shell.Simple, stdin: str | None, maybe: bool) -> Status:
        opts = _options(argv, command, self, {"-G": "-G", "--groups": "-G"}, _USERMOD_FLAGS)
        if opts is None:
            return None
        values, names = opts
        if set(values) != {"-a", "-G"} or len(names) != 1:
            self.refuse(command.text, "only usermod -a -G GROUPS USER is translated")
            return None
        for group in filter(None, values["-G"].split(",")):
            self.found.accounts.append(SysusersEntry("m", names[0], group))
        return True

    def gpasswd(self, argv: Argv, command: shell.Simple, stdin: str | None, maybe: bool) -> Status:
        args = argv[1:]
        if len(args) == 3 and args[0] in ("-a", "--add") and None not in args:
            user, group = args[1], args[2]
            assert user is not None and group is not None
            self.found.accounts.append(SysusersEntry("m", user, group))
            return True
        self.refuse(command.text, "only gpasswd -a USER GROUP is translated")
        return None

    # --- alternatives --------------------------------------------------------------------

    def alternatives(
        self, argv: Argv, command: shell.Simple, stdin: str | None, maybe: bool
    ) -> Status:
        if any(a is None for a in argv):
            self.refuse(command.text, "its arguments are not known offline")
            return None
        try:
            action = parse_alternatives([a for a in argv if a is not None])
        except ValueError as exc:
            self.refuse(command.text, str(exc))
            return None
        if action is None:
            return None
        if isinstance(action, AlternativeRemove):
            self.note(command, "not run: removing an alternative is not an install-time action")
            return True
        self.found.alternatives.append(action)
        if getattr(action, "initscript", None):
            self.note(
                command, "--initscript not applied: rpm-ostree's systemctl ignores what it runs"
            )
        return True

    # --- post-steps --------------------------------------------------------------------------

    def depmod(self, argv: Argv, command: shell.Simple, stdin: str | None, maybe: bool) -> Status:
        args = [a for a in argv[1:] if a is not None]
        takes = {"-b", "-C", "-E", "-F", "-o", "--basedir", "--config", "--symvers", "--filesyms"}
        versions = [
            a
            for i, a in enumerate(args)
            if not a.startswith("-") and (i == 0 or args[i - 1] not in takes)
        ]
        versions = [v for v in versions if re.match(r"\d", v)]
        kernel = versions[0] if versions else "the image's kernel"
        self.found.post_steps.append(
            PostStep("depmod", f"regenerate modules.dep for {kernel}", command.text)
        )
        return True

    def weak_modules(
        self, argv: Argv, command: shell.Simple, stdin: str | None, maybe: bool
    ) -> Status:
        detail = "link the modules into compatible kernels and regenerate modules.dep"
        if "--no-initramfs" not in argv and any(
            a in ("--add-modules", "--add-kernel") for a in argv
        ):
            detail += ", then the initramfs"
        self.found.post_steps.append(PostStep("weak-modules", detail, command.text))
        return True

    def kernel_install(
        self, argv: Argv, command: shell.Simple, stdin: str | None, maybe: bool
    ) -> Status:
        verb = argv[1] if len(argv) > 1 and argv[1] else "?"
        self.found.post_steps.append(
            PostStep(
                "kernel-install",
                f"kernel-install {verb}: the kernel's initramfs (dracut)",
                command.text,
            )
        )
        return True

    def semodule(self, argv: Argv, command: shell.Simple, stdin: str | None, maybe: bool) -> Status:
        if not _changes(argv[1:], _SEMODULE_CHANGES, "ireduBRb"):
            return None  # -l and friends only read the store
        self.found.post_steps.append(
            PostStep(
                "selinux-policy",
                "change the SELinux module store and rebuild the policy",
                command.text,
            )
        )
        return True

    def semanage(self, argv: Argv, command: shell.Simple, stdin: str | None, maybe: bool) -> Status:
        sub = argv[1] if len(argv) > 1 else None
        if sub != "import" and (
            sub == "export" or not _changes(argv[2:], _SEMANAGE_CHANGES, "adDm")
        ):
            return None
        self.found.post_steps.append(
            PostStep(
                "selinux-policy", "change local SELinux policy settings and rebuild", command.text
            )
        )
        return True

    def setsebool(
        self, argv: Argv, command: shell.Simple, stdin: str | None, maybe: bool
    ) -> Status:
        if "-P" in argv or "--persistent" in argv:
            self.found.post_steps.append(
                PostStep(
                    "selinux-policy", "set SELinux booleans persistently and rebuild", command.text
                )
            )
            return True
        self.note(command, "not run: a boolean without -P only changes the running policy")
        return True

    # --- filesystem ----------------------------------------------------------------------------

    def paths(self, argv: Argv, command: shell.Simple, what: str) -> list[str] | None:
        """The paths a filesystem command names, if all are known and under /var or /run."""
        paths = []
        for arg in argv:
            if arg is None:
                self.refuse(command.text, "a path is not known offline")
                return None
            path = posixpath.normpath(arg)
            if not path.startswith(("/var/", "/run/")):
                self.refuse(
                    command.text, f"it {what} {arg}, outside /var and /run (ship it in the package)"
                )
                return None
            paths.append(path)
        return paths

    def item(self, path: str, command: shell.Simple) -> dict[str, str] | None:
        if path.startswith(_SCRATCH):
            self.note(command, f"not run: {path} is rpm's per-transaction scratch space")
            return None
        return self.found.tmpfiles.setdefault(path, {})

    def mkdir(self, argv: Argv, command: shell.Simple, stdin: str | None, maybe: bool) -> Status:
        opts = _options(
            argv, command, self, {"-m": "-m", "--mode": "-m"}, {"-p", "--parents", "-v"}
        )
        if opts is None:
            return None
        values, operands = opts
        mode = values.get("-m")
        if mode is not None and not _octal(mode):
            self.refuse(command.text, f"mode {mode} is not octal")
            return None
        for path in self.paths(list(operands), command, "creates") or []:
            item = self.item(path, command)
            if item is not None:
                item["type"] = "d"
                if mode:
                    item["mode"] = mode.zfill(4)
        return True

    def install(self, argv: Argv, command: shell.Simple, stdin: str | None, maybe: bool) -> Status:
        opts = _options(argv, command, self, _INSTALL_ARGS, {"-d", "--directory", "-v"})
        if opts is None:
            return None
        values, operands = opts
        if "-d" not in values and "--directory" not in values:
            self.refuse(command.text, "install copies files (the package should ship them)")
            return None
        mode = values.get("-m")
        if mode is not None and not _octal(mode):
            self.refuse(command.text, f"mode {mode} is not octal")
            return None
        for path in self.paths(list(operands), command, "creates") or []:
            item = self.item(path, command)
            if item is not None:
                item["type"] = "d"
                if mode:
                    item["mode"] = mode.zfill(4)
                for key, option in (("user", "-o"), ("group", "-g")):
                    if values.get(option):
                        item[key] = values[option]
        return True

    def chown(self, argv: Argv, command: shell.Simple, stdin: str | None, maybe: bool) -> Status:
        opts = _options(
            argv, command, self, {}, {"-R", "--recursive", "-h", "--no-dereference", "-v", "-f"}
        )
        if opts is None:
            return None
        values, operands = opts
        if len(operands) < 2:
            self.refuse(command.text, "owner and path expected")
            return None
        owner, targets = operands[0], operands[1:]
        if argv[0] is not None and argv[0].endswith("chgrp"):
            user, group = "", owner
        elif ":" in owner or "." not in owner:
            user, _sep, group = owner.partition(":")
        else:  # chown's old USER.GROUP spelling is ambiguous with dotted user names
            self.refuse(command.text, f"owner {owner!r}: write USER:GROUP")
            return None
        for path in self.paths(list(targets), command, "changes") or []:
            item = self.item(path, command)
            if item is not None:
                if user:
                    item["user"] = user
                if group:
                    item["group"] = group
                if "-R" in values or "--recursive" in values:
                    item["recursive"] = "1"
        return True

    def chmod(self, argv: Argv, command: shell.Simple, stdin: str | None, maybe: bool) -> Status:
        opts = _options(argv, command, self, {}, {"-R", "--recursive", "-v", "-f"})
        if opts is None:
            return None
        values, operands = opts
        if len(operands) < 2 or not _octal(operands[0]):
            self.refuse(command.text, "only octal chmod is translated")
            return None
        for path in self.paths(list(operands[1:]), command, "changes") or []:
            item = self.item(path, command)
            if item is not None:
                item["mode"] = operands[0].zfill(4)
                if "-R" in values or "--recursive" in values:
                    item["recursive"] = "1"
        return True

    def touch(self, argv: Argv, command: shell.Simple, stdin: str | None, maybe: bool) -> Status:
        if "-c" in argv or "--no-create" in argv:
            self.note(command, "not run: it only updates times")
            return True
        opts = _options(argv, command, self, {}, set())
        if opts is None:
            return None
        for path in self.paths(list(opts[1]), command, "creates") or []:
            item = self.item(path, command)
            if item is not None:
                item.setdefault("type", "f")
        return True

    def ln(self, argv: Argv, command: shell.Simple, stdin: str | None, maybe: bool) -> Status:
        opts = _options(argv, command, self, {}, {"-s", "-f", "-n", "-T", "--symbolic", "--force"})
        if opts is None:
            return None
        values, operands = opts
        if "-s" not in values and "--symbolic" not in values:
            self.refuse(command.text, "only symbolic links are translated")
            return None
        if len(operands) != 2:
            self.refuse(command.text, "ln TARGET LINK expected")
            return None
        for path in self.paths([operands[1]], command, "creates") or []:
            item = self.item(path, command)
            if item is not None:
                item.update(type="L", target=operands[0])
        return True

    def rm(self, argv: Argv, command: shell.Simple, stdin: str | None, maybe: bool) -> Status:
        opts = _options(argv, command, self, {}, {"-f", "-r", "-R", "-v", "--force", "--recursive"})
        if opts is None:
            return None
        for arg in opts[1]:
            path = posixpath.normpath(arg)
            if path.startswith(_SELINUX_STORE):
                self.found.post_steps.append(
                    PostStep("selinux-policy", "change the SELinux policy store", command.text)
                )
            elif path.startswith(("/var/", "/run/", "/tmp/")):
                self.note(command, f"not run: removing {path} at build time changes no machine")
            else:
                self.refuse(command.text, f"it removes {arg}")
                return None
        return True


_USERADD_ARGS: Final = {
    "-b": "-b", "--base-dir": "-b", "-c": "-c", "--comment": "-c", "-d": "-d", "--home-dir": "-d",
    "-e": "-e", "--expiredate": "-e", "-f": "-f", "--inactive": "-f", "-g": "-g", "--gid": "-g",
    "-G": "-G", "--groups": "-G", "-k": "-k", "--skel": "-k", "-K": "-K", "--key": "-K",
    "-p": "-p", "--password": "-p", "-R": "-R", "--root": "-R", "-P": "-P", "--prefix": "-P",
    "-s": "-s", "--shell": "-s", "-u": "-u", "--uid": "-u", "-Z": "-Z", "--selinux-user": "-Z",
}  # fmt: skip
_USERADD_FLAGS: Final = {
    "-l", "--no-log-init", "-m", "--create-home", "-M", "--no-create-home", "-N",
    "--no-user-group", "-o", "--non-unique", "-r", "--system", "-U", "--user-group", "-D",
}  # fmt: skip
_GROUPADD_ARGS: Final = {
    "-g": "-g", "--gid": "-g", "-K": "-K", "--key": "-K", "-p": "-p", "--password": "-p",
    "-R": "-R", "--root": "-R", "-P": "-P", "--prefix": "-P",
}  # fmt: skip
_INSTALL_ARGS: Final = {
    "-m": "-m", "--mode": "-m", "-o": "-o", "--owner": "-o", "-g": "-g", "--group": "-g"
}  # fmt: skip
_GROUPADD_FLAGS: Final = {"-f", "--force", "-o", "--non-unique", "-r", "--system"}
_USERMOD_FLAGS: Final = {"-a", "--append"}


def _options(
    argv: Argv,
    command: shell.Simple,
    walker: _Walker,
    takes: dict[str, str],
    flags: set[str] | frozenset[str],
) -> tuple[dict[str, str], list[str]] | None:
    """Options (canonical spelling → value, ``""`` for flags) and operands; None if refused."""
    values: dict[str, str] = {}
    operands: list[str] = []
    args = argv[1:]
    i = 0
    while i < len(args):
        arg = args[i]
        if arg is None:
            walker.refuse(command.text, "an argument is not known offline")
            return None
        if arg == "--":
            operands += [a for a in args[i + 1 :] if a is not None]
            break
        name, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in takes:
            if eq:
                values[takes[name]] = inline
                i += 1
                continue
            value = args[i + 1] if i + 1 < len(args) else None
            if value is None:
                walker.refuse(command.text, f"{arg} needs a value known offline")
                return None
            values[takes[name]] = value
            i += 2
            continue
        if arg.startswith("-") and len(arg) > 1:
            if arg in flags:
                values[arg] = ""
            elif not arg.startswith("--") and all(
                f"-{c}" in flags or f"-{c}" in takes for c in arg[1:]
            ):
                # combined short options (-aG, -rf): the last one may take the next argument
                for c in arg[1:-1]:
                    if f"-{c}" in takes:
                        walker.refuse(command.text, f"cannot read the options {arg}")
                        return None
                    values[f"-{c}"] = ""
                last = f"-{arg[-1]}"
                if last in takes:
                    value = args[i + 1] if i + 1 < len(args) else None
                    if value is None:
                        walker.refuse(command.text, f"{arg} needs a value known offline")
                        return None
                    values[takes[last]] = value
                    i += 2
                    continue
                values[last] = ""
            else:
                walker.refuse(command.text, f"option {arg} is not translated")
                return None
            i += 1
            continue
        operands.append(arg)
        i += 1
    return values, operands


_SEMODULE_CHANGES: Final = frozenset(
    {
        "--install",
        "--remove",
        "--enable",
        "--disable",
        "--build",
        "--reload",
        "--upgrade",
        "--base",
        "--extract",
    }
)
_SEMANAGE_CHANGES: Final = frozenset({"--add", "--delete", "--modify", "--deleteall"})


def _changes(args: Argv, long_names: frozenset[str], short: str) -> bool:
    """Whether options ask to change something: a long name, or a short flag among ``short``."""
    for arg in args:
        if arg is None:
            return True
        if arg.startswith("--"):
            if arg.split("=", 1)[0] in long_names:
                return True
        elif arg.startswith("-") and any(c in short for c in arg[1:]):
            return True
    return False


def _octal(mode: str) -> bool:
    return re.fullmatch(r"[0-7]{3,4}", mode) is not None


def _array_words(body: str) -> list[shell.Word]:
    """The words of a bash array literal ``( … )``."""
    try:
        tree = shell.parse(body)
    except shell.ShellError:
        return []
    words: list[shell.Word] = []
    for item in tree.items:
        for command in item.first.commands:
            if isinstance(command, shell.Simple):
                words += command.words
    return words


def _describe(node: shell.Node) -> str:
    if isinstance(node, shell.If):
        return "if … fi"
    if isinstance(node, shell.For):
        return f"for {node.name} … done"
    return "( … )" if isinstance(node, shell.Group) and node.subshell else "{ … }"


_UNARY: Final = frozenset("bcdefghkprsuwxLOGNSa")


def _evaluate(args: list[str | None], env: dict[str, str | None]) -> Status:
    """``test``/``[``/``[[`` over known values; None when the build cannot know."""
    if not args:
        return False
    for op in ("-o", "||"):
        if op in args:
            i = args.index(op)
            lhs, rhs = _evaluate(args[:i], env), _evaluate(args[i + 1 :], env)
            if lhs is True or rhs is True:
                return True
            return None if lhs is None or rhs is None else False
    for op in ("-a", "&&"):
        if op in args and args.index(op) > 0:
            i = args.index(op)
            lhs, rhs = _evaluate(args[:i], env), _evaluate(args[i + 1 :], env)
            if lhs is False or rhs is False:
                return False
            return None if lhs is None or rhs is None else True
    if args[0] == "!":
        inner = _evaluate(args[1:], env)
        return None if inner is None else not inner
    if args[0] == "(" and args[-1] == ")":
        return _evaluate(args[1:-1], env)
    if len(args) == 1:
        return None if args[0] is None else args[0] != ""
    if len(args) == 2:
        unary, operand = args
        if unary == "-z":
            return None if operand is None else operand == ""
        if unary == "-n":
            return None if operand is None else operand != ""
        if unary is not None and len(unary) == 2 and unary[0] == "-" and unary[1] in _UNARY:
            if operand is not None and posixpath.normpath(operand).startswith("/run/"):
                return False  # a build's /run is empty
            return None
        return None
    if len(args) == 3:
        left, binary, right = args
        if left is None or right is None or binary is None:
            return None
        if binary in ("=", "=="):
            return None if any(c in right for c in "*?[") and binary == "==" else left == right
        if binary == "!=":
            return left != right
        numeric = {
            "-eq": int.__eq__,
            "-ne": int.__ne__,
            "-gt": int.__gt__,
            "-ge": int.__ge__,
            "-lt": int.__lt__,
            "-le": int.__le__,
        }
        if binary in numeric:
            try:
                return bool(numeric[binary](int(left), int(right)))
            except ValueError:
                return None
    return None


def recognise(body: str, *, instances: int = 1) -> Findings:
    """What a shell scriptlet amounts to when installed with ``$1 == instances``."""
    walker = _Walker(instances)
    try:
        tree = shell.parse(body)
    except shell.ShellError as exc:
        walker.refuse(body.strip().split("\n", 1)[0], f"the script cannot be parsed ({exc})")
        return walker.found
    try:
        walker.sequence(tree, False)
    except _Exit:
        pass
    return walker.found
