"""Shell plumbing: builtins, tests and read-only tools, which change nothing a layer carries."""

from __future__ import annotations

import posixpath
from typing import Final

from . import shell
from .walk import Argv, Call, Exit, Status, Walker

__all__ = ["HANDLERS", "evaluate"]

#: Files a scriptlet may source for their variables (which stay unknown: their values are the
#: image's, not the build's).
_SOURCED_CONFIG: Final = frozenset(
    {"/etc/selinux/config", "/etc/sysconfig/selinux", "/etc/os-release", "/usr/lib/os-release"}
)
_FIND_WRITES: Final = frozenset(
    {"-delete", "-exec", "-execdir", "-ok", "-okdir", "-fprint", "-fprint0", "-fprintf", "-fls"}
)
#: Tools that only read, whose output feeds tests, pipes or variables.
_READERS: Final = (
    "grep", "egrep", "fgrep", "cat", "head", "tail", "cut", "tr", "sort", "uniq", "wc",
    "basename", "dirname", "uname", "readlink", "realpath", "stat", "ls", "getent", "id",
    "arch", "nproc", "pidof", "systemd-detect-virt", "matchpathcon", "getenforce", "sestatus",
    "type", "which", "hash",
)  # fmt: skip
_UNARY: Final = frozenset("bcdefghkprsuwxLOGNSa")


def _set_builtin(w: Walker, c: Call) -> Status:
    argv = c.argv
    if any(a is None or not a.startswith(("-", "+")) or a == "--" for a in argv[1:]):
        for key in [k for k in w.env if k.isdigit()]:
            w.env[key] = None  # set -- …: new positional parameters
    return True


def _export(w: Walker, c: Call) -> Status:
    argv, command = c.argv, c.command
    for arg in argv[1:]:
        if arg is not None and "=" in arg and not arg.startswith("-"):
            key, value = arg.split("=", 1)
            w.env[key] = value
    for word in command.words[1:]:  # export X=$(…): the value is unknown
        if word.literal is None and "=" in word.raw:
            w.env[word.raw.split("=", 1)[0]] = None
    return True


def _unset(w: Walker, c: Call) -> Status:
    argv = c.argv
    for arg in argv[1:]:
        if arg is not None:
            w.env.pop(arg, None)
    return True


def _command_builtin(w: Walker, c: Call) -> Status:
    argv, command, maybe = c.argv, c.command, c.maybe
    if len(argv) > 1 and argv[1] in ("-v", "-V"):
        return None
    rest = shell.Simple((), command.words[1:], command.redirects, command.text)
    return w.simple(rest, maybe) if rest.words else True


def _source_builtin(w: Walker, c: Call) -> Status:
    argv, command = c.argv, c.command
    if len(argv) == 2 and argv[1] in _SOURCED_CONFIG:
        return None  # sets variables this walk leaves unknown (SELINUXTYPE…)
    w.refuse(command.text, "it runs another script")
    return None


def _exit_builtin(w: Walker, c: Call) -> Status:
    argv, command, maybe = c.argv, c.command, c.maybe
    code = argv[1] if len(argv) > 1 else "0"
    if code != "0":
        w.refuse(command.text, "it makes the scriptlet fail")
        return None
    if not maybe:
        raise Exit
    return True


def _find_readonly(w: Walker, c: Call) -> Status:
    """``find`` without actions that write or run: a word that starts as a path stays a path."""
    for word in c.command.words[1:]:
        first = word.parts[0]
        if first.kind == "lit" and first.text.startswith("/"):
            continue
        fields = w.expand(word, c.command.text)
        if fields is None or any(f in _FIND_WRITES for f in fields):
            w.refuse(c.command.text, "find may change or run things here")
            return None
    return None


def _sed_readonly(w: Walker, c: Call) -> Status:
    argv, command = c.argv, c.command
    if any(a is None or a.startswith(("-i", "--in-place")) for a in argv[1:]):
        w.refuse(command.text, "it edits files in place")
    return None


def _rpm_query(w: Walker, c: Call) -> Status:
    argv, command = c.argv, c.command
    first = argv[1] if len(argv) > 1 else None
    if first is not None and (first.startswith("-q") or first in ("--query", "-E", "--eval")):
        return None
    w.refuse(command.text, "rpm can only be queried here")
    return None


def _condition(w: Walker, c: Call) -> Status:
    argv, command = c.argv, c.command
    args = argv[1:]
    closing = {"[": "]", "[[": "]]"}.get(argv[0] or "")
    if closing is not None:
        if not args or args[-1] != closing:
            w.refuse(command.text, "unbalanced test")
            return None
        args = args[:-1]
    return evaluate(args, w.env)


def _unknown(w: Walker, c: Call) -> Status:
    return None


def _success(w: Walker, c: Call) -> Status:
    return True


def _failure(w: Walker, c: Call) -> Status:
    return False


def evaluate(args: Argv, env: dict[str, str | None]) -> Status:
    """``test``/``[``/``[[`` over known values; None when the build cannot know."""
    if not args:
        return False
    for op in ("-o", "||"):
        if op in args:
            i = args.index(op)
            lhs, rhs = evaluate(args[:i], env), evaluate(args[i + 1 :], env)
            if lhs is True or rhs is True:
                return True
            return None if lhs is None or rhs is None else False
    for op in ("-a", "&&"):
        if op in args and args.index(op) > 0:
            i = args.index(op)
            lhs, rhs = evaluate(args[:i], env), evaluate(args[i + 1 :], env)
            if lhs is False or rhs is False:
                return False
            return None if lhs is None or rhs is None else True
    if args[0] == "!":
        inner = evaluate(args[1:], env)
        return None if inner is None else not inner
    if args[0] == "(" and args[-1] == ")":
        return evaluate(args[1:-1], env)
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


HANDLERS: Final = {
    ":": _success,
    "true": _success,
    "false": _failure,
    "echo": _success,
    "printf": _success,
    # Building an image runs with SELinux off; ostree labels the files at import.
    "selinuxenabled": _failure,
    "set": _set_builtin,
    "export": _export,
    "readonly": _export,
    "local": _export,
    "unset": _unset,
    "command": _command_builtin,
    "[": _condition,
    "[[": _condition,
    "test": _condition,
    ".": _source_builtin,
    "source": _source_builtin,
    "exit": _exit_builtin,
    "find": _find_readonly,
    "sed": _sed_readonly,
    "rpm": _rpm_query,
    **dict.fromkeys(_READERS, _unknown),
}
