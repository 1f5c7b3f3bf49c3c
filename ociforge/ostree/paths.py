"""Where package content goes in an ostree-container layer (rpm-ostree's rules, facts §2 and §6).

``/usr`` and ``/etc`` are kept (``/etc`` stays ``/etc``: the ostree importer moves it to
``/usr/etc`` itself). ``/var`` and ``/run`` are state that ostree does not carry from the image
for existing systems, so their content becomes ``tmpfiles.d`` lines; ``/tmp`` content is
dropped. ``/boot`` goes to ``/usr/lib/ostree-boot``. When the base's ``/opt`` is a symlink into
``/var`` (CoreOS), ``/opt/X`` goes to ``/usr/lib/opt/X`` with a tmpfiles link back, as
rpm-ostree does; a real ``/opt`` directory in the base is kept. Parent directories that are
symlinks in the base are followed, the way rpm writes through them, and so is a directory
that lands on a base symlink (``/opt`` itself): the link is kept, never replaced by a
directory. Any other top-level directory is refused, and so is ``/usr/etc`` (ostree's own copy
of ``/etc``) and a file with content that would reach ``/var`` through a symlink (``/usr/local``
on CoreOS is ``../var/usrlocal``): ostree never carries ``/var`` content to existing machines,
so it would be created empty, as rpm-ostree's "Unsupported path" refusal says. Files a user
adds (``--add``, Ignition) under ``/var`` keep their content instead: they are shipped in
``/usr/share/factory/var/…`` with a tmpfiles ``C`` line that copies them into place at boot
when absent, which reaches existing machines too.

One rule for every input: package files, ``--add`` files and Ignition content all go through
:func:`place`.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

from ..errors import PolicyError
from ..tar.tree import TreeView, normalize

__all__ = ["Placement", "needs_base", "place"]

_MAX_LINKS: Final = 40
_KEEP: Final = frozenset({"usr", "etc"})
_STATE: Final = frozenset({"var", "run"})
_FACTORY: Final = "/usr/share/factory"


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one packaged path ends up.

    ``how`` is ``layer`` (written at ``path``), ``tmpfiles`` (recreated at boot from a
    ``tmpfiles.d`` line for ``path``) or ``dropped``. ``links`` are extra tmpfiles lines the
    placement needs; ``note`` says what was translated ('' when nothing was).
    """

    path: str
    how: Literal["layer", "tmpfiles", "dropped"]
    note: str = ""
    links: tuple[str, ...] = ()


def _resolve_parents(path: str, base: TreeView, what: str) -> str:
    hops = 0
    parts = path.strip("/").split("/")
    i = 1
    while i < len(parts):
        prefix = "/" + "/".join(parts[:i])
        entry = base.entry(prefix)
        if entry is not None and entry.kind == "symlink":
            hops += 1
            if hops > _MAX_LINKS:
                raise PolicyError(f"{what}: too many levels of symbolic links below {prefix}")
            target = entry.linkname
            if not target.startswith("/"):
                target = posixpath.join(posixpath.dirname(prefix), target)
            rest = "/".join(parts[i:])
            parts = normalize(target + "/" + rest).strip("/").split("/")
            i = 1
            continue
        i += 1
    return "/" + "/".join(parts)


def _is_symlink(base: TreeView, path: str) -> bool:
    entry = base.entry(path)
    return entry is not None and entry.kind == "symlink"


def needs_base(paths: Iterable[str]) -> bool:
    """Whether placing ``paths`` depends on the base (anything outside plain ``/usr`` and ``/etc``).

    ``/usr`` and ``/etc`` are real directories in every ostree image; elsewhere the base's
    symlinks (``/opt``, ``/usr/local``, ``/bin``, ``/home`` …) decide where content goes.
    """
    for path in paths:
        clean = normalize(path)
        if clean.startswith(("/usr/local", "/usr/etc")) or not clean.startswith(("/usr/", "/etc/")):
            return True
    return False


def place(
    path: str,
    base: TreeView,
    *,
    what: str = "package",
    directory: bool = False,
    content: bool = False,
    factory: bool = False,
) -> Placement:
    """Where ``path`` goes in a layer over ``base``.

    ``directory`` marks a directory (one that lands on a base symlink is dropped: the link
    stays); ``content`` a regular file with data. Content bound for ``/var`` or ``/run`` is
    refused when a symlink led there, unless ``factory`` (user files) ships it in
    ``/usr/share/factory`` with a tmpfiles ``C`` line.
    """
    original = normalize(path)
    parts = original.strip("/").split("/")
    notes = []
    links: tuple[str, ...] = ()
    current = original
    if parts[0] == "opt" and _is_symlink(base, "/opt") and len(parts) > 1:
        current = "/usr/lib/opt/" + "/".join(parts[1:])
        links = (f"L /var/opt/{parts[1]} - - - - /usr/lib/opt/{parts[1]}",)
        notes.append(f"{original} -> {current} (/opt is a link into /var)")
    elif parts[0] == "boot":
        current = "/usr/lib/ostree-boot/" + "/".join(parts[1:]) if len(parts) > 1 else ""
        if not current:
            return Placement("/boot", "dropped", "/boot itself is not packaged content")
        notes.append(f"{original} -> {current} (ostree keeps /boot content in /usr)")
    resolved = _resolve_parents(current, base, what)
    if directory and _is_symlink(base, resolved):
        # The base's link stays (rpm never turns a symlink into a directory either).
        return Placement(resolved, "dropped", f"{original}: kept the base's symlink at {resolved}")
    if resolved != current:
        notes.append(f"{current} -> {resolved} (through a symlink in the base image)")
    top = resolved.strip("/").split("/")[0]
    if resolved == "/usr/etc" or resolved.startswith("/usr/etc/"):
        raise PolicyError(
            f"{what}: {original} is under /usr/etc, where ostree keeps its own copy of /etc;"
            " ship it as /etc/… instead"
        )
    if top in _KEEP or (top == "opt" and not links):
        return Placement(resolved, "layer", "; ".join(notes), links)
    if top in _STATE:
        if content and factory:
            stored = _FACTORY + resolved
            links = (*links, f"C {resolved} - - - - {stored}")
            notes.append(f"{resolved} is stored at {stored} and copied there at boot (tmpfiles)")
            return Placement(stored, "layer", "; ".join(notes), links)
        if content and parts[0] not in _STATE:
            via = resolved.removeprefix("/")
            raise PolicyError(
                f"{what}: {original} would be stored at /{via} through a symlink in the base"
                " image, and ostree does not carry /var content to existing machines (it would"
                " be created empty at boot); install it under /usr instead"
            )
        notes.append(f"{resolved} becomes a tmpfiles.d entry (/{top} is not carried by ostree)")
        return Placement(resolved, "tmpfiles", "; ".join(notes), links)
    if top == "tmp":
        return Placement(resolved, "dropped", f"{resolved} dropped (/tmp is emptied)")
    raise PolicyError(
        f"{what}: {original} is outside /usr, /etc, /var, /run, /opt and /boot; an ostree"
        " system cannot ship it"
    )
