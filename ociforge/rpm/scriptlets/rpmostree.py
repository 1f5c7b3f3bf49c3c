"""rpm-ostree's fixed decisions about named scriptlets, so ociforge decides the same way.

rpm-ostree (``rust/src/scripts.rs``, ``src/libpriv/rpmostree-scripts.cxx``) never runs some
scripts, identified as ``<package>.<script>`` (``prein``, ``post``, ``posttrans``,
``transfiletriggerin``…), and replaces some Lua scripts with shell it runs instead. ociforge
takes the same names: an ignored script is reported and not run; a replaced Lua script gets
the offline action that matches what rpm-ostree's replacement does (nothing, ``ldconfig``, or a
post-step, since the replacement is code). A Lua script whose first ten lines hold a line
starting ``-- rpm-ostree-skip`` is skipped, as rpm-ostree skips it. Any other Lua is refused.
The names are facts taken from rpm-ostree; the wording is ours.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from .actions import PostStepKind

__all__ = [
    "IGNORED_KERNEL_SCRIPTS",
    "IGNORED_PKG_SCRIPTS",
    "LUA_REPLACEMENTS",
    "LuaDecision",
    "lua_skips",
    "script_id",
]

#: Scripts rpm-ostree never runs (legacy workarounds, daemon-reloads, its own filesystem setup).
IGNORED_PKG_SCRIPTS: Final = frozenset(
    {
        "glibc.prein",
        "glibc-headers.prein",
        "coreutils.prein",
        "ca-certificates.prein",
        "libgcc.post",
        "filesystem.posttrans",
        "setup.post",
        "pinentry.prein",
        "fedora-release.posttrans",
        "vagrant.prein",
        "vagrant-libvirt.prein",
        "bash.post",
        "gdb.prein",
        "systemd.transfiletriggerin",
        "man-db.transfiletriggerin",
        "filesystem.transfiletriggerin",
        "nfs-utils.post",
        "microcode_ctl.post",
        "microcode_ctl.posttrans",
    }
)

#: Kernel scripts rpm-ostree replaces with its own depmod and dracut run.
IGNORED_KERNEL_SCRIPTS: Final = frozenset(
    f"{flavour}.posttrans"
    for flavour in (
        "kernel",
        "kernel-core",
        "kernel-modules",
        *(
            f"kernel-{variant}-{part}"
            for variant in (
                "redhat", "debug", "redhat-debug", "automotive", "automotive-debug",
                "rt", "rt-debug", "16k", "16k-debug", "64k", "64k-debug",
            )
            for part in ("core", "modules")
        ),
        "kernel-uek",
        "kernel-uek-core",
        "kernel-lt",
        "kernel-lt-core",
        "kernel-lt-modules",
        "kernel-ml",
        "kernel-ml-core",
        "kernel-ml-modules",
    )
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class LuaDecision:
    """What ociforge does for a Lua script rpm-ostree replaces."""

    kind: Literal["harmless", "post-step"]
    detail: str
    post_step: PostStepKind | None = None


_OS_RELEASE: Final = LuaDecision(
    "post-step",
    "link /usr/lib/os-release to the edition's file (Fedora 29 and older)",
    "os-release",
)
_LOCALES: Final = LuaDecision(
    "post-step", "rebuild the locale archive from its template", "locale-archive"
)
_ICONV: Final = LuaDecision("post-step", "regenerate gconv-modules.cache", "iconvconfig")
_LDCONFIG: Final = LuaDecision(
    "harmless", "ldconfig: the default library directories need no cache"
)

#: Lua scripts rpm-ostree runs a replacement for, by ``<package>.<script>``.
LUA_REPLACEMENTS: Final[Mapping[str, LuaDecision]] = {
    "fedora-release-atomichost.post": _OS_RELEASE,
    "fedora-release-coreos.post": _OS_RELEASE,
    "fedora-release-workstation.post": _OS_RELEASE,
    "fedora-release.post": _OS_RELEASE,
    "glibc-all-langpacks.posttrans": _LOCALES,
    "glibc-common.post": _LOCALES,
    "glibc-common.transfiletriggerin": _LDCONFIG,
    "glibc-common.transfiletriggerpostun": _LDCONFIG,
    "glibc.post": _ICONV,
    "glibc.posttrans": LuaDecision("harmless", "nothing to do on an ostree system"),
    "glibc-gconv-extra.post": _ICONV,
    "crypto-policies.post": LuaDecision(
        "post-step",
        "install the DEFAULT policy: its config, state and back-end links",
        "crypto-policies",
    ),
    "authselect-libs.prein": LuaDecision(
        "harmless", "only marks authselect's forced run for its own %posttrans"
    ),
}

# rpm's scriptlet names and the ones rpm-ostree keys its tables with.
_SCRIPT_NAMES: Final = {"%pre": "prein", "%post": "post", "%posttrans": "posttrans"}


def script_id(package: str, scriptlet: str) -> str:
    """``<package>.<script>`` as rpm-ostree names it (``%pre`` → ``prein``, triggers bare)."""
    name = scriptlet.split(" ", 1)[0]
    return f"{package}.{_SCRIPT_NAMES.get(name, name.lstrip('%'))}"


def lua_skips(body: str) -> bool:
    """Whether a Lua script asks rpm-ostree to skip it (a marker in its first ten lines)."""
    return any(line.startswith("-- rpm-ostree-skip") for line in body.split("\n")[:10])
