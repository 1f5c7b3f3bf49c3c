"""bootc's container lint checks, plus leaked subscription material and private keys.

Rules follow bootc ``crates/lib/src/lints.rs`` (facts §2): fatal ``var-run``, ``etc-usretc``,
``kernel``, ``utf8``, ``api-base-directories``; warnings for content in ``/boot``, ``/run``
and ``/tmp``. Secrets are errors: a derived image is pushed to registries.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Final, Literal

from ..tar.tree import TreeEntry

__all__ = ["API_DIRECTORIES", "Finding", "lint_new_layer", "lint_tree"]

API_DIRECTORIES: Final = ("/dev", "/proc", "/sys", "/run", "/tmp", "/var")
#: bootc rules about the whole tree, which a layer can break without touching the path.
_GLOBAL_RULES: Final = frozenset({"kernel", "etc-usretc", "var-run"})
_VMLINUZ: Final = re.compile(r"^/usr/lib/modules/([^/]+)/vmlinuz$")
_PRIVATE_KEY: Final = re.compile(rb"-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY-----")
_KEY_NAMES: Final = re.compile(r"(^|/)(id_rsa|id_ecdsa|id_ed25519|id_dsa)$")


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: the rule, how bad it is, the path and a one-line explanation."""

    rule: str
    severity: Literal["error", "warning"]
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.rule}: {self.path}: {self.message}"


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _children(tree: Mapping[str, TreeEntry], directory: str) -> list[str]:
    prefix = directory.rstrip("/") + "/"
    return sorted(p for p in tree if p.startswith(prefix))


def lint_tree(tree: Mapping[str, TreeEntry]) -> list[Finding]:
    """Every finding for a flattened tree (absolute paths → entries), errors first, by rule, path.

    The rules follow bootc's container lint: ``/var/run`` must be a symlink to ``../run``, no
    ``/usr/etc`` beside ``/etc``, at most one kernel under ``/usr/lib/modules``, the API
    directories are directories, every name and symlink target is UTF-8 — plus ociforge's check
    for leaked secrets (private keys, entitlement certificates); content in ``/boot``, ``/run``
    or ``/tmp`` is a warning. ``append`` fails on an error finding in the new layer unless
    ``allow_lint_errors`` is set. The tree is typically a ``FlatTree.entries``.
    """
    found: list[Finding] = []

    def add(rule: str, severity: Literal["error", "warning"], path: str, message: str) -> None:
        found.append(Finding(rule, severity, path, message))

    var_run = tree.get("/var/run")
    if var_run is not None and var_run.kind != "symlink":
        add("var-run", "error", "/var/run", "must be a symlink to ../run")
    if "/usr/etc" in tree and "/etc" in tree:
        add("etc-usretc", "error", "/usr/etc", "found beside /etc; /usr/etc is ostree-internal")
    kernels = sorted(p for p in tree if _VMLINUZ.match(p))
    if len(kernels) > 1:
        add("kernel", "error", kernels[1], f"{len(kernels)} kernels: {', '.join(kernels)}")
    for directory in API_DIRECTORIES:
        entry = tree.get(directory)
        if entry is None or entry.kind != "dir":
            add("api-base-directories", "error", directory, "must be a directory")
    for path in sorted(tree):
        entry = tree[path]
        if not _utf8(path):
            shown = path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            add("utf8", "error", shown, "file name is not UTF-8")
        elif entry.kind == "symlink" and not _utf8(entry.linkname):
            add("utf8", "error", path, "symlink target is not UTF-8")
        if entry.kind == "file" and (_PRIVATE_KEY.search(entry.head) or _KEY_NAMES.search(path)):
            add("secrets", "error", path, "private key in the image")
        if path.startswith("/etc/pki/entitlement") and entry.kind != "dir":
            add("secrets", "error", path, "subscription entitlement certificate or key")
        if path.startswith("/etc/rhsm/") and entry.kind == "file" and "key" in path:
            add("secrets", "error", path, "subscription-manager key material")
    for directory, rule in (("/boot", "nonempty-boot"), ("/run", "nonempty-run-tmp")):
        content = _children(tree, directory)
        if content:
            add(rule, "warning", content[0], f"{len(content)} entries in {directory}")
    tmp = _children(tree, "/tmp")
    if tmp:
        add("nonempty-run-tmp", "warning", tmp[0], f"{len(tmp)} entries in /tmp")
    return sorted(found, key=lambda f: (f.severity != "error", f.rule, f.path))


def lint_new_layer(findings: Sequence[Finding], layer_paths: Set[str]) -> tuple[Finding, ...]:
    """The findings a new layer is responsible for: on its paths, or tree-wide rules."""
    return tuple(f for f in findings if f.rule in _GLOBAL_RULES or f.path in layer_paths)
