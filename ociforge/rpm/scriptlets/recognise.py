"""The recogniser table: every command ociforge understands in a scriptlet, and what it becomes.

Each simple command is classified by its tool: **plumbing** (tests, ``echo``, ``getent``,
read-only tools: no effect a layer carries, :mod:`.plumbing`), a **translation** (accounts,
presets, alternatives: :mod:`.commands`; tmpfiles lines: :mod:`.filesystem`), a **no-op with
a note** (what rpm-ostree's wrappers ignore or the machine redoes at boot, below), a
**post-step** (:mod:`.poststeps`), or a **refusal** (any tool not in the table).

Conditions are evaluated as far as a build knows them (:mod:`.walk`): ``$1`` is the instance
count, paths under ``/run`` do not exist (a build's ``/run`` is empty), ``selinuxenabled`` is
false (no policy is loaded while building; ostree labels at import) and ``systemctl`` verbs
other than ``preset`` succeed (rpm-ostree's wrapper exits 0 for them).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Final

from . import commands, filesystem, plumbing, poststeps, shell
from .walk import Call, Exit, Findings, Handler, Status, Walker

__all__ = ["HANDLERS", "NOOPS", "recognise"]

#: Tools whose work the machine redoes by itself (at boot, or when ostree imports the layer).
NOOPS: Final[Mapping[str, str]] = {
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


def _noop(reason: str) -> Handler:
    def handler(w: Walker, c: Call) -> Status:
        w.note(c.command, f"not run: {reason}")
        return True

    return handler


HANDLERS: Final[Mapping[str, Handler]] = {
    **plumbing.HANDLERS,
    **{tool: _noop(reason) for tool, reason in NOOPS.items()},
    **commands.HANDLERS,
    **filesystem.HANDLERS,
    **poststeps.HANDLERS,
}


def recognise(body: str, *, instances: int = 1) -> Findings:
    """What a shell scriptlet amounts to when installed with ``$1 == instances``."""
    walker = Walker(instances, HANDLERS)
    try:
        tree = shell.parse(body)
    except shell.ShellError as exc:
        first = body.strip().split("\n", 1)[0]
        walker.refuse(first, f"the script cannot be parsed ({exc})")
        return walker.found
    with contextlib.suppress(Exit):  # exit 0 on every path: the rest never runs
        walker.sequence(tree, False)
    return walker.found
