"""Commands that need code run after the layer is laid out: kernel modules, SELinux, initramfs.

``depmod`` and ``weak-modules`` ask for ``modules.dep`` to be regenerated (host ``depmod -b``
over the merged tree can do it), ``semodule``/``semanage``/``setsebool -P`` and the steps of
``%selinux_modules_install`` for a policy rebuild, ``dracut`` and ``kernel-install`` for an
initramfs. Each becomes a typed :class:`~.actions.PostStep`; read-only uses (``semodule -l``)
are plumbing.
"""

from __future__ import annotations

import re
from typing import Final

from .actions import PostStep, PostStepKind
from .walk import Argv, Call, Handler, Status, Walker

__all__ = ["HANDLERS"]

_DEPMOD_TAKES: Final = frozenset(
    {"-b", "-C", "-E", "-F", "-o", "--basedir", "--config", "--symvers", "--filesyms"}
)
_SEMODULE_CHANGES: Final = frozenset(
    {"--install", "--remove", "--enable", "--disable", "--build", "--reload", "--upgrade",
     "--base", "--extract"}
)  # fmt: skip
_SEMANAGE_CHANGES: Final = frozenset({"--add", "--delete", "--modify", "--deleteall"})


def _changes(args: Argv, long_names: frozenset[str], short: str) -> bool:
    """Whether options ask to change something: a long name, or a short flag among ``short``."""
    for arg in args:
        if arg is None:
            return True
        if arg.startswith("--"):
            if arg.split("=", 1)[0] in long_names:
                return True
        elif arg.startswith("-") and any(ch in short for ch in arg[1:]):
            return True
    return False


def _post(kind: PostStepKind, detail: str) -> Handler:
    def handler(w: Walker, c: Call) -> Status:
        w.found.post_steps.append(PostStep(kind, detail, c.command.text))
        return True

    return handler


def _depmod(w: Walker, c: Call) -> Status:
    argv, command = c.argv, c.command
    args = [a for a in argv[1:] if a is not None]
    takes = {"-b", "-C", "-E", "-F", "-o", "--basedir", "--config", "--symvers", "--filesyms"}
    versions = [
        a
        for i, a in enumerate(args)
        if not a.startswith("-") and (i == 0 or args[i - 1] not in takes)
    ]
    versions = [v for v in versions if re.match(r"\d", v)]
    kernel = versions[0] if versions else "the image's kernel"
    w.found.post_steps.append(
        PostStep("depmod", f"regenerate modules.dep for {kernel}", command.text)
    )
    return True


def _weak_modules(w: Walker, c: Call) -> Status:
    argv, command = c.argv, c.command
    detail = "link the modules into compatible kernels and regenerate modules.dep"
    if "--no-initramfs" not in argv and any(a in ("--add-modules", "--add-kernel") for a in argv):
        detail += ", then the initramfs"
    w.found.post_steps.append(PostStep("weak-modules", detail, command.text))
    return True


def _kernel_install(w: Walker, c: Call) -> Status:
    argv, command = c.argv, c.command
    verb = argv[1] if len(argv) > 1 and argv[1] else "?"
    w.found.post_steps.append(
        PostStep(
            "kernel-install",
            f"kernel-install {verb}: the kernel's initramfs (dracut)",
            command.text,
        )
    )
    return True


def _semodule(w: Walker, c: Call) -> Status:
    argv, command = c.argv, c.command
    if not _changes(argv[1:], _SEMODULE_CHANGES, "ireduBRb"):
        return None  # -l and friends only read the store
    w.found.post_steps.append(
        PostStep(
            "selinux-policy",
            "change the SELinux module store and rebuild the policy",
            command.text,
        )
    )
    return True


def _semanage(w: Walker, c: Call) -> Status:
    argv, command = c.argv, c.command
    sub = argv[1] if len(argv) > 1 else None
    if sub != "import" and (sub == "export" or not _changes(argv[2:], _SEMANAGE_CHANGES, "adDm")):
        return None
    w.found.post_steps.append(
        PostStep("selinux-policy", "change local SELinux policy settings and rebuild", command.text)
    )
    return True


def _setsebool(w: Walker, c: Call) -> Status:
    argv, command = c.argv, c.command
    if "-P" in argv or "--persistent" in argv:
        w.found.post_steps.append(
            PostStep(
                "selinux-policy", "set SELinux booleans persistently and rebuild", command.text
            )
        )
        return True
    w.note(command, "not run: a boolean without -P only changes the running policy")
    return True


HANDLERS: Final = {
    "depmod": _depmod,
    "weak-modules": _weak_modules,
    "kernel-install": _kernel_install,
    "dracut": _post("dracut", "regenerate the initramfs with the image's dracut"),
    "semodule": _semodule,
    "semanage": _semanage,
    "setsebool": _setsebool,
    "varrun-convert.sh": _post("selinux-policy", "convert /var/run file contexts"),
}
