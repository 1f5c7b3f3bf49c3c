"""What a recognised scriptlet turns into: presets to apply, post-steps that must run later."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ...ostree.units import Scope

__all__ = ["POST_STEP_KINDS", "PostStep", "PostStepKind", "Preset"]


@dataclass(frozen=True, slots=True)
class Preset:
    """``systemctl [--global] preset UNIT…``: one call (it fails as a whole in systemctl)."""

    units: tuple[str, ...]
    scope: Scope = "system"


#: Work that needs code ociforge does not run: host tools over the merged tree (``depmod -b``,
#: ``semodule -p``) or the image's own tools in a sandbox.
PostStepKind = Literal[
    "depmod",
    "weak-modules",
    "selinux-policy",
    "dracut",
    "kernel-install",
    "iconvconfig",
    "locale-archive",
    "crypto-policies",
    "os-release",
]
POST_STEP_KINDS: tuple[PostStepKind, ...] = (
    "depmod",
    "weak-modules",
    "selinux-policy",
    "dracut",
    "kernel-install",
    "iconvconfig",
    "locale-archive",
    "crypto-policies",
    "os-release",
)


@dataclass(frozen=True, slots=True)
class PostStep:
    """A step the layer needs after its files are laid out, and the command that asked for it."""

    kind: PostStepKind
    detail: str
    command: str

    def describe(self) -> str:
        """One line for reports and errors."""
        return f"post-step {self.kind} ({self.detail})"
