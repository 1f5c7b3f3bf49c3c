"""What a package's install-time scriptlets amount to offline, so ociforge can do it without them.

ociforge runs no package code. Each scriptlet that would run when a package is installed is
read (:mod:`.shell`), and every command in it recognised (:mod:`.recognise`): the common macro
expansions become offline actions — accounts, presets, alternatives, ``tmpfiles.d`` lines —
what rpm-ostree's wrappers ignore or the machine redoes at boot becomes a note, and work that
needs code (``depmod``, SELinux policy builds, ``dracut``) becomes a typed post-step. rpm-ostree's
own table of scripts it never runs, and of Lua scripts it replaces, decides first
(:mod:`.rpmostree`). Erase-time scripts (``%preun``, ``%postun``, ``%triggerun``,
``%triggerpostun``, ``%verifyscript``) and ``%pretrans`` are not run, as rpm-ostree does not.

A scriptlet with anything else is refused, naming the package, the scriptlet and the command,
unless the caller skips scriptlets; one that needs a post-step is refused naming the post-step,
unless the caller skips scriptlets or takes post-steps over (``allow_post_steps``). Every
scriptlet is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ...errors import PolicyError
from ...ostree.accounts import SysusersEntry
from ...ostree.alternatives import AlternativeCommand
from ..header import Header
from ..tags import Tag
from .actions import PostStep, Preset
from .recognise import recognise
from .rpmostree import (
    IGNORED_KERNEL_SCRIPTS,
    IGNORED_PKG_SCRIPTS,
    LUA_REPLACEMENTS,
    lua_skips,
    script_id,
)
from .walk import Findings

__all__ = [
    "INSTALL_SCRIPTLETS",
    "PostStep",
    "Preset",
    "Scriptlet",
    "ScriptletPlan",
    "plan_scriptlets",
]

#: Scriptlets of the package itself: (name, body tag, interpreter tag); ``%pretrans`` is listed
#: to be reported, never run.
INSTALL_SCRIPTLETS: Final = (
    ("%pretrans", Tag.PRETRANS, Tag.PRETRANSPROG),
    ("%pre", Tag.PREIN, Tag.PREINPROG),
    ("%post", Tag.POSTIN, Tag.POSTINPROG),
    ("%posttrans", Tag.POSTTRANS, Tag.POSTTRANSPROG),
)
_NOT_RUN: Final = frozenset({"%pretrans"})
_SENSE_IN: Final = 1 << 16  # RPMSENSE_TRIGGERIN
_SENSE_PREIN: Final = 1 << 25  # RPMSENSE_TRIGGERPREIN
_SHELLS: Final = frozenset({"/bin/sh", "/usr/bin/sh", "/bin/bash", "/usr/bin/bash"})
_LDCONFIG: Final = frozenset({"/sbin/ldconfig", "/usr/sbin/ldconfig", "ldconfig"})
_TRUE: Final = frozenset({"/bin/true", "/usr/bin/true"})
_LUA: Final = "<lua>"


@dataclass(frozen=True, slots=True)
class Scriptlet:
    """One install-time script of a package: its name, interpreter and body."""

    name: str
    interpreter: str
    body: str


@dataclass(frozen=True, slots=True)
class ScriptletPlan:
    """What to do instead of running a package's scriptlets.

    ``skipped`` has one line per scriptlet (how it was handled); ``notes`` one per command
    worth telling (what was ignored, and why).
    """

    accounts: tuple[SysusersEntry, ...]
    skipped: tuple[str, ...]
    presets: tuple[Preset, ...] = ()
    alternatives: tuple[AlternativeCommand, ...] = ()
    tmpfiles: tuple[str, ...] = ()
    #: sysusers.d files the package ships that a scriptlet applies (``%sysusers_create``).
    sysusers_files: tuple[str, ...] = ()
    post_steps: tuple[PostStep, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def report(self) -> tuple[str, ...]:
        """Every line to show the user."""
        return self.skipped + self.notes


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
        if sense & (_SENSE_IN | _SENSE_PREIN) and i < len(index) and index[i] < len(scripts):
            prog = progs[index[i]] if index[i] < len(progs) else "/bin/sh"
            target = names[i] if i < len(names) else "?"
            kind = "%triggerin" if sense & _SENSE_IN else "%triggerprein"
            out.append(Scriptlet(f"{kind} -- {target}", prog, scripts[index[i]]))
    for kind, prefix in (("%filetriggerin", "FILE"), ("%transfiletriggerin", "TRANSFILE")):
        flags = header.integers(Tag[f"{prefix}TRIGGERFLAGS"])
        indices = header.integers(Tag[f"{prefix}TRIGGERINDEX"])
        bodies = header.strings(Tag[f"{prefix}TRIGGERSCRIPTS"])
        programs = header.strings(Tag[f"{prefix}TRIGGERSCRIPTPROG"])
        # Only "in" triggers run at install time; un/postun ones belong to erasing.
        wanted = {indices[i] for i, f in enumerate(flags) if f & _SENSE_IN and i < len(indices)}
        for j in sorted(wanted) if flags else range(len(bodies)):
            if j < len(bodies):
                program = programs[j] if j < len(programs) else "/bin/sh"
                out.append(Scriptlet(kind, program, bodies[j]))
    return out


def _summary(found: Findings) -> str:
    """What was taken from a scriptlet, for its report line."""
    if found.verdict:
        return found.verdict
    parts = []
    if found.accounts:
        parts.append("accounts taken from it")
    if found.sysusers_files:
        parts.append(f"accounts from {', '.join(found.sysusers_files)}")
    parts += [
        f"{'global ' if p.scope == 'user' else ''}preset {' '.join(p.units)}" for p in found.presets
    ]
    if found.alternatives:
        parts.append("alternatives " + " ".join(sorted({a.name for a in found.alternatives})))
    if found.tmpfiles:
        parts.append(f"tmpfiles lines for {', '.join(found.tmpfiles)}")
    if found.notes and not parts:
        parts.append("nothing to do offline")
    return "; ".join(parts) or "harmless"


def _fixed(script: Scriptlet, package_name: str) -> Findings | str | None:
    """rpm-ostree's fixed decisions and non-shell interpreters: findings, or a refusal reason."""
    ident = script_id(package_name, script.name)
    found = Findings()
    program = script.interpreter.split()[0] if script.interpreter else "/bin/sh"
    if ident in IGNORED_PKG_SCRIPTS:
        found.verdict = f"rpm-ostree never runs {ident}"
        return found
    if ident in IGNORED_KERNEL_SCRIPTS:
        found.post_steps.append(
            PostStep("dracut", "regenerate the initramfs (rpm-ostree runs dracut itself)", ident)
        )
        return found
    if program == _LUA:
        decision = LUA_REPLACEMENTS.get(ident)
        if lua_skips(script.body):
            found.verdict = "the Lua script asks rpm-ostree to skip it"
        elif decision is None:
            return "a Lua script (rpm-ostree refuses Lua it has no replacement for)"
        elif decision.post_step is not None:
            found.post_steps.append(PostStep(decision.post_step, decision.detail, ident))
        else:
            found.verdict = f"{decision.detail}, as rpm-ostree's replacement for {ident}"
        return found
    if program in _LDCONFIG or program in _TRUE:
        if script.body.strip():
            return f"a {program} script with a body"
        return found
    if program not in _SHELLS:
        return None if not script.body.strip() else f"a {script.interpreter} script"
    return None


def plan_scriptlets(
    header: Header,
    *,
    package: str,
    skip: bool,
    instances: int = 1,
    allow_post_steps: bool = False,
) -> ScriptletPlan:
    """The offline plan for a package's scriptlets, or a refusal.

    ``instances`` is the ``$1`` rpm passes (1 on a fresh install, 2 when the package replaces
    an installed version). Raises :class:`PolicyError` naming the package, the scriptlet and
    the command when a scriptlet does something ociforge cannot translate, or needs a
    post-step (unless ``allow_post_steps``), and ``skip`` is false.
    """
    name = header.string(Tag.NAME, "") or package
    accounts: list[SysusersEntry] = []
    lines: list[str] = []
    notes: list[str] = []
    presets: list[Preset] = []
    alternatives: list[AlternativeCommand] = []
    tmpfiles: list[str] = []
    sysusers_files: list[str] = []
    post_steps: list[PostStep] = []
    for script in _scripts(header):
        if script.name in _NOT_RUN:
            lines.append(f"{package}: {script.name} not run (rpm-ostree never runs it either)")
            continue
        fixed = _fixed(script, name)
        if isinstance(fixed, str):
            found = Findings(refused=(f"{script.interpreter} {script.name}", fixed))
        elif fixed is not None:
            found = fixed
        else:
            found = recognise(script.body, instances=instances)
        notes += [f"{package}: {script.name}: {note}" for note in found.notes]
        post_steps += found.post_steps
        if found.refused is not None:
            command, why = found.refused
            if not skip:
                raise PolicyError(
                    f"{package}: {script.name} runs {command!r} ({why}), which ociforge cannot"
                    " run; pass --skip-scriptlets to install the package without it"
                )
            lines.append(
                f"{package}: {script.name} NOT RUN (--skip-scriptlets): {command!r} ({why})"
            )
        elif found.post_steps and not allow_post_steps:
            steps = "; ".join(dict.fromkeys(p.describe() for p in found.post_steps))
            if not skip:
                raise PolicyError(
                    f"{package}: {script.name} runs {found.post_steps[0].command!r}, which needs"
                    f" the {steps}, which ociforge cannot run yet; pass --skip-scriptlets to"
                    " install the package without it"
                )
            lines.append(f"{package}: {script.name} NOT RUN (--skip-scriptlets): needs the {steps}")
        else:
            lines.append(f"{package}: {script.name} not run ({_summary(found)})")
        # What was recognised is kept even when the rest was skipped: translating runs nothing.
        accounts += found.accounts
        presets += found.presets
        alternatives += found.alternatives
        tmpfiles += found.tmpfiles_lines()
        sysusers_files += found.sysusers_files
    return ScriptletPlan(
        tuple(accounts),
        tuple(lines),
        tuple(presets),
        tuple(alternatives),
        tuple(dict.fromkeys(tmpfiles)),
        tuple(dict.fromkeys(sysusers_files)),
        tuple(post_steps),
        tuple(notes),
    )
