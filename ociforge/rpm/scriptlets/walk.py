"""Walk a parsed scriptlet as far as a build can know it, handing each command to its handler.

The walker keeps the shell's variables (``$1`` is the instance count; assignments of known
text are followed, anything computed is unknown), expands words, refuses writes through
redirections, and evaluates exit statuses three-valued — success, failure, or unknown offline —
so ``&&``, ``||``, ``if`` and ``for`` skip only what certainly does not run. What a command
*does* is decided by the handler table (:mod:`.recognise`), which records it in
:class:`Findings`.
"""

from __future__ import annotations

import contextlib
import posixpath
import re
from collections.abc import Callable, Mapping
from collections.abc import Sequence as Seq
from dataclasses import dataclass, field
from typing import Final

from ...ostree.accounts import SysusersEntry
from ...ostree.alternatives import AlternativeCommand
from . import shell
from .actions import PostStep, Preset

__all__ = ["Argv", "Call", "Exit", "Findings", "Handler", "Status", "Walker", "options"]

#: An exit status: True (0), False (non-zero) or None (cannot be known offline).
Status = bool | None
#: Expanded arguments; None stands for a word whose value is unknown offline.
Argv = list[str | None]

#: Where the tools the table knows live; a same-named program elsewhere is someone else's.
_BIN_DIRS: Final = frozenset(
    {"/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/lib/systemd", "/lib/systemd",
     "/usr/libexec/selinux"}
)  # fmt: skip
#: What makes a condition's offline value an assumption worth reporting (not a computation).
_ASSUMED: Final = ("$1", "$2", "selinuxenabled", "/run/")
_HARMLESS_OUTPUT: Final = frozenset({"/dev/null", "/dev/stderr", "/dev/stdout", "/dev/tty"})


@dataclass(slots=True)
class Findings:
    """What one scriptlet amounts to."""

    accounts: list[SysusersEntry] = field(default_factory=list)
    sysusers_files: list[str] = field(default_factory=list)
    presets: list[Preset] = field(default_factory=list)
    alternatives: list[AlternativeCommand] = field(default_factory=list)
    #: path → tmpfiles fields (type, mode, user, group, target, recursive), merged per path
    tmpfiles: dict[str, dict[str, str]] = field(default_factory=dict)
    post_steps: list[PostStep] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    refused: tuple[str, str] | None = None  # (command, why)
    #: A verdict for the whole scriptlet, when one decides it (rpm-ostree's fixed tables).
    verdict: str = ""

    def changes(self) -> bool:
        """Whether anything beyond notes was found."""
        return bool(
            self.accounts or self.sysusers_files or self.presets or self.alternatives
        ) or bool(self.tmpfiles or self.post_steps)

    def tmpfiles_lines(self) -> list[str]:
        """One ``tmpfiles.d`` line per path, in first-mention order."""
        lines = []
        for path, item in self.tmpfiles.items():
            kind = item.get("type") or ("Z" if item.get("recursive") else "z")
            fields = [kind, path, item.get("mode", "-"), item.get("user", "-")]
            fields += [item.get("group", "-"), "-"]
            if kind == "L":
                fields.append(item.get("target", "-"))
            lines.append(" ".join(fields))
        return lines


@dataclass(frozen=True, slots=True)
class Call:
    """One simple command as a handler sees it."""

    argv: Argv
    command: shell.Simple
    stdin: str | None
    #: True when the command might not run at all (inside an unknown condition).
    maybe: bool


Handler = Callable[["Walker", Call], Status]


class Exit(Exception):
    """``exit`` reached on every path: the rest of the script never runs."""


def _text(node: shell.Sequence) -> str:
    """The source text of the first command of ``node`` (to name a condition)."""
    for item in node.items:
        command = item.first.commands[0] if item.first.commands else None
        if isinstance(command, shell.Simple):
            return command.text
    return "…"


class Walker:
    """Walks one script, recording what its commands amount to in :attr:`found`."""

    def __init__(self, instances: int, handlers: Mapping[str, Handler]) -> None:
        self.env: dict[str, str | None] = {"1": str(instances)}
        self.handlers = handlers
        self.found = Findings()

    def refuse(self, command: str, why: str) -> None:
        """Record the first command ociforge cannot translate."""
        if self.found.refused is None:
            self.found.refused = (command, why)

    def note(self, command: shell.Simple, what: str) -> None:
        """Record what happened to a command."""
        self.found.notes.append(f"{command.text!r}: {what}")

    # --- expansion -------------------------------------------------------------------------

    def substitution(self, script: str, where: str) -> None:
        """Check that ``$(script)`` only reads; its output is unknown offline."""
        try:
            tree = shell.parse(script)
        except shell.ShellError as exc:
            self.refuse(where, f"cannot parse $({script}): {exc}")
            return
        inner = Walker(1, self.handlers)
        inner.env = dict(self.env)
        with contextlib.suppress(Exit):
            inner.sequence(tree, True)
        if inner.found.refused or inner.found.changes():
            why = inner.found.refused[1] if inner.found.refused else "it changes the system"
            self.refuse(where, f"the substitution $({script}) is not read-only: {why}")

    def expand(self, word: shell.Word, where: str) -> list[str] | None:
        """The fields ``word`` expands to, or None when a value is unknown offline."""
        fields: list[str] = []
        current: str | None = ""
        started = False  # a quoted empty string still makes a field
        for part in word.parts:
            if part.kind == "cmd":
                self.substitution(part.text, where)
                current = None
            elif part.kind == "array":
                for inner in _array_words(part.text):
                    self.expand(inner, where)
                current = None
            elif part.kind == "opaque":
                current = None
            elif part.kind == "lit":
                if current is not None:
                    current += part.text
                started = started or part.quoted or bool(part.text)
            else:
                value = self.variable(part)
                if value is None or current is None:
                    current = None
                elif part.quoted:
                    current += value
                    started = True
                else:  # unquoted: split into fields on blanks
                    pieces = value.split()
                    if value[:1].isspace() and pieces and (current or started):
                        fields.append(current)
                        current = ""
                    for index, piece in enumerate(pieces):
                        if index:
                            fields.append(current)
                            current = ""
                        current += piece
                        started = True
                    if value[-1:].isspace() and pieces:
                        fields.append(current)
                        current, started = "", False
        if current is None:
            return None
        if current or started:
            fields.append(current)
        return fields

    def variable(self, part: shell.Part) -> str | None:
        """A variable's value (``${x:-y}`` and friends on known values), or None."""
        value = self.env.get(part.text)
        if not part.modifier:
            return value
        match = re.fullmatch(r"(:?)([-=+?])(.*)", part.modifier, re.S)
        if match is None or (value is None and part.text in self.env):
            return None  # ${x#…}, ${x%…}, ${x/…}, or an unknown value: not evaluated
        colon, op, alternative = match.groups()
        unset = part.text not in self.env or (colon == ":" and value == "")
        computed = any(c in alternative for c in "$`")
        if op in "-=":
            return value if not unset else None if computed else alternative
        if op == "+":
            return "" if unset else None if computed else alternative
        return value

    # --- tree walking ----------------------------------------------------------------------

    def sequence(self, node: shell.Sequence, maybe: bool) -> Status:
        """Run each item; the last status stands."""
        status: Status = True
        for item in node.items:
            status = self.and_or(item, maybe)
        return status

    def and_or(self, node: shell.AndOr, maybe: bool) -> Status:
        """``a && b || c``: each part runs when the statuses so far allow it."""
        status = self.pipeline(node.first, maybe)
        for op, pipeline in node.rest:
            if (op == "&&" and status is False) or (op == "||" and status is True):
                continue  # never runs; the status stands
            sure = status is True if op == "&&" else status is False
            after = self.pipeline(pipeline, maybe or not sure)
            if sure:
                status = after
            elif op == "&&":
                status = False if after is False else None
            else:
                status = True if after is True else None
        return status

    def pipeline(self, node: shell.Pipeline, maybe: bool) -> Status:
        """Every command of a pipeline runs; the last one's status counts."""
        status: Status = True
        for command in node.commands:
            status = self.node(command, maybe)
        if node.negated and status is not None:
            return not status
        return status

    def node(self, node: shell.Node, maybe: bool) -> Status:
        """One command of any kind."""
        if isinstance(node, shell.Simple):
            return self.simple(node, maybe)
        if isinstance(node, shell.Unsupported):
            self.refuse(node.text, node.reason)
            return None
        self.redirects(node.redirects, _describe(node))
        if isinstance(node, shell.If):
            self.branches(node, maybe)
            return None
        if isinstance(node, shell.For):
            self.loop(node, maybe)
            return None
        saved = dict(self.env)
        status = self.sequence(node.body, maybe)
        if node.subshell:
            self.env = saved
        return status

    def branches(self, node: shell.If, maybe: bool) -> None:
        later = maybe
        for condition, body in node.branches:
            status = self.sequence(condition, later)
            if status is False:
                if body.items:
                    self.found.notes.append(
                        f"{_text(condition)!r}: false offline; its branch skipped"
                    )
                continue
            self.sequence(body, later or status is None)
            if status is True:
                return
            later = True
        if node.otherwise is not None:
            self.sequence(node.otherwise, later)

    def loop(self, node: shell.For, maybe: bool) -> None:
        values: list[str] | None = [] if node.words is not None else None
        for word in node.words or ():
            fields = self.expand(word, f"for {node.name} in …")
            values = None if fields is None or values is None else values + fields
        if values is None:
            self.env[node.name] = None
            self.sequence(node.body, True)
        for value in values or ():
            self.env[node.name] = value
            self.sequence(node.body, maybe)

    def redirects(self, redirects: Seq[shell.Redirect], where: str) -> str | None:
        """Refuse writes to files; return a here-document's text (stdin) if there is one."""
        stdin = None
        for redirect in redirects:
            if redirect.heredoc is not None:
                stdin = redirect.heredoc
                if redirect.expands and any(c in stdin for c in "$`"):
                    stdin = None  # expansions inside: the text is not known offline
                continue
            target = redirect.target.literal if redirect.target else None
            duplicate = redirect.op in (">&", "<&") and target is not None
            if duplicate and target is not None and (target.isdigit() or target == "-"):
                continue
            if redirect.op in ("<", "<<<", "<&"):
                continue
            if target not in _HARMLESS_OUTPUT:
                self.refuse(where, f"it writes {target or 'a file'}")
        return stdin

    def simple(self, command: shell.Simple, maybe: bool) -> Status:
        """Expand a simple command and hand it to its tool's handler."""
        stdin = self.redirects(command.redirects, command.text)
        status: Status = True
        values = {}
        for name, word in command.assignments:
            fields = self.expand(word, command.text)
            values[name] = None if fields is None else " ".join(fields)
            if any(p.kind == "cmd" for p in word.parts):
                status = None  # a=$(…) has the substitution's status
        if not command.words:
            self.env.update(values)
            return status
        argv: Argv = []
        for word in command.words:
            fields = self.expand(word, command.text)
            argv += [None] if fields is None else fields
        tool = argv[0] if argv else None
        if tool is None:
            self.refuse(command.text, "the command name is not known offline")
            return None
        directory, name = posixpath.split(tool)
        handler = self.handlers.get(name)
        if (directory and directory not in _BIN_DIRS) or handler is None:
            self.refuse(command.text, f"{tool} is not a command ociforge can translate")
            return None
        return handler(self, Call(argv, command, stdin, maybe))


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


def options(
    w: Walker, c: Call, takes: Mapping[str, str], flags: frozenset[str] | set[str]
) -> tuple[dict[str, str], list[str]] | None:
    """Options (canonical spelling → value, ``""`` for flags) and operands; None if refused.

    ``takes`` maps every spelling of an option with a value to its canonical one; combined
    short flags (``-aG``, ``-rf``) are split, the last one may take the next argument.
    """
    values: dict[str, str] = {}
    operands: list[str] = []
    args = c.argv[1:]
    i = 0
    while i < len(args):
        arg = args[i]
        if arg is None:
            w.refuse(c.command.text, "an argument is not known offline")
            return None
        if arg == "--":
            if None in args[i + 1 :]:
                w.refuse(c.command.text, "an argument is not known offline")
                return None
            operands += [a for a in args[i + 1 :] if a is not None]
            break
        if not arg.startswith("-") or arg == "-":
            operands.append(arg)
            i += 1
            continue
        name, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if arg.startswith("--") or len(arg) == 2 or arg in flags:
            cluster = [name]
        elif arg[:2] in takes:  # -Gwheel, -m0755: the value attached
            cluster, eq, inline = [arg[:2]], "=", arg[2:]
        else:
            cluster = [f"-{ch}" for ch in arg[1:]]
        for index, flag in enumerate(cluster):
            if flag in flags:
                values[flag] = ""
                continue
            if flag not in takes or (index < len(cluster) - 1):
                w.refuse(c.command.text, f"option {arg} is not translated")
                return None
            if eq:
                values[takes[flag]] = inline
                continue
            value = args[i + 1] if i + 1 < len(args) else None
            if value is None:
                w.refuse(c.command.text, f"{arg} needs a value known offline")
                return None
            values[takes[flag]] = value
            i += 1
        i += 1
    return values, operands
